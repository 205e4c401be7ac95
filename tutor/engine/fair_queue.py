"""Whose request the room's one engine computes next: pure logic, no I/O, no threads.

The queue holds sessions, not requests: each waiting session has one place and one request in it. A session
that asks again while it waits keeps its place and its newer request replaces the older one, which is never
computed. A session that is taken (its request goes to be computed) and asks again joins at the back, behind
every session that was already waiting. That is round robin across the sessions with something to compute,
in the order they started waiting: once a session has been taken, it is not taken again before every session
that was waiting at that moment has been, so nobody starves, however often the others ask; and a waiting
session's place only ever moves forward.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

SessionT = TypeVar("SessionT", bound=Hashable)
ItemT = TypeVar("ItemT")


class FairQueue(Generic[SessionT, ItemT]):
    """Not thread-safe: the shared engine uses it from its event loop only."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[SessionT, ItemT] = OrderedDict()  # first = next to be taken

    def submit(self, session: SessionT, item: ItemT) -> ItemT | None:
        """Queue `item` for `session`. Returns the request of `session`'s it replaces (which will never be
        taken), or None if `session` was not waiting."""
        replaced = self._waiting.get(session)
        self._waiting[session] = item  # an existing key keeps its place in an OrderedDict
        return replaced

    def take(self) -> tuple[SessionT, ItemT] | None:
        """The next session and its request, removed from the queue; None if nobody waits."""
        if not self._waiting:
            return None
        return self._waiting.popitem(last=False)

    def remove(self, session: SessionT) -> ItemT | None:
        """Drop `session`'s place (it has gone). Returns its request, or None if it was not waiting."""
        return self._waiting.pop(session, None)

    def position(self, session: SessionT) -> int | None:
        """`session`'s place: 1 = taken next. None if it is not waiting."""
        return self.positions().get(session)

    def positions(self) -> dict[SessionT, int]:
        """Every waiting session's place, 1 = taken next."""
        return {session: place for place, session in enumerate(self._waiting, start=1)}

    def waiting(self) -> list[tuple[SessionT, ItemT]]:
        """Every waiting session and its request, in the order they will be taken."""
        return list(self._waiting.items())

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, session: object) -> bool:
        return session in self._waiting
