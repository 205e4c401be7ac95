"""The explanation pane: the lesson's Markdown with this run's numbers filled in, and its check."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from tutor.core.counting import shown_number
from tutor.core.lessons import Lesson, fill_placeholders
from tutor.ui.widgets.lesson_text import LessonText


class ExplanationPane(VerticalScroll):
    ALLOW_MAXIMIZE = True  # scroll containers refuse by default, which made `z` do nothing here

    def compose(self) -> ComposeResult:
        yield LessonText(id="lesson-text")  # the lesson screen adds the check panel after the first frame

    def show(self, lesson: Lesson, values: dict | None, answered: dict[str, bool]) -> None:
        self.border_title = Text(f"{shown_number(lesson.number)} · {lesson.title}")  # a title is text, not markup
        self.query_one(LessonText).update(fill_placeholders(lesson.body, values))
        for check_panel in self.query("#check-panel"):
            check_panel.show(lesson, values, answered)
