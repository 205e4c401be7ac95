"""Reading lesson files again while the app runs (--watch, or the palette's "Reload lessons"): the files
are parsed off the event loop, so keys are answered meanwhile; a folder left with no lesson files says so
everywhere the last lesson was shown, and the lessons come back with their files."""

from __future__ import annotations

import os
import shutil
import threading

from app_helpers import settle, shown

import tutor.ui.app
from tutor.core.lessons import builtin_lessons_dir
from tutor.ui.widgets.lesson_text import LessonText

SIZE = (120, 40)
FILES = ("00-overview.md", "01-tokenize.md")


def lesson_folder(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    for name in FILES:
        shutil.copy(builtin_lessons_dir() / name, folder / name)
    return folder


def touch(path) -> None:
    stamp = path.stat().st_mtime + 5  # clearly newer, however coarse the file system's clock
    os.utime(path, (stamp, stamp))


async def wait_for(pilot, condition, seconds: float = 6.0) -> None:
    """Let the app run (its --watch timer looks every second) until `condition()` holds."""
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    assert condition()


async def test_lessons_are_read_again_off_the_event_loop(make_app, tmp_path, monkeypatch):
    folder = lesson_folder(tmp_path)
    app = make_app(lessons_dir=folder, watch=True)
    load_lessons = tutor.ui.app.load_lessons
    threads, started, release = [], threading.Event(), threading.Event()

    def slow_load_lessons(lessons_dir):
        """Like a big lesson folder: the read goes on until the test releases it."""
        threads.append(threading.current_thread())
        started.set()
        release.wait(timeout=5)
        return load_lessons(lessons_dir)

    monkeypatch.setattr(tutor.ui.app, "load_lessons", slow_load_lessons)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            path = folder / "01-tokenize.md"
            path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: Edited, ", 1), encoding="utf-8")
            touch(path)
            await wait_for(pilot, started.is_set)

            await pilot.press("right")  # answered while the files are still being read
            await pilot.pause()
            assert app.lesson_index == 1 and not release.is_set()
            assert not app.lessons.lessons[1].title.startswith("Edited, ")

            release.set()
            await wait_for(pilot, lambda: app.lessons.lessons[1].title.startswith("Edited, "))
            await settle(pilot)
            assert app.lesson_index == 1 and screen.title.startswith("loss-tutor · lesson 2 of 2: Edited, ")

            started.clear()
            app.reload_lessons()  # the palette's "Reload lessons"
            await settle(pilot)
            assert started.is_set()
    finally:
        release.set()
    assert len(threads) == 2
    assert all(thread is not threading.main_thread() for thread in threads)


async def test_a_folder_emptied_under_watch_says_there_are_no_lessons_until_they_return(make_app, tmp_path):
    folder = lesson_folder(tmp_path)
    app = make_app(lessons_dir=folder, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("right")
        await settle(pilot)
        lesson_list = screen.query_one("#lesson-list")
        explanation = screen.query_one("#explanation")
        assert app.session.lesson_id == "tokenize" and lesson_list.option_count == 2
        assert screen.query_one("#check-panel").display

        for name in FILES:
            (folder / name).unlink()
        await wait_for(pilot, lambda: not app.lessons.lessons)
        await settle(pilot)
        assert screen.title == "loss-tutor · no lessons"
        assert explanation.border_title == "no lessons"
        assert lesson_list.option_count == 0
        text = " ".join(screen.query_one("#lesson-text", LessonText).source.split())
        assert "There are no lesson files (`*.md`) in the lessons folder. Add one and it shows here within a second." \
            in text
        assert not screen.query_one("#check-panel").display
        assert not screen.query_one("#pane-slot").display
        problem_bar = shown(screen.query_one("#problem-bar"))
        assert problem_bar == "lesson file problem — lessons: no lesson files (*.md) in this folder"

        await pilot.press("right", "n", "1")  # nothing to go to: nothing breaks
        await settle(pilot)
        assert screen.title == "loss-tutor · no lessons"

        for name in FILES:
            shutil.copy(builtin_lessons_dir() / name, folder / name)
        await wait_for(pilot, lambda: len(app.lessons.lessons) == 2)
        await settle(pilot)
        title = app.lessons.lessons[0].title
        assert app.lesson_index == 0 and screen.title == f"loss-tutor · lesson 1 of 2: {title}"
        assert explanation.border_title == f"1 · {title}"
        assert lesson_list.option_count == 2
        assert not screen.query_one("#problem-bar").display


async def test_a_reload_stays_on_the_lesson_in_view_when_a_file_comes_before_it(make_app, tmp_path):
    folder = lesson_folder(tmp_path)
    app = make_app(lessons_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("right")
        await settle(pilot)
        assert app.session.lesson_id == "tokenize"
        shutil.copy(builtin_lessons_dir() / "03-forward.md", folder / "00a-forward.md")
        app.reload_lessons()
        await wait_for(pilot, lambda: len(app.lessons.lessons) == 3)
        await settle(pilot)
        assert [lesson.id for lesson in app.lessons.lessons] == ["overview", "forward", "tokenize"]
        assert app.lesson_index == 2 and app.session.lesson_id == "tokenize"
        assert screen.title.startswith("loss-tutor · lesson 3 of 3: ")
