"""ProgressSaver: saves that run late never overwrite newer ones, a reset drops every earlier save, and a
failure is reported the first time only."""

from __future__ import annotations

from tutor.core.progress import ProgressStore
from tutor.core.progress_saver import ProgressSaver


def state(saver: ProgressSaver, lesson_id: str, seen=("overview",)):
    return saver.snapshot(lesson_id=lesson_id, seen=list(seen), checks={}, first_tries={}, settings={"batch_size": 2},
                          text=None, text_path=None)


def test_a_late_save_of_an_older_state_is_skipped(tmp_path):
    store = ProgressStore(tmp_path / "progress.json")
    saver = ProgressSaver(store)
    older, newer = state(saver, "tokenize"), state(saver, "forward", seen=("overview", "tokenize", "forward"))
    assert saver.save(newer) is None
    assert saver.save(older) is None  # a worker that ran late
    progress, _ = store.load()
    assert progress.current_lesson == "forward"
    assert progress.lessons_seen == ("overview", "tokenize", "forward")


def test_a_reset_drops_the_saves_taken_before_it(tmp_path):
    store = ProgressStore(tmp_path / "progress.json")
    saver = ProgressSaver(store)
    before = state(saver, "gather")
    saver.reset()
    saver.save(before)
    assert not store.path.exists()
    saver.save(state(saver, "overview"))
    assert store.load()[0].current_lesson == "overview"


def test_a_failure_is_reported_once_and_later_saves_still_try(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way", encoding="utf-8")
    saver = ProgressSaver(ProgressStore(blocker / "state" / "progress.json"))
    first = saver.save(state(saver, "overview"))
    assert first is not None and first.startswith("could not save your progress (")
    assert saver.save(state(saver, "tokenize")) is None
    blocker.unlink()
    assert saver.save(state(saver, "forward")) is None
    assert saver.store.load()[0].current_lesson == "forward"
