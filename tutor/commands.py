"""Command palette provider: "Go to lesson …" for every lesson."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class LessonCommands(Provider):
    def _lessons(self):
        return getattr(self.app, "lessons", None).lessons if hasattr(self.app, "lessons") else ()

    def _go(self, index: int) -> None:
        screen = self.app.screen
        if hasattr(screen, "go_to"):
            screen.go_to(index)

    async def discover(self) -> Hits:
        for index, lesson in enumerate(self._lessons()):
            yield DiscoveryHit(f"Go to lesson {index}: {lesson.title}", partial(self._go, index), help=lesson.id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for index, lesson in enumerate(self._lessons()):
            name = f"Go to lesson {index}: {lesson.title}"
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self._go, index), help=lesson.id)
