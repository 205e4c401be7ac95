"""The lesson the instructor suggests to every participant, chosen from the server's lessons in a small window
over the dashboard: enter suggests the highlighted one, escape cancels. It answers the lesson's id, or None."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tutor.core.counting import shown_number
from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import LessonSet


class SuggestScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-suggestion")]

    def __init__(self, lessons: LessonSet, highlighted: int = 0):
        """`lessons` must have at least one lesson; `highlighted` is the one the cursor starts on."""
        super().__init__()
        self.lessons = lessons
        self.highlighted = min(max(highlighted, 0), len(lessons.lessons) - 1)

    def compose(self) -> ComposeResult:
        with Vertical(id="suggest-box"):
            yield Static(Text("Suggest a lesson"), id="suggest-title")
            yield Static(Text(
                "Every participant is told you are on it and can follow with f. Enter suggests the lesson "
                "highlighted."
            ), id="suggest-about")
            options = [
                Option(Text(safe_to_draw(f"{shown_number(index)} {lesson.title}")))
                for index, lesson in enumerate(self.lessons.lessons)
            ]
            yield OptionList(*options, id="suggest-lessons")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = self.highlighted

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.lessons.lessons[event.option_index].id)

    def action_cancel(self) -> None:
        self.dismiss(None)
