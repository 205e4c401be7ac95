"""The workshop server's log: each line stamped with the time, printed while nothing else draws on the
instructor's terminal, and kept (the newest MAX_KEPT) for the dashboard's log pane, which draws there
instead. Lines come from the event loop and from the engine supervisor's threads. No Textual here."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEPT = 1000


def clock_stamp() -> str:
    return time.strftime("%H:%M:%S")


class ServeLog:
    def __init__(self, *, echo: bool = True, stamp: Callable[[], str] = clock_stamp, max_kept: int = MAX_KEPT):
        self.echo = echo  # print each line as it comes; off while the dashboard owns the terminal
        self._stamp = stamp
        self._lock = threading.Lock()
        self._kept: deque[tuple[int, str]] = deque(maxlen=max_kept)
        self._numbers = itertools.count(1)

    def write(self, line: str) -> None:
        stamped = f"{self._stamp()} {line}"
        with self._lock:
            self._kept.append((next(self._numbers), stamped))
            echo = self.echo
        if echo:
            try:
                print(stamped, flush=True)
            except (OSError, ValueError):  # nobody reads the log any more (a closed pipe or terminal); serving goes on
                pass

    def since(self, seen: int) -> tuple[list[str], int]:
        """The kept lines after line number `seen` (0: all of them), and the number of the newest line."""
        with self._lock:
            lines = [line for number, line in self._kept if number > seen]
            newest = self._kept[-1][0] if self._kept else seen
        return lines, newest
