"""Pilot tests of the learner's path through the lessons: every lesson opens at its top, a right answer stays
on its lesson with its explanation, the answer box never traps keys, ← → always change lesson, a tab switch
puts the focus where its keys work, and the text form opens ready to replace the text."""

from __future__ import annotations

import re

import pytest
from app_helpers import press_and_settle, settle, shown
from textual.widgets import Footer, Input, SelectionList, TabbedContent, TextArea
from textual.widgets._footer import FooterKey

from tutor.core.checks import grade
from tutor.core.lessons import fill_placeholders
from tutor.ui.screens.inspector import InspectorScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.text_screen import TextScreen
from tutor.ui.widgets.explanation import ExplanationPane
from tutor.ui.widgets.lesson_list import LessonList
from tutor.ui.widgets.token_table import TokenTable

SIZES = [(80, 24), (120, 40)]


def index_of(app, wanted) -> int:
    """The first lesson for which `wanted(lesson)` holds."""
    return next(index for index, lesson in enumerate(app.lessons.lessons) if wanted(lesson))


def two_checks(lesson) -> bool:
    return len(lesson.checks) >= 2


async def go_to(pilot, index: int) -> None:
    pilot.app.go_to_lesson(index)
    await settle(pilot)


async def scrolled_to_the_end(pilot) -> ExplanationPane:
    explanation = pilot.app.screen.query_one(ExplanationPane)
    explanation.scroll_end(animate=False, immediate=True)
    await settle(pilot)
    assert explanation.scroll_y > 0, "the lesson is not long enough to scroll at this size"
    return explanation


def footer_keys(app) -> set[str]:
    return {key.key for key in app.screen.query_one(Footer).query(FooterKey) if key.display}


def no_backticks(text: str) -> str:
    """Inline code in a check's text is drawn as code, without its backticks."""
    return text.replace("`", "")


def right_answer(app, check) -> str:
    value = app.session.report.values()[check.answer]
    return ", ".join(str(n) for n in value) if isinstance(value, tuple) else str(value)


# ----- every lesson opens at its top ---------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_every_lesson_opens_at_its_top_however_the_learner_gets_there(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        start = index_of(app, two_checks)
        await go_to(pilot, start)

        # → from a lesson scrolled to its end
        explanation = await scrolled_to_the_end(pilot)
        await press_and_settle(pilot, "right")
        assert app.lesson_index == start + 1 and explanation.scroll_y == 0

        # a digit
        await scrolled_to_the_end(pilot)
        await press_and_settle(pilot, "1")
        assert app.lesson_index != start + 1 and explanation.scroll_y == 0

        # the palette, opened from the answer box at the end of a lesson: the next lesson opens at its top and
        # its keys work (the focus is not left in the answer box)
        await go_to(pilot, start)
        await press_and_settle(pilot, "a")
        assert isinstance(app.focused, Input)
        assert explanation.scroll_y > 0
        await press_and_settle(pilot, "ctrl+p")
        await pilot.press(*f"Go to lesson {app.lessons.lessons[start + 2].title}")
        await press_and_settle(pilot, "enter")
        assert app.screen is screen and app.lesson_index == start + 2
        assert explanation.scroll_y == 0
        assert not isinstance(app.focused, Input)

        # the lesson list
        await scrolled_to_the_end(pilot)
        if not screen.query_one("#lesson-list-slot").display:
            await press_and_settle(pilot, "l")
        screen.query_one(LessonList).focus()
        await press_and_settle(pilot, "up", "enter")
        assert app.lesson_index == start + 1 and explanation.scroll_y == 0

        # following the instructor
        await scrolled_to_the_end(pilot)
        app.session.suggest_lesson(app.lessons.lessons[start].id)
        app.follow_suggestion()
        await settle(pilot)
        assert app.lesson_index == start and explanation.scroll_y == 0


