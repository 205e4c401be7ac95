"""What the lessons teach, as the learner sees it: checks with their code drawn as code, the recap's biggest
surprise written out, help that lists every key, and numbers counted as a person counts."""

from __future__ import annotations

from app_helpers import press_and_settle, settle, shown
from rich.text import Text
from textual.widgets import Markdown

from tutor.ui.inline_code import with_inline_code
from tutor.ui.screens.help import HelpScreen
from tutor.ui.widgets.lesson_text import LessonText

SIZE = (120, 40)


def rendered_lines(widget) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


def test_inline_code_loses_its_backticks_and_gets_the_code_style():
    text = with_inline_code("What shape will the `inputs` tensor have? Not `a`b.", "bold red", "italic")
    assert text.plain == "What shape will the inputs tensor have? Not ab."
    assert isinstance(text, Text) and text.style == "italic"
    spans = [(text.plain[span.start:span.end], str(span.style)) for span in text.spans]
    assert spans == [("inputs", "bold red"), ("a", "bold red")]
    assert with_inline_code("no code, a lone ` stays", "bold").plain == "no code, a lone ` stays"


async def test_a_checks_question_hints_and_explanation_show_code_without_backticks(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "3")  # windows: "What shape will the `inputs` tensor of one batch have?"
        screen = app.screen
        question = screen.query_one("#check-question").content
        assert "What shape will the inputs tensor of one batch have?" in question.plain
        assert "`" not in question.plain
        code_style = screen.query_one("#check-panel").get_component_rich_style("check-panel--code", partial=True)
        styled = [question.plain[span.start:span.end] for span in question.spans if span.style == code_style]
        assert styled == ["inputs"]

        await press_and_settle(pilot, "a")
        await pilot.press(*"3, 3")
        await press_and_settle(pilot, "enter")  # wrong: the explanation names `targets`
        feedback = shown(screen.query_one("#check-feedback"))
        assert "`" not in feedback and "targets has the same shape" in feedback


async def test_the_recap_writes_out_the_biggest_surprise_with_its_place_and_loss(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "9")  # the recap
        assert app.session.lesson_id == "recap"
        values = app.session.report.values()
        words = " ".join(" ".join(rendered_lines(app.screen.query_one(LessonText))).split())
        token = values["most_surprising_token"]
        assert (
            f"The biggest surprise in this batch is the target “{token}”, at {values['most_surprising_where']}, "
            f"with a loss of {values['most_surprising_loss']:.3f}."
        ) in words
        assert f"was {token}." not in words and "was :." not in words


async def test_help_lists_zoom_the_digit_keys_and_the_lesson_list_marks(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.query_one(Markdown).source
        assert "| `z` | zoom the pane in focus" in source
        assert "| `1`–`9`, `0` | go to lesson 1–9, `0` to lesson 10" in source
        assert "`▶` the lesson you are on · `✓` all its checks answered right · `•` visited." in source


async def test_panes_heatmap_and_header_count_rows_and_lessons_from_one(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "9")  # the recap, its heatmap in view
        screen = app.screen
        assert screen.title.startswith("loss-tutor · lesson 9 of 13: Recap")
        assert str(screen.query_one("#panes").border_title) == "batch row 1 of 2"
        heatmap = shown(screen.query_one("#heatmap-text"))
        assert "row 1 of 2  loss " in heatmap and "row 2 of 2  loss " in heatmap and "row 0 " not in heatmap
        assert "selected: row 1 of 2, position 0, target" in heatmap
        await press_and_settle(pilot, "right_square_bracket")
        assert str(screen.query_one("#panes").border_title) == "batch row 2 of 2"
        assert str(screen.query_one("#explanation").border_title) == f"9 · {app.lessons.lessons[8].title}"
