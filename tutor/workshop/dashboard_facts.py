"""What the instructor's dashboard shows, gathered from the server's sessions, each participant's progress.json
and /proc. `SessionCopy.of` runs on the event loop, where the sessions change; `FactsReader.read`, which reads
the files, runs in a worker thread. No Textual here.

The room is the participants connected now, each name once (two sessions of one name share one progress file).
A check counts as answered once the participant has answered it. In the room's picture it counts as right only if
their first answer was right (progress.json keeps that apart, in `checks_first_try`; an answer saved before it did
counts as answered, not as right the first time); a session's own count is of the checks answered right at last.

The shared engine names the sessions in its queue by process id (tutor/engine/shared_status.py); a session's
app leads its own process group, so the group of that process says whose session it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from tutor.core.counting import shown_number
from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import LessonSet
from tutor.core.progress import Progress, ProgressStore
from tutor.engine.shared_status import EngineStatus, EngineStatusUnavailable

PROGRESS_FILE = "progress.json"  # in each participant's folder, their app's state folder (see ProgressStore)
NOT_SAVED_YET = "—"


class ProcessGroupView(Protocol):
    group: int


class SessionView(Protocol):
    """A session as tutor/workshop/server.py keeps it."""

    number: int
    name: str
    address: str
    connected_at: float  # time.time()
    last_input: float  # time.monotonic()
    pty: ProcessGroupView | None  # None until its program has started

    def end(self, farewell: str) -> None: ...


class EngineView(Protocol):
    """The shared engine as tutor/engine/shared_supervisor.py keeps it running."""

    restarts: int
    refused: str | None

    @property
    def pid(self) -> int | None: ...

    def status(self) -> EngineStatus:
        """What the engine says of its queue; `EngineStatusUnavailable` if it cannot say now."""
        ...


@dataclass(frozen=True)
class SessionCopy:
    """A session's facts at one moment, for the worker thread."""

    number: int
    name: str
    address: str
    connected_for_s: float
    idle_s: float
    group: int | None = None  # the process group of its program, None until it has started

    @classmethod
    def of(cls, session: SessionView, *, now: float, monotonic: float) -> SessionCopy:
        group = session.pty.group if session.pty is not None else None
        return cls(session.number, session.name, session.address,
                   max(0.0, now - session.connected_at), max(0.0, monotonic - session.last_input), group)


@dataclass(frozen=True)
class QueuePlace:
    """Where a session's requests are in the engine's queue."""

    computing: bool = False
    place: int | None = None  # 1 = computed next; None: not waiting


NOT_QUEUED = QueuePlace()


@dataclass(frozen=True)
class SessionRow:
    session: SessionCopy
    lesson: str  # the lesson the participant is on, as the dashboard names it
    right: int  # checks answered right, of the lessons the server has
    answered: int
    queue: QueuePlace = NOT_QUEUED


@dataclass(frozen=True)
class CheckCount:
    check_id: str
    right_first_try: int  # participants whose first answer was right
    answered: int


@dataclass(frozen=True)
class LessonCount:
    lesson: str
    here: int  # participants on it now
    checks: tuple[CheckCount, ...] = ()
    number: int | None = None  # the lesson's number as shown, if it is one of the server's

    @property
    def quiet(self) -> bool:
        """Nobody on it, none of its checks answered."""
        return self.here == 0 and not any(check.answered for check in self.checks)


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
    status: EngineStatus | None = None  # None while it is not running, or when it could not say
    status_unavailable: str | None = None  # why it could not say, as "it …"
    computing_for: str | None = None  # whose request it computes: a participant and session, or a process


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
        return ProgressStore(path).read()
    except (OSError, ValueError, RecursionError):  # a UnicodeDecodeError is a ValueError; deep nesting recurses
        return None


def lesson_label(lesson_id: str | None, lessons: LessonSet) -> str:
    """How the dashboard names the lesson a participant is on (an id the lessons do not have is shown as it is)."""
    if lesson_id is None:
        return NOT_SAVED_YET
    index = lessons.index_of(lesson_id)
    if index is None:
        return safe_to_draw(f"{lesson_id} (not in the server's lessons)")
    return safe_to_draw(f"{shown_number(index)} {lessons.lessons[index].title}")


