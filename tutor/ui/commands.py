"""Command palette provider: "Go to lesson …" for every lesson.

Lesson titles and ids come from files, so they reach the palette as plain `Content`, never as markup
(the palette reads a plain string as markup: `[/]` in a title raised MarkupError, `[CLS]` vanished)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from tutor.core.counting import shown_number
from tutor.core.formatting import safe_to_draw
from tutor.ui.typed_app import ReachesTutorApp


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
