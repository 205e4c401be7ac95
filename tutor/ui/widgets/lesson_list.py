"""The lesson list: where you are (▶) and which lessons you have seen (✓)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tutor.core.lessons import Lesson


@dataclass
class LessonPicked(Message):
    index: int


class LessonList(OptionList):
    def __init__(self, **kwargs):
        super().__init__(markup=False, **kwargs)  # lesson titles are instructors' text, not markup

    def show(self, lessons: tuple[Lesson, ...], current: int, seen: list[str]) -> None:
        prompts = [
            f"{'▶' if index == current else ('✓' if lesson.id in seen else ' ')} {index} {lesson.title}"
            for index, lesson in enumerate(lessons)
        ]
        if [option.id for option in self.options] != [lesson.id for lesson in lessons]:
            self.clear_options()
            self.add_options(Option(prompt, id=lesson.id) for prompt, lesson in zip(prompts, lessons))
        else:  # the same lessons: change only the markers that moved
            for index, prompt in enumerate(prompts):
                if str(self.options[index].prompt) != prompt:
                    self.replace_option_prompt_at_index(index, prompt)
        if self.highlighted != current:
            self.highlighted = current

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(LessonPicked(event.option_index))
