"""For a terminal that shows ASCII only (`tutor.core.glyphs.terminal_is_ascii`): every line drawn, Textual's
own borders, scrollbars, checkboxes and key hints included, goes out with one ASCII character per cell."""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from tutor.core.glyphs import ascii_cells


class AsciiCells(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if "".join([segment.text for segment in segments]).isascii():
            return segments
        return [
            segment if segment.control or segment.text.isascii() else Segment(ascii_cells(segment.text), segment.style)
            for segment in segments
        ]
