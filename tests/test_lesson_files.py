"""The built-in lesson files: they load, their code runs and matches the walkthrough, and every number
they show about a run comes from a live value, never from text typed into the file."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from tutor.core.lessons import PENDING, PLACEHOLDER, Lesson, fill_placeholders, format_value, load_lessons
from tutor.core.report import TENSOR_NAMES, VALUE_NAMES
from tutor.core.settings import Settings

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"

EXPECTED = [  # (file, id, stage), in order
    ("00-overview.md", "overview", "overview"),
    ("01-tokenize.md", "tokenize", "tokens"),
    ("02-windows.md", "windows", "tokens"),
    ("03-forward.md", "forward", "forward"),
    ("04-softmax.md", "softmax", "probabilities"),
    ("05-gather.md", "gather", "log_probs"),
    ("06-cross-entropy.md", "cross-entropy", "loss"),
    ("07-perplexity.md", "perplexity", "perplexity"),
    ("08-recap.md", "recap", "recap"),
    ("09-bug-lab.md", "bug-lab", "bug_lab"),
    ("10-overfit.md", "overfit", "training"),
    ("11-train-text.md", "train-text", "training"),
    ("12-generate.md", "generate", "generation"),
]
LESSONS_WITH_CHECKS = ("tokenize", "windows", "forward", "softmax", "gather", "cross-entropy", "perplexity")
# The names each snippet must leave in the shared namespace.
PRODUCED = {
    "tokenize": ("token_ids",),
    "windows": ("inputs", "targets"),
    "forward": ("num_params", "logits"),
    "softmax": ("probas", "predicted_ids"),
    "gather": ("log_probas", "target_probs", "target_log_probs"),
    "cross-entropy": ("avg_log_prob", "neg_avg_log_prob", "logits_flat", "targets_flat", "loss"),
    "perplexity": ("perplexity", "first_window_perplexity"),
    "recap": ("per_token_loss", "per_sequence_loss", "batch_loss"),
    "overfit": ("trained", "optimizer", "step_loss"),
    "train-text": ("split", "val_loader", "val_loss"),
    "generate": ("idx", "idx_next"),
}
SETTINGS = [
    pytest.param(Settings(), id="defaults"),
    pytest.param(
        Settings(batch_size=3, context_length=5, stride=2, shuffle=True, seed=7, batch_index=1), id="shuffled",
    ),
]

FENCED_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# What a typed-in result looks like: a decimal (10.8, 0,5), a thousands separator (50,257),
# a number of 3+ digits (50257, 124) or scientific notation (3e-05). Small integers stay allowed.
TYPED_NUMBER = re.compile(r"\d+[.,]\d+|\d{3,}|\d[eE][-+]?\d")
# Figures of other runs that a lesson quotes, by where they come from. They are not this run's numbers.
QUOTED_FIGURES = {
    ("perplexity", "body"): {"53,377"},  # the notebook's own run's perplexity, beside this run's
    # the book's window length, its story's tokens, and its training run's last losses (ch05.ipynb)
    ("train-text", "body"): {"256", "5,145", "0.569", "6.373"},
}


@pytest.fixture(scope="module")
def lessons() -> tuple[Lesson, ...]:
    lesson_set = load_lessons(LESSONS_DIR)
    assert not lesson_set.problems, "\n".join(str(problem) for problem in lesson_set.problems)
    return lesson_set.lessons


@pytest.fixture(scope="module")
def model():
    from tutor.lm.walkthrough import default_model

    return default_model()


def walkthrough_and_report(settings: Settings, model):
    from tutor.core.texts import sample_text
    from tutor.lm.report_builder import build_report
    from tutor.lm.walkthrough import Walkthrough

    walkthrough = Walkthrough(sample_text(), settings, model=model)
    return walkthrough, build_report(walkthrough)


@pytest.fixture(scope="module")
def reports(model):
    return [walkthrough_and_report(param.values[0], model)[1] for param in SETTINGS]


def texts_of(lesson: Lesson) -> list[tuple[str, str]]:
    """(where, text) for the body and every hint and explanation: all the text that takes placeholders."""
    texts = [("body", lesson.body)]
    for check in lesson.checks:
        texts.append((f"check {check.id} explanation", check.explanation))
        texts.extend((f"check {check.id} hint {i + 1}", hint) for i, hint in enumerate(check.hints))
    return texts


# 1. loading


def test_the_lesson_folder_loads_all_ten_lessons_in_order(lessons):
    assert [(lesson.path.name, lesson.id, lesson.stage) for lesson in lessons] == EXPECTED
    assert [lesson.number for lesson in lessons] == list(range(len(EXPECTED)))
    for lesson in lessons:
        assert lesson.panes[0] == "explanation"


def test_load_lessons_without_a_folder_reads_the_built_in_lessons():
    lesson_set = load_lessons()
    assert not lesson_set.problems, "\n".join(str(problem) for problem in lesson_set.problems)
    assert [lesson.id for lesson in lesson_set.lessons] == [lesson_id for _, lesson_id, _ in EXPECTED]


def test_panes_that_show_tensors_or_code_have_them(lessons):
    for lesson in lessons:
        if "tensors" in lesson.panes:
            assert lesson.tensors, f"{lesson.id}: a tensors pane with no tensors"
        if "code" in lesson.panes:
            assert lesson.code.strip(), f"{lesson.id}: a code pane with no code"
        assert set(lesson.tensors) <= set(TENSOR_NAMES)


def test_bodies_are_a_pane_long(lessons):
    for lesson in lessons:
        words = len(PLACEHOLDER.sub("N", lesson.body).split())
        assert 80 <= words <= 200, f"{lesson.id}: {words} words"
        code_lines = lesson.code.splitlines()
        assert len(code_lines) <= 8, f"{lesson.id}: {len(code_lines)} lines of code"
        # The code pane does not wrap lines: keep them inside a ~76-column pane with its border.
        assert all(len(line) <= 70 for line in code_lines), f"{lesson.id}: a code line is wider than the pane"


# 2. checks


def test_the_lessons_up_to_perplexity_each_have_a_check(lessons):
    by_id = {lesson.id: lesson for lesson in lessons}
    for lesson_id in LESSONS_WITH_CHECKS:
        assert by_id[lesson_id].checks, f"{lesson_id} has no check"


def test_every_check_answer_is_a_live_value_and_fits_its_kind(lessons, reports):
    for lesson in lessons:
        ids = [check.id for check in lesson.checks]
        assert len(ids) == len(set(ids)), f"{lesson.id}: two checks share an id"
        for check in lesson.checks:
            where = f"{lesson.id}:{check.id}"
            assert check.answer in VALUE_NAMES, where
            assert 1 <= len(check.hints) <= 3, where
            assert check.explanation, where
            # The question is shown as it is (no placeholders filled) in a widget that reads [..] as markup.
            assert not PLACEHOLDER.search(check.question), where
            assert "[" not in check.question, where
            # Hints and explanations are shown in widgets that read [..] as markup.
            assert "[" not in check.explanation and not any("[" in hint for hint in check.hints), where
            # A hint may not give the answer away by naming it.
            for hint in check.hints:
                assert check.answer not in {match.group(1) for match in PLACEHOLDER.finditer(hint)}, where
            for report in reports:
                value = report.values()[check.answer]
                if check.kind == "number":
                    assert isinstance(value, (int, float)) and not isinstance(value, bool), where
                    assert 0 <= check.tolerance <= 1, where
                elif check.kind == "shape":
                    assert isinstance(value, tuple), where
                else:
                    assert str(value).lower() in {choice.lower() for choice in check.choices}, where


def test_check_answers_are_not_given_away_by_their_own_lesson(lessons):
    for lesson in lessons:
        shown = {match.group(1) for match in PLACEHOLDER.finditer(lesson.body)}
        for check in lesson.checks:
            assert check.answer not in shown, f"{lesson.id}:{check.id} shows its answer in the lesson text"


# 3. the code snippets, run for real


@pytest.mark.parametrize("settings", SETTINGS)
def test_snippets_run_in_order_and_match_the_walkthrough(lessons, model, settings):
    from tutor.core.texts import sample_text
    from tutor.lm.data import create_dataloader
    from tutor.lm.report_builder import build_report
    from tutor.lm.tokenizer import get_tokenizer

    w, _ = walkthrough_and_report(settings, model)
    namespace = {
        "torch": torch,
        "nn": nn,
        "copy": copy,
        "model": model,
        "tokenizer": get_tokenizer(),
        "create_dataloader": create_dataloader,
        "raw_text": sample_text(),
        "batch_size": settings.batch_size,
        "context_length": settings.context_length,
        "stride": settings.stride,
        "shuffle": settings.shuffle,
        "seed": settings.seed,
        "batch_index": settings.batch_index,
    }
    expected = {
        "inputs": w.batch.inputs,
        "targets": w.batch.targets,
        "logits": w.forward.logits,
        "probas": w.probabilities.probas,
        "predicted_ids": w.predictions.predicted_ids,
        "log_probas": w.target_log_probs.log_probas,
        "target_probs": w.target_log_probs.target_probs,
        "target_log_probs": w.target_log_probs.target_log_probs,
        "per_token_loss": w.loss.per_token_loss,
        "per_sequence_loss": w.loss.per_sequence_loss,
        "logits_flat": w.forward.logits.flatten(0, 1),
        "targets_flat": w.batch.targets.flatten(),
    }
    assert set(expected) == set(TENSOR_NAMES)
    for lesson in lessons:
        if lesson.code.strip():
            exec(compile(lesson.code, str(lesson.path), "exec"), namespace)
        for name in PRODUCED.get(lesson.id, ()):
            assert name in namespace, f"{lesson.id}'s code does not make {name!r}"
        for name in lesson.tensors:
            assert name in namespace, f"{lesson.id} lists {name!r}, which no snippet so far makes"
            got, want = namespace[name], expected[name]
            assert isinstance(got, torch.Tensor), f"{lesson.id}: {name} is not a tensor"
            assert got.shape == want.shape and got.dtype == want.dtype, f"{lesson.id}: {name}"
            if want.is_floating_point():
                assert torch.allclose(got, want, atol=1e-6), f"{lesson.id}: {name} differs from the walkthrough"
            else:
                assert torch.equal(got, want), f"{lesson.id}: {name} differs from the walkthrough"

    assert namespace["target_probs"].shape == namespace["targets"].shape
    assert namespace["target_log_probs"].shape == namespace["targets"].shape
    assert namespace["loss"].item() == pytest.approx(w.loss.loss_pytorch, abs=1e-6)
    assert namespace["neg_avg_log_prob"].item() == pytest.approx(w.loss.loss_manual, abs=1e-6)
    assert namespace["avg_log_prob"].item() == pytest.approx(w.loss.avg_log_prob, abs=1e-6)
    assert namespace["perplexity"].item() == pytest.approx(w.perplexity.perplexity, rel=1e-5)
    report = build_report(w)
    assert namespace["token_ids"] == w.token_ids and len(namespace["token_ids"]) == report.token_count
    assert namespace["num_params"] == report.model.parameter_count
    first_window = namespace["first_window_perplexity"].item()
    assert first_window == pytest.approx(report.values()["first_sequence_perplexity"], rel=1e-5)
    assert namespace["batch_loss"].item() == pytest.approx(w.loss.loss_manual, abs=1e-5)


# 4. no typed-in numbers


def without_placeholders_and_code(text: str) -> str:
    text = PLACEHOLDER.sub(" ", text)
    text = FENCED_CODE.sub(" ", text)
    return INLINE_CODE.sub(" ", text)


def test_the_number_pattern_catches_typed_values():
    for typed in ("the loss is 10.8", "a vocabulary of 50257", "50,257 tokens", "p = 3e-05", "shape (2, 8, 50257)"):
        assert TYPED_NUMBER.search(without_placeholders_and_code(typed)), typed
    for fine in ("1. first step", "GPT-2 tokens", "keys 0–9", "seed 42", "`probas[0, 1, 50256]`", "{{ loss:.3f }}"):
        assert not TYPED_NUMBER.search(without_placeholders_and_code(fine)), fine


def test_no_lesson_types_a_computed_number(lessons):
    for lesson in lessons:
        for where, text in [*texts_of(lesson), *((f"check {c.id} question", c.question) for c in lesson.checks)]:
            for figure in QUOTED_FIGURES.get((lesson.id, where), ()):
                assert figure in text, f"{lesson.id} {where} no longer quotes {figure}: update QUOTED_FIGURES"
                text = text.replace(figure, " ")
            found = TYPED_NUMBER.findall(without_placeholders_and_code(text))
            assert not found, f"{lesson.id} {where}: type no numbers, use a {{{{ placeholder }}}}: {found}"


# 5. every placeholder fills


def test_every_placeholder_fills_with_a_live_value(lessons, reports):
    for report in reports:
        values = report.values()
        assert set(values) == set(VALUE_NAMES)
        for lesson in lessons:
            for where, text in texts_of(lesson):
                for match in PLACEHOLDER.finditer(text):
                    name, spec = match.group(1), match.group(2)
                    assert name in values, f"{lesson.id} {where}: {name}"
                    filled = format_value(values[name], spec)
                    assert filled and filled != PENDING, f"{lesson.id} {where}: {match.group(0)}"
                filled_text = fill_placeholders(text, values)
                assert "{{" not in filled_text and "}}" not in filled_text, f"{lesson.id} {where}"
                assert filled_text.count(PENDING) == text.count(PENDING), f"{lesson.id} {where}: left a {PENDING}"


def test_bodies_read_before_the_model_has_run(lessons):
    for lesson in lessons:
        pending = fill_placeholders(lesson.body, None)
        assert "{{" not in pending
        assert pending.count(PENDING) == len(PLACEHOLDER.findall(lesson.body)) + lesson.body.count(PENDING)
