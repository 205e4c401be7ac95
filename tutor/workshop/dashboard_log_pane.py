"""The dashboard's pane of the server's log: it follows new lines, unless the instructor has scrolled up in it to
read, then it keeps their place until they scroll back to the end.

Textual's Log follows by itself only while it may scroll, and with `overflow: auto` (no empty scrollbars, see
dashboard.tcss) it may not until its scrollbar has been laid out: the first line past the pane's height was not
followed, and from then on the pane was "scrolled up" for good; so was it when a wide line brought the horizontal
scrollbar over the newest line. So this pane decides itself, and scrolls after the next layout, once the
scrollbars that the new lines bring are there."""

from __future__ import annotations

from collections.abc import Iterable

from textual.events import Resize
from textual.widgets import Log


class LogPane(Log):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._end_pending = False  # a scroll to the end is asked for and not done yet
        self._followed_to: float | None = None  # where following the end last scrolled to

    @property
    def following(self) -> bool:
        """At the end (or about to be): new lines are shown as they come."""
        return self._end_pending or self.scroll_offset.y >= self.max_scroll_y

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> LogPane:
        follow = (self.following and not self.is_vertical_scrollbar_grabbed) if scroll_end is None else scroll_end
        super().write_lines(lines, scroll_end=False)
        if follow:
            self._follow()
        return self

    def _follow(self) -> None:
        self._end_pending = True
        self.scroll_end(animate=False, force=True, x_axis=False, on_complete=self._at_end)

    def _at_end(self) -> None:
        self._end_pending = False
        self._followed_to = self.scroll_offset.y

    def on_resize(self, event: Resize) -> None:
        """Following still, in a pane that has grown shorter (unless the instructor has scrolled since)."""
        if self._end_pending or self.scroll_offset.y == self._followed_to:
            self._follow()

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        """A line wider than the pane brings a scrollbar, over the newest line: followed, that line stays in view."""
        if shown and (self._end_pending or self.scroll_offset.y >= self.max_scroll_y - self.scrollbar_size_horizontal):
            self._follow()