async def test_a_zoomed_code_pane_starts_at_its_top_in_the_next_lesson(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        start = index_of(app, lambda lesson: "code" in lesson.panes and "tokens" in lesson.panes)
        await go_to(pilot, start)
        screen.query_one("#panes").active = "tab-code"
        code = screen.query_one("#code-pane")
        code.focus()
        await press_and_settle(pilot, "z")
        assert screen.maximized is screen.query_one("#panes")
        await press_and_settle(pilot, "right")
        # zoom shows one pane of this lesson: changing lesson ends it, and the next lesson opens as usual
        assert app.lesson_index == start + 1
        assert screen.maximized is None
        assert code.scroll_y == 0 and screen.query_one(ExplanationPane).scroll_y == 0


# ----- checks: a right answer stays, with its explanation, and each check keeps its own feedback -------------


@pytest.mark.parametrize("size", SIZES)
async def test_a_right_answer_stays_on_the_lesson_with_its_explanation(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        start = index_of(app, two_checks)
        await go_to(pilot, start)
        first, second = app.lessons.lessons[start].checks[:2]
        values = app.session.report.values()
        feedback = screen.query_one("#check-feedback")

        # a wrong answer: the focus stays in the box, to try again
        await press_and_settle(pilot, "a")
        await pilot.press(*"12345")
        await press_and_settle(pilot, "enter")
        assert isinstance(app.focused, Input) and shown(feedback).startswith("✗")
        app.focused.value = ""

        await pilot.press(*right_answer(app, first))
        await press_and_settle(pilot, "enter")
        assert app.lesson_index == start
        assert app.session.checks[f"{app.lessons.lessons[start].id}:{first.id}"] is True
        explanation = no_backticks(fill_placeholders(first.explanation, values))
        assert explanation and explanation in shown(feedback)  # the teaching, for a right answer too
        assert shown(feedback).startswith("✓ Right")
        assert not isinstance(app.focused, Input)  # back on the lesson: its keys work
        assert feedback.region.intersection(screen.query_one(ExplanationPane).region).area  # in view

        # moving on is the learner's key press: a for the next check, whose box starts empty, without feedback
        await press_and_settle(pilot, "a")
        assert isinstance(app.focused, Input) and app.focused.value == ""
        assert shown(screen.query_one("#check-question")).startswith("Check 2 of")
        assert shown(feedback) == ""
        done = shown(screen.query_one("#check-done"))
        assert no_backticks(fill_placeholders(first.question, values)) in done
        assert explanation in done  # the first check's feedback stays with the first check

        # the last check answered right: still on this lesson, then n goes on (it is not typed into a box)
        await pilot.press(*right_answer(app, second))
        await press_and_settle(pilot, "enter")
        assert app.lesson_index == start
        assert shown(feedback).startswith("✓ Right")
        assert no_backticks(fill_placeholders(second.explanation, values)) in shown(feedback)
        await press_and_settle(pilot, "n")
        assert app.lesson_index == start + 1


# ----- the answer box never traps keys --------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_escape_leaves_the_answer_box_and_the_lesson_keys_work_again(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        start = index_of(app, two_checks)
        await go_to(pilot, start)
        await press_and_settle(pilot, "a")
        assert isinstance(app.focused, Input)
        assert {"enter", "escape", "f1"} <= footer_keys(app)  # the footer says what works in the box

        await press_and_settle(pilot, "escape")
        assert app.focused is app.screen.query_one(ExplanationPane)
        assert {"question_mark", "q", "a", "e"} <= footer_keys(app)
        await press_and_settle(pilot, "n")
        assert app.lesson_index == start + 1


async def test_f1_and_the_hint_button_give_hints_from_the_answer_box(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        start = index_of(app, lambda lesson: lesson.checks and len(lesson.checks[0].hints) >= 2)
        await go_to(pilot, start)
        hints = app.screen.query_one("#check-hints")
        await press_and_settle(pilot, "a")
        await press_and_settle(pilot, "f1")
        assert shown(hints).startswith("hint 1: ")
        assert isinstance(app.focused, Input) and app.focused.value == ""

        await pilot.click("#check-hint-button")
        await settle(pilot)
        assert shown(hints).splitlines()[1].startswith("hint 2: ")
        assert isinstance(app.focused, Input)  # the answer is typed next


async def test_no_answer_box_shows_its_right_answer(make_app):
    """A placeholder describes the form of an answer: any number in it could be this run's answer."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        values = app.session.report.values()
        checked = 0
        for index, lesson in enumerate(app.lessons.lessons):
            for check in lesson.checks:
                await go_to(pilot, index)
                placeholder = app.screen.query_one("#check-answer", Input).placeholder
                assert placeholder
                candidates = [placeholder, *re.findall(r"[-+]?\d[\d.e-]*(?:\s*[,x×]\s*\d+)*", placeholder)]
                for candidate in candidates:
                    assert not grade(check, candidate, values).correct, (lesson.id, check.id, placeholder)
                # and what a malformed answer is told does not give it away either
                told = grade(check, "?", values).message
                assert not any(grade(check, number, values).correct for number in re.findall(r"\d[\d.,\s]*\d|\d", told))
                app.session.record_answer(f"{lesson.id}:{check.id}", True)  # on to the lesson's next check
                checked += 1
        assert checked >= 5


# ----- ← → always change lesson ----------------------------------------------------------------------------


async def test_left_and_right_change_lesson_whatever_has_the_focus(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        start = index_of(app, lambda lesson: "tokens" in lesson.panes and lesson.checks)
        await go_to(pilot, start)
        screen.query_one("#panes").active = "tab-tokens"
        await settle(pilot)
        table = screen.query_one(TokenTable)
        table.focus()
        await press_and_settle(pilot, "right")
        assert app.lesson_index == start + 1
        await press_and_settle(pilot, "left")
        assert app.lesson_index == start

        # the tab bar never takes the focus, so it cannot take ← → either
        tabs = screen.query_one("#panes ContentTabs")
        for _ in range(8):
            await press_and_settle(pilot, "tab")
            assert not tabs.has_focus

        # in the answer box ← → move the cursor
        screen.query_one(ExplanationPane).focus()
        await press_and_settle(pilot, "a")
        await pilot.press(*"12")
        await press_and_settle(pilot, "left", "3")
        assert app.focused.value == "132" and app.lesson_index == start


async def test_on_the_heatmap_up_and_down_walk_the_tokens_and_right_still_changes_lesson(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        start = index_of(app, lambda lesson: "heatmap" in lesson.panes)
        await go_to(pilot, start)
        app.screen.query_one("#panes").active = "tab-heatmap"
        await settle(pilot)
        heatmap = app.screen.query_one("#heatmap-pane")
        heatmap.focus()
        await press_and_settle(pilot, "down", "down", "down", "up")
        assert heatmap.selected == (0, 2)
        await press_and_settle(pilot, "pagedown")
        assert heatmap.selected == (1, 2)
        await press_and_settle(pilot, "right")
        assert app.lesson_index == start + 1


async def test_t_switches_tab_and_enter_inspects_a_token_at_once(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        # a lesson that opens on another pane than its tokens (lessons open on the first pane they name)
        start = index_of(app, lambda lesson: "tokens" in lesson.panes[2:] and "code" in lesson.panes)
        await go_to(pilot, start)
        panes = screen.query_one("#panes")
        for _ in range(len(app.lessons.lessons[start].panes)):
            if panes.active == "tab-tokens":
                break
            await press_and_settle(pilot, "t")
        assert panes.active == "tab-tokens"
        assert app.focused is screen.query_one(TokenTable)
        await press_and_settle(pilot, "enter")
        assert isinstance(app.screen, InspectorScreen)
        await press_and_settle(pilot, "escape")

        # a click on a tab: the same
        screen.query_one(ExplanationPane).focus()
        panes.active = "tab-code"
        await settle(pilot)
        await pilot.click("#panes Tab#--content-tab-tab-tokens")
        await settle(pilot)
        assert panes.active == "tab-tokens" and app.focused is screen.query_one(TokenTable)
        await press_and_settle(pilot, "enter")
        assert isinstance(app.screen, InspectorScreen)


async def test_in_the_bug_lab_space_switches_the_first_mistake_at_once(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await go_to(pilot, index_of(app, lambda lesson: "bug_lab" in lesson.panes))
        await press_and_settle(pilot, "t")  # into the bug lab's pane
        mistakes = app.screen.query_one("#bug-list", SelectionList)
        assert app.focused is mistakes
        await press_and_settle(pilot, "space")
        assert mistakes.selected == [mistakes.get_option_at_index(0).value]


# ----- own text --------------------------------------------------------------------------------------------


async def test_the_text_form_opens_with_the_text_selected_so_typing_replaces_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "e")
        form = app.screen
        assert isinstance(form, TextScreen)
        editor = form.query_one(TextArea)
        assert editor.selected_text == app.session.text.text
        assert editor.scroll_y == 0  # the text's start in view
        hint = shown(form.query_one(".form-hint"))
        assert "ctrl+a" in hint and "selects all" in hint and "clears" in hint

        await press_and_settle(pilot, *"New")
        assert editor.text == "New"
        await press_and_settle(pilot, "ctrl+a", "delete")
        assert editor.text == ""


async def test_cancelling_a_refused_text_removes_its_problem_and_keeps_the_numbers(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        report = app.session.report
        await press_and_settle(pilot, "e")
        app.screen.query_one(TextArea).load_text("Hello there")
        await press_and_settle(pilot, "ctrl+s")
        bar = app.screen_stack[0].query_one("#problem-bar")
        assert bar.display and "too short" in shown(bar)

        await press_and_settle(pilot, "escape")
        assert isinstance(app.screen, LessonScreen)
        assert not bar.display  # the text in force is the one before, and so are its numbers
        assert app.session.problem is None and app.session.report is report


async def test_each_lesson_opens_on_the_first_pane_it_names(make_fixed_app):
    """The pane with the lesson's own numbers comes first (the tokens table in softmax and log p), whatever
    tab the learner chose on the lesson before, and after a lesson with no panes at all."""
    app = make_fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key, first_pane in (("5", "tab-tokens"), ("4", "tab-code"), ("t", "tab-tensors"), ("1", ""),
                                ("6", "tab-tokens"), ("7", "tab-code")):
            await press_and_settle(pilot, key)
            assert app.screen.query_one(TabbedContent).active == first_pane, key


async def test_a_check_panel_shown_before_it_is_mounted_draws_its_check_once_it_is():
    """The session may change (a report arrives) between a check panel's creation and the mounting of its own
    widgets: what it was asked to show is drawn then, instead of failing to find its answer box."""
    from report_fixture import DEFAULT_REPORT_PATH, load_fixture
    from textual.app import App

    from tutor.core.lessons import load_lessons
    from tutor.ui.widgets.check_panel import CheckPanel

    lesson = next(lesson for lesson in load_lessons().lessons if lesson.checks)
    panel = CheckPanel()
    panel.show(lesson, load_fixture(DEFAULT_REPORT_PATH)[1].values(), {})
    app = App()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.mount(panel)
        await pilot.pause()
        assert shown(panel.query_one("#check-question")).startswith(f"Check 1 of {len(lesson.checks)}")
