"""The lesson list: where you are (▶), the lessons whose checks you answered right (✓) and the others you
visited (•). Lessons are numbered as a person counts, from 1."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tutor.core.counting import shown_number
from tutor.core.lessons import Lesson

CURRENT, CHECKS_RIGHT, VISITED, NOT_YET = "▶", "✓", "•", " "


def lesson_mark(lesson: Lesson, is_current: bool, seen: list[str], checks: dict[str, bool]) -> str:
    """▶ the lesson in view; ✓ every check of it answered right; • visited; blank: not yet opened."""
    if is_current:
        return CURRENT
    if lesson.checks and all(checks.get(f"{lesson.id}:{check.id}") for check in lesson.checks):
        return CHECKS_RIGHT
    return VISITED if lesson.id in seen else NOT_YET


@dataclass
class LessonPicked(Message):
    index: int


class LessonList(OptionList):
    def __init__(self, **kwargs):
        super().__init__(markup=False, **kwargs)  # lesson titles are instructors' text, not markup

    def show(self, lessons: tuple[Lesson, ...], current: int, seen: list[str], checks: dict[str, bool]) -> None:
        prompts = [
            f"{lesson_mark(lesson, index == current, seen, checks)} {shown_number(index)} {lesson.title}"
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
