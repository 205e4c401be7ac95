"""No key or resize sequence crashes the app (issue 8 §3): the sequences that did, one test each, then random
sequences of keys, resizes and late answers from the engine, driven through the pilot with the real screens."""

from __future__ import annotations

import asyncio
import itertools
import os
import string
import threading

import pytest
from app_helpers import CachedEngine, press_and_settle, record_notifications, settle
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from tutor.cli import main
from tutor.core.lessons import load_lessons
from tutor.core.progress import ProgressStore
from tutor.core.protocol import LearnerError, Request
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, describe, read_text_file, text_from_string
from tutor.engine.in_process import InProcessEngine
from tutor.ui.app import MIN_HEIGHT, MIN_WIDTH
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.settings_screen import SettingsScreen
from tutor.ui.screens.too_small import TooSmallScreen

BIG, SMALL = (100, 30), (50, 15)


def known_requests() -> list[Request]:
    """What the test engine has reports for: the sample story with the default settings, with batch size 1,
    and the same story typed (saved unchanged from the text form)."""
    sample = read_text_file(SAMPLE_TEXT_PATH)
    typed = text_from_string(sample.text)
    return [
        Request(text=sample.text, settings=Settings(), source=describe(sample)),
        Request(text=sample.text, settings=Settings(batch_size=1), source=describe(sample)),
        Request(text=typed.text, settings=Settings(), source=describe(typed)),
    ]


@pytest.fixture(scope="module")
def known_reports(default_report_computed) -> dict[Request, object]:
    """Computed once, by the real model, before any app runs."""
    engine = CachedEngine()
    return {request: engine.compute(request) for request in known_requests()}


@pytest.fixture
def make_held_app(make_app, known_reports):
    """`make_held_app(released, **options)`: a tutor whose engine answers when `released` is set."""

    def make(released: threading.Event, **options):
        return make_app(engine_factory=lambda: HeldEngine(released, known_reports), **options)

    return make


class HeldEngine(InProcessEngine):
    """Answers only once the test releases it, so that keys, resizes and answers interleave the same way on
    every run; then at once, with a report the real model computed, or, for any other request, a
    LearnerError (as the real engine refuses a request it cannot compute)."""

    def __init__(self, released: threading.Event, reports: dict):
        super().__init__()
        self.released, self.reports = released, reports

    def compute(self, request: Request):
        with self._lock:  # busy meanwhile, as a real engine is
            if not self.released.wait(timeout=60):
                raise RuntimeError("the test never released the engine")
            if request not in self.reports:
                raise LearnerError("the test engine has no report for this request")
            return self.reports[request]


async def answer(pilot, released: threading.Event) -> None:
    """Let the engine answer what it was asked, and wait until the answers are on screen."""
    released.set()
    await settle(pilot)
    released.clear()


