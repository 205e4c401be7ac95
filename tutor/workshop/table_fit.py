"""How a dashboard table fits its width without a horizontal scrollbar: each column as wide as its widest cell,
but one column (the lessons' titles) takes only the room the others leave, its cells cut short (…); when even
that leaves it too little, the columns that matter least are left out, in a given order. No Textual here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MIN_FILL_CELLS = 16  # the cut column is at least this wide while a column can still be left out


@dataclass(frozen=True)
class ColumnFit:
    shown: tuple[str, ...]  # the columns' keys, in their order
    widths: tuple[int, ...]  # each shown column's width, in cells, without its padding


def fit_columns(
    natural: Mapping[str, int],
    order: Sequence[str],
    *,
    room: int,
    fill: str,
    droppable: Sequence[str] = (),
    padding: int = 2,
) -> ColumnFit:
    """The columns to show and their widths in `room` cells. `natural`: each column's widest cell (its heading
    included); `order`: the columns' keys; `fill`: the column that is cut to fit; `droppable`: columns left out,
    first one first, while the fill column would be narrower than MIN_FILL_CELLS; `padding`: the cells each
    column takes beyond its content."""
    shown = list(order)
    to_drop = [key for key in droppable if key in shown and key != fill]

    def left_for_fill() -> int:
        return room - sum(natural[key] + padding for key in shown if key != fill) - padding

    while to_drop and left_for_fill() < min(MIN_FILL_CELLS, natural[fill]):
        shown.remove(to_drop.pop(0))
    fill_width = max(1, min(natural[fill], left_for_fill()))
    return ColumnFit(tuple(shown), tuple(fill_width if key == fill else natural[key] for key in shown))
