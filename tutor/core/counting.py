"""How the tutor numbers things for a person: lessons, batch rows and batches count from 1 ("lesson 1 of 10",
"row 1 of 2"). Tensor indices stay 0-based where code is shown (`inputs[0]`, `list(dataloader)[batch_index]`).

The digit keys follow the numbers shown: 1–9 go to lessons 1–9 and 0 to lesson 10."""

from __future__ import annotations

DIGIT_KEYS = "1234567890"  # in the order of the lessons they go to


def shown_number(index: int) -> int:
    """The number a person sees for the 0-based `index`."""
    return index + 1


def of_total(index: int, total: int) -> str:
    """"1 of 10" for index 0 of ten."""
    return f"{shown_number(index)} of {total}"


def lesson_index_of_digit(digit: str) -> int:
    """The 0-based index of the lesson a digit key goes to: "1" → 0, …, "9" → 8, "0" → 9."""
    return DIGIT_KEYS.index(digit)
