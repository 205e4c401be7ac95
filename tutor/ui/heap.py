"""When Python's cyclic garbage collector may walk the interface's whole heap.

A full collection walks every object made since the heap was last frozen and pauses the event loop for as long:
35-50 ms after a lesson change or a few steps of a lab, enough to stall the drawing of a lab's progress. While a
lab runs, `FullCollections.hold` leaves the young collections (which free most cyclic garbage, and take a few ms)
to run as usual and puts off the full ones; `release` runs the one that was put off, then freezes what is left,
so that the next full collection walks only what is made after it.
"""

from __future__ import annotations

import gc

NEVER = 2**31 - 1  # collections of the middle generation before a full one: a threshold never reached


class FullCollections:
    def __init__(self) -> None:
        self._usual_threshold: int | None = None

    @property
    def held(self) -> bool:
        return self._usual_threshold is not None

    def hold(self) -> None:
        if self._usual_threshold is None:
            young, middle, self._usual_threshold = gc.get_threshold()
            gc.set_threshold(young, middle, NEVER)

    def release(self) -> None:
        """Run the full collection put off, and freeze what survives it."""
        if self.held:
            self.stop_holding()
            if gc.isenabled():  # off until the first frame (tutor.cli.build_app), which freezes the heap
                gc.collect()
                gc.freeze()

    def stop_holding(self) -> None:
        """Let full collections run when Python's own thresholds say, without running one now."""
        if self._usual_threshold is not None:
            young, middle, _never = gc.get_threshold()
            gc.set_threshold(young, middle, self._usual_threshold)
            self._usual_threshold = None
