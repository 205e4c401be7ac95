"""Shown while the terminal is smaller than the tutor can use; it goes away on resize."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Static


class TooSmallScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit", id="quit")]

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.need = (width, height)

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(id="too-small-message")

    def on_mount(self) -> None:
        self._update()

    def on_resize(self) -> None:
        self._update()

    def _update(self) -> None:
        width, height = self.need
        self.query_one("#too-small-message", Static).update(
            f"Terminal too small: need {width}×{height}, have {self.app.size.width}×{self.app.size.height}.\n"
            "Make the window bigger, or press q to quit."
        )
