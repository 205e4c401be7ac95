"""The explanation pane: the lesson's Markdown with this run's numbers filled in, and its check."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from tutor.lessons import Lesson, fill_placeholders
from tutor.widgets.check_panel import CheckPanel


class ExplanationPane(VerticalScroll):
    ALLOW_MAXIMIZE = True  # scroll containers refuse by default, which made `z` do nothing here

    def compose(self) -> ComposeResult:
        yield Markdown(id="lesson-text")
        yield CheckPanel(id="check-panel")

    def show(self, lesson: Lesson, values: dict | None, answered: dict[str, bool]) -> None:
        self.border_title = Text(f"{lesson.number} · {lesson.title}")  # a title is text, not markup
        self.query_one("#lesson-text", Markdown).update(fill_placeholders(lesson.body, values))
        self.query_one(CheckPanel).show(lesson, values, answered)
