"""The dashboard's table of sessions: who is connected, since when, on which lesson, how their checks went, when
they last pressed a key, and whether the engine is computing for them or where they wait in its queue. `d` asks
to disconnect the session under the cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from tutor.core.formatting import safe_to_draw
from tutor.workshop.dashboard_facts import QueuePlace, SessionRow
from tutor.workshop.dashboard_table import KeyedTable

COLUMNS = (
    ("number", "#"),
    ("name", "Name"),
    ("address", "From"),
    ("connected", "Connected for"),
    ("last_key", "Last key"),
    ("checks", "Right / answered"),  # of the checks
    ("queue", "Queue"),
    ("lesson", "Lesson"),  # the widest, so last, and cut short to fit: the others stay in view
)
LEFT_OUT_WHEN_NARROW = ("address", "connected", "last_key")  # first one first


def how_long(seconds: float) -> str:
    """`42 s`, `7 min`, `1 h 05 min`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def ordinal(number: int) -> str:
    """`1st`, `2nd`, `3rd`, `4th`, `11th`, `12th`, `13th`, `21st`."""
    suffix = "th" if number % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def queue_cell(queue: QueuePlace) -> str:
    """`computing`, `2nd` (in the queue), both (`computing, 2nd`: it asked again meanwhile), or nothing."""
    place = ordinal(queue.place) if queue.place is not None else None
    if queue.computing:
        return "computing" if place is None else f"computing, {place}"
    return place or ""


def session_cells(row: SessionRow) -> tuple[Text, ...]:
    session = row.session
    return (
        Text(str(session.number)),
        Text(safe_to_draw(session.name)),
        Text(safe_to_draw(session.address)),
        Text(how_long(session.connected_for_s)),
        Text(f"{how_long(session.idle_s)} ago"),
        Text(f"{row.right} / {row.answered}"),
        Text(queue_cell(row.queue)),
        Text(row.lesson),
    )


@dataclass
class DisconnectAsked(Message):
    number: int  # the session's


class SessionTable(KeyedTable):
    BINDINGS = [Binding("d", "disconnect", "Disconnect", tooltip="End the session under the cursor (asks first)")]

    def __init__(self, **kwargs):
        super().__init__(COLUMNS, fill="lesson", droppable=LEFT_OUT_WHEN_NARROW, **kwargs)

    def show(self, rows: Sequence[SessionRow]) -> None:
        self.show_rows([(str(row.session.number), session_cells(row)) for row in rows])

    @property
    def session_under_cursor(self) -> int | None:
        keys = self.keys
        return int(keys[self.cursor_row]) if 0 <= self.cursor_row < len(keys) else None

    def action_disconnect(self) -> None:
        number = self.session_under_cursor
        if number is None:
            self.notify("No session to disconnect: nobody is connected.", severity="warning")
            return
        self.post_message(DisconnectAsked(number))
