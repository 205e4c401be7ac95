"""What the room's shared engine (shared_server.py) says about itself when asked, for the instructor's dashboard:
whose requests wait in its queue and in which order, whose is being computed and for how long, how long the
last computation took, and how many requests it has answered (and how many of them from its recent answers).
No torch.

The dashboard asks on a connection of its own: one line, exactly `{"query": "status"}` as JSON (no request has
that key), answered with one line, `{"request": 1, "engine": {...}}`; the fields are those of `EngineStatus`.
Sessions are named by process id: the engine learns each connection's from the kernel (SO_PEERCRED), and the
dashboard knows which participant's session each process belongs to (tutor/workshop/dashboard_facts.py).
"""

from __future__ import annotations

import json
import math
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tutor.engine.shared_wire import MAX_HEADER_BYTES, SOCKET_NAME, UnsafeSocketFolder, check_private_folder

STATUS_QUERY = b'{"query": "status"}\n'
STATUS_TIMEOUT_S = 1.0  # the dashboard reads once a second; an engine that takes longer is shown as not answering
_QUERY = {"query": "status"}
_FIELDS = frozenset({"loaded", "waiting", "computing", "last_compute_s", "answered", "from_cache"})


class EngineStatusUnavailable(Exception):
    """The engine could not be asked, or did not answer in time; the message says why, as "it …"."""


@dataclass(frozen=True)
class Computing:
    pid: int | None  # of the process whose connection sent the request; None if the kernel did not say
    for_s: float  # seconds so far


@dataclass(frozen=True)
class EngineStatus:
    loaded: bool  # False while the model loads: requests wait
    waiting: tuple[int | None, ...]  # the process id of each waiting connection, the one computed next first
    computing: Computing | None
    last_compute_s: float | None  # the last request computed (not answered from the recent answers); None: none yet
    answered: int  # since this engine process started
    from_cache: int  # of those, answered again without computing

    def to_data(self) -> dict:
        computing = None if self.computing is None else {"pid": self.computing.pid, "for_s": self.computing.for_s}
        return {
            "loaded": self.loaded,
            "waiting": list(self.waiting),
            "computing": computing,
            "last_compute_s": self.last_compute_s,
            "answered": self.answered,
            "from_cache": self.from_cache,
        }

    @classmethod
    def from_data(cls, data: object) -> EngineStatus:
        """The status `to_data` gave; `ValueError` for anything else."""
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise ValueError(f"an engine's status has exactly the fields {', '.join(sorted(_FIELDS))}")
        if not isinstance(data["loaded"], bool):
            raise ValueError("loaded is true or false")
        waiting = data["waiting"]
        if not isinstance(waiting, list) or not all(_is_pid(pid) for pid in waiting):
            raise ValueError("waiting is a list of process ids")
        computing = data["computing"]
        if computing is not None:
            if not isinstance(computing, dict) or set(computing) != {"pid", "for_s"}:
                raise ValueError("computing is null or an object with pid and for_s")
            if not _is_pid(computing["pid"]) or not _is_seconds(computing["for_s"]):
                raise ValueError("computing has a process id and a time")
            computing = Computing(computing["pid"], float(computing["for_s"]))
        last = data["last_compute_s"]
        if last is not None and not _is_seconds(last):
            raise ValueError("last_compute_s is null or a time")
        if not _is_count(data["answered"]) or not _is_count(data["from_cache"]):
            raise ValueError("answered and from_cache are counts")
        return cls(data["loaded"], tuple(waiting), computing, None if last is None else float(last),
                   data["answered"], data["from_cache"])


def is_status_query(line: bytes) -> bool:
    """Whether `line` asks for the engine's status: a JSON object with exactly the key query, valued status."""
    if len(line) > 4 * len(STATUS_QUERY):  # a request is longer; it is not parsed twice
        return False
    try:
        return json.loads(line) == _QUERY
    except (ValueError, RecursionError):
        return False


def status_answer(number: int, status: EngineStatus) -> bytes:
    return json.dumps({"request": number, "engine": status.to_data()}).encode("ascii") + b"\n"


def read_status_answer(line: bytes) -> EngineStatus:
    """The status in the engine's answer to the first line on a connection; `ValueError` for anything else."""
    data = json.loads(line, parse_constant=_no_constant)
    if not isinstance(data, dict) or set(data) != {"request", "engine"} or data["request"] != 1:
        raise ValueError("not the answer to a status query")
    return EngineStatus.from_data(data["engine"])


def ask_engine_status(folder: Path, timeout_s: float = STATUS_TIMEOUT_S) -> EngineStatus:
    """Ask the engine listening in `folder`; `EngineStatusUnavailable` if it cannot say within `timeout_s`."""
    try:
        check_private_folder(folder)  # else whoever answers might not be this user's engine
    except UnsafeSocketFolder as unsafe:
        raise EngineStatusUnavailable(f"it cannot be reached safely: {unsafe}") from None
    give_up = time.monotonic() + timeout_s
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(folder / SOCKET_NAME))
            sock.sendall(STATUS_QUERY)
            line = _read_line(sock, give_up)
    except (FileNotFoundError, ConnectionRefusedError):
        raise EngineStatusUnavailable("it is not listening") from None
    except TimeoutError:
        raise EngineStatusUnavailable(f"it did not answer within {timeout_s:g} s") from None
    except OSError as error:
        raise EngineStatusUnavailable(f"it could not be asked: {error.strerror or error}") from None
    try:
        return read_status_answer(line)
    except (ValueError, RecursionError) as error:
        raise EngineStatusUnavailable(f"its answer could not be read: {error}") from None


def _read_line(sock: socket.socket, give_up: float) -> bytes:
    received = b""
    while b"\n" not in received:
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise EngineStatusUnavailable("it closed the connection without answering")
        received += chunk
        if len(received) > MAX_HEADER_BYTES:
            raise EngineStatusUnavailable(f"its answer was longer than {MAX_HEADER_BYTES:,} bytes")
    return received.partition(b"\n")[0]


def _is_pid(value: object) -> bool:
    return value is None or (_is_count(value) and value > 0)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _no_constant(name: str) -> None:
    raise ValueError(f"a status holds no {name}")
