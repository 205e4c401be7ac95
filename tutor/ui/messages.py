"""Messages the app's background workers post back to the event loop."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tutor.core.lessons import LessonSet
from tutor.core.report import Report
from tutor.core.room_notice import RoomNotice


@dataclass
class ReportReady(Message):
    """A new report was computed; it replaces the one on screen."""

    report: Report
    generation: int


@dataclass
class ComputeFailed(Message):
    """The request could not be computed; the last good report stays on screen."""

    reason: str
    generation: int
    learner_error: bool


@dataclass
class LessonsChanged(Message):
    """The lesson files were read again (a file changed, with --watch, or the palette's "Reload lessons").
    `read_number` orders the reads: an older one that finishes late is ignored."""

    lessons: LessonSet
    read_number: int


@dataclass
class ProgressNotSaved(Message):
    """Saving the learner's progress failed for the first time in this session; `reason` says why."""

    reason: str


@dataclass
class EngineNotice(Message):
    """Something the computing process said while loading the model (e.g. its weight cache was rebuilt)."""

    notice: str


@dataclass
class EngineQueued(Message):
    """A shared engine (a workshop's) says where this session's request is: `place` 1 is next, 0 computing."""

    place: int


@dataclass
class RoomNoticeRead(Message):
    """The room's notice file holds a notice this app has not shown (a workshop's instructor sent it)."""

    notice: RoomNotice


@dataclass
class EngineReplaced(Message):
    """The computing process died and a new one took its place; `notice` says so in one line."""

    notice: str
