"""Control characters shown, never sent: for text fields the learner types or pastes into, and a last
line of defence for everything else the app draws."""

from __future__ import annotations

from rich.highlighter import Highlighter
from rich.segment import Segment
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter

from tutor.core.formatting import CONTROL_CHARACTERS, safe_to_draw


class ControlPictures(Highlighter):
    """For an Input: each control character in its value drawn as one visible character (␛), so the cursor,
    which counts characters, stays where it is drawn. The value itself keeps what was typed."""

    def highlight(self, text: Text) -> None:
        text.plain = safe_to_draw(text.plain, one_cell=True)


class DropControlCharacters(LineFilter):
    """Applied to every line every widget draws. Text from outside is made visible where it is drawn
    (`safe_to_draw`); a control character that still reaches a line here, from a path nobody thought of,
    is dropped rather than sent to the terminal. (It took no cell in the layout, so nothing moves.)"""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not CONTROL_CHARACTERS.search("".join([segment.text for segment in segments])):
            return segments  # nearly always: one search per line (about 0.3 ms for a whole 120x40 screen)
        return [
            segment if segment.control else Segment(CONTROL_CHARACTERS.sub("", segment.text), segment.style)
            for segment in segments
        ]
