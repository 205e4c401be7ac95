"""Pilot tests of the token inspector: enter on a row of the token table shows that position's top-10
predictions, the target's rank and its −log p."""

from __future__ import annotations

import pytest
from app_helpers import expected_report, press_and_settle, settle, shown

from tutor.core.formatting import format_number, visible
from tutor.ui.screens.inspector import InspectorScreen
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.widgets.token_table import TokenTable

SIZE = (120, 40)


async def open_token_table(pilot) -> TokenTable:
    app = pilot.app
    await press_and_settle(pilot, "5")  # softmax: the first lesson whose table shows predictions
    screen = app.screen
    screen.query_one("#panes").active = "tab-tokens"
    table = screen.query_one(TokenTable)
    table.focus()
    await settle(pilot)
    assert screen.focused is table
    return table


async def test_enter_on_a_token_row_opens_the_inspector(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = await open_token_table(pilot)
        await press_and_settle(pilot, "down", "down", "enter")

        inspector = app.screen
        assert isinstance(inspector, InspectorScreen)
        token = app.session.report.row_tokens(0)[2]
        assert inspector.token == token
        data = expected_report().to_json_dict()
        assert token.target_id == data["targets"][0][2]
        # the expected report is another forward pass: its floats may differ in the last digits
        assert token.target_log_prob == pytest.approx(data["target_log_probs"][0][2], rel=1e-4, abs=1e-6)

        text = shown(inspector.query_one("#inspector-text"))
        lines = text.splitlines()
        assert lines[0] == "batch row 1 of 2, position 2"  # rows counted from 1, the position is the table's
        assert lines[2] == f"target:  {visible(token.target_token)} [{data['targets'][0][2]}]"
        assert lines[4] == "top 10 next-token probabilities (bars scaled to the top one)"
        top = lines[5:15]
        assert [line[:3] for line in top] == [f"{rank:>2}." for rank in range(1, 11)]
        assert [candidate.token_id for candidate in token.top] == [int(line.split("[")[1].split("]")[0]) for line in top]
        probs = [candidate.prob for candidate in token.top]
        assert probs == sorted(probs, reverse=True) and len(probs) == 10
        assert f"{data['predicted'][0][2]:>5}]" in top[0]  # the top guess is the table's prediction
        assert (
            f"target rank {token.target_rank:,} of 50,257, p = {format_number(token.target_prob, 6)}, "
            f"−log p = {format_number(-token.target_log_prob)}"
        ) in text
        assert ("✓ predicted" if data["correct"][0][2] else "✗ not predicted") in text
        assert token.target_rank >= 1

        await press_and_settle(pilot, "escape")
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.focused is table

        # on the next batch row (the cursor stays at its position), enter inspects that row
        await press_and_settle(pilot, "right_square_bracket", "enter")
        inspector = app.screen
        assert isinstance(inspector, InspectorScreen)
        assert (inspector.token.row, inspector.token.position) == (1, 2)
        text = shown(inspector.query_one("#inspector-text"))
        assert text.startswith("batch row 2 of 2, position 2\n")
        assert text.splitlines()[2].endswith(f"[{data['targets'][1][2]}]")
        await press_and_settle(pilot, "escape")
        assert isinstance(app.screen, LessonScreen)
