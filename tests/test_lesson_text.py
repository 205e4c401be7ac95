"""The lesson's Markdown as one widget: what it draws, in the theme's colours, and that it follows the theme."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tutor.ui.widgets.lesson_text import LessonText

SOURCE = """# Softmax

Scores become **probabilities** with `torch.softmax`.

- one
- two

> a quote
"""


class OneLesson(App):
    CSS_PATH = "../tutor/ui/tutor.tcss"

    def compose(self) -> ComposeResult:
        yield LessonText(SOURCE)


def lines(widget: LessonText):
    return [widget.render_line(y) for y in range(widget.size.height)]


def style_of(strip, text: str):
    return next(segment.style for segment in strip if text in segment.text)


async def test_markdown_is_drawn_with_the_themes_colours():
    app = OneLesson()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        widget = app.query_one(LessonText)
        strips = lines(widget)
        texts = [strip.text.rstrip() for strip in strips]
        assert texts[0] == "Softmax"  # flush left, no "#"
        assert texts[2] == "Scores become probabilities with torch.softmax."
        assert texts[4].split() == ["•", "one"] and texts[5].split() == ["•", "two"]
        assert texts[7].split() == ["▌", "a", "quote"]
        assert widget.size.height == 8  # its height is its content's

        variables = app.get_css_variables()
        heading = style_of(strips[0], "Softmax")
        assert heading.bold and heading.color.triplet.hex == variables["text-primary"].lower()
        assert style_of(strips[2], "probabilities").bold
        code = style_of(strips[2], "torch.softmax")
        assert code.color.triplet.hex == variables["text-warning"].lower()
        assert code.bgcolor.triplet.hex == variables["panel"].lower()

        dark_heading = heading.color
        app.theme = "textual-light"
        await pilot.pause()
        light_heading = style_of(lines(widget)[0], "Softmax").color
        assert light_heading != dark_heading
        assert light_heading.triplet.hex == app.get_css_variables()["text-primary"].lower()


async def test_update_redraws_only_when_the_text_changes():
    app = OneLesson()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        widget = app.query_one(LessonText)
        drawn = widget.render()
        widget.update(SOURCE)
        assert widget.render() is drawn
        widget.update("## Next\n\nmore")
        await pilot.pause()
        assert widget.source == "## Next\n\nmore"
        assert [strip.text.rstrip() for strip in lines(widget)] == ["Next", "", "more"]
