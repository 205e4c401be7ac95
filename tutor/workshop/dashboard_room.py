"""Where the room is: for every lesson, how many participants are on it now, and under it, for each of its
checks, how many answered it right on the first try and how many have answered it at all."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tutor.workshop.dashboard_facts import NOT_SAVED_YET, LessonCount
from tutor.workshop.dashboard_table import KeyedTable, Row

COLUMNS = (("where", "Lesson / check"), ("here", "Here now"), ("checks", "Right 1st try / answered"))
NOTHING_SAVED = "no lesson saved yet"
MAX_LABEL_CELLS = 32  # a long title is cut short (…), so that the counts stay in view


def label_cell(label: str) -> Text:
    text = Text(label)
    text.truncate(MAX_LABEL_CELLS, overflow="ellipsis")
    return text


def room_rows(counts: Sequence[LessonCount]) -> list[Row]:
    rows = []
    for count in counts:
        label = NOTHING_SAVED if count.lesson == NOT_SAVED_YET else count.lesson
        rows.append((f"lesson:{count.lesson}", (label_cell(label), Text(str(count.here)), Text(""))))
        for check in count.checks:
            right = Text(f"{check.right_first_try} / {check.answered}")
            label = label_cell(f"└ check {check.check_id}")
            rows.append((f"check:{count.lesson}:{check.check_id}", (label, Text(""), right)))
    return rows


class RoomTable(KeyedTable):
    def __init__(self, **kwargs):
        super().__init__(COLUMNS, **kwargs)
        self.cursor_type = "none"  # nothing to act on here; the keys scroll

    def show(self, counts: Sequence[LessonCount]) -> None:
        self.show_rows(room_rows(counts))
