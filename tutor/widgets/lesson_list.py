"""The lesson list: where you are (▶) and which lessons you have seen (✓)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tutor.lessons import Lesson


@dataclass
class LessonPicked(Message):
    index: int


class LessonList(OptionList):
    def __init__(self, **kwargs):
        super().__init__(markup=False, **kwargs)  # lesson titles are instructors' text, not markup

    def show(self, lessons: tuple[Lesson, ...], current: int, seen: list[str]) -> None:
        self.clear_options()
        for index, lesson in enumerate(lessons):
            marker = "▶" if index == current else ("✓" if lesson.id in seen else " ")
            self.add_option(Option(f"{marker} {index} {lesson.title}", id=lesson.id))
        self.highlighted = current

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(LessonPicked(event.option_index))
