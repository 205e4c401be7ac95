"""Predict-then-reveal: grading a learner's answer against a live value from this run."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tutor.core.lessons import Check, fill_placeholders, format_value

ANSWER_PROMPTS = {
    "number": "a number, written in digits",
    "shape": "a shape: sizes separated by commas",
    "choice": "one of the choices above",
}


@dataclass(frozen=True)
class Grade:
    correct: bool
    message: str


def parse_shape(text: str) -> tuple[int, ...] | None:
    """`2, 8`, `(2, 8)`, `[2, 8]`, `torch.Size([2, 8])`, `2x8` or `2 × 8` → (2, 8); anything else → None."""
    text = text.strip().lower().removeprefix("torch.size").strip("()[] ")
    parts = [part for part in re.split(r"[,x×\s]+", text) if part]
    if not parts or not all(re.fullmatch(r"[0-9]+", part) for part in parts):
        return None
    return tuple(int(part) for part in parts)


def parse_number(text: str) -> float | None:
    """`10.8`, `-10.8`, `1e-4` or `1,234.5` (commas only between groups of three digits) → a finite float."""
    text = text.strip().replace("−", "-")  # a typographic minus sign
    if "," in text:
        if not re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", text):
            return None  # `0,5` is not 5
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def grade(check: Check, answer: str, values: dict[str, object]) -> Grade:
    """Compare `answer` with the live value the check names; the message explains either way."""
    expected = values[check.answer]
    shown = format_value(expected)
    if check.kind == "shape":
        given = parse_shape(answer)
        if given is None:
            return Grade(False, f"{answer!r} is not a shape: write its sizes as whole numbers separated by commas")
        correct = given == tuple(expected)
    elif check.kind == "number":
        given = parse_number(answer)
        if given is None:
            return Grade(False, f"{answer!r} is not a number: write it in digits, with a decimal point or an "
                                 "exponent (e) if it needs one")
        correct = math.isclose(given, float(expected), rel_tol=check.tolerance, abs_tol=1e-12)
    else:
        choices = {choice.lower(): choice for choice in check.choices}
        if answer.strip().lower() not in choices:
            return Grade(False, f"{answer!r} is not one of the choices: {', '.join(check.choices)}")
        correct = answer.strip().lower() == str(expected).lower()
    if correct:
        return Grade(True, right_message(check, values))
    explanation = fill_placeholders(check.explanation, values)
    return Grade(False, f"Not quite: this run's value is {shown}. {explanation}".strip())


def right_message(check: Check, values: dict[str, object]) -> str:
    """What a right answer is told: this run's value and the explanation, which is the teaching."""
    explanation = fill_placeholders(check.explanation, values)
    return f"Right: this run's value is {format_value(values[check.answer])}. {explanation}".strip()


def answer_prompt(check: Check) -> str:
    """What the empty answer box says: the form an answer takes, never a value (any value may be this run's)."""
    return ANSWER_PROMPTS[check.kind]
