"""A participant's tutor in a workshop follows the room's notice (tutor/core/room_notice.py), which the instructor's
dashboard writes: a message is shown, a suggested lesson is offered and `f` goes there; `f` in a text field is text;
a lesson this tutor lacks is not offered; a tutor outside a workshop never looks."""

from __future__ import annotations

import threading
import time

import pytest
from app_helpers import GatedEngine, press_and_settle, settle, shown
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

import tutor.engine.process
import tutor.ui.app
from tutor.cli import build_app, build_parser
from tutor.core.progress import ProgressStore
from tutor.core.room_notice import ROOM_NOTICE_ENV, RoomNotice
from tutor.workshop.room_board import RoomBoard, room_notice_path

SIZE = (120, 40)
SENT_AT = 1_700_000_000.0


@pytest.fixture
def board(tmp_path, monkeypatch) -> RoomBoard:
    """The instructor's side; the app looks at it often, so that a test does not wait a second per look."""
    monkeypatch.setattr(tutor.ui.app, "ROOM_NOTICE_CHECK_S", 0.02)
    board = RoomBoard(room_notice_path(tmp_path / "workshop"), clock=lambda: SENT_AT)
    board.clear()  # as the server does when it starts: the folder is there, the notice not yet
    return board


async def until(pilot, condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"{what} did not happen")


def toasts(app) -> list[str]:
    return [toast.render().plain for toast in app.screen.query(Toast)]


def suggestion_bar(app):
    return app.screen.query_one("#suggestion-bar")


def follow_is_offered(app) -> bool:
    """`f` is in the footer (an active binding the screen allows)."""
    return "f" in app.screen.active_bindings and app.screen.check_action("follow", ()) is True


async def test_the_instructors_message_is_shown_once_with_its_controls_made_visible(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        board.send_message("Back at 14:00\x1b[2J — the break starts now")
        await until(pilot, lambda: toasts(app), "the message")
        sent = time.strftime("%H:%M", time.localtime(SENT_AT))
        assert toasts(app) == [f"From the instructor ({sent})\nBack at 14:00\\x1b[2J — the break starts now"]
        for _ in range(10):  # looked at again and again: shown once
            await pilot.pause(0.03)
        assert len(toasts(app)) == 1
        assert not suggestion_bar(app).display and not follow_is_offered(app)  # a message is not a suggestion


async def test_a_suggested_lesson_is_offered_and_f_goes_there_and_saves(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert not follow_is_offered(app)
        lesson = app.lessons.lessons[3]
        board.suggest_lesson(lesson.id)
        await until(pilot, lambda: suggestion_bar(app).display, "the suggestion")
        assert shown(suggestion_bar(app)) == f"The instructor is on lesson 4: {lesson.title} — press f to follow"
        assert follow_is_offered(app)
        assert app.lesson_index == 0  # nobody is moved without pressing f

        await press_and_settle(pilot, "f")
        assert app.lesson_index == 3
        assert not suggestion_bar(app).display and not follow_is_offered(app)
        await until(pilot, lambda: ProgressStore().load()[0].current_lesson == lesson.id, "saving the lesson")

        await press_and_settle(pilot, "f")  # nothing pending: nothing happens
        assert app.lesson_index == 3


async def test_arriving_at_the_suggested_lesson_another_way_ends_the_suggestion(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        board.suggest_lesson(app.lessons.lessons[1].id)
        await until(pilot, lambda: suggestion_bar(app).display, "the suggestion")
        await press_and_settle(pilot, "n")
        assert app.lesson_index == 1
        assert not suggestion_bar(app).display and not follow_is_offered(app)

        board.suggest_lesson(app.lessons.lessons[1].id)  # the lesson in view: nothing to follow
        board.send_message("and a word")  # read after the suggestion above
        await until(pilot, lambda: toasts(app), "the message after it")
        assert not suggestion_bar(app).display and not follow_is_offered(app)


async def test_at_80_columns_the_footer_has_room_for_f_and_still_shows_quit_and_help(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        board.suggest_lesson(app.lessons.lessons[3].id)
        await until(pilot, lambda: suggestion_bar(app).display, "the suggestion")
        await settle(pilot)
        shown_keys = [key for key in app.screen.query(FooterKey) if key.display]
        assert {"f", "q", "question_mark"} <= {key.key for key in shown_keys}
        assert all(key.region.right <= 80 for key in shown_keys)  # none cut off at the edge
        for index, key in enumerate(shown_keys):  # nor hidden under another (the palette's hint is docked right)
            assert not any(key.region.overlaps(other.region) for other in shown_keys[index + 1:])
        assert shown(suggestion_bar(app)).endswith("— press f to follow")


async def test_f_typed_in_the_answer_field_is_text_even_with_a_suggestion_pending(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "2")  # lesson 2, with a check
        board.suggest_lesson(app.lessons.lessons[4].id)
        await until(pilot, lambda: suggestion_bar(app).display, "the suggestion")
        await press_and_settle(pilot, "a")
        answer = app.screen.query_one("#check-answer", Input)
        assert app.focused is answer
        await press_and_settle(pilot, "f")
        assert answer.value == "f"
        assert app.lesson_index == 1 and suggestion_bar(app).display  # still pending


async def test_a_lesson_this_tutor_does_not_have_is_not_offered(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        board.path.write_text(RoomNotice(1, "Follow me", "a-lesson-of-another-set", SENT_AT).to_json())
        await until(pilot, lambda: toasts(app), "the message that came with it")
        assert not suggestion_bar(app).display and not follow_is_offered(app)
        await press_and_settle(pilot, "f")
        assert app.lesson_index == 0


async def test_a_broken_notice_file_shows_nothing_and_the_next_good_one_is_shown(make_app, board):
    app = make_app(room_notice_path=board.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        board.path.write_text('{"id": 1, "message": "half')
        for _ in range(10):
            await pilot.pause(0.03)
        assert toasts(app) == [] and not suggestion_bar(app).display
        board.send_message("whole")
        await until(pilot, lambda: toasts(app), "the good notice")
        assert toasts(app)[0].endswith("\nwhole")


async def test_outside_a_workshop_the_tutor_looks_for_no_notice_and_f_does_nothing(make_app, board, monkeypatch):
    reads = []
    monkeypatch.setattr(tutor.ui.app, "read_room_notice", lambda path: reads.append(path))
    board.suggest_lesson("softmax")
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        for _ in range(10):
            await pilot.pause(0.03)
        await press_and_settle(pilot, "f")
        assert reads == [] and app.lesson_index == 0 and not follow_is_offered(app)


@pytest.fixture
def no_model_process(monkeypatch):
    """`build_app` without starting a computing process: it stays idle, as the app is never run here."""
    gate = threading.Event()
    monkeypatch.setattr(tutor.engine.process, "start_process_engine", lambda weight_files=(): GatedEngine(gate))


def test_only_a_workshop_session_takes_the_notice_from_its_environment(no_model_process, monkeypatch, tmp_path):
    monkeypatch.setenv(ROOM_NOTICE_ENV, str(tmp_path / "room" / "notice.json"))
    assert build_app(build_parser().parse_args(["--workshop"])).room_notice_path == tmp_path / "room" / "notice.json"
    assert build_app(build_parser().parse_args([])).room_notice_path is None
    monkeypatch.delenv(ROOM_NOTICE_ENV)
    assert build_app(build_parser().parse_args(["--workshop"])).room_notice_path is None