def room_picture(progress_by_name: Mapping[str, Progress | None], lessons: LessonSet) -> tuple[LessonCount, ...]:
    """Every lesson with how many are on it now and how each of its checks went; then, if any, the lessons the
    server does not have and the participants whose app has not saved yet."""
    present = [progress for progress in progress_by_name.values() if progress is not None]
    counts = []
    for index, lesson in enumerate(lessons.lessons):
        checks = []
        for check in lesson.checks:
            key = f"{lesson.id}:{check.id}"
            answered = [progress for progress in present if key in progress.checks_answered]
            right_first_try = sum(progress.checks_first_try.get(key, False) for progress in answered)
            checks.append(CheckCount(safe_to_draw(check.id), right_first_try=right_first_try, answered=len(answered)))
        here = sum(progress.current_lesson == lesson.id for progress in present)
        counts.append(LessonCount(lesson_label(lesson.id, lessons), here, tuple(checks), shown_number(index)))
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


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:  # it has ended
        return None


def sessions_by_pid(
    status: EngineStatus, sessions: Sequence[SessionCopy], group_of: Callable[[int], int | None]
) -> dict[int, SessionCopy]:
    """The session each process named in `status` belongs to, if any."""
    by_group = {session.group: session for session in sessions if session.group is not None}
    pids = set(status.waiting) | ({status.computing.pid} if status.computing is not None else set())
    found = {}
    for pid in pids - {None}:
        session = by_group.get(group_of(pid))
        if session is not None:
            found[pid] = session
    return found


def queue_places(status: EngineStatus, by_pid: Mapping[int, SessionCopy]) -> dict[int, QueuePlace]:
    """Each queued or computing session's place, by session number. A session may have more than one
    connection: being computed for wins over waiting, and the nearest place over the others."""
    places: dict[int, QueuePlace] = {}
    for place, pid in reversed(list(enumerate(status.waiting, start=1))):
        if pid in by_pid:
            places[by_pid[pid].number] = QueuePlace(place=place)
    computing = status.computing
    if computing is not None and computing.pid in by_pid:
        number = by_pid[computing.pid].number
        places[number] = QueuePlace(computing=True, place=places.get(number, NOT_QUEUED).place)
    return places


def computing_for(status: EngineStatus, by_pid: Mapping[int, SessionCopy]) -> str | None:
    if status.computing is None:
        return None
    pid = status.computing.pid
    if pid in by_pid:
        session = by_pid[pid]
        return f"{safe_to_draw(session.name)} (session {session.number})"
    return "a process it could not name" if pid is None else f"process {pid} (not a session's)"


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
        group_of: Callable[[int], int | None] = process_group,
    ):
        self.participants_dir = participants_dir
        self.lessons = lessons
        self.engine = engine
        self._memory_of = memory_of
        self._group_of = group_of
        self._parsed: dict[str, tuple[tuple[int, int, int], Progress | None]] = {}

    def read(self, sessions: Sequence[SessionCopy]) -> DashboardFacts:
        progress_by_name = {name: self._progress(name) for name in _names(sessions)}
        self._parsed = {name: parsed for name, parsed in self._parsed.items() if name in progress_by_name}
        engine = self._engine_facts()
        places: dict[int, QueuePlace] = {}
        if engine.status is not None:
            by_pid = sessions_by_pid(engine.status, sessions, self._group_of)
            places = queue_places(engine.status, by_pid)
            engine = replace(engine, computing_for=computing_for(engine.status, by_pid))
        rows = []
        for session in sessions:
            progress = progress_by_name[session.name]
            lesson_id = progress.current_lesson if progress is not None else None
            rows.append(SessionRow(session, lesson_label(lesson_id, self.lessons), *checks_of(progress, self.lessons),
                                   queue=places.get(session.number, NOT_QUEUED)))
        return DashboardFacts(tuple(rows), room_picture(progress_by_name, self.lessons), engine)

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
        if pid is None:
            return EngineFacts(pid, self.engine.restarts, self.engine.refused, None)
        memory = self._memory_of(pid)
        try:
            status, unavailable = self.engine.status(), None
        except EngineStatusUnavailable as why:
            status, unavailable = None, str(why)
        return EngineFacts(pid, self.engine.restarts, self.engine.refused, memory, status, unavailable)


def _names(sessions: Iterable[SessionCopy]) -> list[str]:
    return list(dict.fromkeys(session.name for session in sessions))
