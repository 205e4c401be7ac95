"""The room's notice: what a workshop's instructor last sent every participant, a message or a lesson to follow.

`loss-tutor serve` writes it as one small JSON file (tutor/workshop/room_board.py) and passes its path to each
participant's app in $LOSS_TUTOR_ROOM_NOTICE; the app reads it about once a second and shows a notice whose id it
has not shown yet. Each notice replaces the one before, so the file holds only the newest:

    {"id": 3, "message": "Back at 14:00", "lesson": null, "sent_at": 1700000000.0}

It is read strictly: anything but a regular file of at most MAX_NOTICE_BYTES holding exactly these fields, with
these types, is no notice at all, never an error shown to the participant. No Textual here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutor.core.small_files import read_small_file

ROOM_NOTICE_ENV = "LOSS_TUTOR_ROOM_NOTICE"
MAX_MESSAGE_CHARS = 300
MAX_LESSON_ID_CHARS = 500
# JSON takes at most 6 bytes a character (a control character is written \u001b); the rest is small.
MAX_NOTICE_BYTES = 6 * (MAX_MESSAGE_CHARS + MAX_LESSON_ID_CHARS) + 200
MAX_ID = 2**53  # an id every JSON reader keeps exact
MAX_SENT_AT = 1e10  # seconds since 1970: the year 2286, and a time every platform's clock functions take
FIELDS = ("id", "message", "lesson", "sent_at")


@dataclass(frozen=True)
class RoomNotice:
    """A message for everyone, a lesson to follow, or both; `sent_at` is the server's time.time()."""

    id: int
    message: str | None
    lesson: str | None
    sent_at: float

    def __post_init__(self) -> None:
        if not _is_int(self.id) or not 1 <= self.id <= MAX_ID:
            raise ValueError(f"the id must be a whole number from 1 to {MAX_ID}")
        if self.message is None and self.lesson is None:
            raise ValueError("a notice has a message, a lesson, or both")
        if self.message is not None:
            if not isinstance(self.message, str) or not self.message.strip():
                raise ValueError("the message must be text, not empty")
            if len(self.message) > MAX_MESSAGE_CHARS:
                raise ValueError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
        if self.lesson is not None:
            if not isinstance(self.lesson, str) or not self.lesson:
                raise ValueError("the lesson must be a lesson id")
            if len(self.lesson) > MAX_LESSON_ID_CHARS:
                raise ValueError(f"the lesson id is longer than {MAX_LESSON_ID_CHARS} characters")
        if not _is_number(self.sent_at) or not 0 <= self.sent_at <= MAX_SENT_AT:
            raise ValueError("sent_at must be a time, in seconds since 1970")

    def to_json(self) -> str:
        data = {"id": self.id, "message": self.message, "lesson": self.lesson, "sent_at": self.sent_at}
        return json.dumps(data, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, document: str) -> RoomNotice:
        """Parse `to_json` output; anything else raises ValueError."""
        try:
            data = json.loads(document)
        except (json.JSONDecodeError, RecursionError) as error:
            raise ValueError(f"not valid JSON: {error}") from None
        if not isinstance(data, dict) or sorted(data) != sorted(FIELDS):
            raise ValueError(f"not an object of exactly {', '.join(FIELDS)}")
        return cls(**data)


def read_room_notice(path: Path) -> RoomNotice | None:
    """The notice in `path`, or None if there is none or it is not one (too big, not a regular file, not valid)."""
    try:
        return RoomNotice.from_json(read_small_file(path, MAX_NOTICE_BYTES).decode("utf-8"))
    except (OSError, ValueError):  # too large, or a UnicodeDecodeError: ValueErrors too
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))
