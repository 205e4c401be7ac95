"""The server's side of the room's notice (tutor/core/room_notice.py): the instructor's message to everyone, or
the lesson they suggest, written where every participant's app looks about once a second. No Textual here.

The notice is one file in `<state-dir>/room/`, a folder only the server's user may enter; it is replaced whole
(a temporary file, then os.replace), so an app never reads half of one. It is removed when the server starts:
what a participant finds there was sent in this run. Ids count up from 1 in each run.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tutor.core.room_notice import RoomNotice
from tutor.core.small_files import write_atomically

ROOM_FOLDER = "room"
NOTICE_FILE = "notice.json"


def room_notice_path(state_dir: Path) -> Path:
    """Where `loss-tutor serve --state-dir state_dir` keeps the room's notice."""
    return state_dir / ROOM_FOLDER / NOTICE_FILE


class RoomBoardError(Exception):
    """The notice could not be written or cleared; the message says why."""


class RoomBoard:
    """Writes the room's notice. Safe to use from several threads: one write at a time, each with the next id,
    so the file always ends with the newest notice."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._last_id = 0

    def clear(self) -> None:
        """Make the room's folder (0700) if need be and remove a notice left from an earlier run."""
        with self._lock:
            self._prepare_folder()
            try:
                self.path.unlink(missing_ok=True)
            except OSError as error:
                reason = error.strerror or error
                raise RoomBoardError(f"could not remove the old notice {self.path}: {reason}") from None

    def send_message(self, message: str) -> RoomNotice:
        """Every participant is shown `message` (stripped; it must not be empty, nor over MAX_MESSAGE_CHARS:
        ValueError)."""
        return self._post(message=message.strip(), lesson=None)

    def suggest_lesson(self, lesson_id: str) -> RoomNotice:
        """Every participant is offered to follow the instructor to lesson `lesson_id`."""
        return self._post(message=None, lesson=lesson_id)

    def _post(self, *, message: str | None, lesson: str | None) -> RoomNotice:
        with self._lock:
            notice = RoomNotice(id=self._last_id + 1, message=message, lesson=lesson, sent_at=self._clock())
            self._prepare_folder()
            self._write(notice.to_json().encode("utf-8"))
            self._last_id = notice.id
            return notice

    def _prepare_folder(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            status = os.lstat(folder)
            if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
                raise RoomBoardError(f"{folder} is not a folder of this user's: remove it")
            if stat.S_IMODE(status.st_mode) != 0o700:
                os.chmod(folder, 0o700)
        except OSError as error:
            raise RoomBoardError(f"could not use the folder {folder}: {error.strerror or error}") from None

    def _write(self, document: bytes) -> None:
        try:
            write_atomically(self.path, document)
        except OSError as error:
            raise RoomBoardError(f"could not write the notice {self.path}: {error.strerror or error}") from None
