"""Small helpers shared by the Pilot tests: read what a widget shows, record notifications."""

from __future__ import annotations

from functools import lru_cache

from rich.text import Text
from textual.widgets import DataTable, Static

from tutor.engine import Request, compute_report
from tutor.settings import Settings
from tutor.texts import SAMPLE_TEXT_PATH, describe, read_text_file


def shown(widget: Static) -> str:
    """The plain text a Static was last given."""
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def table_rows(table: DataTable) -> list[list[str]]:
    return [[cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def table_column(table: DataTable, key: str) -> list[str]:
    keys = [str(column.key.value) for column in table.ordered_columns]
    index = keys.index(key)
    return [row[index] for row in table_rows(table)]


def record_notifications(app) -> list[tuple[str, str, str]]:
    """Every notification the app raises from now on, as (severity, title, message)."""
    seen: list[tuple[str, str, str]] = []
    original = app.notify

    def notify(message, *, title="", severity="information", **kwargs):
        seen.append((severity, title, str(message)))
        return original(message, title=title, severity=severity, **kwargs)

    app.notify = notify
    return seen


@lru_cache(maxsize=None)
def expected_report(**settings):
    """What `loss-tutor --json` computes for the sample story and these settings (cached per process)."""
    loaded = read_text_file(SAMPLE_TEXT_PATH)
    return compute_report(Request(text=loaded.text, settings=Settings(**settings), source=describe(loaded)))
