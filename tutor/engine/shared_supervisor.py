"""Keeps the workshop's one engine (tutor/engine/shared_server.py) running while `loss-tutor serve` runs: starts
it, starts another if it dies (saying so in the log), and stops it when serving stops. No torch.

The engine holds the read end of a lifeline pipe whose write end only this process holds, so it ends with
`serve` however `serve` ends; it runs in a session of its own, so the instructor's ctrl+c reaches `serve`, which
stops it in order, and not the engine directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tutor.core.protocol import describe_exit
from tutor.core.settings import MAX_POSITIONS_ENV
from tutor.engine.entry import entry_command
from tutor.engine.shared_server import EXIT_REFUSED
from tutor.engine.shared_status import STATUS_TIMEOUT_S, EngineStatus, ask_engine_status
from tutor.engine.shared_wire import SOCKET_NAME

# Seconds before starting the engine again after its 1st, 2nd, … death in a row; a run of STABLE_AFTER_S
# seconds starts the count again. A crash is retried at once; one that keeps crashing is not a busy loop.
RESTART_DELAYS_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 60.0
STOP_GRACE_S = 5.0  # between SIGTERM and SIGKILL


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class EngineSupervisor:
    """`socket_folder` must be this user's alone (mode 0700); without one, a fresh one is made in the temporary
    folder (short enough for a socket's path) and removed by `stop`. `max_positions` lowers the limit on
    positions for every request (as LOSS_TUTOR_MAX_POSITIONS, which the engine reads). `weight_files` are the models
    the engine offers besides the untrained one; `allow_training` lets sessions run the training on the text."""

    def __init__(
        self,
        socket_folder: Path | None = None,
        *,
        log: Callable[[str], None] = _log_to_stderr,
        max_positions: int | None = None,
        weight_files: tuple[Path, ...] = (),
        allow_training: bool = False,
        restart_delays_s: tuple[float, ...] = RESTART_DELAYS_S,
        stop_grace_s: float = STOP_GRACE_S,
    ):
        self._given_folder = socket_folder
        self._folder: Path | None = socket_folder
        self._log = log
        self._max_positions = max_positions
        self._weight_files = weight_files
        self._allow_training = allow_training
        self._restart_delays_s = restart_delays_s
        self._stop_grace_s = stop_grace_s
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen | None = None
        self._lifeline: int | None = None  # the write end of the current engine's lifeline
        self._watcher: threading.Thread | None = None
        self.restarts = 0
        self.refused: str | None = None  # why the engine would not start, if it would not (it is not retried)

    @property
    def socket_folder(self) -> Path:
        if self._folder is None:
            raise RuntimeError("the engine has not been started")
        return self._folder

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None and self._process.poll() is None else None

    def status(self, timeout_s: float = STATUS_TIMEOUT_S) -> EngineStatus:
        """What the engine says of its queue (tutor/engine/shared_status.py); `EngineStatusUnavailable` if it
        cannot say within `timeout_s` (it is starting again, loading the model, or stuck)."""
        return ask_engine_status(self.socket_folder, timeout_s)

    def start(self) -> None:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="loss-tutor-engine-"))  # mode 0700
        with self._lock:
            self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="engine-supervisor", daemon=True)
        self._watcher.start()

    def wait_until_listening(self, timeout_s: float) -> bool:
        """True once the engine's socket exists (it accepts connections from then on), False at the timeout
        or if the engine refused to start."""
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up and self.refused is None:
            if (self.socket_folder / SOCKET_NAME).exists():
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop the engine: SIGTERM, then SIGKILL after the grace period. Starts nothing more."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None:
            _end(process, self._stop_grace_s)
        if self._watcher is not None:
            self._watcher.join(timeout=self._stop_grace_s + 5)
        with self._lock:
            self._cut_lifeline()
        if self._given_folder is None and self._folder is not None:
            for leftover in (self._folder / SOCKET_NAME,):
                leftover.unlink(missing_ok=True)
            try:
                self._folder.rmdir()
            except OSError:
                pass

    # ----- running it ------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        """Start an engine process (with `_lock` held)."""
        lifeline_read, lifeline_write = os.pipe()  # both close-on-exec; the engine gets the read end
        environment = dict(os.environ)
        if self._max_positions is not None:
            environment[MAX_POSITIONS_ENV] = str(self._max_positions)
        models = [part for file in self._weight_files for part in ("--weights", str(file))]
        models += ["--allow-training"] if self._allow_training else []
        command = entry_command(
            "tutor.engine.shared_server", "--socket-folder", str(self.socket_folder), "--lifeline", str(lifeline_read),
            *models,
        )
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(lifeline_read,),
                start_new_session=True,
                env=environment,
            )
        except BaseException:
            os.close(lifeline_write)
            raise
        finally:
            os.close(lifeline_read)
        self._cut_lifeline()
        self._process, self._lifeline = process, lifeline_write
        threading.Thread(target=self._pass_on_log, args=(process,), name="engine-log", daemon=True).start()

    def _pass_on_log(self, process: subprocess.Popen) -> None:
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._log(line)
        process.stderr.close()

    def _watch(self) -> None:
        """Wait for each engine to end, and start another unless stopping."""
        deaths_in_a_row = 0
        while True:
            with self._lock:
                process = self._process
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if code == EXIT_REFUSED:
                self.refused = f"the shared engine could not start (exit code {code}); see the line above"
                self._log(self.refused)
                return
            deaths_in_a_row = 0 if time.monotonic() - started >= STABLE_AFTER_S else deaths_in_a_row
            delay = self._restart_delays_s[min(deaths_in_a_row, len(self._restart_delays_s) - 1)]
            deaths_in_a_row += 1
            self._log(
                f"the shared engine {describe_exit(code)}; starting another"
                + (f" in {delay:g} s" if delay else "")
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn()
                except OSError as error:
                    self._log(f"the shared engine could not be started again: {error}")
                    return
                self.restarts += 1

    def _cut_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None


def _end(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM, and SIGKILL if it has not ended within `grace_s`."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)
