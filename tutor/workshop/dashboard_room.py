"""Where the room is: for every lesson someone is on or has answered a check of, how many participants are on it
now, and under it, for each of its checks, how many answered it right on the first try and how many have answered
it at all; the lessons nobody has come to yet follow on one line. When that is more than the pane's height, each
lesson takes one line, its checks' counts added up, and the lessons someone is on come first, so that the room's
picture fits a short pane."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.events import Resize

from tutor.workshop.dashboard_facts import NOT_SAVED_YET, LessonCount
from tutor.workshop.dashboard_table import KeyedTable, Row

COLUMNS = (("where", "Lesson / check"), ("here", "Here now"), ("checks", "Right 1st try / answered"))
NOTHING_SAVED = "no lesson saved yet"
QUIET = "no one here, no answers: "


def number_ranges(numbers: Sequence[int]) -> str:
    """`1, 3–5, 9` for 1, 3, 4, 5, 9 (in order)."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def checks_added_up(count: LessonCount) -> Text:
    if not count.checks:
        return Text("")
    right = sum(check.right_first_try for check in count.checks)
    return Text(f"{right} / {sum(check.answered for check in count.checks)}")


def room_rows(counts: Sequence[LessonCount], *, per_check: bool = True) -> list[Row]:
    """A row per lesson, and under it one per check (`per_check`); or, the lessons someone is on first, a row per
    lesson with its checks added up."""
    rows = []
    for count in counts if per_check else sorted(counts, key=lambda count: count.here == 0):
        if count.quiet and count.number is not None:
            continue
        label = NOTHING_SAVED if count.lesson == NOT_SAVED_YET else count.lesson
        checks = Text("") if per_check else checks_added_up(count)
        rows.append((f"lesson:{count.lesson}", (Text(label), Text(str(count.here)), checks)))
        if not per_check:
            continue
        for check in count.checks:
            right = Text(f"{check.right_first_try} / {check.answered}")
            label = Text(f"└ check {check.check_id}")
            rows.append((f"check:{count.lesson}:{check.check_id}", (label, Text(""), right)))
    quiet = [count.number for count in counts if count.quiet and count.number is not None]
    if quiet:
        rows.append(("quiet", (Text(QUIET + number_ranges(quiet)), Text("0"), Text(""))))
    return rows


class RoomTable(KeyedTable):
    def __init__(self, **kwargs):
        super().__init__(COLUMNS, fill="where", **kwargs)
        self.cursor_type = "none"  # nothing to act on here; the keys scroll
        self._counts: tuple[LessonCount, ...] = ()

    def show(self, counts: Sequence[LessonCount]) -> None:
        self._counts = tuple(counts)
        rows = room_rows(self._counts)
        if len(rows) + self.header_height > self.size.height > 0:  # the picture first: a line per lesson
            rows = room_rows(self._counts, per_check=False)
        self.show_rows(rows)

    def on_resize(self, event: Resize) -> None:
        self.show(self._counts)
