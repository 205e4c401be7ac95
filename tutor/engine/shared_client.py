"""A session's side of the workshop's shared engine (tutor/engine/shared_server.py): `SharedEngine`, an
`Engine` that sends requests over the engine's Unix socket and waits for its answer. No torch: a session's
process stays small.

Each `SharedEngine` holds one connection, made at its first request and made again by the next request after
the engine has gone (the supervisor starts another). A reader thread takes the engine's messages off the
socket and hands each to the computation waiting for it, which calls `on_queued` with its place (1 = next,
0 = being computed now) and returns the report or raises:
- `LearnerError` for what the learner can fix, `EngineError` for a failed computation;
- `EngineTimedOut`: the computation ran past its budget, so the engine stopped itself (another is starting);
- `EngineDied` when the connection ends while waiting (the engine was killed or crashed);
- `RequestSuperseded` (an `EngineClosed`) when a newer request from this engine replaced it, or `cancel` did;
- `EngineClosed` after `close`.
Several computations may wait at once: each one sent replaces the one before it, in the queue or (abandoned by
the engine at its next safe point) being computed.
"""

from __future__ import annotations

import gc
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from tutor.core.protocol import (
    EngineClosed,
    EngineDied,
    EngineError,
    EngineTimedOut,
    LearnerError,
    Request,
    RequestSuperseded,
)
from tutor.core.report import Report
from tutor.engine.shared_wire import (
    MAX_HEADER_BYTES,
    SOCKET_NAME,
    UnsafeSocketFolder,
    cancel_line,
    check_private_folder,
    load_report,
    read_message,
)

# How long a request waits for the engine to accept a connection: after a crash, the supervisor starts
# another (a fraction of a second, more while it backs off a process that keeps dying).
CONNECT_BUDGET_S = 60.0
CONNECT_RETRY_S = 0.1


_GONE = object()  # handed to the waiting computations when the connection ends


class _Connection:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.stream: BinaryIO = sock.makefile("rb")
        self.sent = 0  # the requests sent so far: the engine numbers them the same way
        self.waiting: dict[int, queue.SimpleQueue] = {}
        self.alive = True
        self.send_lock = threading.Lock()


