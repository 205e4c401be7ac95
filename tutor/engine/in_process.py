"""An engine that computes in the calling thread: for scripts, tests and the screenshot command."""

from __future__ import annotations

import threading

from tutor.core.protocol import LearnerError, Request
from tutor.core.report import Report
from tutor.lm.compute import compute_report


class InProcessEngine:
    def __init__(self):
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def exit_code(self) -> int | None:
        return None  # it is this process

    def compute(self, request: Request) -> Report:
        with self._lock:
            try:
                return compute_report(request)
            except ValueError as error:
                raise LearnerError(str(error)) from None

    def take_notices(self) -> list[str]:
        return []  # loading here writes its notices on stderr, as the command line does

    def close(self) -> None:
        pass
