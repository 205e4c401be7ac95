"""Turns a text and settings into a `Report`, either here or in a child process.

The app uses `ProcessEngine`: torch is imported and the model run in a child process, so the
interface never waits on `import torch` (which holds the GIL for long stretches) or a forward pass.
A thread in the app blocks on the pipe, which costs the event loop nothing.
"""

from __future__ import annotations

import gc
import pickle
import select
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

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


def compute_report(request: Request, *, bug_lab: bool = True):
    """The one path from a request to a report; used by the CLI, both engines and the tests.
    `bug_lab=False` skips the five deliberate mistakes, which only the app shows."""
    from tutor.bug_lab import run_all
    from tutor.report_builder import build_report
    from tutor.walkthrough import Walkthrough

    walkthrough = Walkthrough(request.text, request.settings)
    return build_report(walkthrough, source=request.source, extras={"bug_lab": run_all(walkthrough)} if bug_lab else {})


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


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The child process: answer pickled requests with pickled `(status, payload)` until input ends."""
    try:
        warm_up()
    except Exception as error:  # reported with every answer
        startup_error = f"the model could not be loaded: {type(error).__name__}: {error}"
    else:
        startup_error = None
    while True:
        try:
            request = pickle.load(requests)
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        if startup_error is not None:
            answer = ("failed", startup_error)
        else:
            try:
                answer = ("ok", compute_report(request))
            except ValueError as error:
                answer = ("learner", str(error))
            except Exception as error:
                last = traceback.extract_tb(error.__traceback__)[-1]
                answer = ("failed", f"{type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})")
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


class ProcessEngine:
    """Computes in a child process (`python -m tutor.engine`), started at once, which imports torch and
    loads the model while the interface draws its first frame. Requests and reports travel pickled
    over the child's stdin and stdout; the child's stderr is discarded so nothing scribbles on the
    learner's screen."""

    def __init__(self):
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tutor.engine"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Lock()

    def compute(self, request: Request):
        with self._lock:
            try:
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
                status, payload = _load_without_collecting(self._process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                code = self._process.poll()
                raise EngineError(f"the computing process stopped unexpectedly (exit code {code})") from None
        if status == "ok":
            return payload
        if status == "learner":
            raise LearnerError(payload)
        raise EngineError(payload)

    def close(self) -> None:
        """Stop the child at once, even in the middle of loading or computing: nobody waits for it."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        self._process.terminate()
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()


def _load_without_collecting(stream: BinaryIO):
    """Unpickle with the garbage collector paused: a big report is tens of thousands of new objects, and
    collections triggered part way would walk them again and again while this thread holds the GIL.
    It is paused only once the answer starts to arrive, not while the child computes."""
    select.select([stream], [], [])
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(stream)
    finally:
        if was_enabled:
            gc.enable()


def start_process_engine() -> ProcessEngine | None:
    """A started `ProcessEngine`, or None if the child could not start (the app tries again, and says why)."""
    try:
        return ProcessEngine()
    except OSError:
        return None


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
