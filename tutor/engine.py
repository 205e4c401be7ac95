"""Turns a text and settings into a `Report`, either here or in a child process.

The app uses `ProcessEngine`: torch is imported and the model run in a child process, so the
interface never waits on `import torch` (which holds the GIL for long stretches) or a forward pass.
A thread in the app blocks on the pipe, which costs the event loop nothing.

The child never outlives the app and never imports from the folder the tutor was started in; a
computation that takes far longer than it should is stopped (see `time_budget`).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
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


class EngineDied(EngineError):
    """The computing process ended while it was needed: killed (the kernel's out-of-memory killer sends
    SIGKILL) or crashed. Another process can be started in its place."""

    def __init__(self, returncode: int | None):
        self.returncode = returncode
        self.how = describe_exit(returncode)
        super().__init__(f"the computing process {self.how}")


class EngineTimedOut(EngineError):
    """A computation took far longer than it should (`time_budget`), so its process was stopped."""


class EngineClosed(EngineError):
    """The engine was closed (a cancelled computation, the app quitting) before this request was answered."""


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words: "was killed by signal 9 (SIGKILL), …" or "exited with code 1"."""
    if returncode is None:
        return "stopped answering"
    if returncode >= 0:
        return f"exited with code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "an unknown signal"
    words = f"was killed by signal {number} ({name})"
    if number == signal.SIGKILL:
        words += ", which often means the machine ran out of memory"
    return words


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

    @property
    def busy(self) -> bool: ...

    @property
    def exit_code(self) -> int | None:
        """None while the engine can compute; how its process ended once it has died."""
        ...

    def take_notices(self) -> list[str]:
        """What the engine had to say while loading (e.g. a rebuilt weight cache), once."""
        ...

    def close(self) -> None: ...


class InProcessEngine:
    """Computes in the calling thread: for scripts, tests and the screenshot command."""

    def __init__(self):
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def exit_code(self) -> int | None:
        return None  # it is this process

    def compute(self, request: Request):
        with self._lock:
            try:
                return compute_report(request)
            except ValueError as error:
                raise LearnerError(str(error)) from None

    def take_notices(self) -> list[str]:
        return []  # loading here writes its notices on stderr, as the command line does

    def close(self) -> None:
        pass


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The child process: answer pickled requests with pickled `(status, payload, notices)` until input ends.
    `notices` are the lines loading the model wrote on stderr (a rebuilt weight cache, say), sent once with
    the first answer: the child's own stderr goes nowhere, so that nothing scribbles on the learner's screen."""
    said_while_loading = io.StringIO()
    try:
        with contextlib.redirect_stderr(said_while_loading):
            warm_up()
    except Exception as error:  # reported with every answer
        startup_error = f"the model could not be loaded: {type(error).__name__}: {error}"
    else:
        startup_error = None
    notices = [line.strip() for line in said_while_loading.getvalue().splitlines() if line.strip()]
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
            except MemoryError as error:  # computing's says which batch and what to try (walkthrough.OutOfMemory)
                answer = ("failed", str(error) or "out of memory")
            except Exception as error:
                last = traceback.extract_tb(error.__traceback__)[-1]
                answer = ("failed", f"{type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})")
        try:
            pickle.dump((*answer, notices), answers, protocol=pickle.HIGHEST_PROTOCOL)
            answers.flush()
        except OSError:  # the app has gone
            return
        notices = []


EXIT_APP_GONE = 3  # the child's exit code when its lifeline reads end of file


def exit_when_closed(lifeline: int) -> None:
    """End this process the moment `lifeline` reads end of file. Only the app holds the pipe's write end,
    so that happens as soon as the app exits, however it dies (SIGKILL included), even in the middle of
    a forward pass: torch releases the GIL in its kernels, so this thread gets to run."""
    os.set_inheritable(lifeline, False)

    def wait_for_end_of_file() -> None:
        while True:
            try:
                if os.read(lifeline, 1):
                    continue  # nobody writes to it; a stray byte is not the end
            except OSError:
                pass
            os._exit(EXIT_APP_GONE)

    threading.Thread(target=wait_for_end_of_file, name="lifeline", daemon=True).start()


def main(argv: list[str]) -> None:
    """The child's entry point: `--lifeline FD` names the pipe whose end of file means the app has gone."""
    if argv[:1] == ["--lifeline"]:
        exit_when_closed(int(argv[1]))
    serve(sys.stdin.buffer, sys.stdout.buffer)


# The child's command line is `python -I -c CHILD_ENTRY PACKAGE_ROOT --lifeline FD`. Isolated mode (-I)
# keeps the current folder, PYTHONPATH and the user's site-packages off its module path (it ignores
# only PYTHON* variables: LOSS_TUTOR_*, XDG_* and HOME still reach it). The folder this `tutor` was
# loaded from goes at the end of the path, so a tutor run without installing still finds itself.
CHILD_ENTRY = "import sys; sys.path.append(sys.argv.pop(1)); from tutor.engine import main; main(sys.argv[1:])"


def child_command(lifeline: int) -> list[str]:
    package_root = str(Path(__file__).resolve().parent.parent)
    return [sys.executable, "-I", "-c", CHILD_ENTRY, package_root, "--lifeline", str(lifeline)]


class ProcessEngine:
    """Computes in a child process, started at once, which imports torch and loads the model while the
    interface draws its first frame. Requests and reports travel pickled over the child's stdin and
    stdout; the child's stderr is discarded so nothing scribbles on the learner's screen.

    The child holds the read end of a "lifeline" pipe whose write end only this process holds (file
    descriptors are not inherited by other children), and exits when it reads end of file: it cannot
    outlive the app, whichever thread started it. A computation past its `time_budget` kills the child
    (`EngineTimedOut`); a child that dies raises `EngineDied`; `close` kills it at once."""

    def __init__(
        self,
        *,
        time_budget: Callable[[Request], float] = time_budget,
        load_budget_s: float = MODEL_LOAD_BUDGET_S,
    ):
        self._time_budget = time_budget
        self._load_budget_s = load_budget_s
        lifeline_read, lifeline_write = os.pipe()  # both ends close-on-exec; the child gets the read end
        self._lifeline: BinaryIO | None = os.fdopen(lifeline_write, "wb", buffering=0)  # closed if dropped, too
        try:
            self._process = subprocess.Popen(
                child_command(lifeline_read),
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

    def compute(self, request: Request):
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
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
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


def start_process_engine() -> ProcessEngine | None:
    """A started `ProcessEngine`, or None if the child could not start (the app tries again, and says why)."""
    try:
        return ProcessEngine()
    except OSError:
        return None


if __name__ == "__main__":
    main(sys.argv[1:])
