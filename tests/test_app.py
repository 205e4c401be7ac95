"""Pilot tests of the app as a whole: quitting, the command palette, terminal size, lesson files on disk,
and staying responsive while the model loads."""

from __future__ import annotations

import gc
import os
import shutil
import threading

import pytest
from app_helpers import (
    CachedEngine,
    GatedEngine,
    assert_numbers_close,
    expected_report,
    press_and_settle,
    record_notifications,
    settle,
    shown,
    table_column,
    view,
)
from textual.command import CommandPalette
from textual.content import Content

from tutor.cli import build_app, build_parser
from tutor.core.lessons import builtin_lessons_dir
from tutor.core.session import Outcome
from tutor.core.settings import Settings
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.too_small import TooSmallScreen
from tutor.ui.widgets.lesson_text import LessonText
from tutor.ui.widgets.token_table import TokenTable

SIZE = (120, 40)
LOADING = "loading the model (importing torch, reading the weights)…"


def lesson_folder(tmp_path, *names: str):
    folder = tmp_path / "lessons"
    folder.mkdir()
    for name in names:
        shutil.copy(builtin_lessons_dir() / name, folder / name)
    return folder


# ----- quitting and the command palette --------------------------------------------------------------


async def test_q_quits_cleanly(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0
    assert app._exception is None


async def test_quitting_at_the_first_frame_is_clean(make_app):
    """A learner who quits at once: the list, check and panes that follow the first frame never mount."""
    app = make_app()
    draw = app._display

    def draw_then_quit(screen, renderable):
        draw(screen, renderable)
        app.exit()

    app._display = draw_then_quit
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.return_code == 0
    assert app._exception is None


async def test_the_command_starts_the_engine_first_and_collects_garbage_after_the_first_frame(monkeypatch):
    started = []

    def start_engine(weight_files=()):
        started.append(CachedEngine())
        return started[-1]

    monkeypatch.setattr("tutor.engine.process.start_process_engine", start_engine)
    app = build_app(build_parser().parse_args(["--batch-size", "2"]))
    assert app.engine is started[0]  # started before the app, which only takes it over
    assert not gc.isenabled()  # off while Textual loads and the first frame is drawn
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what the first frame needed is out of the collector's way
        assert app.session.settings.batch_size == 2


async def test_palette_goes_to_a_lesson(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        await press_and_settle(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"lesson 5")
        await settle(pilot)
        await press_and_settle(pilot, "enter")
        assert app.screen is lesson_screen
        assert app.lesson_index == 4  # "Go to lesson 5", counted as shown
        assert app.session.lesson_id == "softmax"

        # the palette's system commands: the app's own, and the lesson screen's
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Start over", "Help", "Reload lessons", "Next lesson", "Settings", "Edit text or open a file"):
            assert title in titles
        assert titles.count("Start over") == 1
        assert "Keys" not in titles and titles.count("Help") == 1  # one help entry, the tutor's own


# ----- one signal for every change to the session --------------------------------------------------------


async def test_every_change_to_the_session_is_published_once_on_one_signal(make_app, tmp_path):
    """What the screens (and the instructor's dashboard, next) follow: another lesson, an attempt begun,
    finished, failed or abandoned, the lesson files read again."""
    folder = lesson_folder(tmp_path, "00-overview.md", "01-tokenize.md", "03-forward.md")
    app = make_app(lessons_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        published = []
        app.session_changed.subscribe(
            app.screen, lambda session: published.append((session.lesson_id, session.busy, session.outcome)),
            immediate=True,
        )

        def taken() -> list:
            changes = list(published)
            published.clear()
            return changes

        done = app.session.outcome
        app.go_to_lesson(2)
        assert taken() == [("forward", False, done)]
        app.go_to_lesson(3)  # there is none: refused, nothing changed
        assert taken() == []

        generation = app.recompute(settings=Settings(batch_size=3))
        assert taken() == [("forward", True, done)]
        await settle(pilot)
        assert taken() == [("forward", False, Outcome(generation))]

        generation = app.recompute(settings=Settings(batch_index=6000))
        await settle(pilot)
        [begun, failed] = taken()
        assert begun == ("forward", True, Outcome(generation - 1))
        assert failed[:2] == ("forward", False) and failed[2].generation == generation
        assert failed[2].problem.startswith("batch number 6000 does not exist")

        generation = app.recompute(settings=Settings(batch_size=4))
        app.cancel_computation(generation)
        await settle(pilot)
        assert taken() == [("forward", True, failed[2]), ("forward", False, failed[2])]  # and no answer after

        (folder / "03-forward.md").unlink()
        app.reload_lessons()
        await settle(pilot)
        assert taken() == [("tokenize", False, failed[2])]  # the lesson in view is gone: the one now in its place


async def test_a_screen_that_fails_to_redraw_stops_the_app_with_its_error(make_app, monkeypatch):
    """Textual's signal logs and ignores what a subscriber raises; the tutor's screens must not hide a bug."""
    from tutor.ui.screens.lesson import LessonScreen

    def broken(self) -> None:
        raise LookupError("a redraw that fails")

    app = make_app()
    with pytest.raises(LookupError, match="a redraw that fails"):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            monkeypatch.setattr(LessonScreen, "show_report", broken)
            app.go_to_lesson(1)
            await pilot.pause()
            await pilot.pause()


# ----- terminal size ---------------------------------------------------------------------------------


async def test_too_small_terminal_shows_a_message_until_resized(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        assert isinstance(lesson_screen, LessonScreen)

        await pilot.resize_terminal(50, 15)
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        message = shown(app.screen.query_one("#too-small-message"))
        assert message.startswith("Terminal too small: need 60×18, have 50×15.")
        await press_and_settle(pilot, "right")  # lesson keys do nothing meanwhile
        assert app.lesson_index == 0

        await pilot.resize_terminal(59, 30)  # still too narrow
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        assert "have 59×30" in shown(app.screen.query_one("#too-small-message"))

        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.screen is lesson_screen
        assert app.screen_stack == [lesson_screen]  # the lesson screen is the app's first screen; nothing left over
        await press_and_settle(pilot, "right")
        assert app.lesson_index == 1


# ----- lesson files ------------------------------------------------------------------------------------


BROKEN_LESSON = """\
---
id: broken
title: A lesson with a typo
stage: softmaxx
---
# Broken
"""


async def test_a_malformed_lesson_file_is_reported_and_the_others_load(make_app, tmp_path):
    folder = lesson_folder(tmp_path, "00-overview.md", "01-tokenize.md")
    (folder / "02-broken.md").write_text(BROKEN_LESSON, encoding="utf-8")
    app = make_app(lessons_dir=folder)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        assert [lesson.id for lesson in app.lessons.lessons] == ["overview", "tokenize"]
        problems = [(title, message) for severity, title, message in notes if severity == "error"]
        assert len(problems) == 1
        title, message = problems[0]
        assert title == "lesson file problem"
        assert message.startswith("02-broken.md, line 4: unknown stage 'softmaxx'")
        bar = screen.query_one("#problem-bar")
        assert bar.display
        assert shown(bar).startswith("lesson file problem — 02-broken.md, line 4: unknown stage 'softmaxx'")

        # the good lessons work as usual
        assert screen.query_one("#lesson-text", LessonText).source.startswith("# From text to loss")
        await press_and_settle(pilot, "right")
        assert app.session.lesson_id == "tokenize"
        await press_and_settle(pilot, "right")  # the last lesson: stays
        assert app.lesson_index == 1

        # a digit with no such lesson: a notification, nothing else
        await press_and_settle(pilot, "5")
        assert app.lesson_index == 1 and app.screen is screen
        assert ("warning", "", "there is no lesson 5") in notes
        await press_and_settle(pilot, "1")
        assert app.lesson_index == 0 and app.session.lesson_id == "overview"


async def test_watch_reloads_an_edited_lesson(make_app, tmp_path):
    folder = lesson_folder(tmp_path, "00-overview.md", "01-tokenize.md")
    app = make_app(lessons_dir=folder, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await press_and_settle(pilot, "right")
        old_title = app.lessons.lessons[1].title
        assert screen.title.endswith(old_title)

        path = folder / "01-tokenize.md"
        path.write_text(path.read_text(encoding="utf-8").replace(f"title: {old_title}", "title: Tokens, edited"), encoding="utf-8")
        stamp = path.stat().st_mtime + 5  # a clearly newer time, however coarse the file system's clock
        os.utime(path, (stamp, stamp))
        await pilot.pause(1.2)
        await pilot.pause(1.2)
        await settle(pilot)

        assert app.lessons.lessons[1].title == "Tokens, edited"
        assert app.lesson_index == 1
        assert screen.title == "loss-tutor · lesson 2 of 2: Tokens, edited"
        assert screen.query_one("#explanation").border_title == "2 · Tokens, edited"


# ----- while the model loads ---------------------------------------------------------------------------


async def test_keys_work_while_the_model_is_still_loading(make_app):
    gate = threading.Event()
    app = make_app(engine_factory=lambda: GatedEngine(gate))
    try:
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(3):
                await pilot.pause()
            screen = app.screen
            assert app.session.busy and app.session.report is None
            assert app.sub_title == "loading the model…"

            await pilot.press("right", "right")  # the windows lesson: tensors and tokens
            await pilot.pause()
            assert app.lesson_index == 2
            tabs = screen.query_one("#panes")
            tabs.active = "tab-tensors"
            await pilot.pause()
            assert shown(screen.query_one("#tensor-text")) == LOADING
            tabs.active = "tab-tokens"
            await pilot.pause()
            table = screen.query_one(TokenTable)
            assert table.columns == () and table.waiting == LOADING
            assert table.rows_text() == []
            assert "slides along the … token ids, moving `stride` = … each step" in " ".join(
                screen.query_one("#lesson-text", LessonText).source.split()
            )

            await pilot.press("right_square_bracket")  # no rows yet: nothing to move to
            await pilot.pause()
            assert app.session.row == 0

            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
            assert app.session.busy and app.session.report is None  # all of it while the engine was blocked

            gate.set()
            await settle(pilot)
            assert not app.session.busy
            expected = expected_report().to_json_dict()
            assert_numbers_close(app.session.report, expected_report())
            assert app.sub_title.startswith("story.txt · ")
            assert app.lesson_index == 2
            assert shown(view(screen, "tensors")).startswith("inputs  torch.Size([2, 8])")
            targets = [int(cell.rsplit("[", 1)[1].rstrip("]")) for cell in table_column(table, "target")]
            assert targets == expected["targets"][0]

            await press_and_settle(pilot, "right_square_bracket")  # now there is a row 1
            assert app.session.row == 1
    finally:
        gate.set()


async def test_a_lesson_title_with_brackets_is_shown_as_written(make_app, tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "00-brackets.md").write_text(
        "---\nid: brackets\ntitle: 'Indexing [b, t] and [/] closing tags'\n---\nSquare brackets are text here.\n",
        encoding="utf-8",
    )
    app = make_app(lessons_dir=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        border_title = screen.query_one("#explanation").border_title  # kept as escaped markup
        assert Content.from_markup(border_title).plain == "1 · Indexing [b, t] and [/] closing tags"
        assert screen.title.endswith("Indexing [b, t] and [/] closing tags")
        prompt = screen.query_one("#lesson-list").get_option_at_index(0).prompt
        assert "[/]" in str(prompt)
