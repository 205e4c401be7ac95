"""A Static that is not set again to what it already shows."""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


class SteadyStatic(Static):
    """Every update costs a layout pass of the whole screen, so one that changes nothing is skipped."""

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        if content != self.content:
            super().update(content, layout=layout)
