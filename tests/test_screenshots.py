"""Rendering the same way every time: `deterministic_rendering()`, which the tests and `loss-tutor screenshots`
draw under."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import textual.constants
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Input, TextArea

from tutor.core.lessons import builtin_lessons_dir
from tutor.ui.deterministic import deterministic_rendering

PROJECT = Path(__file__).resolve().parents[1]


class OneWidgetApp(App):
    def __init__(self, widget_type: type[Widget]):
        super().__init__()
        self.widget_type = widget_type

    def compose(self) -> ComposeResult:
        yield self.widget_type("typed text")


async def cursor_blinks(widget_type: type[Widget]) -> bool:
    """Whether a focused `widget_type` changes its picture on its own within 1.5 s (Textual blinks every 0.5 s)."""
    app = OneWidgetApp(widget_type)
    async with app.run_test(size=(30, 5)) as pilot:
        app.query_one(widget_type).focus()
        await pilot.pause()
        first = app.export_screenshot()
        for _ in range(15):
            await pilot.pause(0.1)
            if app.export_screenshot() != first:
                return True
    return False


@pytest.mark.textual_defaults
@pytest.mark.parametrize("widget_type", [Input, TextArea])
async def test_no_cursor_blinks_inside_and_blinking_is_back_after(widget_type):
    assert await cursor_blinks(widget_type)  # Textual's default, and the tutor's for a learner
    with deterministic_rendering():
        assert not await cursor_blinks(widget_type)
    assert await cursor_blinks(widget_type)


@pytest.mark.textual_defaults
def test_the_environment_is_cleared_and_put_back(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    monkeypatch.setenv("TEXTUAL_SNAPSHOT_TEMPDIR", "/snapshots")
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "full")
    before = dict(os.environ)
    with deterministic_rendering():
        assert "NO_COLOR" not in os.environ and "TEXTUAL_COLOR_SYSTEM" not in os.environ
        assert os.environ["TEXTUAL_SNAPSHOT_TEMPDIR"] == "/snapshots"  # pytest-textual-snapshot's, kept
        assert os.environ["TEXTUAL_ANIMATIONS"] == "none"
        assert App().animation_level == "none"
    assert dict(os.environ) == before
    assert App().animation_level == "full"


def run_screenshots(directory: Path, environment: dict[str, str]) -> dict[str, str]:
    """`loss-tutor screenshots` run afresh; each picture it wrote, by file name."""
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "screenshots", str(directory)],
        cwd=PROJECT, env={**environment, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.iterdir())}


def test_two_runs_of_the_screenshots_command_draw_the_same_pictures(tmp_path):
    """Even when the second is started with colour switched off and animations on."""
    plain = {name: value for name, value in os.environ.items() if not name.startswith("TEXTUAL_") and name != "NO_COLOR"}
    first = run_screenshots(tmp_path / "first", plain)
    second = run_screenshots(tmp_path / "second", plain | {"NO_COLOR": "1", "TEXTUAL_ANIMATIONS": "full"})
    assert len(first) == len(list(builtin_lessons_dir().glob("*.md")))  # a picture of every lesson
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
