"""A table the dashboard redraws every second without losing the instructor's place: rows are matched by key,
changed cells updated, gone rows removed, new ones added, so the cursor and the scroll stay where they were.
Cells are `Text`, never markup: they hold names and lesson titles from files.

It fits its width (tutor/workshop/table_fit.py): one column is cut short (…) to the room the others leave, and
columns that matter less are left out when narrow; when what fits changes, the table is built again, the cursor
and the scroll kept."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.events import Resize
from textual.widgets import DataTable

from tutor.workshop.table_fit import ColumnFit, fit_columns

Row = tuple[str, tuple[Text, ...]]  # a key, and a cell per column


class KeyedTable(DataTable):
    def __init__(self, columns: Sequence[tuple[str, str]], *, fill: str, droppable: Sequence[str] = (), **kwargs):
        """`columns`: (key, heading) pairs; `fill`: the column cut short to fit; `droppable`: the columns left
        out when narrow, first one first."""
        super().__init__(cursor_type="row", **kwargs)
        self._column_specs = tuple(columns)
        self._fill = fill
        self._droppable = tuple(droppable)
        self._rows: list[Row] = []  # every column's cells, as last shown
        self._fit: ColumnFit | None = None

    def on_mount(self) -> None:
        self._refit()

    def on_resize(self, event: Resize) -> None:
        self._refit()

    @property
    def shown_columns(self) -> tuple[str, ...]:
        return self._fit.shown if self._fit is not None else ()

    @property
    def keys(self) -> list[str]:
        """The rows' keys, top to bottom."""
        return [row.key.value for row in self.ordered_rows]

    def cells(self, key: str) -> list[str]:
        """What row `key` shows, as plain text."""
        return [cell.plain if isinstance(cell, Text) else str(cell) for cell in self.get_row(key)]

    def show_rows(self, rows: Sequence[Row]) -> None:
        self._rows = list(rows)
        if self._refit():
            return
        shown = {key: self._shown_cells(cells) for key, cells in rows}
        for key in self.keys:
            if key not in shown:
                self.remove_row(key)
        for key, cells in shown.items():
            if key not in self.rows:
                self.add_row(*cells, key=key)
                continue
            for column_key, cell in zip(self.shown_columns, cells):
                if self.get_cell(key, column_key) != cell:
                    self.update_cell(key, column_key, cell)
        if self.keys != list(shown):  # a new row belongs above an old one: rebuilt in order
            self._rebuild()

    def _natural_widths(self) -> dict[str, int]:
        widths = {key: Text(heading).cell_len for key, heading in self._column_specs}
        for _, cells in self._rows:
            for (key, _), cell in zip(self._column_specs, cells):
                widths[key] = max(widths[key], cell.cell_len)
        return widths

    def _room(self) -> int:
        """The cells the columns may take: the width, less a vertical scrollbar's if the rows need one."""
        width, height = self.size
        if width == 0:  # not laid out yet: everything, until it is
            return 10_000
        rows_height = len(self._rows) + (self.header_height if self.show_header else 0)
        return width - (self.styles.scrollbar_size_vertical if rows_height > height else 0)

    def _refit(self) -> bool:
        """Fit the columns to the width; True if the table had to be built again for it."""
        fit = fit_columns(self._natural_widths(), [key for key, _ in self._column_specs], room=self._room(),
                          fill=self._fill, droppable=self._droppable, padding=2 * self.cell_padding)
        if fit == self._fit:
            return False
        self._fit = fit
        self._rebuild(columns=True)
        return True

    def _shown_cells(self, cells: tuple[Text, ...]) -> tuple[Text, ...]:
        by_key = dict(zip((key for key, _ in self._column_specs), cells))
        shown = []
        for key, width in zip(self.shown_columns, self._fit.widths if self._fit is not None else ()):
            cell = by_key[key]
            if key == self._fill and cell.cell_len > width:
                cell = cell.copy()
                cell.truncate(width, overflow="ellipsis")
            shown.append(cell)
        return tuple(shown)

    def _rebuild(self, *, columns: bool = False) -> None:
        """The rows again (and the columns, as fitted, if `columns`), the cursor and the scroll kept."""
        cursor_key = self.keys[self.cursor_row] if 0 <= self.cursor_row < self.row_count else None
        scroll = self.scroll_offset
        self.clear(columns=columns)
        if columns and self._fit is not None:
            headings = dict(self._column_specs)
            for key, width in zip(self._fit.shown, self._fit.widths):
                self.add_column(Text(headings[key]), key=key, width=width)
        for key, cells in self._rows:
            self.add_row(*self._shown_cells(cells), key=key)
        if cursor_key in self.rows:
            self.move_cursor(row=self.get_row_index(cursor_key), scroll=False)
        self.call_after_refresh(self.scroll_to, scroll.x, scroll.y, animate=False)
