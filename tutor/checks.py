"""Predict-then-reveal: grading a learner's answer against a live value from this run."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tutor.lessons import Check, fill_placeholders, format_value


@dataclass(frozen=True)
class Grade:
    correct: bool
    message: str


def parse_shape(text: str) -> tuple[int, ...] | None:
    text = text.strip().removeprefix("torch.Size").strip("()[] ")
    parts = [part for part in re.split(r"[,x×\s]+", text) if part]
    try:
        return tuple(int(part) for part in parts) if parts else None
    except ValueError:
        return None


def parse_number(text: str) -> float | None:
    text = text.strip().replace(",", "").replace("_", "")
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
            return Grade(False, f"{answer!r} is not a shape: write whole numbers separated by commas, like 2, 8")
        correct = given == tuple(expected)
    elif check.kind == "number":
        given = parse_number(answer)
        if given is None:
            return Grade(False, f"{answer!r} is not a number: write digits, like 10.8 or 0.0001")
        correct = math.isclose(given, float(expected), rel_tol=check.tolerance, abs_tol=1e-12)
    else:
        choices = {choice.lower(): choice for choice in check.choices}
        if answer.strip().lower() not in choices:
            return Grade(False, f"choose one of: {', '.join(check.choices)}")
        correct = answer.strip().lower() == str(expected).lower()
    if correct:
        return Grade(True, f"Right: this run's value is {shown}.")
    explanation = fill_placeholders(check.explanation, values)
    return Grade(False, f"Not quite: this run's value is {shown}. {explanation}".strip())
