"""The per-token table, drawn line by line: its cells, the cursor's keys and clicks, and big batch rows."""

from __future__ import annotations

import pytest
from app_helpers import assert_numbers_close, expected_report, press_and_settle, settle

from tutor.core.formatting import format_number
from tutor.core.settings import Settings
from tutor.ui.screens.inspector import InspectorScreen
from tutor.ui.widgets.token_table import TokenTable, cell, context_tail, token_label

SIZE = (120, 40)


async def focused_table(pilot, lesson: str = "6") -> TokenTable:
    await press_and_settle(pilot, lesson)  # gather: every column of the table
    screen = pilot.app.screen
    screen.query_one("#panes").active = "tab-tokens"
    table = screen.query_one(TokenTable)
    table.focus()
    await settle(pilot)
    return table


def line_text(table: TokenTable, y: int) -> str:
    return table.render_line(y).text.rstrip()


def lines_on_screen(app, widget) -> list[str]:
    """The screen's lines inside `widget`, scrollbars included, as the learner sees them."""
    screen_lines = ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]
    region = widget.region
    return [line[region.x : region.right] for line in screen_lines[region.y : region.bottom]]


async def test_rows_are_the_reports_cells_under_a_header(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = await focused_table(pilot)
        assert_numbers_close(app.session.report, expected_report())
        tokens = app.session.report.row_tokens(0)
        assert table.columns == ("pos", "context", "target", "p(target)", "log p", "predicted", "ok")
        assert table.rows_text() == [[cell(column, token) for column in table.columns] for token in tokens]
        assert table.rows_text()[1][5] == token_label(tokens[1].predicted_token, tokens[1].predicted_id)
        assert table.rows_text()[1][1] == context_tail(tokens[1].context)
        assert table.rows_text()[1][4] == format_number(tokens[1].target_log_prob)

        header = line_text(table, 0)  # as much as the pane's width shows
        assert header.split()[:5] == ["pos", "context", "⇒", "target", "[id]"]
        first = line_text(table, 1)
        assert first.startswith("▶   0  ")  # the cursor's row is marked, so it shows without colour
        assert line_text(table, 2).startswith("    1  ")  # positions are right-aligned under "pos"
        assert header.startswith("  pos  ")
        await press_and_settle(pilot, "end")
        table.scroll_to(x=table.virtual_size.width, animate=False)  # the right end of the rows
        await settle(pilot)
        assert line_text(table, 0).endswith("✓/✗")
        assert line_text(table, len(tokens)).endswith("✓" if tokens[-1].correct else "✗")


async def test_keys_move_the_cursor_and_enter_inspects(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = await focused_table(pilot)
        last = len(table.rows_text()) - 1
        await press_and_settle(pilot, "down", "down")
        assert table.cursor_row == 2
        assert line_text(table, 3).startswith("▶") and not line_text(table, 1).startswith("▶")
        await press_and_settle(pilot, "up")
        assert table.cursor_row == 1
        await press_and_settle(pilot, "end")
        assert table.cursor_row == last
        await press_and_settle(pilot, "down")  # stays on the last row
        assert table.cursor_row == last
        await press_and_settle(pilot, "home")
        assert table.cursor_row == 0
        await press_and_settle(pilot, "up")
        assert table.cursor_row == 0
        await press_and_settle(pilot, "pagedown")
        assert table.cursor_row == last  # one page holds all 8 rows

        await press_and_settle(pilot, "enter")
        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.token == app.session.report.row_tokens(0)[last]


async def test_a_click_moves_the_cursor_and_a_second_click_inspects(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = await focused_table(pilot)
        await pilot.click(TokenTable, offset=(5, 4))  # line 4 is the row of position 3
        await settle(pilot)
        assert table.cursor_row == 3 and app.screen is table.screen
        await pilot.click(TokenTable, offset=(5, 4))
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.token.position == 3


async def test_a_long_batch_row_scrolls_to_keep_the_cursor_in_view(make_app):
    settings = dict(batch_size=2, context_length=256, stride=256)
    app = make_app(settings_overrides=settings, resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = await focused_table(pilot)
        assert len(table.rows_text()) == 256
        assert table.virtual_size.height == 257  # the header and every row
        await press_and_settle(pilot, "end")
        assert table.cursor_row == 255
        assert table.scroll_y > 200
        assert line_text(table, table.size.height - 1).startswith("▶ 255")
        assert line_text(table, 0).split()[0] == "pos"  # the header stays on top
        await press_and_settle(pilot, "pageup")
        assert table.cursor_row < 255
        assert line_text(table, 1 + table.cursor_row - int(table.scroll_y)).startswith("▶")

        # the next batch row keeps the cursor where it was
        await press_and_settle(pilot, "home", "down", "down")
        await press_and_settle(pilot, "right_square_bracket")
        assert app.session.row == 1 and table.cursor_row == 2
        assert table.rows_text()[0][0] == "0"
        assert app.session.settings == Settings(**settings)


@pytest.mark.parametrize("zoomed", [False, True], ids=["beside the explanation", "zoomed"])
async def test_at_80_columns_every_column_shows_and_every_tokens_id_is_whole(make_app, zoomed):
    """The whole table is 89 cells wide: at 80 columns the contexts and the tokens' texts are cut, never an id, and
    nothing is left to the right (← → change lesson, so the table could not be scrolled sideways by key)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = await focused_table(pilot)
        if zoomed:
            await press_and_settle(pilot, "z")
            assert app.screen.maximized is app.screen.query_one("#panes")
        tokens = app.session.report.row_tokens(0)
        assert table.max_scroll_x == 0
        header, *rows = lines_on_screen(app, table)
        assert header.split()[-1] == "✓/✗"
        assert len(rows) >= 4
        for token, line in zip(tokens, rows):
            assert f" [{token.target_id}]" in line and f" [{token.predicted_id}]" in line, line
            assert ("✓" if token.correct else "✗") in line.split("]")[-1]
        assert "…" in "".join(rows)  # cut, not merely fitting already
        assert table.rows_text()[0] == [cell(column, tokens[0]) for column in table.columns]  # the cells in full
