"""What the instructor's dashboard shows, gathered from the server's sessions, each participant's progress.json
and /proc. `SessionCopy.of` runs on the event loop, where the sessions change; `FactsReader.read`, which reads
the files, runs in a worker thread. No Textual here.

The room is the participants connected now, each name once (two sessions of one name share one progress file).
A check counts as answered once the participant has answered it, and as right once they have answered it right:
progress.json keeps one true/false per check (false until the first right answer, then true), so whether the
right answer was the first one cannot be told from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import LessonSet
from tutor.core.progress import MAX_FILE_BYTES, Progress
from tutor.core.texts import open_regular_file

PROGRESS_FILE = "progress.json"  # in each participant's folder, their app's state folder (see ProgressStore)
NOT_SAVED_YET = "—"


class SessionView(Protocol):
    """A session as tutor/workshop/server.py keeps it."""

    number: int
    name: str
    address: str
    connected_at: float  # time.time()
    last_input: float  # time.monotonic()

    def end(self, farewell: str) -> None: ...


class EngineView(Protocol):
    """The shared engine as tutor/engine/shared_supervisor.py keeps it running."""

    restarts: int
    refused: str | None

    @property
    def pid(self) -> int | None: ...


@dataclass(frozen=True)
class SessionCopy:
    """A session's facts at one moment, for the worker thread."""

    number: int
    name: str
    address: str
    connected_for_s: float
    idle_s: float

    @classmethod
    def of(cls, session: SessionView, *, now: float, monotonic: float) -> SessionCopy:
        return cls(session.number, session.name, session.address,
                   max(0.0, now - session.connected_at), max(0.0, monotonic - session.last_input))


@dataclass(frozen=True)
class SessionRow:
    session: SessionCopy
    lesson: str  # the lesson the participant is on, as the dashboard names it
    right: int  # checks answered right, of the lessons the server has
    answered: int


@dataclass(frozen=True)
class CheckCount:
    check_id: str
    right: int
    answered: int


@dataclass(frozen=True)
class LessonCount:
    lesson: str
    here: int  # participants on it now
    checks: tuple[CheckCount, ...] = ()


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    pss_kb: int


@dataclass(frozen=True)
class EngineFacts:
    pid: int | None  # None while it is being started again
    restarts: int
    refused: str | None
    memory: Memory | None  # None if /proc could not tell


@dataclass(frozen=True)
class DashboardFacts:
    sessions: tuple[SessionRow, ...]
    lessons: tuple[LessonCount, ...]
    engine: EngineFacts


def process_memory(pid: int) -> Memory | None:
    """The resident and proportional set sizes of process `pid`, from /proc/PID/smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as file:
            sizes = {}
            for line in file:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    sizes[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if set(sizes) != {"Rss", "Pss"}:
        return None
    return Memory(rss_kb=sizes["Rss"], pss_kb=sizes["Pss"])


def read_progress(path: Path) -> Progress | None:
    """A participant's saved progress, or None if there is none or it cannot be read. Read only: a broken file
    is left where it is, for the participant's own app to set aside."""
    try:
        with open_regular_file(path) as file:
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return None
        return Progress.from_json(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # a UnicodeDecodeError is a ValueError; deep nesting recurses
        return None


def lesson_label(lesson_id: str | None, lessons: LessonSet) -> str:
    """How the dashboard names the lesson a participant is on (an id the lessons do not have is shown as it is)."""
    if lesson_id is None:
        return NOT_SAVED_YET
    index = lessons.index_of(lesson_id)
    if index is None:
        return safe_to_draw(f"{lesson_id} (not in the server's lessons)")
    return safe_to_draw(f"{index} {lessons.lessons[index].title}")


def room_picture(progress_by_name: Mapping[str, Progress | None], lessons: LessonSet) -> tuple[LessonCount, ...]:
    """Every lesson with how many are on it now and how each of its checks went; then, if any, the lessons the
    server does not have and the participants whose app has not saved yet."""
    present = [progress for progress in progress_by_name.values() if progress is not None]
    counts = []
    for lesson in lessons.lessons:
        checks = []
        for check in lesson.checks:
            key = f"{lesson.id}:{check.id}"
            answers = [progress.checks_answered[key] for progress in present if key in progress.checks_answered]
            checks.append(CheckCount(safe_to_draw(check.id), right=sum(answers), answered=len(answers)))
        here = sum(progress.current_lesson == lesson.id for progress in present)
        counts.append(LessonCount(lesson_label(lesson.id, lessons), here, tuple(checks)))
    elsewhere: dict[str, int] = {}
    for progress in present:
        if progress.current_lesson is not None and lessons.index_of(progress.current_lesson) is None:
            label = lesson_label(progress.current_lesson, lessons)
            elsewhere[label] = elsewhere.get(label, 0) + 1
    counts += [LessonCount(label, here) for label, here in sorted(elsewhere.items())]
    not_saved = sum(progress is None or progress.current_lesson is None for progress in progress_by_name.values())
    if not_saved:
        counts.append(LessonCount(NOT_SAVED_YET, not_saved))
    return tuple(counts)


def checks_of(progress: Progress | None, lessons: LessonSet) -> tuple[int, int]:
    """(right, answered) among the checks of the server's lessons."""
    if progress is None:
        return 0, 0
    keys = {f"{lesson.id}:{check.id}" for lesson in lessons.lessons for check in lesson.checks}
    answers = [correct for key, correct in progress.checks_answered.items() if key in keys]
    return sum(answers), len(answers)


class FactsReader:
    """Reads the dashboard's facts; a progress file is parsed again only when it has changed. One thread at a
    time (the dashboard starts a read only once the last one has finished)."""

    def __init__(
        self,
        participants_dir: Path,
        lessons: LessonSet,
        engine: EngineView,
        *,
        memory_of: Callable[[int], Memory | None] = process_memory,
    ):
        self.participants_dir = participants_dir
        self.lessons = lessons
        self.engine = engine
        self._memory_of = memory_of
        self._parsed: dict[str, tuple[tuple[int, int, int], Progress | None]] = {}

    def read(self, sessions: Sequence[SessionCopy]) -> DashboardFacts:
        progress_by_name = {name: self._progress(name) for name in _names(sessions)}
        self._parsed = {name: parsed for name, parsed in self._parsed.items() if name in progress_by_name}
        rows = []
        for session in sessions:
            progress = progress_by_name[session.name]
            lesson_id = progress.current_lesson if progress is not None else None
            rows.append(SessionRow(session, lesson_label(lesson_id, self.lessons), *checks_of(progress, self.lessons)))
        return DashboardFacts(tuple(rows), room_picture(progress_by_name, self.lessons), self._engine_facts())

    def _progress(self, name: str) -> Progress | None:
        path = self.participants_dir / name / PROGRESS_FILE
        try:
            status = os.stat(path)
        except OSError:
            return None
        signature = (status.st_ino, status.st_size, status.st_mtime_ns)
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        progress = read_progress(path)
        self._parsed[name] = (signature, progress)
        return progress

    def _engine_facts(self) -> EngineFacts:
        pid = self.engine.pid
        memory = self._memory_of(pid) if pid is not None else None
        return EngineFacts(pid, self.engine.restarts, self.engine.refused, memory)


def _names(sessions: Iterable[SessionCopy]) -> list[str]:
    return list(dict.fromkeys(session.name for session in sessions))
