"""One participant's program in its own process on a pseudo-terminal.

The process starts a new session (so its process group is its own) and its first act is to make the
terminal its controlling terminal (`TAKE_CONTROLLING_TERMINAL`): when the server closes its side, the
kernel sends the session SIGHUP, as a real terminal hanging up does. The window size is set before it
starts and on every change (TIOCSWINSZ, then SIGWINCH to the group). Ending it walks the group down:
SIGHUP, then SIGTERM, then SIGKILL, each after a grace period, until no process of the group is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# What a session's program does first, `take_controlling_terminal` below, as Python code that needs nothing
# from the tutor: for a program other than the tutor's own session entry (tutor/workshop/session_entry.py).
TAKE_CONTROLLING_TERMINAL = "import fcntl, termios\nfcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"

# A client may announce any size; a huge one would make the app allocate a screen of that size.
MAX_COLUMNS = 500
MAX_ROWS = 200
DEFAULT_SIZE = (80, 24)
READ_CHUNK = 65536
ENDING_LADDER = (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL)
GROUP_POLL_S = 0.1


def take_controlling_terminal() -> None:
    """Make standard input, the session's terminal, this process's controlling terminal. The process must
    lead its session, as `PtySession.start` makes it."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def bounded_size(columns: int, rows: int) -> tuple[int, int]:
    """A size the terminal can be given: the default for an unknown (zero) size, the bounds for a huge one."""
    if columns <= 0 or rows <= 0:
        return DEFAULT_SIZE
    return min(columns, MAX_COLUMNS), min(rows, MAX_ROWS)


def group_members(group: int) -> list[int]:
    """The processes of process group `group` that are still running (zombies, which only wait to be
    reaped, do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return []
    except PermissionError:  # the number now belongs to someone else's group: ours is gone
        return []
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in ("Z", "X"):
            members.append(int(entry))
    return members


class PtySession:
    """Start with `PtySession.start` (or `forked_sessions.start_forked`); then `read`, `write`, `resize`, `wait`;
    `end` stops it all."""

    def __init__(self, pid: int, controller: int, exited: asyncio.Future):
        self.pid = pid
        self.group = pid  # a session leader leads its own process group
        self._controller = controller
        self._exited = exited  # its exit code, or None if it could not be told
        self._closed = False
        self._waiting: set[asyncio.Future] = set()

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        size: tuple[int, int],
    ) -> PtySession:
        """`command` as a new process, leading a new session on a new terminal."""
        controller, terminal = open_terminal(size)
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(controller)
            raise
        finally:
            os.close(terminal)
        return cls.on(controller, process.pid, asyncio.ensure_future(process.wait()))

    @classmethod
    def on(cls, controller: int, pid: int, exited: asyncio.Future) -> PtySession:
        """The session of process `pid`, started on the terminal whose other side is `controller`."""
        os.set_blocking(controller, False)
        return cls(pid, controller, exited)

    async def read(self) -> bytes:
        """What the program wrote; b"" once the terminal is closed on both sides."""
        while not self._closed:
            try:
                return os.read(self._controller, READ_CHUNK)
            except BlockingIOError:
                await self._ready(asyncio.get_running_loop().add_reader, asyncio.get_running_loop().remove_reader)
            except OSError as error:
                if error.errno == errno.EIO:  # every process has closed the terminal
                    return b""
                raise
        return b""

    async def write(self, data: bytes) -> None:
        """Type `data` into the terminal, waiting while the program does not read (OSError once it is gone)."""
        view = memoryview(data)
        while view:
            if self._closed:
                raise OSError(errno.EIO, "the terminal was closed")
            try:
                view = view[os.write(self._controller, view) :]
            except BlockingIOError:
                await self._ready(asyncio.get_running_loop().add_writer, asyncio.get_running_loop().remove_writer)

    def resize(self, columns: int, rows: int) -> None:
        if self._closed:
            return
        _set_size(self._controller, *bounded_size(columns, rows))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.group, signal.SIGWINCH)

    async def wait(self) -> int | None:
        """The exit code of the session's first process (negative: the signal that ended it; None: unknown)."""
        return await asyncio.shield(self._exited)

    def hang_up(self) -> None:
        """Close the server's side of the terminal: the kernel sends the session SIGHUP."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._controller)
        loop.remove_writer(self._controller)
        os.close(self._controller)
        for waiting in self._waiting:  # a read then returns b"", a write raises
            if not waiting.done():
                waiting.set_result(None)

    async def end(self, grace_s: float) -> int | None:
        """Signal the process group SIGHUP, SIGTERM, then SIGKILL, waiting up to `grace_s` after each, until
        none of it is left; the signal that was last needed (None if it had already ended)."""
        needed = None
        for signum in ENDING_LADDER:
            if not group_members(self.group):
                break
            needed = signum
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.group, signum)
            await self._group_gone(grace_s)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), grace_s)
        return needed

    async def _group_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while group_members(self.group):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(GROUP_POLL_S)
        return True

    async def _ready(self, add, remove) -> None:
        ready = asyncio.get_running_loop().create_future()

        def on_ready() -> None:
            if not ready.done():
                ready.set_result(None)

        add(self._controller, on_ready)
        self._waiting.add(ready)
        try:
            await ready
        finally:
            self._waiting.discard(ready)
            if not self._closed:
                remove(self._controller)


def open_terminal(size: tuple[int, int]) -> tuple[int, int]:
    """A new pseudo-terminal of `size` (bounded): its controller side and its terminal side."""
    controller, terminal = os.openpty()
    try:
        _set_size(terminal, *bounded_size(*size))
    except BaseException:
        os.close(controller)
        os.close(terminal)
        raise
    return controller, terminal


def _set_size(terminal: int, columns: int, rows: int) -> None:
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