class SharedEngine:
    """`on_queued(place)` is called on the computing thread each time the engine says where its request is:
    1 or more while it waits, 0 once it is being computed."""

    def __init__(
        self,
        socket_folder: Path | str,
        *,
        on_queued: Callable[[int], None] | None = None,
        connect_budget_s: float = CONNECT_BUDGET_S,
    ):
        self._folder = Path(socket_folder)
        self.on_queued = on_queued
        self._connect_budget_s = connect_budget_s
        self._state = threading.Lock()  # guards the fields below
        self._connecting = threading.Lock()  # one connection made at a time
        self._connection: _Connection | None = None
        self._computing = 0
        self._closed = False
        self._notices: list[str] = []

    @property
    def busy(self) -> bool:
        """A computation is waiting for its answer."""
        return self._computing > 0

    @property
    def exit_code(self) -> int | None:
        """Always None: the engine is the room's, not this session's, and the next request reconnects to
        whichever engine process is running then."""
        return None

    def take_notices(self) -> list[str]:
        with self._state:
            notices, self._notices = self._notices, []
        return notices

    def close(self) -> None:
        """Hang up at once; waiting computations end with `EngineClosed`, and the engine drops their requests."""
        with self._state:
            self._closed = True
            connection = self._connection
        if connection is not None:
            _hang_up(connection.sock)

    def cancel(self) -> None:
        """Nobody wants the answers this session waits for: the engine drops them from its queue, or stops
        computing at its next safe point, and each waiting computation ends with `RequestSuperseded`. The
        connection stays, for the next request."""
        with self._state:
            connection = self._connection
        if connection is None:
            return
        with connection.send_lock:
            with self._state:
                if not connection.alive:
                    return
                numbers = sorted(connection.waiting)
                connection.sent += len(numbers)  # the engine counts these lines too
            try:
                connection.sock.sendall(b"".join(cancel_line(number) for number in numbers))
            except OSError:
                pass  # the engine has gone: the reader tells the waiting computations

    def compute(self, request: Request) -> Report:
        with self._state:
            self._computing += 1
        try:
            return self._compute(request)
        finally:
            with self._state:
                self._computing -= 1

    def _compute(self, request: Request) -> Report:
        line = request.to_json()
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(2):  # a connection found ended (the engine died while this session was idle) is made anew
            connection = self._connected()
            with connection.send_lock:
                with self._state:
                    registered = connection.alive
                    if registered:
                        connection.sent += 1
                        connection.waiting[connection.sent] = inbox
                if registered:
                    try:
                        connection.sock.sendall(line)
                    except OSError:
                        raise self._ended() from None
                    break
        else:
            raise self._ended()
        while True:
            item = inbox.get()
            if item is _GONE:
                raise self._ended()
            if "status" not in item:
                if self.on_queued is not None:
                    self.on_queued(0 if item.get("computing") else item["queued"])
                continue
            return self._outcome(item)

    def _outcome(self, answer: dict) -> Report:
        notices = answer.get("notices", [])
        with self._state:
            self._notices.extend(str(notice) for notice in notices)
        status, reason = answer["status"], str(answer.get("message", ""))
        if status == "ok":
            return answer["report"]
        if status == "learner":
            raise LearnerError(reason)
        if status == "timed_out":
            raise EngineTimedOut(reason)
        if status == "superseded":
            raise RequestSuperseded(reason)
        raise EngineError(reason)

    def _ended(self) -> EngineError:
        with self._state:
            closed = self._closed
        if closed:
            return EngineClosed("this session's engine connection was closed")
        return EngineDied(None)

    # ----- the connection --------------------------------------------------------------------------------

    def _connected(self) -> _Connection:
        """The live connection, made now if there is none (or the last one ended)."""
        with self._connecting:
            with self._state:
                if self._closed:
                    raise EngineClosed("this session's engine connection was closed")
                if self._connection is not None and self._connection.alive:
                    return self._connection
            sock = self._connect()
            connection = _Connection(sock)
            with self._state:
                if self._closed:
                    _hang_up(sock)
                    raise EngineClosed("this session's engine connection was closed")
                self._connection = connection
            threading.Thread(target=self._read, args=(connection,), name="shared-engine-reader", daemon=True).start()
            return connection

    def _connect(self) -> socket.socket:
        give_up = time.monotonic() + self._connect_budget_s
        why = "it is not running"
        while True:
            try:
                check_private_folder(self._folder)  # else whoever answers might not be this user's engine
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(str(self._folder / SOCKET_NAME))
                except BaseException:
                    sock.close()
                    raise
                return sock
            except UnsafeSocketFolder as unsafe:
                raise EngineError(f"the workshop's computing process cannot be reached safely: {unsafe}") from None
            except (FileNotFoundError, ConnectionRefusedError) as error:
                why = error.strerror or "it is not running"
            with self._state:
                closed = self._closed
            if closed:
                raise EngineClosed("this session's engine connection was closed")
            if time.monotonic() >= give_up:
                raise EngineError(
                    f"the workshop's computing process did not answer within {self._connect_budget_s:.0f} s "
                    f"({why.lower()}); try again in a moment"
                )
            time.sleep(CONNECT_RETRY_S)

    def _read(self, connection: _Connection) -> None:
        """Hand each message to the computation waiting for it, until the connection ends."""
        try:
            while True:
                line = connection.stream.readline(MAX_HEADER_BYTES)
                if not line.endswith(b"\n"):
                    break  # the engine has gone (or sent nonsense, which ends the connection too)
                item = read_message(line)
                if item.get("status") == "ok":
                    item["report"] = _read_report(connection.stream, item["bytes"])
                with self._state:
                    inbox = connection.waiting.get(item["request"])
                    if "status" in item:
                        connection.waiting.pop(item["request"], None)
                if inbox is not None:
                    inbox.put(item)
        except Exception:  # whatever ended it, the computations waiting hear that the engine has gone
            pass
        finally:
            with self._state:
                connection.alive = False
                waiting, connection.waiting = connection.waiting, {}
            for inbox in waiting.values():
                inbox.put(_GONE)
            _hang_up(connection.sock)
            connection.stream.close()
            connection.sock.close()


def _read_report(stream: BinaryIO, size: int) -> Report:
    """Read and unpickle a report with the garbage collector paused: a big report is tens of thousands of new
    objects, and collections triggered part way would walk them again and again."""
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("the connection ended in the middle of a report")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return load_report(data)
    finally:
        if was_enabled:
            gc.enable()


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
