"""Readable in a 256-colour terminal: once every colour is cut down to the 256-colour palette (as Textual
does for such a terminal), text still differs from its background and the marks that carry meaning
still differ from each other."""

from __future__ import annotations

import pytest
from app_helpers import press_and_settle, settle
from rich.color import ColorSystem

from tutor.ui.widgets.token_table import TokenTable

SIZE = (120, 40)


def in_256(color):
    return None if color is None else color.downgrade(ColorSystem.EIGHT_BIT)


def screen_segments(app):
    return [segment for strip in app.screen._compositor.render_strips() for segment in strip]


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
@pytest.mark.parametrize("lesson", ["1", "5", "6", "9", "0"])  # overview, softmax, gather, recap, bug lab
async def test_text_stays_apart_from_its_background(make_app, theme, lesson):
    app = make_app()
    app.theme = theme
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, lesson)
        coloured = [
            segment for segment in screen_segments(app)
            if segment.text.strip() and segment.style and segment.style.color and segment.style.bgcolor
        ]
        assert len(coloured) > 50  # the header, the lesson, the panes and the footer
        unreadable = {segment.text for segment in coloured if in_256(segment.style.color) == in_256(segment.style.bgcolor)}
        assert not unreadable


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_the_token_tables_marks_stay_apart(make_app, theme):
    app = make_app()
    app.theme = theme
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "6")  # gather
        app.screen.query_one("#panes").active = "tab-tokens"
        table = app.screen.query_one(TokenTable)
        table.focus()
        await settle(pilot)
        cursor, plain = list(table.render_line(1)), list(table.render_line(2))
        assert in_256(cursor[0].style.bgcolor) != in_256(plain[0].style.bgcolor)  # the cursor's row
        right = table.get_component_rich_style("token-table--right").color
        wrong = table.get_component_rich_style("token-table--wrong").color
        assert in_256(right) != in_256(wrong)
