"""The workshop's one engine for the room (tutor/engine/shared_*.py): sessions' requests answered in turn over
a Unix socket, places in the queue, a newer request replacing a queued one, sessions that leave, bad input,
and the engine process itself (supervised, restarted, stopped, never outliving `serve`).

Most tests run the server on a thread of this process with a stand-in for the model whose every computation
waits until the test lets it finish, so that orders are exact and nothing waits on a forward pass. The tests
at the end run the real engine process with the real model (a warm weight cache, as everywhere)."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from report_fixture import DEFAULT_REPORT_PATH, assert_reports_close, default_request, load_fixture

import tutor
from tutor.core.lessons import LessonSet
from tutor.core.protocol import (
    MAX_REQUEST_BYTES,
    SHARED_ENGINE_ENV,
    EngineClosed,
    EngineDied,
    EngineError,
    EngineTimedOut,
    LearnerError,
    Request,
    RequestSuperseded,
)
from tutor.core.report import Report
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.engine.answer_cache import AnswerCache
from tutor.engine.entry import ENGINE_NICENESS, entry_command
from tutor.engine.shared_client import SharedEngine
from tutor.engine.shared_server import EXIT_CRASHED, EXIT_REFUSED, EXIT_TIMED_OUT, SharedServer, listen_in
from tutor.engine.shared_status import (
    STATUS_QUERY,
    Computing,
    EngineStatus,
    EngineStatusUnavailable,
    ask_engine_status,
    read_status_answer,
)
from tutor.engine.shared_supervisor import EngineSupervisor, _end
from tutor.engine.shared_wire import SOCKET_NAME, UnsafeSocketFolder, read_message
from tutor.lm.weights import cache_dir
from tutor.workshop.dashboard_facts import FactsReader, QueuePlace, SessionCopy

LIVENESS_S = 30.0  # how long a test waits for something that should happen at once before calling it stuck
ENGINE_START_S = 180.0  # the real engine imports torch and loads the model: slow on a busy machine
SAFE_POINT_EVERY_S = 0.005  # how often a held computation passes a safe point
FIXTURE_REPORT: Report = load_fixture(DEFAULT_REPORT_PATH)[1]


def ask_for(source: str, **settings: int) -> Request:
    return Request(text=sample_text(), settings=Settings(**settings), source=source)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = LIVENESS_S) -> None:
    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.005)


class HeldModel:
    """Stands in for the model: notes each request it starts and returns the committed report (with the
    request's source, to tell answers apart) once the test lets that computation finish. Until then it
    passes the engine's checkpoint again and again, as the real model does before each transformer block: a
    computation the engine abandons stops there, and is noted."""

    def __init__(self) -> None:
        self.started: queue.Queue[str] = queue.Queue()
        self.abandoned: queue.Queue[str] = queue.Queue()
        self._turns = threading.Semaphore(0)

    def compute(self, request: Request, checkpoint: Callable[[], None], work=None) -> Report:
        self.started.put(request.source)
        give_up = time.monotonic() + LIVENESS_S
        while not self._turns.acquire(timeout=SAFE_POINT_EVERY_S):
            try:
                checkpoint()
            except BaseException:
                self.abandoned.put(request.source)
                raise
            if time.monotonic() > give_up:
                raise RuntimeError("the test never let this computation finish")
        return replace(FIXTURE_REPORT, source=request.source)

    def next_abandoned(self) -> str:
        return self.abandoned.get(timeout=LIVENESS_S)

    def let_finish(self, count: int = 1) -> None:
        for _ in range(count):
            self._turns.release()

    def next_started(self) -> str:
        return self.started.get(timeout=LIVENESS_S)

    def nothing_started(self) -> bool:
        return self.started.empty()


class RoomOnAThread:
    """A `SharedServer` running on its own event loop, on a thread of this process."""

    def __init__(self, folder: Path, **options) -> None:
        self.log: list[str] = []
        self.server = SharedServer(listen_in(folder), log=self.log.append, **options)
        self.loop = asyncio.new_event_loop()
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.exit_code = self.loop.run_until_complete(self.server.run())
        finally:
            self.loop.close()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.server.stop)
            self.thread.join(LIVENESS_S)
        assert not self.thread.is_alive()


class Client:
    """A `SharedEngine` and the places in the queue it has been told."""

    def __init__(self, folder: Path, **options) -> None:
        self.places: list[int] = []
        self.engine = SharedEngine(folder, on_queued=self.places.append, **options)

    def ask(self, request: Request) -> Asking:
        return Asking(self.engine, request)

    def wait_for_place(self, place: int) -> None:
        wait_for(lambda: self.places[-1:] == [place], f"place {place} in the queue (told {self.places})")


class Asking:
    """One `compute` on a thread of its own."""

    def __init__(self, engine: SharedEngine, request: Request) -> None:
        self._outcome: list = []
        self._thread = threading.Thread(target=self._compute, args=(engine, request), daemon=True)
        self._thread.start()

    def _compute(self, engine: SharedEngine, request: Request) -> None:
        try:
            self._outcome.append(engine.compute(request))
        except Exception as error:
            self._outcome.append(error)

    def outcome(self, timeout_s: float = LIVENESS_S) -> Report | Exception:
        self._thread.join(timeout_s)
        assert self._outcome, f"no answer within {timeout_s:g} s"
        return self._outcome[0]

    def source(self) -> str:
        outcome = self.outcome()
        assert isinstance(outcome, Report), outcome
        return outcome.source


@pytest.fixture
def folder() -> Iterator[Path]:
    """A private folder for the socket, with a short path (a Unix socket's path has at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="lt-engine-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def model() -> Iterator[HeldModel]:
    held = HeldModel()
    yield held
    held.let_finish(100)  # nothing is left waiting when the test ends, whatever happened


@pytest.fixture
def room(folder, model) -> Iterator[RoomOnAThread]:
    running = RoomOnAThread(folder, compute=model.compute, load=lambda: None)
    yield running
    running.stop()


def raw_connection(folder: Path) -> tuple[socket.socket, object]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(LIVENESS_S)
    sock.connect(str(folder / SOCKET_NAME))
    return sock, sock.makefile("rb")


def next_message(stream) -> dict:
    line = stream.readline()
    assert line, "the engine closed the connection"
    return read_message(line)


# ----- taking turns -----------------------------------------------------------------------------------------


def test_two_sessions_are_both_answered(folder, room, model):
    first, second = Client(folder), Client(folder)
    asked = [first.ask(ask_for("first")), second.ask(ask_for("second"))]
    model.let_finish(2)
    assert sorted(asking.source() for asking in asked) == ["first", "second"]
    assert asked[0].outcome() == replace(FIXTURE_REPORT, source="first")  # the whole report, unpickled


def test_a_request_answered_before_is_answered_again_without_computing(folder, room, model):
    """Thirty participants joining all ask for the sample story at the default settings: computed once."""
    first, second = Client(folder), Client(folder)
    asked = first.ask(ask_for("the sample story"))
    assert model.next_started() == "the sample story"
    model.let_finish()
    assert asked.outcome() == replace(FIXTURE_REPORT, source="the sample story")
    assert second.ask(ask_for("the sample story")).outcome() == replace(FIXTURE_REPORT, source="the sample story")
    assert model.nothing_started()
    other = second.ask(ask_for("the sample story", batch_size=3))  # other settings: computed
    assert model.next_started() == "the sample story"
    model.let_finish()
    assert not isinstance(other.outcome(), Exception)


def test_the_answer_cache_keeps_the_most_recent_answers_within_its_budget():
    cache = AnswerCache(max_answers=2, max_bytes=10)
    cache.put(b"a", ({}, b"1234"))
    cache.put(b"b", ({}, b"1234"))
    assert cache.get(b"a") == ({}, b"1234")  # now the most recently used
    cache.put(b"c", ({}, b"1234"))  # over two answers: b, the least recently used, goes
    assert (cache.get(b"a"), cache.get(b"b"), len(cache)) == (({}, b"1234"), None, 2)
    cache.put(b"d", ({}, b"12345678"))  # over ten bytes: the oldest go until it fits
    assert (cache.get(b"a"), cache.get(b"c"), cache.get(b"d")) == (None, None, ({}, b"12345678"))
    cache.put(b"e", ({}, b"12345678901"))  # bigger than the whole budget: not kept
    assert cache.get(b"e") is None and len(cache) == 1


def test_three_sessions_take_turns_and_are_told_their_places(folder, room, model):
    holder, *clients = (Client(folder) for _ in range(4))
    a, b, c = clients
    holding = holder.ask(ask_for("x"))
    assert model.next_started() == "x"
    asked = {}
    for place, (name, client) in enumerate(zip("abc", clients), start=1):
        asked[f"{name}1"] = client.ask(ask_for(f"{name}1"))
        client.wait_for_place(place)
    model.let_finish()
    started = []
    for _ in range(6):
        source = model.next_started()
        started.append(source)
        client = clients["abc".index(source[0])]
        client.wait_for_place(0)  # told it is being computed
        model.let_finish()
        assert asked[source].source() == source
        if source.endswith("1"):  # it asks again once answered: to the back, behind the one still waiting
            asked[f"{source[0]}2"] = client.ask(ask_for(f"{source[0]}2"))
            client.wait_for_place(2)
    assert started == ["a1", "b1", "c1", "a2", "b2", "c2"]
    assert {name: asking.source() for name, asking in asked.items()} == {name: name for name in asked}
    assert holding.source() == "x"
    assert a.places == [1, 0, 2, 1, 0]
    assert b.places == [2, 1, 0, 2, 1, 0]
    assert c.places == [3, 2, 1, 0, 2, 1, 0]
    assert model.abandoned.empty()


def test_a_newer_request_replaces_the_queued_one_and_stops_the_one_being_computed(folder, room, model):
    holder, client, behind = Client(folder), Client(folder), Client(folder)
    holding = holder.ask(ask_for("x"))
    assert model.next_started() == "x"
    older = client.ask(ask_for("old"))
    client.wait_for_place(1)
    newer = client.ask(ask_for("new"))
    assert isinstance(older.outcome(), RequestSuperseded)
    model.let_finish()
    assert model.next_started() == "new"  # "old" is never computed
    waiting = behind.ask(ask_for("behind"))
    behind.wait_for_place(1)
    newest = client.ask(ask_for("newest"))  # while "new" is computed: nobody wants it any more
    assert model.next_abandoned() == "new"
    superseded = newer.outcome()
    assert isinstance(superseded, RequestSuperseded) and "a newer request replaced it" in str(superseded)
    assert model.next_started() == "behind"  # the newest waits its turn, behind whoever was waiting
    model.let_finish()
    assert model.next_started() == "newest"
    model.let_finish()
    assert [holding.source(), waiting.source(), newest.source()] == ["x", "behind", "newest"]
    assert model.nothing_started() and model.abandoned.empty()


def test_a_session_leaving_in_the_middle_of_its_computation_holds_up_nobody(folder, room, model):
    leaving, staying = Client(folder), Client(folder)
    left = leaving.ask(ask_for("leaving"))
    assert model.next_started() == "leaving"
    waiting = staying.ask(ask_for("staying"))
    staying.wait_for_place(1)
    queued_then_dropped = Client(folder)
    dropped = queued_then_dropped.ask(ask_for("dropped"))
    queued_then_dropped.wait_for_place(2)
    leaving.engine.close()
    queued_then_dropped.engine.close()
    assert isinstance(left.outcome(), EngineClosed)
    assert isinstance(dropped.outcome(), EngineClosed)
    assert model.next_abandoned() == "leaving"  # stopped at its next safe point, never finished
    assert model.next_started() == "staying"  # the one that left the queue is never computed
    status = ask_engine_status(folder)
    assert status.computing is not None and status.waiting == () and status.answered == 0
    model.let_finish()
    assert waiting.source() == "staying"
    again = Client(folder).ask(ask_for("again"))
    model.let_finish()
    assert again.source() == "again"
    assert model.next_started() == "again" and model.nothing_started()


def test_cancelling_the_request_being_computed_frees_the_engine_for_the_next_session(folder, room, model):
    """Escape on the form that asked for (8, 256): the room's engine moves on to the next session's request,
    and the cancelled request is never answered with a report."""
    cancelling, other = Client(folder), Client(folder)
    big = cancelling.ask(ask_for("big", batch_size=8, context_length=256, stride=256))
    assert model.next_started() == "big"
    small = other.ask(ask_for("small"))
    other.wait_for_place(1)
    cancelling.engine.cancel()
    assert model.next_abandoned() == "big"
    cancelled = big.outcome()
    assert isinstance(cancelled, RequestSuperseded) and "its session cancelled it" in str(cancelled)
    assert model.next_started() == "small"
    status = ask_engine_status(folder)
    assert status.computing is not None and status.waiting == () and status.answered == 0
    model.let_finish()
    assert small.source() == "small"
    again = cancelling.ask(ask_for("again"))  # the connection stays, for the next request
    assert model.next_started() == "again"
    model.let_finish()
    assert again.source() == "again"
    assert model.nothing_started() and model.abandoned.empty()
    assert ask_engine_status(folder).answered == 2


def test_cancelling_a_queued_request_takes_it_out_of_the_queue(folder, room, model):
    holder, cancelling, behind = Client(folder), Client(folder), Client(folder)
    holding = holder.ask(ask_for("x"))
    assert model.next_started() == "x"
    queued = cancelling.ask(ask_for("queued"))
    cancelling.wait_for_place(1)
    waiting = behind.ask(ask_for("behind"))
    behind.wait_for_place(2)
    cancelling.engine.cancel()
    assert isinstance(queued.outcome(), RequestSuperseded)
    behind.wait_for_place(1)  # moved up
    model.let_finish(2)
    assert [holding.source(), waiting.source()] == ["x", "behind"]
    assert model.next_started() == "behind" and model.nothing_started() and model.abandoned.empty()


def test_a_cancel_line_is_counted_and_one_naming_no_waiting_request_changes_nothing(folder, room, model):
    sock, stream = raw_connection(folder)
    with sock:
        sock.sendall(b'{"cancel": 7}\n' + ask_for("kept").to_json())  # line 1 names nothing waiting
        assert next_message(stream) == {"request": 2, "queued": 1}
        assert next_message(stream) == {"request": 2, "computing": True}
        sock.sendall(b'{"cancel": 1}\n')  # not the one being computed
        model.let_finish()
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (2, "ok")
        assert stream.read(answer["bytes"])
        sock.sendall(b'{"cancel": true}\n')  # not a cancel line, and not a request
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (4, "failed")
    assert model.abandoned.empty()


def test_the_engine_computes_the_same_numbers_after_abandoning_a_computation(folder):
    """The real model, stopped in the middle of its forward pass (at its sixth safe point, before the fifth
    transformer block): the model is left as it was, and the next request's numbers are a fresh engine's."""
    import torch

    from tutor.engine.shared_server import computing_model
    from tutor.lm.walkthrough import default_model

    in_the_forward_pass: queue.Queue[bool] = queue.Queue()

    def compute(request: Request, checkpoint: Callable[[], None], work=None) -> Report:
        if request.source != "abandoned":
            return computing_model(request, checkpoint)
        safe_points = 0

        def held_at_the_sixth(checkpoint=checkpoint) -> None:
            nonlocal safe_points
            safe_points += 1
            if safe_points == 6:
                in_the_forward_pass.put(torch.is_grad_enabled())
                while True:  # until the engine abandons it
                    checkpoint()
                    time.sleep(SAFE_POINT_EVERY_S)
            checkpoint()

        return computing_model(request, held_at_the_sixth)

    room = RoomOnAThread(folder, compute=compute, load=lambda: None, time_budget=lambda request: ENGINE_START_S)
    try:
        client = Client(folder)
        fresh = client.engine.compute(default_request())
        abandoned = client.ask(replace(default_request(), source="abandoned"))
        assert in_the_forward_pass.get(timeout=ENGINE_START_S) is False  # under torch.no_grad, inside the model
        client.engine.cancel()
        assert isinstance(abandoned.outcome(), RequestSuperseded)
        model = default_model()
        assert not model.training and torch.is_grad_enabled()
        assert not any(module._forward_pre_hooks for module in model.modules())
        after = client.engine.compute(replace(default_request(), source="after"))  # computed, not remembered
        assert after == replace(fresh, source="after")
        assert ask_engine_status(folder).answered == 2
    finally:
        room.stop()


def test_a_closed_engine_says_so_and_computes_no_more(folder, room, model):
    client = Client(folder)
    client.engine.close()
    with pytest.raises(EngineClosed):
        client.engine.compute(ask_for("late"))
    assert model.nothing_started()


# ----- what sessions send ------------------------------------------------------------------------------------


def test_settings_over_the_limit_on_positions_are_refused_at_once(folder, room, model, monkeypatch):
    monkeypatch.setenv("LOSS_TUTOR_MAX_POSITIONS", "64")
    client = Client(folder)
    with pytest.raises(LearnerError, match=r"8 × 16 = 128 positions, over the limit of 64"):
        client.engine.compute(ask_for("big", batch_size=8, context_length=16, stride=16))
    assert model.nothing_started() and client.places == []  # never queued
    fitting = client.ask(ask_for("fits", batch_size=4, context_length=16, stride=16))
    model.let_finish()
    assert fitting.source() == "fits"


def test_a_line_that_is_not_a_request_is_answered_and_the_connection_stays_usable(folder, room, model):
    sock, stream = raw_connection(folder)
    with sock:
        sock.sendall(b'{"text": "hi", "settings": {}, "source": 1}\n')
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (1, "failed")
        assert "could not be read" in answer["message"]
        out_of_range = json.loads(ask_for("out of range").to_json())
        out_of_range["settings"]["batch_size"] = 0
        sock.sendall(json.dumps(out_of_range).encode() + b"\n")
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (2, "learner")  # at once, never queued
        assert "batch size" in answer["message"]
        sock.sendall(b"x" * (MAX_REQUEST_BYTES + 10) + b"\n")  # too long, and not even JSON
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (3, "failed")
        assert f"longer than {MAX_REQUEST_BYTES:,} bytes" in answer["message"]
        sock.sendall(ask_for("fine").to_json())
        assert next_message(stream) == {"request": 4, "queued": 1}
        assert next_message(stream) == {"request": 4, "computing": True}
        model.let_finish()
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (4, "ok")
        assert stream.read(answer["bytes"])


@pytest.mark.parametrize(
    "garbage", [b"\x80\x05not json at all\n", b"cposix\nsystem\n", b"[" * 100_000 + b"\n", b'{"text": \xff}\n'],
    ids=["binary", "text pickle", "nested too deep", "not UTF-8"],
)
def test_garbage_is_answered_and_the_connection_closed(folder, room, model, garbage):
    sock, stream = raw_connection(folder)
    with sock:
        sock.sendall(garbage)
        answer = next_message(stream)
        assert (answer["request"], answer["status"]) == (1, "failed")
        assert stream.readline() == b""  # closed
    other = Client(folder).ask(ask_for("other"))
    model.let_finish()
    assert other.source() == "other"


def test_a_computation_past_its_budget_stops_the_engine_and_says_why(folder, model):
    room = RoomOnAThread(folder, compute=model.compute, load=lambda: None, time_budget=lambda request: 0.3)
    try:
        overrunning, waiting = Client(folder), Client(folder)
        hung = overrunning.ask(ask_for("hung"))
        assert model.next_started() == "hung"
        behind = waiting.ask(ask_for("behind"))
        timed_out = hung.outcome()
        assert isinstance(timed_out, EngineTimedOut) and "took longer than 0 s" in str(timed_out)
        assert isinstance(behind.outcome(), EngineDied)  # the supervisor starts another engine
        room.thread.join(LIVENESS_S)
        assert room.exit_code == EXIT_TIMED_OUT
    finally:
        model.let_finish()
        room.stop()


def test_a_fault_in_the_engine_itself_is_logged_and_stops_it(folder, model):
    room = RoomOnAThread(folder, compute=model.compute, load=lambda: None, time_budget=lambda request: 1 / 0)
    try:
        assert isinstance(Client(folder).ask(ask_for("any")).outcome(), EngineDied)
        room.thread.join(LIVENESS_S)
        assert room.exit_code == EXIT_CRASHED
        assert any(line.startswith("stopping on an unexpected ZeroDivisionError") for line in room.log), room.log
    finally:
        room.stop()


def test_sessions_that_waited_for_the_model_to_load_hear_what_loading_said(folder, model):
    loading = threading.Event()

    def load() -> None:
        loading.wait(LIVENESS_S)
        print("the weight cache was rebuilt", file=sys.stderr)

    room = RoomOnAThread(folder, compute=model.compute, load=load)
    try:
        early = Client(folder)
        first = early.ask(ask_for("first"))
        early.wait_for_place(1)
        loading.set()
        model.let_finish(3)
        assert first.source() == "first"
        assert early.engine.take_notices() == ["the weight cache was rebuilt"]
        assert early.engine.compute(ask_for("second")).source == "second"
        assert early.engine.take_notices() == []
        late = Client(folder)
        assert late.engine.compute(ask_for("late")).source == "late"
        assert late.engine.take_notices() == []
        assert "the weight cache was rebuilt" in room.log
    finally:
        room.stop()


# ----- the socket's folder ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701, 0o300])
def test_a_socket_folder_others_could_enter_is_refused_by_both_sides(folder, mode):
    folder.chmod(mode)
    try:
        with pytest.raises(UnsafeSocketFolder, match=f"mode {mode:04o}"):
            listen_in(folder)
        client = SharedEngine(folder, connect_budget_s=1.0)
        with pytest.raises(EngineError, match="cannot be reached safely"):
            client.compute(ask_for("x"))
    finally:
        folder.chmod(0o700)


def test_a_link_is_not_a_socket_folder(folder, tmp_path):
    link = Path(tempfile.mkdtemp(prefix="lt-link-")) / "engine"
    try:
        link.symlink_to(folder)
        with pytest.raises(UnsafeSocketFolder, match="is not a folder"):
            listen_in(link)
    finally:
        shutil.rmtree(link.parent)


def test_a_session_waits_for_an_engine_that_is_starting_and_gives_up_in_the_end(folder, model):
    client = Client(folder, connect_budget_s=LIVENESS_S)
    asked = client.ask(ask_for("early"))  # no engine yet
    time.sleep(0.3)
    room = RoomOnAThread(folder, compute=model.compute, load=lambda: None)
    try:
        model.let_finish()
        assert asked.source() == "early"
    finally:
        room.stop()
    started = time.monotonic()
    with pytest.raises(EngineError, match="did not answer within 0 s"):
        SharedEngine(folder, connect_budget_s=0.2).compute(ask_for("nobody there"))
    assert time.monotonic() - started < 5


# ----- what the engine says of itself (the instructor's dashboard) -------------------------------------------


class Clock:
    """The engine's monotonic clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# A participant's app, as far as the engine sees it: a process leading its own process group, asking once.
ASKS_ONCE = r"""
import sys
from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.engine.shared_client import SharedEngine
print(SharedEngine(sys.argv[1]).compute(Request(sample_text(), Settings(), sys.argv[2])).source, flush=True)
"""


@dataclass
class RoomsEngine:
    """The engine as the dashboard sees it (tutor/workshop/dashboard_facts.py EngineView), asking a real one."""

    folder: Path
    pid: int = os.getpid()
    restarts: int = 0
    refused: str | None = None

    def status(self) -> EngineStatus:
        return ask_engine_status(self.folder)


def test_the_engine_says_whose_requests_wait_whose_is_computed_and_how_long_computing_took(folder, model, tmp_path):
    clock = Clock(100.0)
    room = RoomOnAThread(folder, compute=model.compute, load=lambda: None, clock=clock)
    participant = None
    try:
        wait_for(lambda: ask_engine_status(folder).loaded, "the model loaded")
        assert ask_engine_status(folder) == EngineStatus(
            loaded=True, waiting=(), computing=None, last_compute_s=None, answered=0, from_cache=0
        )
        participant = subprocess.Popen([sys.executable, "-c", ASKS_ONCE, str(folder), "theirs"],
                                       stdout=subprocess.PIPE, start_new_session=True)
        assert model.next_started() == "theirs"
        mine = Client(folder)
        asked = mine.ask(ask_for("mine"))
        mine.wait_for_place(1)
        clock.now = 102.5
        status = ask_engine_status(folder)
        assert status.waiting == (os.getpid(),)  # each connection's process, as the kernel says
        assert status.computing == Computing(participant.pid, 2.5)
        assert (status.last_compute_s, status.answered) == (None, 0)

        # the dashboard finds each process's session by its process group
        reader = FactsReader(tmp_path, LessonSet(()), RoomsEngine(folder), memory_of=lambda pid: None)
        facts = reader.read([
            SessionCopy(1, "ada", "192.0.2.7", 60.0, 1.0, group=os.getpgrp()),
            SessionCopy(2, "grace", "192.0.2.8", 60.0, 1.0, group=participant.pid),  # it leads its group
            SessionCopy(3, "alan", "192.0.2.9", 60.0, 1.0, group=None),
        ])
        assert [row.queue for row in facts.sessions] == [QueuePlace(place=1), QueuePlace(computing=True), QueuePlace()]
        assert facts.engine.computing_for == "grace (session 2)"

        model.let_finish()
        assert participant.stdout.readline() == b"theirs\n" and participant.wait(LIVENESS_S) == 0
        assert model.next_started() == "mine"
        status = ask_engine_status(folder)
        assert status.computing == Computing(os.getpid(), 0.0) and status.waiting == ()
        assert (status.last_compute_s, status.answered, status.from_cache) == (2.5, 1, 0)
        clock.now = 103.25
        model.let_finish()
        assert asked.source() == "mine"
        again = Client(folder).ask(ask_for("mine"))  # answered from the recent answers, not computed
        assert again.source() == "mine" and model.nothing_started()
        assert ask_engine_status(folder) == EngineStatus(
            loaded=True, waiting=(), computing=None, last_compute_s=0.75, answered=3, from_cache=1
        )
    finally:
        if participant is not None:
            participant.kill()
            participant.wait(LIVENESS_S)
        room.stop()


def test_the_status_query_is_a_line_of_its_own_kind_and_nothing_like_it_is_taken_for_it(folder, room, model):
    sock, stream = raw_connection(folder)
    with sock:
        sock.sendall(STATUS_QUERY)
        assert read_status_answer(stream.readline()).waiting == ()
        for near_miss in (b'{"query": "queue"}\n', b'{"query": "status", "text": ""}\n', b'{"query": ["status"]}\n'):
            sock.sendall(near_miss)
            answer = next_message(stream)
            assert answer["status"] == "failed" and "could not be read" in answer["message"]
        sock.sendall(ask_for("after").to_json())  # the lines are counted as ever: this is the fifth
        assert next_message(stream) == {"request": 5, "queued": 1}
        assert next_message(stream) == {"request": 5, "computing": True}
        sock.sendall(b'{"query":"status"}\n')  # as JSON, spaced or not
        answer = json.loads(stream.readline())
        assert answer["request"] == 6 and answer["engine"]["computing"]["pid"] == os.getpid()
        model.let_finish()
        assert next_message(stream)["status"] == "ok"


@pytest.mark.parametrize("answer, why", [
    ({"request": 2, "engine": {}}, "not the answer"),
    ({"request": 1, "engine": {"loaded": True}}, "exactly the fields"),
    ({"request": 1, "engine": {"loaded": 1, "waiting": [], "computing": None, "last_compute_s": None,
                               "answered": 0, "from_cache": 0}}, "loaded is true or false"),
    ({"request": 1, "engine": {"loaded": True, "waiting": [0], "computing": None, "last_compute_s": None,
                               "answered": 0, "from_cache": 0}}, "process ids"),
    ({"request": 1, "engine": {"loaded": True, "waiting": [], "computing": {"pid": 5, "for_s": -1},
                               "last_compute_s": None, "answered": 0, "from_cache": 0}}, "a process id and a time"),
    ({"request": 1, "engine": {"loaded": True, "waiting": [], "computing": None, "last_compute_s": None,
                               "answered": True, "from_cache": 0}}, "counts"),
])
def test_a_status_answer_is_read_strictly(answer, why):
    with pytest.raises(ValueError, match=why):
        read_status_answer(json.dumps(answer).encode())
    with pytest.raises(ValueError):
        read_status_answer(b'{"request": 1, "engine": {"loaded": true, "waiting": [], "computing": null, '
                           b'"last_compute_s": NaN, "answered": 0, "from_cache": 0}}')
    status = EngineStatus(True, (7, None), Computing(None, 1.5), 0.25, 4, 2)
    assert read_status_answer(json.dumps({"request": 1, "engine": status.to_data()}).encode()) == status


def test_an_engine_that_is_not_there_or_does_not_answer_says_so_in_time(folder):
    with pytest.raises(EngineStatusUnavailable, match="it is not listening"):
        ask_engine_status(folder)
    silent = listen_in(folder)  # the kernel accepts the connection; nobody answers
    try:
        with pytest.raises(EngineStatusUnavailable, match="it did not answer within 0.2 s"):
            ask_engine_status(folder, timeout_s=0.2)
    finally:
        silent.close()
    folder.chmod(0o755)
    try:
        with pytest.raises(EngineStatusUnavailable, match="cannot be reached safely"):
            ask_engine_status(folder)
    finally:
        folder.chmod(0o700)


# ----- the real engine process -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_room() -> Iterator[tuple[EngineSupervisor, list[str]]]:
    """The real engine, supervised, with the limit on positions lowered to (8, 64) for the room."""
    log: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="lt-room-"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOSS_TUTOR_CACHE_DIR", str(cache_dir()))
        supervisor = EngineSupervisor(folder, log=log.append, max_positions=512)
        supervisor.start()
        try:
            assert supervisor.wait_until_listening(LIVENESS_S), log
            yield supervisor, log
        finally:
            supervisor.stop()
            shutil.rmtree(folder, ignore_errors=True)


def test_the_real_engine_answers_two_sessions_and_refuses_what_is_over_the_room_limit(real_room):
    supervisor, log = real_room
    first, second = Client(supervisor.socket_folder), Client(supervisor.socket_folder)
    asked = [first.ask(default_request()), second.ask(default_request())]
    for asking in asked:
        outcome = asking.outcome(ENGINE_START_S)
        assert isinstance(outcome, Report), outcome
        assert_reports_close(outcome, FIXTURE_REPORT)
    assert any(line.startswith("engine: model loaded in") for line in log)
    with pytest.raises(LearnerError, match=r"over the limit of 512, as set for this tutor"):
        first.engine.compute(ask_for("too big", batch_size=8, context_length=128, stride=128))


def test_the_supervisor_asks_the_running_engine_for_its_status(real_room):
    supervisor, _ = real_room
    client = Client(supervisor.socket_folder)
    for _ in range(2):
        assert isinstance(client.engine.compute(default_request()), Report)
    status = supervisor.status()
    assert status.loaded and status.waiting == () and status.computing is None
    assert status.last_compute_s is not None and status.answered >= 2 and status.from_cache >= 1


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_the_real_engine_never_unpickles_what_a_session_sends(real_room, protocol):
    supervisor, _ = real_room
    marker = Path(tempfile.mkdtemp(prefix="lt-pickle-")) / "unpickled"

    class MakesAFolderWhenUnpickled:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    payload = pickle.dumps(MakesAFolderWhenUnpickled(), protocol=protocol)
    try:
        sock, stream = raw_connection(supervisor.socket_folder)
        with sock:
            sock.sendall(payload + b"\n")
            answer = next_message(stream)
            assert (answer["request"], answer["status"]) == (1, "failed")
            assert stream.readline() == b""  # not this protocol: the connection is closed
        assert not marker.exists()
        pickle.loads(payload)  # the payload does what it says when unpickled
        assert marker.is_dir()
    finally:
        shutil.rmtree(marker.parent)


def test_a_killed_engine_fails_its_sessions_requests_and_the_supervisor_starts_another(real_room):
    supervisor, log = real_room
    pid = supervisor.pid
    computing, waiting = Client(supervisor.socket_folder), Client(supervisor.socket_folder)
    assert isinstance(computing.engine.compute(default_request()), Report)  # the model is loaded
    # It computes below the sessions' priority, so that their interfaces stay smooth while it trains.
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(os.getpriority(os.PRIO_PROCESS, 0) + ENGINE_NICENESS, 19)
    slow = computing.ask(ask_for("slow", batch_size=8, context_length=64, stride=64))
    computing.wait_for_place(0)
    behind = waiting.ask(default_request())
    waiting.wait_for_place(1)
    os.kill(pid, signal.SIGKILL)
    for asking in (slow, behind):
        died = asking.outcome()
        assert isinstance(died, EngineDied) and died.returncode is None, died
    wait_for(lambda: supervisor.restarts == 1 and supervisor.pid not in (None, pid), "a new engine")
    assert any("the shared engine was killed by signal 9 (SIGKILL)" in line and "starting another" in line
               for line in log), log
    again = computing.engine.compute(default_request())  # the same engine reconnects
    assert_reports_close(again, FIXTURE_REPORT)
    assert isinstance(Client(supervisor.socket_folder).engine.compute(default_request()), Report)


def test_stopping_the_supervisor_ends_the_engine(real_room):
    supervisor, _ = real_room
    pid = supervisor.pid
    supervisor.stop()
    assert supervisor.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (supervisor.socket_folder / SOCKET_NAME).exists()


def test_a_supervisor_with_an_unsafe_folder_reports_it_and_starts_nothing(folder):
    folder.chmod(0o755)
    log: list[str] = []
    supervisor = EngineSupervisor(folder, log=log.append)
    supervisor.start()
    try:
        assert not supervisor.wait_until_listening(LIVENESS_S)
        assert supervisor.refused is not None
        assert any("has mode 0755; it must be 0700" in line for line in log), log
        assert supervisor.restarts == 0 and supervisor.pid is None
    finally:
        supervisor.stop()
        folder.chmod(0o700)


# The supervisor in a process of its own, which the test kills: its engine must not outlive it.
SUPERVISING = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tutor.engine.shared_supervisor import EngineSupervisor
supervisor = EngineSupervisor(Path(sys.argv[2]), log=lambda line: print(line, flush=True))
supervisor.start()
print("engine", supervisor.pid, flush=True)
time.sleep(600)
"""


def test_the_engine_ends_when_serve_is_killed(folder):
    project = str(Path(tutor.__file__).resolve().parent.parent)
    serving = subprocess.Popen(
        [sys.executable, "-I", "-c", SUPERVISING, project, str(folder)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "LOSS_TUTOR_CACHE_DIR": str(cache_dir())},
    )
    try:
        engine_pid = int(serving.stdout.readline().split()[1])
        for line in serving.stdout:  # its lifeline is watched once the model has loaded
            if line.startswith("engine: model loaded"):
                break
        serving.kill()
        serving.wait(LIVENESS_S)
        wait_for(lambda: not _alive(engine_pid), "the engine ending with serve")
    finally:
        serving.kill()
        serving.wait(LIVENESS_S)


def test_an_engine_that_ignores_sigterm_is_killed_after_the_grace_period():
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                 "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    assert stubborn.stdout.readline() == b"ready\n"
    started = time.monotonic()
    _end(stubborn, grace_s=0.3)
    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_the_engine_is_started_from_this_tutor_and_nothing_in_the_folder_or_path(tmp_path, monkeypatch):
    """`entry_command` from a folder (and a PYTHONPATH) holding look-alikes of the tutor's modules: none is
    imported. The engine is given a folder that does not exist, so it stops before loading the model."""
    poisoned, markers = tmp_path / "poisoned", tmp_path / "markers"
    (poisoned / "tutor" / "engine").mkdir(parents=True)
    markers.mkdir()
    for module, path in {
        "sitecustomize": "sitecustomize.py",
        "tutor": "tutor/__init__.py",
        "tutor.engine": "tutor/engine/__init__.py",
        "tutor.engine.shared_server": "tutor/engine/shared_server.py",
        "json": "json.py",
    }.items():
        (poisoned / path).write_text(f"open({str(markers / module)!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.chdir(poisoned)
    monkeypatch.setenv("PYTHONPATH", f"{poisoned}{os.pathsep}")
    command = entry_command("tutor.engine.shared_server", "--socket-folder", str(tmp_path / "missing"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=LIVENESS_S)
    assert result.returncode == EXIT_REFUSED
    assert "engine: cannot start:" in result.stderr and "missing" in result.stderr
    assert sorted(os.listdir(markers)) == []


def test_the_entry_runs_only_the_tutors_own_modules():
    result = subprocess.run(entry_command("os", "x"), capture_output=True, text=True, timeout=LIVENESS_S)
    assert result.returncode == 1 and "not one of the tutor's modules: os" in result.stderr


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


# ----- a participant's app on the room's engine --------------------------------------------------------


async def test_a_participants_app_computes_on_the_rooms_engine_and_shows_its_place_in_the_queue(
    room, model, folder, monkeypatch
):
    """What `loss-tutor serve` starts for a participant: the app, its engine the room's, told by the
    environment. While another participant's request is computed, this one's place is on screen."""
    from tutor.cli import build_app, build_parser

    other = SharedEngine(folder)
    threading.Thread(target=lambda: other.compute(ask_for("another participant")), daemon=True).start()
    assert model.next_started() == "another participant"
    monkeypatch.setenv(SHARED_ENGINE_ENV, str(folder))
    app = build_app(build_parser().parse_args([]))
    assert isinstance(app.engine, SharedEngine)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(int(LIVENESS_S / 0.01)):
                await pilot.pause(0.01)
                if app.session.queue_place == 1:
                    break
            assert app.sub_title == "waiting for the shared model: place 1 in the queue…"
            engine = app.engine
            app.recompute(settings=Settings(batch_size=3))  # replaces the queued request, keeping its place
            for _ in range(int(LIVENESS_S / 0.01)):
                await pilot.pause(0.01)
                if app.session.queue_place == 1:
                    break
            assert app.session.queue_place == 1 and app.engine is engine  # the connection was kept
            model.let_finish()  # the other participant's: now this one is computed
            assert model.next_started() == app.session.source
            for _ in range(int(LIVENESS_S / 0.01)):
                await pilot.pause(0.01)
                if app.session.queue_place == 0:
                    break
            assert app.sub_title == "the shared model is computing your numbers…"  # not "loading the model"
            model.let_finish()
            for _ in range(int(LIVENESS_S / 0.01)):
                await pilot.pause(0.01)
                if app.session.report is not None:
                    break
            assert app.session.report is not None and app.session.queue_place is None
            assert app.sub_title == app.session.source
    finally:
        other.close()


async def test_a_participant_cancelling_a_computation_frees_the_rooms_engine_and_keeps_the_connection(
    room, model, folder, monkeypatch
):
    """Escape on the form computing (8, 256): the room's engine stops it and takes the next participant's
    request; the participant's app keeps its connection for its next request."""
    from tutor.cli import build_app, build_parser

    async def until(pilot, condition: Callable[[], bool]) -> None:
        for _ in range(int(LIVENESS_S / 0.01)):
            if condition():
                return
            await pilot.pause(0.01)
        raise AssertionError("not within the liveness bound")

    monkeypatch.setenv(SHARED_ENGINE_ENV, str(folder))
    app = build_app(build_parser().parse_args([]))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: not model.started.empty())
        source = model.next_started()  # the numbers at start-up
        model.let_finish()
        await until(pilot, lambda: app.session.report is not None)
        engine = app.engine
        generation = app.recompute(settings=Settings(batch_size=8, context_length=256, stride=256))
        await until(pilot, lambda: app.session.queue_place == 0)
        assert model.next_started() == source
        other = Client(folder)
        waiting = other.ask(ask_for("another participant"))
        other.wait_for_place(1)
        app.cancel_computation(generation)  # what Escape on the computing form does
        await until(pilot, lambda: not model.abandoned.empty())
        assert model.next_abandoned() == source
        assert model.next_started() == "another participant"
        model.let_finish()
        assert waiting.source() == "another participant"
        await until(pilot, lambda: not app.session.busy)
        assert app.engine is engine and app.session.settings == Settings()  # the connection and what was in force stay


def test_the_room_trains_generates_and_offers_the_instructors_files_per_session(folder, monkeypatch, tmp_path):
    """Jobs travel over the socket like reports: each session's overfitting is its own, a generation streams in
    slices, the instructor's weights file is offered to all, the run on the text is off unless allowed, and no
    session can open a file on the server."""
    import functools

    from tiny_gpt import tiny_gpt

    import tutor.engine.shared_server as shared_server
    from tutor.core.answers import GenerationProgress, ModelMenu, OverfitProgress
    from tutor.core.jobs import TRAINED, GenerateJob, LoadWeightsJob, ModelsJob, OverfitJob, TextRunJob, file_choice
    from tutor.core.protocol import LearnerError
    from tutor.lm.weight_files import save_weights

    untrained = tiny_gpt(seed=0).requires_grad_(False)
    monkeypatch.setattr("tutor.lm.engine_work.default_model", lambda: untrained)
    monkeypatch.setattr("tutor.lm.compute.warm_up", lambda: None)
    monkeypatch.setattr(shared_server, "_models", None)
    save_weights(tiny_gpt(seed=1, emb_dim=8), tmp_path / "room.safetensors")
    load = functools.partial(shared_server.loading_model, {"room.safetensors": tmp_path / "room.safetensors"})
    room = RoomOnAThread(folder, load=load)
    try:
        first, second = Client(folder), Client(folder)
        base = Request(text=sample_text(), settings=Settings(), source="sample story")

        def ask(client: Client, **changes):
            return client.ask(Request(**{**base.__dict__, **changes})).outcome()

        menu = ask(first, job=ModelsJob())
        assert isinstance(menu, ModelMenu) and not menu.may_open_files and not menu.may_train_on_text
        assert [option.choice for option in menu.options] == ["untrained", file_choice("room.safetensors")]
        overfit = ask(first, job=OverfitJob(steps=2, restart=True))
        assert isinstance(overfit, OverfitProgress) and overfit.report.model.choice == TRAINED
        assert ask(first, model=TRAINED).model.choice == TRAINED
        refused = ask(second, model=TRAINED)  # the other session has trained nothing
        assert isinstance(refused, LearnerError) and "no model has been trained" in str(refused)
        assert ask(second, model=file_choice("room.safetensors")).model.n_layers == 1
        generated = ask(second, job=GenerateJob(restart=True, prompt="Every effort", max_new_tokens=3))
        assert isinstance(generated, GenerationProgress) and generated.token_count >= 1
        for job in (LoadWeightsJob(path=str(tmp_path / "room.safetensors")), TextRunJob(restart=True)):
            outcome = ask(second, job=job)
            assert isinstance(outcome, LearnerError), outcome
    finally:
        room.stop()
