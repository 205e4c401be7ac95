"""Command palette provider: "Go to lesson …" for every lesson; and the lesson screen's commands for the model.

Lesson titles and ids come from files, so they reach the palette as plain `Content`, never as markup
(the palette reads a plain string as markup: `[/]` in a title raised MarkupError, `[CLS]` vanished)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from tutor.core.counting import shown_number
from tutor.core.formatting import safe_to_draw
from tutor.core.model_choice import LIST, OPEN, SAVE, may_open_files, may_save_trained
from tutor.ui.typed_app import ReachesTutorApp

if TYPE_CHECKING:
    from tutor.ui.screens.lesson import LessonScreen


def highlight_plain(matcher: Matcher, text: str) -> Content:
    """`text` with the characters the query matched highlighted, as `Matcher.highlight` does, but read as
    plain text (`Matcher.highlight` parses its candidate as markup)."""
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if score:
        for offset in offsets:
            if not text[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class LessonCommands(ReachesTutorApp, Provider):
    def _choices(self) -> Iterator[tuple[int, str, Content]]:
        for index, lesson in enumerate(self.tutor_app.lessons.lessons):
            yield index, f"Go to lesson {shown_number(index)}: {safe_to_draw(lesson.title)}", Content(safe_to_draw(lesson.id))

    def _go(self, index: int) -> None:
        self.tutor_app.go_to_lesson(index)  # shown by the lesson screen, even if the palette was opened over a form

    async def discover(self) -> Hits:
        for index, name, lesson_id in self._choices():
            yield DiscoveryHit(Content(name), partial(self._go, index), text=name, help=lesson_id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for index, name, lesson_id in self._choices():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, highlight_plain(matcher, name), partial(self._go, index), text=name, help=lesson_id)


def model_commands(screen: LessonScreen) -> Iterator[SystemCommand]:
    """Choosing the model; opening a weights file and saving the trained model only where the engine does that
    (never in a workshop) and, for saving, once a model has been trained."""
    app = screen.tutor_app
    menu = app.labs.menu
    yield SystemCommand("Choose the model…", "Untrained, trained in this session, or a weights file",
                        partial(screen.action_choose_model, LIST))
    if may_open_files(menu, in_a_workshop=app.workshop_texts is not None):
        yield SystemCommand("Open a weights file…",
                            "The book's .pth, Hugging Face GPT-2 safetensors, or one saved here",
                            partial(screen.action_choose_model, OPEN))
    if may_save_trained(menu):
        yield SystemCommand("Save the trained model…", "As safetensors, to open again later",
                            partial(screen.action_choose_model, SAVE))
