"""Whether a check's first answer was right: kept in the session and in progress.json (`checks_first_try`, since
version 2), never changed by a later answer, and read from a version 1 file, which has none."""

from __future__ import annotations

import json

import pytest
from app_helpers import press_and_settle, settle
from textual.widgets import Input

from tutor.core.progress import FORMAT_VERSION, Progress, ProgressStore
from tutor.core.progress_saver import ProgressSaver
from tutor.core.session import Session
from tutor.core.settings import Settings
from tutor.core.texts import text_from_string

SIZE = (120, 40)
VERSION_1 = {
    "version": 1, "current_lesson": "tokenize", "lessons_seen": ["overview", "tokenize"],
    "checks_answered": {"tokenize:inputs-shape": True}, "settings": {}, "text": None, "text_path": None,
}


def test_a_version_1_file_is_read_with_no_first_tries_and_saved_as_the_current_version(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text(json.dumps(VERSION_1))
    store = ProgressStore(path)
    progress, notice = store.load()
    assert notice is None
    assert progress.current_lesson == "tokenize" and dict(progress.checks_answered) == {"tokenize:inputs-shape": True}
    assert dict(progress.checks_first_try) == {}
    store.update(lambda saved: saved.with_first_try("tokenize:window-count", True))
    saved = json.loads(path.read_text())
    assert saved["version"] == FORMAT_VERSION == 2
    assert saved["checks_first_try"] == {"tokenize:window-count": True}
    assert saved["checks_answered"] == {"tokenize:inputs-shape": True}


@pytest.mark.parametrize(
    "document",
    [
        VERSION_1 | {"checks_first_try": {}},  # not a field of version 1
        VERSION_1 | {"version": FORMAT_VERSION + 1},
        VERSION_1 | {"version": 0},
        VERSION_1 | {"version": True},
        VERSION_1 | {"version": "2"},
        VERSION_1 | {"version": 2, "checks_first_try": {"a:b": "yes"}},
        VERSION_1 | {"version": 2, "checks_first_try": [["a:b", True]]},
    ],
)
def test_a_first_try_field_or_version_that_does_not_fit_is_refused(document):
    with pytest.raises(ValueError):
        Progress.from_json(json.dumps(document))


def test_the_first_first_try_stays():
    progress = Progress().with_first_try("a:1", False).with_first_try("a:1", True).with_first_try("a:2", True)
    assert dict(progress.checks_first_try) == {"a:1": False, "a:2": True}
    assert Progress.from_json(progress.to_json()) == progress
    with pytest.raises(TypeError):
        progress.checks_first_try["a:3"] = True  # immutable, as the rest


def session() -> Session:
    return Session(text=text_from_string("Once upon a time."), settings=Settings())


def test_the_session_keeps_whether_the_first_answer_was_right():
    learner = session()
    learner.record_answer("a:1", False)
    learner.record_answer("a:1", True)
    learner.record_answer("a:2", True)
    learner.record_answer("a:2", False)  # answered again after being right: still right
    assert learner.checks == {"a:1": True, "a:2": True}
    assert learner.first_tries == {"a:1": False, "a:2": True}


def test_a_check_answered_before_first_tries_were_kept_gets_none():
    learner = session()
    learner.checks = {"a:1": False}  # from a version 1 file: answered, wrongly, at some try
    learner.record_answer("a:1", True)
    assert learner.checks == {"a:1": True} and learner.first_tries == {}


def test_a_first_try_another_tutor_of_the_same_learner_saved_first_stays(tmp_path):
    store = ProgressStore(tmp_path / "progress.json")
    store.save(Progress().with_check("a:1", True).with_first_try("a:1", True))
    saver = ProgressSaver(store)
    snapshot = saver.snapshot(lesson_id="a", seen=["a"], checks={"a:1": True}, first_tries={"a:1": False},
                              settings={}, text=None, text_path=None)
    assert saver.save(snapshot) is None
    assert dict(store.load()[0].checks_first_try) == {"a:1": True}


async def test_answering_in_the_app_saves_the_first_try(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "3", "a")  # lesson 3, the windows, has two checks
        first, second = app.screen.lesson.checks
        values = app.session.report.values()
        answer = app.screen.query_one("#check-answer", Input)
        answer.value = "3, 3"
        await press_and_settle(pilot, "enter")  # wrong
        answer.value = ", ".join(str(n) for n in values[first.answer])
        await press_and_settle(pilot, "enter", "a")  # then right; `a` takes the next check
        answer.value = str(values[second.answer])
        await press_and_settle(pilot, "enter")  # right at once
        lesson_id = app.lessons.lessons[2].id
        assert app.session.first_tries == {f"{lesson_id}:{first.id}": False, f"{lesson_id}:{second.id}": True}
    saved = ProgressStore().load()[0]
    assert dict(saved.checks_answered) == {f"{lesson_id}:{first.id}": True, f"{lesson_id}:{second.id}": True}
    assert dict(saved.checks_first_try) == {f"{lesson_id}:{first.id}": False, f"{lesson_id}:{second.id}": True}


async def test_first_tries_are_resumed_and_forgotten_by_start_over(make_app):
    ProgressStore().save(Progress(checks_answered={"tokenize:inputs-shape": True},
                                  checks_first_try={"tokenize:inputs-shape": False}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.first_tries == {"tokenize:inputs-shape": False}
        app.start_over()
        await settle(pilot)
        assert app.session.first_tries == {}
    assert dict(ProgressStore().load()[0].checks_first_try) == {}
