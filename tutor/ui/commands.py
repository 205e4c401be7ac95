"""Command palette provider: "Go to lesson …" for every lesson.

Lesson titles and ids come from files, so they reach the palette as plain `Content`, never as markup
(the palette reads a plain string as markup: `[/]` in a title raised MarkupError, `[CLS]` vanished)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from tutor.core.formatting import safe_to_draw


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


class LessonCommands(Provider):
    def _lessons(self):
        lessons = getattr(self.app, "lessons", None)
        return lessons.lessons if lessons is not None else ()

    def _choices(self):
        for index, lesson in enumerate(self._lessons()):
            yield index, f"Go to lesson {index}: {safe_to_draw(lesson.title)}", Content(safe_to_draw(lesson.id))

    def _go(self, index: int) -> None:
        # The lesson screen, wherever it is: the palette may have been opened over a form.
        for screen in reversed(self.app.screen_stack):
            if hasattr(screen, "go_to"):
                screen.go_to(index)
                return

    async def discover(self) -> Hits:
        for index, name, lesson_id in self._choices():
            yield DiscoveryHit(Content(name), partial(self._go, index), text=name, help=lesson_id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for index, name, lesson_id in self._choices():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, highlight_plain(matcher, name), partial(self._go, index), text=name, help=lesson_id)
