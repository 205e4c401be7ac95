"""Full garbage collections put off while a lab runs, and run once it stops."""

from __future__ import annotations

import gc

from tutor.ui.heap import NEVER, FullCollections


def test_holding_puts_off_full_collections_and_releasing_runs_the_one_put_off_then_freezes():
    usual = gc.get_threshold()
    collections = FullCollections()
    full_runs: list[int] = []

    def note_full_collections(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            full_runs.append(info["collected"])

    collections.hold()
    collections.hold()  # held twice: the usual threshold is still the one restored
    gc.callbacks.append(note_full_collections)
    try:
        assert collections.held and gc.get_threshold() == (usual[0], usual[1], NEVER)
        cycle: list = []
        cycle.append(cycle)
        del cycle
        frozen_before = gc.get_freeze_count()
        survivor = [object() for _ in range(100)]
        collections.release()
        assert not collections.held and gc.get_threshold() == usual
        assert full_runs and full_runs[0] >= 1  # the cycle, found by the collection release ran
        assert gc.get_freeze_count() >= frozen_before + len(survivor)
        collections.release()  # not held: nothing more
        assert len(full_runs) == 1

        collections.hold()
        collections.stop_holding()  # as when the app ends: the usual threshold, no collection
        assert not collections.held and gc.get_threshold() == usual and len(full_runs) == 1
    finally:
        gc.callbacks.remove(note_full_collections)
        collections.release()
