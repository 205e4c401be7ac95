"""The code pane: the exact PyTorch code of this step, with this run's live values in its comments (how `model` got
its weights), syntax-highlighted and wrapped to the pane."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.containers import ScrollableContainer
from textual.widgets import Static

from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import fill_placeholders
from tutor.core.report import Report


class CodePane(ScrollableContainer):
    def compose(self):
        yield Static(id="code-text")

    def show(self, code: str, report: Report | None, dark: bool) -> None:
        if not code.strip():
            self.query_one("#code-text", Static).update("(this lesson has no code)")
            return
        code = fill_placeholders(code, report.values() if report is not None else None)
        theme = "monokai" if dark else "default"
        self.query_one("#code-text", Static).update(
            # Wrapped to the pane's width, never cut: only a line's first row is numbered, so a wrapped line
            # still reads as one.
            Syntax(
                safe_to_draw(code), "python", theme=theme, background_color="default", word_wrap=True,
                line_numbers=True,
            )
        )
