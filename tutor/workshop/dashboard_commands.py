"""The dashboard's command palette: "Disconnect NAME" for every session (asks first, as `d` on the table does)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tutor.core.formatting import safe_to_draw
from tutor.ui.commands import highlight_plain

if TYPE_CHECKING:  # dashboard.py imports this module
    from tutor.workshop.dashboard import WorkshopDashboard


class SessionCommands(Provider):
    @property
    def dashboard(self) -> WorkshopDashboard:
        return cast("WorkshopDashboard", self.app)

    def _choices(self) -> Iterator[tuple[int, str, Content]]:
        for session in list(self.dashboard.server.sessions.values()):
            name = f"Disconnect {safe_to_draw(session.name)}"
            yield session.number, name, Content(f"session {session.number}, from {safe_to_draw(session.address)}")

    def _disconnect(self, number: int) -> None:
        self.dashboard.ask_to_disconnect(number)

    async def discover(self) -> Hits:
        for number, name, about in self._choices():
            yield DiscoveryHit(Content(name), partial(self._disconnect, number), text=name, help=about)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for number, name, about in self._choices():
            score = matcher.match(name)
            if score > 0:
                shown = highlight_plain(matcher, name)
                yield Hit(score, shown, partial(self._disconnect, number), text=name, help=about)
