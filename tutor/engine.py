"""Turns a text and settings into a `Report`, either here or in a child process.

The app uses `ProcessEngine`: torch is imported and the model run in a child process, so the
interface never waits on `import torch` (which holds the GIL for long stretches) or a forward pass.
A thread in the app blocks on the pipe, which costs the event loop nothing.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from dataclasses import dataclass
from typing import Protocol

from tutor.settings import Settings


@dataclass(frozen=True)
class Request:
    text: str
    settings: Settings
    source: str


class LearnerError(ValueError):
    """The request cannot be computed for a reason the learner can fix (text too short, no such batch…)."""


class EngineError(RuntimeError):
    """The computation itself failed; the message says what happened."""


def compute_report(request: Request):
    """The one path from a request to a report; used by the CLI, both engines and the tests."""
    from tutor.bug_lab import run_all
    from tutor.report_builder import build_report
    from tutor.walkthrough import Walkthrough

    walkthrough = Walkthrough(request.text, request.settings)
    report = build_report(walkthrough, source=request.source, extras={"bug_lab": run_all(walkthrough)})
    return report


def warm_up() -> None:
    """Import torch and load the model, so the first real request is quick."""
    from tutor.walkthrough import default_model

    default_model()


class Engine(Protocol):
    def compute(self, request: Request): ...

    def close(self) -> None: ...


class InProcessEngine:
    """Computes in the calling thread: for scripts, tests and the screenshot command."""

    def __init__(self):
        self._lock = threading.Lock()

    def compute(self, request: Request):
        with self._lock:
            try:
                return compute_report(request)
            except ValueError as error:
                raise LearnerError(str(error)) from None

    def close(self) -> None:
        pass


def _serve(connection) -> None:
    """The child process: answer requests until the pipe closes."""
    try:
        warm_up()
    except Exception as error:  # reported with the first answer
        startup_error = f"{type(error).__name__}: {error}"
    else:
        startup_error = None
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if startup_error is not None:
            connection.send(("failed", f"the model could not be loaded: {startup_error}"))
            continue
        try:
            connection.send(("ok", compute_report(request)))
        except ValueError as error:
            connection.send(("learner", str(error)))
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            connection.send(("failed", f"{type(error).__name__}: {error} ({last.filename}:{last.lineno})"))


class ProcessEngine:
    """Computes in a child process started at once, which imports torch and loads the model."""

    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end,), name="loss-tutor-engine", daemon=True)
        self._process.start()
        child_end.close()
        self._lock = threading.Lock()

    def compute(self, request: Request):
        with self._lock:
            try:
                self._connection.send(request)
                status, payload = self._connection.recv()
            except (EOFError, OSError, BrokenPipeError):
                raise EngineError("the computing process stopped unexpectedly") from None
        if status == "ok":
            return payload
        if status == "learner":
            raise LearnerError(payload)
        raise EngineError(payload)

    def close(self) -> None:
        self._connection.close()
        self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.kill()
