"""Messages the app's background workers post back to the event loop."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tutor.report import Report


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
    """A lesson file changed on disk (with --watch)."""
