"""Grading predict-then-reveal answers against live values, built by hand here."""

from __future__ import annotations

import re

import pytest

from tutor.core.checks import answer_prompt, grade, parse_number, parse_shape
from tutor.core.lessons import Check, load_lessons
from tutor.core.report import VALUE_NAMES

VALUES = {
    "batch_size": 2,
    "context_length": 8,
    "vocab_size": 50257,
    "logits_shape": (2, 8, 50257),
    "inputs_shape": (2, 8),
    "loss_manual": 10.8123,
    "uniform_prob": 1.9898e-05,
    "correct_count": 0,
    "position_count": 16,
    "loss_vs_uniform": "higher",
}
assert set(VALUES) <= VALUE_NAMES

SHAPE = Check(
    id="inputs-shape", question="Shape?", kind="shape", answer="inputs_shape",
    explanation="{{ batch_size }} rows of {{ context_length }} tokens: {{ inputs_shape }}.",
)
LOSS = Check(id="loss", question="Loss?", kind="number", answer="loss_manual", tolerance=0.05, explanation="About ln V.")
COUNT = Check(id="count", question="How many?", kind="number", answer="correct_count")
CHOICE = Check(
    id="vs", question="Lower or higher?", kind="choice", answer="loss_vs_uniform", choices=("Lower", "Higher"),
    explanation="Compare with {{ vocab_size }} equal guesses.",
)


@pytest.mark.parametrize(
    "text", ["2, 8", "(2, 8)", "[2, 8]", "torch.Size([2, 8])", "2x8", "2 x 8", "2X8", "2 × 8", " 2 8 ", "(2, 8,)"],
)
def test_shapes_in_every_usual_spelling(text):
    assert parse_shape(text) == (2, 8)


@pytest.mark.parametrize("text", ["", "()", "two, eight", "2.5, 8", "-2, 8", "2; 8"])
def test_not_shapes(text):
    assert parse_shape(text) is None


def test_a_one_dimensional_shape():
    assert parse_shape("(16,)") == (16,) == parse_shape("16")


@pytest.mark.parametrize(
    "text, number",
    [("10.8", 10.8), ("-10.8", -10.8), ("−10.8", -10.8), ("1,234.5", 1234.5), ("50,257", 50257.0),
     ("1e-4", 1e-4), ("3E5", 3e5), (" 7 ", 7.0), ("0.0001", 1e-4)],
)
def test_numbers(text, number):
    assert parse_number(text) == pytest.approx(number)


@pytest.mark.parametrize("text", ["", "ten", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "0,5", "12,34", "1.2.3"])
def test_not_numbers(text):
    assert parse_number(text) is None


def test_a_right_shape_says_the_live_value():
    result = grade(SHAPE, "torch.Size([2, 8])", VALUES)
    assert result.correct
    assert result.message == "Right: this run's value is (2, 8). 2 rows of 8 tokens: (2, 8)."  # the explanation too


def test_a_wrong_answer_says_the_value_and_the_explanation_filled_in():
    result = grade(SHAPE, "8, 2", VALUES)
    assert not result.correct
    assert result.message == "Not quite: this run's value is (2, 8). 2 rows of 8 tokens: (2, 8)."


@pytest.mark.parametrize("check", [SHAPE, LOSS, CHOICE])
def test_an_answer_box_prompt_says_the_form_with_no_value_in_it(check):
    """Any value in it could be this run's answer (lesson 1's "e.g. 2, 8" was, at the default settings)."""
    prompt = answer_prompt(check)
    assert prompt and not re.search(r"[0-9]", prompt)


def test_an_answer_that_is_not_a_shape_says_how_to_write_one():
    result = grade(SHAPE, "two by eight", VALUES)
    assert not result.correct
    assert "not a shape" in result.message and "whole numbers separated by commas" in result.message
    assert "2, 8" not in result.message  # an example could be this run's answer


def test_numbers_within_the_tolerance_are_right():
    assert grade(LOSS, "10.8", VALUES).correct
    assert grade(LOSS, "10.3", VALUES).correct  # within 5 %
    assert not grade(LOSS, "10.2", VALUES).correct
    assert "10.8123" in grade(LOSS, "10.8", VALUES).message


def test_a_number_with_no_tolerance_must_be_exact():
    assert grade(COUNT, "0", VALUES).correct
    assert not grade(COUNT, "1", VALUES).correct


@pytest.mark.parametrize("answer", ["nan", "inf", "about ten"])
def test_an_answer_that_is_not_a_finite_number_is_not_graded_right(answer):
    result = grade(LOSS, answer, VALUES)
    assert not result.correct
    assert "not a number" in result.message


def test_choices_ignore_case_and_spaces():
    for answer in ("higher", "HIGHER", "  Higher "):
        assert grade(CHOICE, answer, VALUES).correct
    result = grade(CHOICE, "lower", VALUES)
    assert not result.correct
    assert result.message == "Not quite: this run's value is higher. Compare with 50,257 equal guesses."


def test_an_answer_that_is_not_a_choice_lists_the_choices():
    result = grade(CHOICE, "same", VALUES)
    assert not result.correct
    assert "Lower, Higher" in result.message


def test_the_right_answer_follows_the_live_values():
    other = {**VALUES, "inputs_shape": (4, 16), "loss_manual": 7.5, "loss_vs_uniform": "lower"}
    assert grade(SHAPE, "2, 8", VALUES).correct and not grade(SHAPE, "2, 8", other).correct
    assert grade(SHAPE, "4 x 16", other).correct and not grade(SHAPE, "4 x 16", VALUES).correct
    assert grade(LOSS, "10.8", VALUES).correct and not grade(LOSS, "10.8", other).correct
    assert grade(CHOICE, "lower", other).correct and not grade(CHOICE, "lower", VALUES).correct
    assert "(4, 16)" in grade(SHAPE, "2, 8", other).message


def test_a_check_loaded_from_a_file_grades(tmp_path):
    (tmp_path / "01-a.md").write_text(
        "---\nid: a\ntitle: A\nchecks:\n"
        "  - id: v\n    question: How many tokens?\n    kind: number\n    tolerance: 0.01\n    answer: vocab_size\n"
        "    explanation: 'It is {{ vocab_size:, }}.'\n---\nText.\n",
        encoding="utf-8",
    )
    (check,) = load_lessons(tmp_path).lessons[0].checks
    assert grade(check, "50,000", VALUES).correct
    result = grade(check, "1,234.5", VALUES)
    assert not result.correct
    assert result.message == "Not quite: this run's value is 50,257. It is 50,257."


def test_a_lessons_check_is_graded_against_this_runs_walkthrough():
    """The answer is read from the live report: the same answer is right for one run and wrong for another."""
    from app_helpers import expected_report

    from tutor.core.lessons import load_lessons

    forward = next(lesson for lesson in load_lessons().lessons if lesson.id == "forward")
    check = next(check for check in forward.checks if check.answer == "logits_shape")
    default = expected_report().values()
    bigger = expected_report(batch_size=3, context_length=5, stride=2).values()
    assert default["logits_shape"] == (2, 8, 50257) and bigger["logits_shape"] == (3, 5, 50257)

    assert grade(check, "2, 8, 50257", default).correct
    assert not grade(check, "2, 8, 50257", bigger).correct
    assert grade(check, "3, 5, 50257", bigger).correct
