"""Saving the learner's progress while the app runs: saves may run in worker threads in any order, and
the newest state always wins; a state folder that cannot be written is reported once. No Textual here."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from tutor.core.progress import Progress, ProgressError, ProgressStore, Scalar


@dataclass(frozen=True)
class ProgressSnapshot:
    """What was in force at one moment; `number` orders snapshots, the newest is the one to keep."""

    number: int
    lesson_id: str | None  # the lesson in view, where the next start resumes; None keeps the saved one
    seen: tuple[str, ...]
    checks: tuple[tuple[str, bool], ...]
    first_tries: tuple[tuple[str, bool], ...]
    settings: Mapping[str, Scalar]
    text: str | None  # typed text, or None
    text_path: str | None

    def merge_into(self, progress: Progress) -> Progress:
        """Applied to the file's progress as re-read under its lock, so another tutor of the same learner
        keeps what it saved."""
        for seen_id in self.seen:
            progress = progress.with_lesson(seen_id)  # marks it seen
        if self.lesson_id is not None:
            progress = progress.with_lesson(self.lesson_id)  # and this one is where to resume
        for key, correct in self.checks:
            progress = progress.with_check(key, correct)
        for key, correct in self.first_tries:
            progress = progress.with_first_try(key, correct)  # the first kept, by this tutor or another, stays
        return progress.with_settings(self.settings).with_text(text=self.text, path=self.text_path)


class ProgressSaver:
    def __init__(self, store: ProgressStore):
        self.store = store
        self._lock = threading.Lock()  # one save (or reset) at a time, in this process
        self._numbers = itertools.count(1)
        self._written = 0  # the newest snapshot written, or superseded by a reset
        self._failure_reported = False

    def snapshot(
        self,
        *,
        lesson_id: str | None,
        seen: list[str],
        checks: dict[str, bool],
        first_tries: dict[str, bool],
        settings: Mapping[str, Scalar],
        text: str | None,
        text_path: str | None,
    ) -> ProgressSnapshot:
        """Take this on the event loop, where the state changes; `save` it from anywhere."""
        return ProgressSnapshot(
            next(self._numbers), lesson_id, tuple(seen), tuple(checks.items()), tuple(first_tries.items()),
            dict(settings), text, text_path,
        )

    def save(self, snapshot: ProgressSnapshot) -> str | None:
        """Write `snapshot` unless a newer one was written already. Returns why saving failed the first time
        it does in this session, for the learner; later failures return None (each save still tries)."""
        with self._lock:
            if snapshot.number <= self._written:
                return None
            try:
                self.store.update(snapshot.merge_into)
            except ProgressError as error:
                if self._failure_reported:
                    return None
                self._failure_reported = True
                return str(error)
            self._written = snapshot.number
            return None

    def reset(self) -> None:
        """Delete the saved progress; snapshots taken before this are never written. Raises ProgressError."""
        with self._lock:
            self.store.reset()
            self._written = next(self._numbers)  # above every snapshot taken so far, below every later one
