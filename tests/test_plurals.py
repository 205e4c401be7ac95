"""Counts printed with their nouns say "1 token", never "1 tokens": the CLI's messages, the plain report,
the settings form and the bug lab's explanations, with settings that make each count exactly one."""

from __future__ import annotations

import re

import pytest

from tutor.core.plain import render_plain
from tutor.core.protocol import Request
from tutor.core.settings import Settings, settings_or_reasons
from tutor.core.windows import check_enough_tokens
from tutor.lm.compute import compute_report

TWO_TOKENS = "Hello world"  # GPT-2: "Hello", " world"


def test_a_text_of_one_token_has_1_token():
    with pytest.raises(ValueError) as raised:
        check_enough_tokens(1, batch_size=2, context_length=8, stride=4, drop_last=True)
    assert str(raised.value).startswith("the text is too short: it has 1 token, and a batch of 2 windows")


def test_a_batch_beyond_a_single_window_says_window():
    from tutor.lm.data import batch_window_indices  # new with the memory budget (issue 8, part 5)

    with pytest.raises(IndexError) as raised:
        batch_window_indices(1, batch_size=1, batch_index=1, shuffle=False, seed=0)
    assert str(raised.value) == "batch 1 of 1 window is beyond the 1 window"


def test_the_settings_form_says_1_token_and_1_batch():
    values = {"batch_size": "1", "context_length": "1", "stride": "1", "seed": "0", "batch_index": "0"}
    settings, errors = settings_or_reasons(values, False, token_count=1)
    assert settings is None
    assert errors["context_length"] == (
        "the text is too short: it has 1 token, and one window of context length 1 (stride 1) needs at least 2 — "
        "each input needs one more token after it to be its target"
    )
    settings, errors = settings_or_reasons({**values, "batch_index": "1"}, False, token_count=2)
    assert errors["batch_index"] == "batch number 1 does not exist: this text makes 1 batch (numbered 0 to 0)"


@pytest.fixture(scope="module")
def one_window_report():
    settings = Settings(batch_size=1, context_length=1, stride=1)
    report = compute_report(Request(text=TWO_TOKENS, settings=settings, source="two.txt"))
    assert (report.token_count, report.window_count) == (2, 1)
    return report


def test_the_plain_report_says_1_window(one_window_report):
    assert "text: two.txt · 2 tokens · 1 window\n" in render_plain(one_window_report)


def test_the_bug_lab_says_1_row_of_1_position(one_window_report):
    bugs = one_window_report.extras["bug_lab"]
    mean_wrong_dim = bugs["mean_wrong_dim"].explanation
    assert "torch.Size([1, 1]), 1 row of 1 position, and mean(dim=0)" in mean_wrong_dim
    assert "The loss is the mean over all 1 position, " in mean_wrong_dim
    assert "are read as 1 class at 50,257 positions." in bugs["forgot_flatten"].explanation


def test_a_placeholder_can_carry_its_noun():
    from tutor.core.lessons import fill_placeholders

    text = "{{ batch_size:row/rows }}, {{ position_count: token id / token ids }}, {{ stride:batch/batches }}"
    assert fill_placeholders(text, {"batch_size": 1, "position_count": 1024, "stride": 2}) == (
        "1 row, 1,024 token ids, 2 batches"
    )
    assert fill_placeholders(text, None) == "…, …, …"


PLURAL_AFTER_ONE = re.compile(r"(?<![\d.,])1 (windows|tokens|token ids|ids|rows|positions|targets|predictions)\b")


def test_the_lessons_say_1_window_when_there_is_one(one_window_report):
    from tutor.core.lessons import fill_placeholders, load_lessons

    lesson_set = load_lessons()
    assert not lesson_set.problems
    values = one_window_report.values()
    assert values["batch_size"] == values["context_length"] == values["stride"] == values["position_count"] == 1
    texts = []
    for lesson in lesson_set.lessons:
        texts.append(lesson.body)
        for check in lesson.checks:
            texts.extend((check.question, *check.hints, check.explanation))
    wrong = [match.group() for text in texts for match in PLURAL_AFTER_ONE.finditer(fill_placeholders(text, values))]
    assert wrong == []
