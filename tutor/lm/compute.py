"""The one path from a request to a report, used by the command line, every engine and the tests."""

from __future__ import annotations

from tutor.core.protocol import Request
from tutor.core.report import Report
from tutor.lm.bug_lab import run_all
from tutor.lm.report_builder import build_report
from tutor.lm.walkthrough import Walkthrough, default_model


def compute_report(request: Request, *, bug_lab: bool = True) -> Report:
    """`bug_lab=False` skips the five deliberate mistakes, which only the app shows. Raises `ValueError`
    with a learner-readable reason for a request that cannot be computed."""
    walkthrough = Walkthrough(request.text, request.settings)
    extras = {"bug_lab": run_all(walkthrough)} if bug_lab else {}
    return build_report(walkthrough, source=request.source, extras=extras)


def warm_up() -> None:
    """Import torch and load the model, so the first real request is quick."""
    default_model()
