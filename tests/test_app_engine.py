"""The app keeps computing when its engine dies, hangs or is abandoned: it says so in one line, starts a
new engine, and the numbers arrive (or the old ones stay, with the reason)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from app_helpers import CachedEngine, assert_numbers_close, expected_report, record_notifications

from tutor.core.protocol import EngineClosed, EngineDied, EngineTimedOut
from tutor.core.settings import Settings
from tutor.engine.process import ProcessEngine

SIZE = (100, 32)
PATIENCE_S = 120.0  # a liveness bound for a real engine, on a busy machine; not a speed target
KILLED = "killed by signal 9 (SIGKILL), which often means the machine ran out of memory"


async def wait_until(pilot, condition, timeout: float = PATIENCE_S) -> None:
    stop = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < stop, "the app never got there"
        await pilot.pause(0.05)


async def recompute_and_wait(pilot, **change) -> int:
    app = pilot.app
    generation = app.recompute(**change)
    await wait_until(pilot, lambda: app.session.outcome.generation == generation)
    await pilot.pause()
    return generation


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


class Engines:
    """An engine factory that remembers what it made."""

    def __init__(self, kind):
        self.kind = kind
        self.made = []

    def __call__(self):
        self.made.append(self.kind())
        return self.made[-1]


class ClosableEngine(CachedEngine):
    def __init__(self):
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class DiesOnBatchSizeThree(ClosableEngine):
    """Its process "dies" whenever it is asked for batch size 3, as one does when that runs out of memory."""

    def compute(self, request):
        if request.settings.batch_size == 3:
            raise EngineDied(-signal.SIGKILL)
        return super().compute(request)


class HangsOnBatchSizeThree(ClosableEngine):
    def compute(self, request):
        if request.settings.batch_size == 3:
            raise EngineTimedOut("the computation took longer than 60 s, far longer than it should, so it was stopped")
        return super().compute(request)


class StuckOnBatchSizeThree(ClosableEngine):
    """Busy with a request for batch size 3 until it is closed; then, as ProcessEngine does, that request
    ends with EngineClosed."""

    def __init__(self):
        super().__init__()
        self.stopped = threading.Event()

    def compute(self, request):
        if request.settings.batch_size != 3:
            return super().compute(request)
        with self._lock:
            self.stopped.wait(timeout=PATIENCE_S)
            raise EngineClosed("the computing process was stopped")

    def close(self) -> None:
        super().close()
        self.stopped.set()


# ----- a real engine, killed -------------------------------------------------------------------------------


async def test_a_killed_engine_is_replaced_and_the_numbers_arrive(make_app):
    app = make_app(engine_factory=ProcessEngine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
        seen = record_notifications(app)
        first = app.engine
        os.kill(first.pid, signal.SIGKILL)  # as the out-of-memory killer does
        await wait_until(pilot, lambda: pid_gone(first.pid))

        await recompute_and_wait(pilot, settings=Settings(batch_index=1))
        assert app.session.problem is None
        report = app.session.report
        expected = expected_report(batch_index=1)
        assert report.batch_index == 1 and report.inputs == expected.inputs and report.targets == expected.targets
        assert report.loss_manual == pytest.approx(expected.loss_manual, rel=1e-5)

        assert seen == [(
            "warning", "computing process restarted",
            f"The computing process was {KILLED}. A new one is starting and will compute your numbers again.",
        )]
        assert app.engine is not first and isinstance(app.engine, ProcessEngine)
        assert not pid_gone(app.engine.pid)


async def test_cancelling_a_slow_computation_stops_its_process_and_starts_another(make_app):
    app = make_app(engine_factory=ProcessEngine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
        first = app.engine
        generation = app.recompute(settings=Settings(batch_size=8, context_length=256, stride=256))
        await wait_until(pilot, lambda: first.busy)
        app.cancel_computation(generation)  # what Escape on the computing form does
        await wait_until(pilot, lambda: pid_gone(first.pid))
        await wait_until(pilot, lambda: app.engine is not None and app.engine is not first)

        await recompute_and_wait(pilot, settings=Settings(batch_index=1))
        assert app.session.problem is None and app.session.report.batch_index == 1
        assert app.session.settings == Settings(batch_index=1)


# ----- fake engines: the app's side of it ---------------------------------------------------------------------


async def test_an_engine_that_dies_twice_on_one_request_is_reported_once_and_the_old_numbers_stay(make_app):
    engines = Engines(DiesOnBatchSizeThree)
    app = make_app(engine_factory=engines)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
        before = app.session.report
        seen = record_notifications(app)

        await recompute_and_wait(pilot, settings=Settings(batch_size=3))
        assert seen == [
            ("warning", "computing process restarted",
             f"The computing process was {KILLED}. A new one is starting and will compute your numbers again."),
            ("error", "cannot compute",
             f"the computing process stopped again on the same request: it was {KILLED}. "
             "A new one starts with your next change."),
        ]
        assert len(engines.made) == 2 and all(engine.closed for engine in engines.made)  # tried twice, no more
        assert app.engine is None
        assert app.session.report is before and app.session.settings == Settings()

        await recompute_and_wait(pilot, settings=Settings(batch_index=1))  # the next request: a fresh engine
        assert len(engines.made) == 3 and app.engine is engines.made[2]
        assert app.session.problem is None
        assert_numbers_close(app.session.report, expected_report(batch_index=1))
        assert len(seen) == 2


async def test_a_hung_engine_is_replaced_and_the_learner_told(make_app):
    engines = Engines(HangsOnBatchSizeThree)
    app = make_app(engine_factory=engines)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
        before = app.session.report
        seen = record_notifications(app)

        await recompute_and_wait(pilot, settings=Settings(batch_size=3))
        assert seen == [(
            "error", "cannot compute",
            "the computation took longer than 60 s, far longer than it should, so it was stopped; "
            "a new computing process is starting.",
        )]
        assert app.session.report is before and app.session.settings == Settings()
        assert len(engines.made) == 2 and engines.made[0].closed
        assert app.engine is engines.made[1] and not engines.made[1].closed  # started at once, ready to use


async def test_cancelling_a_computation_replaces_the_busy_engine(make_app):
    engines = Engines(StuckOnBatchSizeThree)
    app = make_app(engine_factory=engines)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.report is not None)
            before = app.session.report
            first = app.engine
            seen = record_notifications(app)

            generation = app.recompute(settings=Settings(batch_size=3))
            await wait_until(pilot, lambda: first.busy)
            app.cancel_computation(generation)  # what Escape on the computing form does
            await wait_until(pilot, lambda: app.engine is not None and app.engine is not first)
            assert first.closed
            assert not app.session.busy and app.session.report is before

            await recompute_and_wait(pilot, settings=Settings(batch_index=1))
            assert app.session.problem is None
            assert_numbers_close(app.session.report, expected_report(batch_index=1))
            assert engines.made == [first, app.engine]
            assert seen == []  # the learner cancelled: nothing to tell
    finally:
        for engine in engines.made:
            engine.close()


async def test_quitting_closes_the_engine_and_starts_no_other(make_app):
    engines = Engines(ClosableEngine)
    app = make_app(engine_factory=engines)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
    assert len(engines.made) == 1 and engines.made[0].closed
    assert app.engine is None


class RebuiltItsCache(CachedEngine):
    """Loading the model had something to say, once, as a child whose weight cache was damaged does."""

    def __init__(self):
        super().__init__()
        self.notices = ["loss-tutor: the cached weights could not be used (damaged), so they were rebuilt"]

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices


async def test_what_the_engine_said_while_loading_is_shown_once(make_app):
    app = make_app(engine_factory=RebuiltItsCache)
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await wait_until(pilot, lambda: app.session.report is not None)
        await recompute_and_wait(pilot, settings=Settings(batch_size=1))
        await pilot.pause()
        assert [entry for entry in seen if entry[1] == "loading the model"] == [(
            "warning", "loading the model",
            "loss-tutor: the cached weights could not be used (damaged), so they were rebuilt",
        )]


class DiesWhileIdle(ClosableEngine):
    """An engine whose process the test "kills" between computations."""

    def __init__(self):
        super().__init__()
        self.died_with: int | None = None

    @property
    def exit_code(self) -> int | None:
        return self.died_with


async def test_an_engine_that_dies_while_idle_is_replaced_at_once(make_app):
    engines = Engines(DiesWhileIdle)
    app = make_app(engine_factory=engines)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.report is not None)
        seen = record_notifications(app)
        engines.made[0].died_with = -signal.SIGKILL

        await wait_until(pilot, lambda: len(engines.made) == 2 and app.engine is engines.made[1])
        assert engines.made[0].closed and not engines.made[1].closed
        assert seen == [("warning", "computing process restarted", f"The computing process was {KILLED}. A new one is starting.")]
