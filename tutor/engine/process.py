"""The app's side of the computing child process (tutor/engine/child.py): starts it, sends it requests,
reads its reports, and stops it. Imports neither torch nor the model, so the interface never waits on
`import torch` (which holds the GIL for long stretches) or a forward pass: a thread in the app blocks on
the pipe, which costs the event loop nothing.

The child never outlives the app and never imports from the folder the tutor was started in; a
computation that takes far longer than it should is stopped (see `time_budget`).
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from tutor.core.protocol import EngineClosed, EngineDied, EngineError, EngineTimedOut, LearnerError, Request
from tutor.core.report import Report
from tutor.engine.entry import PACKAGE_DIR, entry_command

# A computation taking far longer than expected is abandoned and its process replaced. The app's
# recompute costs about 2.5 ms per position (batch row × token) on the idle 2-core build machine:
# (8, 256) in 5.2 s. A shared server can be many times slower (with the load average at 8, one (8, 256)
# computation there took over a minute), so the budget is forty times that, and never under two minutes.
TIME_BUDGET_MIN_S = 120.0
TIME_BUDGET_S_PER_POSITION = 0.1
MODEL_LOAD_BUDGET_S = 120.0  # added to a new process's first request: it imports torch and loads (or builds) the model


def time_budget(request: Request) -> float:
    """Seconds `request` may take before it counts as hung: generous, and growing with its positions."""
    positions = request.settings.batch_size * request.settings.context_length
    return max(TIME_BUDGET_MIN_S, TIME_BUDGET_S_PER_POSITION * positions)


def child_command(lifeline: int, package_dir: Path = PACKAGE_DIR, weight_files: Sequence[Path] = ()) -> list[str]:
    """The child's command line: tutor/engine/child.py run path-safely (see tutor/engine/entry.py) from the
    `tutor` package in `package_dir` (this one unless told), offering `weight_files`."""
    weights = [part for file in weight_files for part in ("--weights", str(file))]
    return entry_command("tutor.engine.child", "--lifeline", str(lifeline), *weights, package_dir=package_dir)


class ProcessEngine:
    """Computes in a child process, started at once, which imports torch and loads the model while the
    interface draws its first frame. Requests travel as JSON lines over the child's stdin and reports
    pickled over its stdout (only the child, this tutor's own code, writes there); the child's stderr is discarded so nothing scribbles on the learner's screen.

    The child holds the read end of a "lifeline" pipe whose write end only this process holds (file
    descriptors are not inherited by other children), and exits when it reads end of file: it cannot
    outlive the app, whichever thread started it. A computation past its `time_budget` kills the child
    (`EngineTimedOut`); a child that dies raises `EngineDied`; `close` kills it at once."""

    def __init__(
        self,
        *,
        time_budget: Callable[[Request], float] = time_budget,
        load_budget_s: float = MODEL_LOAD_BUDGET_S,
        weight_files: Sequence[Path] = (),
    ):
        self._time_budget = time_budget
        self._load_budget_s = load_budget_s
        lifeline_read, lifeline_write = os.pipe()  # both ends close-on-exec; the child gets the read end
        self._lifeline: BinaryIO | None = os.fdopen(lifeline_write, "wb", buffering=0)  # closed if dropped, too
        try:
            self._process = subprocess.Popen(
                child_command(lifeline_read, weight_files=weight_files),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(lifeline_read,),
            )
        except BaseException:
            self._lifeline.close()
            raise
        finally:
            os.close(lifeline_read)
        self._lock = threading.Lock()  # one computation at a time
        self._state = threading.Lock()  # guards the flags below, which `close` and the timer change too
        self._busy = False  # a request is being exchanged over the pipes
        self._closed = False  # the child was killed, or died; nothing more is sent
        self._expired = False  # it was killed because a computation ran past its budget
        self._answered = False  # it has answered once, so the model is loaded
        self._notices: list[str] = []  # said while loading, not yet shown

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def busy(self) -> bool:
        """Computing, or with a request waiting for its turn."""
        return self._lock.locked()

    @property
    def exit_code(self) -> int | None:
        return self._process.poll()

    def compute(self, request: Request) -> Report:  # or a job's answer (tutor/core/answers.py)
        with self._lock:
            budget = self._time_budget(request) + (0.0 if self._answered else self._load_budget_s)
            with self._state:
                if self._closed:
                    raise EngineClosed("the computing process was stopped before it got this request")
                self._busy = True
            # The deadline kills the child, which ends any read or write on its pipes with end of file.
            deadline = threading.Timer(budget, self._expire)
            deadline.daemon = True
            deadline.start()
            try:
                self._process.stdin.write(request.to_json())
                self._process.stdin.flush()
                status, payload, notices = _load_without_collecting(self._process.stdout)
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                raise self._why_it_stopped(request, budget) from None
            finally:
                deadline.cancel()
                self._done_exchanging()
            self._answered = True
            self._notices.extend(notices)
        if status == "ok":
            return payload
        if status == "learner":
            raise LearnerError(payload)
        raise EngineError(payload)

    def take_notices(self) -> list[str]:
        notices, self._notices = self._notices, []
        return notices

    def close(self) -> None:
        """Stop the child at once, even in the middle of loading or computing: nobody waits for it. Never
        waits for a computation: one in progress ends with `EngineClosed`, and its thread tidies up."""
        with self._state:
            self._closed = True
            busy = self._busy
        self._cut_lifeline()
        self._process.kill()
        if not busy:
            self._release()

    def _expire(self) -> None:
        with self._state:
            if not self._busy or self._closed:
                return
            self._expired = self._closed = True
        self._process.kill()

    def _why_it_stopped(self, request: Request, budget: float) -> EngineError:
        returncode = self._wait_for_exit()
        with self._state:
            expired, closed = self._expired, self._closed
            self._closed = True
        if expired:
            settings = request.settings
            return EngineTimedOut(
                f"the computation took longer than {budget:.0f} s, far longer than batch size "
                f"{settings.batch_size} × context length {settings.context_length} should take, so it was stopped"
            )
        if closed:
            return EngineClosed("the computing process was stopped")
        return EngineDied(returncode)

    def _done_exchanging(self) -> None:
        with self._state:
            self._busy = False
            closed = self._closed
        if closed:
            self._release()

    def _release(self) -> None:
        """Close the pipes and reap the child; it has been killed, or has died."""
        self._cut_lifeline()
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._wait_for_exit()

    def _cut_lifeline(self) -> None:
        with self._state:
            lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            lifeline.close()

    def _wait_for_exit(self) -> int | None:
        """The child's exit code once it has ended (it has closed its output, or been killed)."""
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None


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


def start_process_engine(weight_files: Sequence[Path] = ()) -> ProcessEngine | None:
    """A started `ProcessEngine`, or None if the child could not start (the app tries again, and says why)."""
    try:
        return ProcessEngine(weight_files=weight_files)
    except OSError:
        return None
