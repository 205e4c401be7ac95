"""While a form waits for new numbers: a moving bar, what is being done and the seconds so far, where the learner
looks. The engine says nothing of its stages while it computes, so the bar moves without a measure of how far it
is; the words say what is known (a model loading, a place in a shared queue, the batch being computed)."""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import ProgressBar, Static

TICK_SECONDS = 0.5


class ComputingProgress(Horizontal):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._stage: Callable[[], str] = lambda: ""
        self._started = 0.0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_percentage=False, show_eta=False, id="computing-bar")
        yield Static(id="computing-stage", markup=False)

    def on_mount(self) -> None:
        self.display = False

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self, stage: Callable[[], str]) -> None:
        """Show the bar and `stage()`'s words, read again on every tick, with the seconds since now."""
        self.stop()
        self._stage, self._started = stage, monotonic()
        self.display = True
        self._tick()
        self._timer = self.set_interval(TICK_SECONDS, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.display = False

    def stage_text(self) -> str:
        """The words shown beside the bar, as plain text."""
        return str(self.query_one("#computing-stage", Static).content)

    def _tick(self) -> None:
        seconds = int(monotonic() - self._started)
        self.query_one("#computing-stage", Static).update(f"{self._stage()} {seconds} s")
