"""What a report says about the model that computed it, and the values the lessons teach with: read off the
real model and the real numbers, never typed."""

from __future__ import annotations

import math

import pytest

from tutor.core.counting import DIGIT_KEYS, lesson_index_of_digit, of_total, shown_number
from tutor.core.report import aligned_window
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.model import GPT_CONFIG_124M, GPTModel
from tutor.lm.report_builder import build_report, model_card
from tutor.lm.walkthrough import Walkthrough, default_model


@pytest.fixture(scope="module")
def report():
    return build_report(Walkthrough(sample_text(), Settings(), model=default_model()), source="story.txt")


def test_the_model_card_is_read_off_the_tutors_model(report):
    model = default_model()
    card = report.model
    assert (card.vocab_size, card.context_length, card.emb_dim, card.n_heads, card.n_layers) == (
        GPT_CONFIG_124M["vocab_size"], GPT_CONFIG_124M["context_length"], GPT_CONFIG_124M["emb_dim"],
        GPT_CONFIG_124M["n_heads"], GPT_CONFIG_124M["n_layers"],
    )
    assert card.drop_rate == GPT_CONFIG_124M["drop_rate"] and card.qkv_bias is GPT_CONFIG_124M["qkv_bias"]
    assert card.parameter_count == sum(parameter.numel() for parameter in model.parameters())
    assert card.seed == 42 and card.training is False and card.mode == "eval"
    values = report.values()
    assert values["parameter_count"] == card.parameter_count and values["model_mode"] == "eval"
    assert values["model_seed"] == 42 and values["n_layers"] == 12 and values["qkv_bias"] is False


def test_the_card_follows_the_model_it_is_given():
    small = GPTModel({**GPT_CONFIG_124M, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
                      "drop_rate": 0.25, "qkv_bias": True})
    card = model_card(small)  # built directly: in train mode, its seed unknown
    assert (card.context_length, card.emb_dim, card.n_heads, card.n_layers) == (16, 32, 4, 2)
    assert card.drop_rate == 0.25 and card.qkv_bias is True
    assert card.training is True and card.mode == "train" and card.seed is None
    assert card.parameter_count == sum(parameter.numel() for parameter in small.parameters())


@pytest.mark.parametrize(("shape", "shape_words", "sized"), [
    ((768, 12, 12), "GPT-2's smallest shape", "GPT-2-sized"),
    ((1024, 24, 16), "GPT-2 medium's shape", "GPT-2 medium-sized"),
    ((1280, 36, 20), "GPT-2 large's shape", "GPT-2 large-sized"),
    ((1600, 48, 25), "GPT-2 XL's shape", "GPT-2 XL-sized"),
    ((32, 2, 4), "a GPT of its own shape", "GPT"),
])
def test_the_card_names_the_gpt2_size_its_shape_has(report, shape, shape_words, sized):
    from dataclasses import replace

    from tutor.core.jobs import TRAINED, file_choice

    emb_dim, n_layers, n_heads = shape
    card = replace(report.model, emb_dim=emb_dim, n_layers=n_layers, n_heads=n_heads)
    assert card.shape_words == shape_words and card.words == f"a real, still untrained {sized} model"
    from_file = replace(card, choice=file_choice("gpt2.safetensors"), name="gpt2.safetensors", seed=None)
    assert from_file.words == f"a real {sized} model, with the weights of gpt2.safetensors"
    assert "read from a file" in from_file.guesses_words and "random" in card.guesses_words
    assert "trained here" in replace(card, choice=TRAINED).guesses_words.lower()


def test_teaching_values_come_from_the_run(report):
    values = report.values()
    assert values["character_count"] == len(sample_text())
    assert values["characters_per_token"] == pytest.approx(len(sample_text()) / report.token_count)
    assert values["first_sequence_loss"] == report.per_sequence_loss[0]
    assert values["first_sequence_perplexity"] == pytest.approx(math.exp(report.per_sequence_loss[0]))
    expected = "lower" if report.per_sequence_loss[0] < report.uniform_loss else "higher"
    assert values["first_sequence_vs_uniform"] == expected
    assert values["first_target_loss"] == -report.tokens[0].target_log_prob
    assert values["log_probas_shape"] == report.logits_shape
    assert values["batch_number"] == report.batch_index + 1
    surprise = report.most_surprising()
    assert values["most_surprising_where"] == (
        f"row {surprise.row + 1} of {report.batch_size}, token {surprise.position + 1} of {report.context_length}"
    )


def test_the_aligned_window_puts_each_target_under_its_input(report):
    drawing = aligned_window(report.row_tokens(0))
    header, inputs, targets = drawing.splitlines()
    assert header.startswith("position t") and inputs.startswith("inputs[0]") and targets.startswith("targets[0]")
    assert all(len(line) <= 44 for line in (header, inputs, targets))
    starts = [index for index in range(13, len(header)) if header[index] != " " and header[index - 1] == " "]
    shown = [token for token in report.row_tokens(0)][: len(starts) - (1 if header.endswith("...") else 0)]
    for start, token in zip(starts, shown):
        assert header[start:].split()[0] == str(token.position)
        assert inputs[start:].split()[0] == token.input_token.replace(" ", "·")
        assert targets[start:].split()[0] == token.target_token.replace(" ", "·")
    for before, after in zip(shown, shown[1:]):
        assert before.target_id == after.input_id  # target t is input t + 1


def test_counting_as_a_person_counts():
    assert shown_number(0) == 1 and of_total(0, 10) == "1 of 10" and of_total(1, 2) == "2 of 2"
    assert [lesson_index_of_digit(digit) for digit in "1234567890"] == list(range(10))
    assert DIGIT_KEYS[lesson_index_of_digit("0")] == "0"
