"""A text table's columns narrowed to fit a width (the token table, tutor/ui/widgets/token_table.py): the columns
that may give up cells do so in turn, and their cells are cut so that what matters stays whole — a token's id, the
end of a context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tutor.core.text_chart import cell_width, cut


@dataclass(frozen=True)
class FitColumn:
    width: int  # the cells its heading and its widest cell take
    least: int  # the narrowest it may be cut to
    turn: int | None = None  # columns give up cells by turn, lowest first, the widest of a turn first; None: never


def fitted_widths(columns: Sequence[FitColumn], room: int) -> list[int]:
    """Each column's width so that together they take at most `room` cells, if their least widths allow it."""
    widths = [column.width for column in columns]
    excess = sum(widths) - room
    for turn in sorted({column.turn for column in columns if column.turn is not None}):
        while excess > 0:
            narrowable = [index for index, column in enumerate(columns)
                          if column.turn == turn and widths[index] > column.least]
            if not narrowable:
                break
            widest = max(narrowable, key=lambda index: widths[index])
            widths[widest] -= 1
            excess -= 1
    return widths


def _id_part(label: str) -> tuple[str, str]:
    """A token's label, `text [id]`, split before its id; a label's text never has a space (tokens are shown with
    their spaces made visible)."""
    text, bracket, token_id = label.rpartition(" [")
    return (text, f" [{token_id}") if bracket else (label, "")


def label_least_width(label: str, ellipsis: str = "…") -> int:
    """The fewest cells a token's label can be cut to: its id whole, one cell of its text and the ellipsis."""
    _, id_part = _id_part(label)
    return min(cell_width(label), cell_width(id_part) + cell_width(ellipsis) + 1)


def cut_label(label: str, width: int, ellipsis: str = "…") -> str:
    """A token's label in `width` cells: its text cut short, its id whole."""
    if cell_width(label) <= width:
        return label
    text, id_part = _id_part(label)
    return cut(text, max(width - cell_width(id_part) - cell_width(ellipsis), 0)) + ellipsis + id_part


def cut_to_tail(text: str, width: int, ellipsis: str = "…") -> str:
    """The end of `text` in `width` cells, after an ellipsis if its start was cut."""
    if cell_width(text) <= width:
        return text
    return ellipsis + cut(text[::-1], max(width - cell_width(ellipsis), 0))[::-1]
