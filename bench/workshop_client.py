"""One participant of the workshop benchmark: a real SSH client (asyncssh) with a terminal, and the screen a
terminal emulator (pyte) makes of what it receives.

Times are taken when a chunk of output arrives, before the emulator reads it: `expect(condition)` gives the
arrival time of the first chunk after which the screen meets the condition, so the benchmark's own work of
checking is not counted as the server's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncssh

try:
    import pyte
except ImportError:  # a test dependency; `make bench-workshop` installs it
    raise SystemExit("the workshop benchmark reads the screen with pyte: pip install 'pyte>=0.8'") from None

Condition = Callable[[list[str]], bool]  # the screen's lines → met?
READ_CHUNK = 65536

# The cross-entropy lesson, "lesson 7 of 10" as the app numbers lessons (from 1), and the digit key that goes there.
CROSS_ENTROPY_LESSON = 7
# What the app shows at 80x24 on it once its numbers are there: "Average the log-probabilities of all 16
# targets: that is -10.9327." (lessons/06-cross-entropy.md), read across line breaks and the pane's border.
CROSS_ENTROPY_NUMBER = re.compile(r"targets: that is (-?\d+\.\d{4})")
_FRAME_CHARACTERS = re.compile(r"[\u2500-\u259f]")  # box drawing and block elements: borders, scroll bars


def flattened(lines: list[str]) -> str:
    """The screen as one line of words: borders and scroll bars removed, rows joined, spaces collapsed."""
    return " ".join(_FRAME_CHARACTERS.sub(" ", " ".join(lines)).split())


def anything_drawn(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def on_lesson(number: int) -> Condition:
    marker = f"lesson {number} of"
    return lambda lines: any(marker in line for line in lines)


def any_lesson(lines: list[str]) -> bool:
    return any(re.search(r"lesson \d+ of", line) for line in lines)


def cross_entropy_number(lines: list[str]) -> str | None:
    if not on_lesson(CROSS_ENTROPY_LESSON)(lines):
        return None
    found = CROSS_ENTROPY_NUMBER.search(flattened(lines))
    return found[1] if found else None


class SessionEnded(Exception):
    """The server closed the session before the screen showed what was expected."""


@dataclass
class Participant:
    name: str
    columns: int = 80
    rows: int = 24
    connection: asyncssh.SSHClientConnection | None = None
    process: asyncssh.SSHClientProcess | None = None
    # monotonic times; None until reached
    join_started: float | None = None
    logged_in: float | None = None
    first_frame: float | None = None
    title_shown: float | None = None  # the app's "lesson N of M": it takes keys
    numbers_shown: float | None = None
    number: str | None = None
    failure: str | None = None
    stage: str = "waiting to join"  # what it was doing, for a failure's message
    key_latencies_s: list[float] = field(default_factory=list)
    keys_without_frame: int = 0
    chunks: int = 0  # of output received: each is about one frame
    received_bytes: int = 0
    # measured on the server's side: the session's process, and its CPU seconds at named moments
    session_pid: int | None = None
    cpu_at: dict[str, float] = field(default_factory=dict)
    updates_while_waiting: int = 0  # chunks received from the app's lesson title to the cross-entropy lesson's numbers
    bytes_to_numbers: int = 0  # received from login to the cross-entropy lesson's numbers
    _expected: list[tuple[Condition, asyncio.Future]] = field(default_factory=list)
    _reader: asyncio.Task | None = None
    _last_arrival: float = 0.0

    def __post_init__(self) -> None:
        self.screen = pyte.Screen(self.columns, self.rows)
        self.stream = pyte.ByteStream(self.screen)

    @property
    def lines(self) -> list[str]:
        return self.screen.display

    async def log_in(self, port: int) -> None:
        """Connect and authenticate (the server runs with --no-auth), then open a session with a terminal."""
        self.join_started = time.monotonic()
        self.connection = await asyncssh.connect(
            "127.0.0.1", port, username=self.name, password=None, client_keys=None, known_hosts=None,
            agent_path=None, config=None,
        )
        self.logged_in = time.monotonic()
        first_frame = self.expect(anything_drawn)
        self.process = await self.connection.create_process(
            term_type="xterm-256color", term_size=(self.columns, self.rows), encoding=None
        )
        self._reader = asyncio.create_task(self._read())
        self.first_frame = await first_frame

    def expect(self, condition: Condition) -> asyncio.Future:
        """A future for the arrival time of the output that makes the screen meet `condition` (at once if it
        already does)."""
        arrived = asyncio.get_running_loop().create_future()
        if self._reader is not None and condition(self.lines):
            arrived.set_result(self._last_arrival)
        else:
            self._expected.append((condition, arrived))
        return arrived

    def press(self, key: str) -> float:
        self.process.stdin.write(key.encode())
        return time.monotonic()

    def drop(self) -> None:
        """End the connection without a goodbye, as a closed laptop lid or a lost network does."""
        if self._reader is not None:
            self._reader.cancel()
        if self.connection is not None:
            self.connection.abort()

    async def _read(self) -> None:
        try:
            while data := await self.process.stdout.read(READ_CHUNK):
                self._last_arrival = time.monotonic()
                self.chunks += 1
                self.received_bytes += len(data)
                self.stream.feed(data)
                if self._expected:
                    self._check(self._last_arrival)
        except (OSError, asyncssh.Error) as error:
            self._fail_waiting(SessionEnded(f"the connection failed: {error}"))
            return
        self._fail_waiting(SessionEnded("the server ended the session"))

    def _check(self, arrival: float) -> None:
        lines = self.lines
        waiting = []
        for condition, arrived in self._expected:
            if arrived.done():
                continue
            if condition(lines):
                arrived.set_result(arrival)
            else:
                waiting.append((condition, arrived))
        self._expected = waiting

    def _fail_waiting(self, error: Exception) -> None:
        for _, arrived in self._expected:
            if not arrived.done():
                arrived.set_exception(error)
                arrived.exception()  # whoever awaits it still gets the error; nobody awaiting it is no error
        self._expected = []
