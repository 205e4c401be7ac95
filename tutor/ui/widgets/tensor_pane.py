"""The tensor pane: each tensor's name, shape, dtype and values as torch prints them."""

from __future__ import annotations

from rich.text import Text
from textual.containers import ScrollableContainer
from textual.widgets import Static

from tutor.core.formatting import format_shape
from tutor.core.report import Report


class TensorPane(ScrollableContainer):
    def compose(self):
        yield Static(id="tensor-text")

    def show(self, names: tuple[str, ...], report: Report | None, waiting: str) -> None:
        text = Text()
        if not names:
            text.append("(no tensors in this lesson)", style="italic")
        elif report is None:
            text.append(waiting, style="italic")
        else:
            for index, name in enumerate(names):
                view = report.tensors[name]
                if index:
                    text.append("\n\n")
                text.append(name, style="bold")
                text.append(f"  {format_shape(view.shape)}  {view.dtype}\n", style="italic")
                text.append(view.text)
        self.query_one("#tensor-text", Static).update(text)