async def press(pilot, *keys: str) -> None:
    """Press keys while the engine is held (`settle` would wait for its answer)."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


def stack_types(app) -> list[type]:
    return [type(screen) for screen in app.screen_stack]


# ----- the reproduced crashes ----------------------------------------------------------------------------


async def test_the_palette_opens_again_after_the_terminal_was_too_small_under_it(make_app):
    """Was DuplicateIds '--command-palette': ctrl+p under the notice pushed a second palette."""
    app = make_app()
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "ctrl+p")
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        await press_and_settle(pilot, "ctrl+p")  # nothing opens over the notice
        assert stack_types(app) == [LessonScreen, CommandPalette, TooSmallScreen]
        await pilot.resize_terminal(*BIG)
        await settle(pilot)
        assert stack_types(app) == [LessonScreen, CommandPalette]  # the palette is back as it was
        await press_and_settle(pilot, "ctrl+p")
        assert stack_types(app) == [LessonScreen, CommandPalette]
        await press_and_settle(pilot, "escape")
        assert stack_types(app) == [LessonScreen]


@pytest.mark.parametrize("key", ["question_mark", "ctrl+p"])
async def test_the_too_small_notice_goes_when_the_terminal_grows_back(make_app, key):
    """Help or the palette opened over the notice used to keep it on screen after the window grew back."""
    app = make_app()
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        await press_and_settle(pilot, key)
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(*BIG)
        await settle(pilot)
        assert app.screen_stack == [lesson_screen]
        await press_and_settle(pilot, key)  # and the key works again
        assert isinstance(app.screen, (HelpScreen, CommandPalette))


async def test_a_palette_command_run_under_the_notice_opens_nothing_over_it(make_app):
    """The palette runs a chosen command just after it closes; a resize in between must not let that command
    put a screen over the notice, where it kept the notice up after the window grew back."""
    app = make_app()
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        help_command = next(command for command in app.get_system_commands(lesson_screen) if command.title == "Help")
        settings_command = next(command for command in lesson_screen.system_commands() if command.title == "Settings")
        help_command.callback()
        settings_command.callback()
        await settle(pilot)
        assert stack_types(app) == [LessonScreen, TooSmallScreen]
        await pilot.resize_terminal(*BIG)
        await settle(pilot)
        assert app.screen_stack == [lesson_screen]


async def change_batch_size(pilot, app, value: str) -> SettingsScreen:
    await press_and_settle(pilot, "s")
    form = app.screen
    assert isinstance(form, SettingsScreen)
    form.query_one("#field-batch_size", Input).value = value
    await pilot.press("enter")
    await pilot.pause()
    assert app.session.busy
    return form


async def test_a_form_answered_under_the_palette_closes_itself_not_the_palette(make_held_app):
    """Its dismiss used to pop the palette; escape on the form then raised InvalidStateError."""
    released = threading.Event()
    app = make_held_app(released)
    async with app.run_test(size=BIG) as pilot:
        await answer(pilot, released)
        form = await change_batch_size(pilot, app, "1")
        await press(pilot, "ctrl+p")
        await answer(pilot, released)
        assert app.session.settings.batch_size == 1
        assert stack_types(app) == [LessonScreen, SettingsScreen, CommandPalette]
        await press_and_settle(pilot, "escape")  # the palette closes, and then the form, its change applied
        assert stack_types(app) == [LessonScreen]
        assert form.finished
        await press_and_settle(pilot, "escape", "escape")
        assert stack_types(app) == [LessonScreen]


async def test_a_form_answered_under_the_too_small_notice_closes_once_the_terminal_grows(make_held_app):
    released = threading.Event()
    app = make_held_app(released)
    async with app.run_test(size=BIG) as pilot:
        await answer(pilot, released)
        await change_batch_size(pilot, app, "1")
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        await answer(pilot, released)
        assert stack_types(app) == [LessonScreen, SettingsScreen, TooSmallScreen]  # the notice stays up
        await pilot.resize_terminal(*BIG)
        await settle(pilot)
        assert stack_types(app) == [LessonScreen]
        assert app.session.settings.batch_size == 1
        await press_and_settle(pilot, "escape", "right")  # the lesson screen has the keys again
        assert app.lesson_index == 1


async def test_a_refused_change_answered_under_the_palette_leaves_the_form_open(make_held_app):
    released = threading.Event()
    app = make_held_app(released)
    async with app.run_test(size=BIG) as pilot:
        await answer(pilot, released)
        form = await change_batch_size(pilot, app, "3")  # the test engine has no report for it
        await press(pilot, "ctrl+p")
        await answer(pilot, released)
        await press_and_settle(pilot, "escape")
        assert app.screen is form
        assert "the test engine has no report" in str(form.query_one("#form-status").content)
        await press_and_settle(pilot, "escape")
        assert stack_types(app) == [LessonScreen]
        assert app.session.settings.batch_size == 2


TITLES = ("Indexing [b, t] and [/] closing tags", "The [CLS] token, [bold]not bold[/bold]")


async def test_lesson_titles_reach_the_palette_as_plain_text(make_app, tmp_path):
    """A `[/]` in a title raised MarkupError on ctrl+p; `[CLS]` vanished."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    for index, title in enumerate(TITLES):
        (folder / f"0{index}-brackets.md").write_text(
            f"---\nid: 'brackets-{index}[/]'\ntitle: '{title}'\n---\nSquare brackets are text here.\n", encoding="utf-8"
        )
    app = make_app(lessons_dir=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        lesson_screen = app.screen
        await press_and_settle(pilot, "ctrl+p")
        await pilot.pause(0.2)  # the palette lists its commands a moment after opening
        await settle(pilot)

        def shown() -> str:
            options = app.screen.query_one(CommandList)
            return "\n".join(options.get_option_at_index(index).prompt.plain for index in range(options.option_count))

        for index, title in enumerate(TITLES):
            assert f"Go to lesson {index + 1}: {title}\nbrackets-{index}[/]" in shown()
        await pilot.press(*"cls")  # searched: the matched letters are highlighted, the title read as text
        await settle(pilot)
        assert f"Go to lesson 2: {TITLES[1]}" in shown()
        await press_and_settle(pilot, "enter")
        assert app.screen is lesson_screen and app.lesson_index == 1


DEEP_SUM = "x = " + "+".join(["1"] * 4_000)  # 8,003 characters, nested deeper than the compiler goes
TOO_LONG = "x = " + "+".join(["1"] * 10_000)
DEEP_PARENTHESES = "x = " + "(" * 300 + "1" + ")" * 300


def lesson_with_code(folder, name: str, code: str) -> None:
    (folder / name).write_text(f"---\nid: {name[3:-3]}\ntitle: T\ncode: |\n  {code}\n---\nBody.\n", encoding="utf-8")


def test_deeply_nested_or_huge_code_is_a_lesson_problem(tmp_path):
    """Was RecursionError from the code check, at start-up and on a --watch reload."""
    for name, code in (("00-fine.md", "x = 1 + 1"), ("01-deep.md", DEEP_SUM), ("02-long.md", TOO_LONG),
                       ("03-parentheses.md", DEEP_PARENTHESES)):
        lesson_with_code(tmp_path, name, code)
    lessons = load_lessons(tmp_path)
    assert [lesson.id for lesson in lessons.lessons] == ["fine"]
    assert [str(problem) for problem in lessons.problems] == [
        "01-deep.md, line 4: the code is nested too deeply to compile; split it into simpler statements",
        "02-long.md, line 4: the code is 20,004 characters long; a lesson's code may have at most 10,000",
        "03-parentheses.md, line 5: the code does not parse: too many nested parentheses (code line 1)",
    ]


async def test_deeply_nested_code_is_reported_at_start_and_on_reload(make_app, tmp_path):
    lesson_with_code(tmp_path, "00-fine.md", "x = 1")
    lesson_with_code(tmp_path, "01-deep.md", DEEP_SUM)
    nested = "the code is nested too deeply to compile; split it into simpler statements"
    app = make_app(lessons_dir=tmp_path, watch=True)
    notes = record_notifications(app)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        assert ("error", "lesson file problem", f"01-deep.md, line 4: {nested}") in notes
        lesson_with_code(tmp_path, "02-deeper.md", "x = " + "-" * 9_000 + "1")
        app.reload_lessons()
        await pilot.pause(0.1)
        await settle(pilot)
        assert [str(problem) for problem in app.lessons.problems] == [f"01-deep.md, line 4: {nested}",
                                                                      f"02-deeper.md, line 4: {nested}"]
        assert [lesson.id for lesson in app.lessons.lessons] == ["fine"]


@pytest.mark.parametrize("size", ["59x24", "80x17"])
def test_screenshots_refuse_a_size_below_the_minimum(tmp_path, capsys, monkeypatch, size):
    """Was AttributeError: 'TooSmallScreen' object has no attribute 'go_to'."""
    monkeypatch.setattr(os, "environ", os.environ.copy())  # rendering clears TEXTUAL_*, pytest's plugin's too
    assert main(["screenshots", str(tmp_path / "shots"), "--size", size]) == 2
    err = capsys.readouterr().err
    assert err == f"loss-tutor: error: --size {size} is smaller than the tutor's minimum, {MIN_WIDTH}x{MIN_HEIGHT}\n"
    assert not (tmp_path / "shots").exists()


# ----- random sequences ----------------------------------------------------------------------------------

# Every key the app and its screens bind (lesson, forms, help, inspector, palette), keys that move and edit
# in the tables and fields, and some letters, digits and punctuation to type with.
BOUND_KEYS = [
    "question_mark", "ctrl+p", "ctrl+c",  # app (quitting keys end a sequence, see below)
    "left", "right", "p", "n", "space", "left_square_bracket", "right_square_bracket",  # lesson screen
    "e", "s", "a", "h", "l", "z", *string.digits,
    "escape", "enter", "ctrl+s", "tab", "shift+tab",  # forms, help, inspector, palette
    "up", "down", "pageup", "pagedown", "home", "end", "backspace", "delete",
]
TYPED_KEYS = [*"bcdfgijkmortuvwxy", "minus", "full_stop", "slash", "comma"]
QUIT_KEYS = ["q", "ctrl+q"]
SIZES = [SMALL, BIG, (20, 5), (1, 1), (MIN_WIDTH - 1, 24), (80, MIN_HEIGHT - 1), (MIN_WIDTH, MIN_HEIGHT), (80, 24)]
# Drawn as often as any key: short runs of keys that open, use and close screens, where screens stacked badly.
FRAGMENTS = [
    ("s", "backspace", "1", "enter"),  # a settings change the test engine computes (batch size 1)
    ("s", "4", "enter"),  # one it has no report for (batch size 24)
    ("e", "ctrl+s"), ("e", "x", "ctrl+s"),  # the text typed as it was (computed), and changed (refused)
    ("ctrl+p",), ("ctrl+p", "l", "e", "s", "enter"), ("ctrl+p", "h", "e", "l", "p", "enter"),
    ("question_mark",), ("escape",), ("enter",),
]

keys = st.sampled_from(BOUND_KEYS + TYPED_KEYS).map(lambda key: ("keys", key))
fragments = st.sampled_from(FRAGMENTS).map(lambda keys: ("keys", *keys))
resizes = st.one_of(st.sampled_from(SIZES), st.tuples(st.integers(1, 130), st.integers(1, 45))).map(
    lambda size: ("resize", *size)
)
answers = st.just(("answer",))
# A step is a key, a fragment, a resize or an answer, drawn 3 : 4 : 2 : 2.
step = st.sampled_from([keys] * 3 + [fragments] * 4 + [resizes] * 2 + [answers] * 2).flatmap(lambda kind: kind)
steps = st.lists(step, min_size=15, max_size=35)
examples = itertools.count()


def check_the_notice(app) -> None:
    """The too-small notice is up exactly while the terminal is too small, once, on top."""
    notices = [index for index, screen in enumerate(app.screen_stack) if isinstance(screen, TooSmallScreen)]
    too_small = app.size.width < MIN_WIDTH or app.size.height < MIN_HEIGHT
    expected = [len(app.screen_stack) - 1] if too_small else []
    assert notices == expected, f"at {app.size.width}x{app.size.height} the screens are {stack_types(app)}"


async def run_sequence(app, released: threading.Event, start: tuple[int, int], sequence: list[tuple]) -> None:
    try:
        async with app.run_test(size=start) as pilot:
            await pilot.pause()
            for step in sequence:
                if app.return_code is not None:  # quit (or crashed: run_test raises that below)
                    break
                if step[0] == "keys":
                    await pilot.press(*step[1:])
                elif step[0] == "resize":
                    await pilot.resize_terminal(step[1], step[2])
                else:
                    await answer(pilot, released)
                if app.return_code is None:
                    check_the_notice(app)
            released.set()  # whatever is still being computed finishes before the app is closed
            if app.return_code is None:
                await settle(pilot)
                check_the_notice(app)
    finally:
        released.set()


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start=st.sampled_from([(80, 24), (120, 40), (MIN_WIDTH, MIN_HEIGHT), (40, 10)]),
    sequence=steps,
    ending=st.sampled_from([None, None, *QUIT_KEYS]),
)
def test_no_key_or_resize_sequence_crashes_the_app(make_held_app, tmp_path, monkeypatch, start, sequence, ending):
    if ending is not None:
        sequence = [*sequence, ("keys", ending)]
    note(f"start {start[0]}x{start[1]}, then {sequence}")
    monkeypatch.chdir(tmp_path)  # the palette's Screenshot command writes to the current folder
    released = threading.Event()
    state = tmp_path / f"example-{next(examples)}"
    state.mkdir()
    app = make_held_app(released, progress_store=ProgressStore(state / "progress.json"))
    asyncio.run(run_sequence(app, released, start, sequence))  # run_test raises whatever crashed the app
    assert app._exception is None
    assert app.return_code in (None, 0)
