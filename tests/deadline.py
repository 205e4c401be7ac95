"""`within(seconds, what)`: a block that would hang fails the test instead of stopping the run.

SIGALRM interrupts a blocking system call made from Python (an `open` of a FIFO waits for a writer forever);
the handler's exception ends it. `Hung` is not an `Exception`, so no `except OSError` in the code under test
can swallow it. Main thread only, which is where pytest runs tests. Code that blocks outside the interpreter
(a Rust or C library retrying the call) needs a subprocess with a timeout instead.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Hung(BaseException):
    pass


@contextmanager
def within(seconds: float, what: str) -> Iterator[None]:
    def expire(signum, frame):
        raise Hung(f"{what} did not finish within {seconds:g} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
