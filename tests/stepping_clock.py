"""A stand-in for the `time` module of the engine's work in the app's tests: slices of training or generation end
after a set number of looks at the clock, however fast or slow the machine is."""

from __future__ import annotations

import threading
import time


class SteppingClock:
    """`time`, except that each look at `perf_counter` is a tenth of a second later than the last."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def perf_counter(self) -> float:
        with self.lock:
            self.now += 0.1
            return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)
