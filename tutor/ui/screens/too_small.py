"""Shown while the terminal is smaller than the tutor can use; it goes away on resize."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.geometry import Size
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
        self.query_one("#too-small-message", Static).update(too_small_message(self.need, self.app.size))


def too_small_message(need: tuple[int, int], have: Size) -> str:
    """The longest wording that fits `have` without a line cut: down to 20x5 it still says what is needed
    and that q quits."""
    width, height = need
    wordings = [
        f"Terminal too small: need {width}×{height}, have {have.width}×{have.height}.\n"
        "Make the window bigger, or press q to quit.",
        f"Terminal too small:\nneed {width}×{height}, have {have.width}×{have.height}.\n"
        "Make the window bigger,\nor press q to quit.",
        f"Too small: need\n{width}×{height}, have {have.width}×{have.height}.\nEnlarge, or q to quit.",
        f"Need {width}×{height},\nhave {have.width}×{have.height}.\nq quits",
    ]
    for wording in wordings:
        lines = wording.splitlines()
        if len(lines) <= have.height and max(map(len, lines)) <= have.width:
            return wording
    return wordings[-1]
