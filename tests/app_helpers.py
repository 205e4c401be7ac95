"""Small helpers shared by the Pilot and snapshot tests: wait for the screen to settle, press keys, read what a
widget shows, record notifications."""

from __future__ import annotations

import threading
from functools import lru_cache

from report_fixture import assert_reports_close
from rich.text import Text
from textual.widgets import Static

from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, read_text_file
from tutor.engine.in_process import InProcessEngine
from tutor.lm.compute import compute_report
from tutor.ui.screenshots import settle
from tutor.ui.widgets.token_table import TokenTable


async def press_and_settle(pilot, *keys: str) -> None:
    """Press each key in turn, and wait for the screen to settle after each (see `settle`)."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def shown(widget: Static) -> str:
    """The plain text a Static was last given."""
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def table_rows(table: TokenTable) -> list[list[str]]:
    return table.rows_text()


def table_column(table: TokenTable, key: str) -> list[str]:
    index = table.columns.index(key)
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
    return compute_report(Request(text=loaded.text, settings=Settings(**settings), source=loaded.source))


class CachedEngine(InProcessEngine):
    """InProcessEngine that reuses the report of a request it has computed before in this process.
    Reports are deterministic, so this only saves the repeated forward passes of the many app tests."""

    reports: dict = {}

    def compute(self, request: Request):
        if request not in self.reports:
            self.reports[request] = super().compute(request)
        return self.reports[request]


class GatedEngine(InProcessEngine):
    """Computes only while `gate` is set: the test decides when the model has "finished loading"."""

    def __init__(self, gate: threading.Event):
        super().__init__()
        self.gate = gate
        self.requests: list[Request] = []

    def compute(self, request: Request):
        self.requests.append(request)
        if not self.gate.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        return super().compute(request)


def json_numbers(report) -> dict:
    """`report.to_json_dict()` without its `source` line (the CLI names the file, the app describes it)."""
    data = report.to_json_dict()
    del data["source"]
    return data


def assert_numbers_close(actual, expected) -> None:
    """Two reports' `json_numbers` are the same, floats within rounding: each report is its own forward pass,
    and a forward pass done in another place (process, batch shape, thread) may round its last digits apart."""
    assert_reports_close(json_numbers(actual), json_numbers(expected))


def view(screen, pane: str):
    """Bring a pane's tab into view and draw it now, as choosing the tab does; return the pane."""
    screen.query_one("#panes").active = f"tab-{pane}"
    screen.show_active_pane()
    return screen.query_one({"tensors": "#tensor-text", "tokens": "#token-table", "heatmap": "#heatmap-text",
                             "bug_lab": "#bug-text", "code": "#code-text"}[pane])
