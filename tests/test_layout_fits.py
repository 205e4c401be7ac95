"""What each lesson is about is on screen at 80x24 and at 120x40, without zooming: the token table's own columns
of the lesson, every code line to its end, the bug lab's results, and the settings form's progress while the new
numbers are computed."""

from __future__ import annotations

import re
import threading

import pytest
from app_helpers import GatedEngine, press_and_settle, settle
from textual.geometry import Region
from textual.widgets import Input, ProgressBar, TextArea

from tutor.core.lessons import fill_placeholders
from tutor.ui.widgets.token_table import HEADINGS, TokenTable

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
# The columns a lesson's stage is about (see tutor.ui.widgets.token_table.STAGE_COLUMNS).
OWN_COLUMNS = {"probabilities": ("ok",), "log_probs": ("p(target)", "log p")}


def seen_in(app, widget) -> list[str]:
    """The lines of the screen, as the learner sees them, inside the part of `widget` that is on screen."""
    screen_lines = ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]
    shown = widget.region.intersection(Region(0, 0, app.size.width, app.size.height))
    return [line[shown.x : shown.right] for line in screen_lines[shown.y : shown.bottom]]


async def show(pilot, index: int, tab: str) -> None:
    pilot.app.go_to_lesson(index)
    await settle(pilot)
    pilot.app.screen.query_one("#panes").active = f"tab-{tab}"
    await settle(pilot)


def lessons_with(app, pane: str) -> list[int]:
    return [index for index, lesson in enumerate(app.lessons.lessons) if pane in lesson.panes]


@pytest.mark.parametrize("size", SIZES)
async def test_the_token_columns_a_lesson_is_about_are_on_screen(make_fixed_app, size):
    app = make_fixed_app()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot)
        stages_seen = set()
        for index in lessons_with(app, "tokens"):
            stage = app.lessons.lessons[index].stage
            if stage not in OWN_COLUMNS:
                continue
            await show(pilot, index, "tokens")
            table = app.screen.query_one(TokenTable)
            header, first_row = seen_in(app, table)[:2]
            for column in OWN_COLUMNS[stage]:
                assert HEADINGS[column] in header, f"lesson {index}: {column} is off screen"
                assert f" {table.rows_text()[0][table.columns.index(column)]}" in first_row
            stages_seen.add(stage)
        assert stages_seen == set(OWN_COLUMNS)


@pytest.mark.parametrize("size", SIZES)
async def test_every_code_line_is_on_screen_to_its_end(make_fixed_app, size):
    app = make_fixed_app()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot)
        if not app.screen.query_one("#lesson-list-slot").display:
            await press_and_settle(pilot, "l")  # the list beside the lesson too: the code pane at its narrowest
        with_code = [index for index in lessons_with(app, "code") if app.lessons.lessons[index].code.strip()]
        assert with_code
        for index in with_code:
            await show(pilot, index, "code")
            pane = app.screen.query_one("#code-pane")
            assert pane.max_scroll_x == 0  # nothing hidden to the right
            code = fill_placeholders(app.lessons.lessons[index].code, app.session.report.values())
            lines = [line for line in code.splitlines() if line.strip()]
            if pane.max_scroll_y:
                continue  # taller than the pane once wrapped: it scrolls down, and its width was checked above
            seen = " ".join(" ".join(seen_in(app, pane)).split())
            for line in lines:
                assert line.split()[-1] in seen, f"lesson {index}: {line!r} is cut"


async def test_the_bug_labs_results_are_on_screen_at_80x24(make_fixed_app):
    app = make_fixed_app()
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await settle(pilot)
        [index] = lessons_with(app, "bug_lab")
        await show(pilot, index, "bug_lab")
        mistakes = app.screen.query_one("#bug-list")
        mistakes.select(mistakes.get_option_at_index(1).value)
        await settle(pilot)
        seen = " ".join(seen_in(app, app.screen.query_one("#bug-text")))
        assert "correct loss:" in seen
        assert "loss with the mistake:" in seen


@pytest.mark.parametrize("size", SIZES)
async def test_the_settings_form_shows_what_it_computes_while_it_waits(make_app, size):
    gate = threading.Event()
    gate.set()
    app = make_app(engine_factory=lambda: GatedEngine(gate))
    try:
        async with app.run_test(size=SIZES[size]) as pilot:
            await settle(pilot)
            await press_and_settle(pilot, "s")
            form = app.screen
            form.query_one("#field-batch_size", Input).value = "8"
            form.query_one("#field-context_length", Input).value = "256"
            form.query_one("#field-stride", Input).value = "256"
            gate.clear()  # the computation is held, as a slow (8, 256) batch would be
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.pause()
            assert app.session.busy
            seen = " ".join(seen_in(app, form))
            assert re.search(r"computing the \(8, 256\) batch… \d+ s", seen), seen
            [bar] = form.query(ProgressBar)
            assert bar.display and seen_in(app, bar)  # the bar is on screen too

            await pilot.press("escape")
            await pilot.pause()
            gate.set()
            await settle(pilot)
            assert app.session.settings.batch_size == 2
    finally:
        gate.set()


@pytest.mark.parametrize("size", SIZES)
async def test_the_text_form_shows_what_it_computes_while_it_waits(make_app, size):
    gate = threading.Event()
    gate.set()
    app = make_app(engine_factory=lambda: GatedEngine(gate))
    try:
        async with app.run_test(size=SIZES[size]) as pilot:
            await settle(pilot)
            await press_and_settle(pilot, "e")
            form = app.screen
            form.query_one(TextArea).text = app.session.text.text + " And then it rained."
            gate.clear()
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.pause()
            assert app.session.busy
            seen = " ".join(seen_in(app, form))
            assert re.search(r"computing the \(2, 8\) batch… \d+ s", seen), seen
            [bar] = form.query(ProgressBar)
            assert bar.display and seen_in(app, bar)
            gate.set()
            await settle(pilot)
            assert app.session.text.text.endswith("And then it rained.")
    finally:
        gate.set()
