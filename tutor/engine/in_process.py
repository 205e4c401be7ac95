"""An engine that computes in the calling thread: for scripts, tests and the screenshot command."""

from __future__ import annotations

import threading

from tutor.core.protocol import LearnerError, Request
from tutor.core.report import Report
from tutor.lm.engine_work import EngineModels, SessionWork, answer


class InProcessEngine:
    def __init__(self, models: EngineModels | None = None):
        self._lock = threading.Lock()
        self._models = models or EngineModels()
        self._work = SessionWork()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def exit_code(self) -> int | None:
        return None  # it is this process

    def compute(self, request: Request) -> Report:  # or a job's answer (tutor/core/answers.py)
        with self._lock:
            try:
                return answer(request, self._models, self._work)
            except ValueError as error:
                raise LearnerError(str(error)) from None

    def take_notices(self) -> list[str]:
        return []  # loading here writes its notices on stderr, as the command line does

    def close(self) -> None:
        pass
