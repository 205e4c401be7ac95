"""A table the dashboard redraws every second without losing the instructor's place: rows are matched by key,
changed cells updated, gone rows removed, new ones added, so the cursor and the scroll stay where they were.
Cells are `Text`, never markup: they hold names and lesson titles from files."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Row = tuple[str, tuple[Text, ...]]  # a key, and a cell per column


class KeyedTable(DataTable):
    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs):
        """`columns`: (key, heading) pairs."""
        super().__init__(cursor_type="row", **kwargs)
        self._column_specs = tuple(columns)

    def on_mount(self) -> None:
        for key, heading in self._column_specs:
            self.add_column(Text(heading), key=key)

    @property
    def keys(self) -> list[str]:
        """The rows' keys, top to bottom."""
        return [row.key.value for row in self.ordered_rows]

    def cells(self, key: str) -> list[str]:
        """What row `key` shows, as plain text."""
        return [cell.plain if isinstance(cell, Text) else str(cell) for cell in self.get_row(key)]

    def show_rows(self, rows: Sequence[Row]) -> None:
        wanted = dict(rows)
        for key in self.keys:
            if key not in wanted:
                self.remove_row(key)
        column_keys = [key for key, _ in self._column_specs]
        for key, cells in rows:
            if key not in self.rows:
                self.add_row(*cells, key=key)
                continue
            for column_key, cell in zip(column_keys, cells):
                if self.get_cell(key, column_key) != cell:
                    self.update_cell(key, column_key, cell, update_width=True)
        if self.keys != list(wanted):  # a new row belongs above an old one: rebuilt in order
            self._rebuild(rows)

    def _rebuild(self, rows: Sequence[Row]) -> None:
        cursor_key = self.keys[self.cursor_row] if 0 <= self.cursor_row < self.row_count else None
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if cursor_key in self.rows:
            self.move_cursor(row=self.get_row_index(cursor_key))
