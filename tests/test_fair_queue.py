"""The shared engine's queue: round robin across sessions, a newer request replacing a queued one, places.

A state machine drives `FairQueue` with any mix of submissions, takes and departures and checks it, after
every step, against a plain model of what it should do and against the fairness promises themselves."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tutor.engine.fair_queue import FairQueue

SESSIONS = st.sampled_from("ABCDEF")


class FairQueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue: FairQueue[str, int] = FairQueue()
        self.order: list[str] = []  # the model: waiting sessions, next first
        self.latest: dict[str, int] = {}  # each waiting session's newest request
        self.counter = 0
        # Fairness bookkeeping: the sessions that must be taken before this one is (again).
        self.ahead_when_joined: dict[str, set[str]] = {}
        self.owed_since_taken: dict[str, set[str]] = {}
        self.last_place: dict[str, int] = {}

    @rule(session=SESSIONS)
    def submit(self, session: str) -> None:
        self.counter += 1
        item = self.counter
        replaced = self.queue.submit(session, item)
        if session in self.latest:
            assert replaced == self.latest[session]  # the older queued request is handed back, never taken
        else:
            assert replaced is None
            self.ahead_when_joined[session] = set(self.order)
            self.order.append(session)
        self.latest[session] = item

    @rule()
    def take(self) -> None:
        taken = self.queue.take()
        if not self.order:
            assert taken is None
            return
        session, item = taken
        assert session == self.order[0]
        assert item == self.latest[session]  # the newest request, never a replaced one
        # No starvation: everyone who was waiting when this session joined has been taken (or left) first.
        assert not self.ahead_when_joined[session]
        # Round robin: everyone waiting when this session was last taken has had a turn before its next one.
        assert not self.owed_since_taken.get(session)
        self._gone(session)
        self.owed_since_taken[session] = set(self.order)

    @rule(session=SESSIONS)
    def remove(self, session: str) -> None:
        dropped = self.queue.remove(session)
        assert dropped == self.latest.get(session)
        if session in self.latest:
            self._gone(session)
        self.owed_since_taken.pop(session, None)

    def _gone(self, session: str) -> None:
        self.order.remove(session)
        del self.latest[session]
        del self.ahead_when_joined[session]
        self.last_place.pop(session, None)
        for waiting in (*self.ahead_when_joined.values(), *self.owed_since_taken.values()):
            waiting.discard(session)

    @invariant()
    def places_are_right(self) -> None:
        places = self.queue.positions()
        assert places == {session: place for place, session in enumerate(self.order, start=1)}
        assert len(self.queue) == len(self.order)
        assert self.queue.waiting() == [(session, self.latest[session]) for session in self.order]
        for session in "ABCDEF":
            assert self.queue.position(session) == places.get(session)
            assert (session in self.queue) == (session in places)

    @invariant()
    def a_place_only_moves_forward(self) -> None:
        for session, place in self.queue.positions().items():
            assert place <= self.last_place.get(session, place)
            assert place == len(self.ahead_when_joined[session]) + 1
            self.last_place[session] = place


FairQueueMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
TestFairQueue = FairQueueMachine.TestCase


def test_three_sessions_that_always_ask_again_take_turns():
    queue: FairQueue[str, str] = FairQueue()
    for session in "ABC":
        queue.submit(session, f"{session}1")
    served = []
    for turn in range(2, 5):
        for _ in range(3):
            session, item = queue.take()
            served.append(item)
            queue.submit(session, f"{session}{turn}")
    assert served == ["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3"]


def test_a_newer_request_keeps_the_older_ones_place():
    queue: FairQueue[str, str] = FairQueue()
    queue.submit("A", "a-old")
    queue.submit("B", "b")
    assert queue.submit("A", "a-new") == "a-old"
    assert queue.positions() == {"A": 1, "B": 2}
    assert queue.take() == ("A", "a-new")
    assert queue.take() == ("B", "b")
    assert queue.take() is None


def test_a_session_taken_and_asking_again_goes_behind_those_waiting():
    queue: FairQueue[str, str] = FairQueue()
    queue.submit("A", "a1")
    queue.submit("B", "b1")
    assert queue.take() == ("A", "a1")
    queue.submit("A", "a2")  # while its first is being computed
    queue.submit("C", "c1")
    assert queue.positions() == {"B": 1, "A": 2, "C": 3}
