"""The instructor's dashboard of `loss-tutor serve` (tutor/workshop/dashboard*.py): the sessions, where the room
is, the engine and the log, read from a fake server, progress files in tmp_path and a fake engine; disconnecting;
stopping; and `loss-tutor serve` itself showing it in a terminal and stopping cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyte
import pytest
from textual.widgets import Log
from textual.widgets._footer import FooterKey

from tutor.core.lessons import LessonSet, load_lessons
from tutor.core.progress import Progress, ProgressStore
from tutor.core.room_notice import RoomNotice, read_room_notice
from tutor.engine.shared_status import Computing, EngineStatus, EngineStatusUnavailable
from tutor.workshop.command import wants_dashboard
from tutor.workshop.dashboard import INSTRUCTOR_FAREWELL, WorkshopDashboard, run_dashboard
from tutor.workshop.dashboard_confirm import ConfirmScreen
from tutor.workshop.dashboard_engine import EngineLine, engine_words, queue_words
from tutor.workshop.dashboard_facts import (
    EngineFacts,
    FactsReader,
    Memory,
    QueuePlace,
    SessionCopy,
    process_group,
    process_memory,
    read_progress,
    room_picture,
)
from tutor.workshop.dashboard_log import ServeLog
from tutor.workshop.dashboard_message import EMPTY_REFUSED, MessageScreen
from tutor.workshop.dashboard_room import RoomTable, number_ranges
from tutor.workshop.dashboard_screen import essential_join_words
from tutor.workshop.dashboard_sessions import SessionTable, ordinal, queue_cell
from tutor.workshop.dashboard_suggest import SuggestScreen
from tutor.workshop.options import NoAuth, ServeOptions
from tutor.workshop.pty_session import PtySession, group_members
from tutor.workshop.room_board import RoomBoard, room_notice_path
from tutor.workshop.server import Session
from tutor.workshop.table_fit import ColumnFit, fit_columns

NOW = 1_700_000_000.0  # the dashboard's wall clock in these tests
MONOTONIC = 5_000.0  # and its monotonic one

FIRST = """---
id: first
title: "First [b]steps[/b]"
checks:
  - id: shape
    question: What shape?
    kind: shape
    answer: inputs_shape
  - id: count
    question: How many?
    kind: number
    answer: vocab_size
---
The first lesson.
"""
SECOND = """---
id: second
title: Second
checks:
  - id: loss
    question: Which loss?
    kind: number
    answer: loss_manual
---
The second lesson.
"""


@dataclass
class FakeSession:
    number: int
    name: str
    address: str = "192.0.2.7"
    connected_at: float = NOW - 125  # 2 min
    last_input: float = MONOTONIC - 4  # 4 s ago
    pty: FakePty | None = None
    farewells: list[str] = field(default_factory=list)

    def end(self, farewell: str) -> None:
        self.farewells.append(farewell)


@dataclass
class FakePty:
    group: int


@dataclass
class FakeServer:
    sessions: dict = field(default_factory=dict)

    def join(self, session) -> None:
        self.sessions[session.number] = session


IDLE_ENGINE = EngineStatus(loaded=True, waiting=(), computing=None, last_compute_s=None, answered=0, from_cache=0)


@dataclass
class FakeEngine:
    pid: int | None = 4242
    restarts: int = 0
    refused: str | None = None
    says: EngineStatus | str = IDLE_ENGINE  # a str: why it could not say

    def status(self) -> EngineStatus:
        if isinstance(self.says, str):
            raise EngineStatusUnavailable(self.says)
        return self.says


FIXED_MEMORY = Memory(rss_kb=800 * 1024, pss_kb=750 * 1024)


@pytest.fixture
def lessons(tmp_path) -> LessonSet:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "01-first.md").write_text(FIRST)
    (folder / "02-second.md").write_text(SECOND)
    loaded = load_lessons(folder)
    assert not loaded.problems and [lesson.id for lesson in loaded.lessons] == ["first", "second"]
    return loaded


@pytest.fixture
def participants(tmp_path) -> Path:
    return tmp_path / "participants"


def save_progress(
    participants: Path, name: str, lesson: str | None, checks: dict[str, bool] | None = None,
    first_tries: dict[str, bool] | None = None,
) -> None:
    """As the participant's app saves it."""
    progress = Progress(current_lesson=lesson, checks_answered=checks or {}, checks_first_try=first_tries or {})
    ProgressStore(participants / name / "progress.json").save(progress)


BANNER = "loss-tutor workshop server on 127.0.0.1 port 2222\nparticipants type:  ssh -p 2222 THEIR-NAME@127.0.0.1"


def make_dashboard(server, participants, lessons, engine=None, log=None, group_of=None) -> WorkshopDashboard:
    reader = FactsReader(participants, lessons, engine or FakeEngine(), memory_of=lambda pid: FIXED_MEMORY,
                         **({"group_of": group_of} if group_of else {}))
    board = RoomBoard(room_notice_path(participants.parent), clock=lambda: NOW)
    return WorkshopDashboard(
        server, reader, log or ServeLog(echo=False, stamp=lambda: "10:00:00"), board=board, banner=BANNER,
        max_sessions=40, now=lambda: NOW, monotonic=lambda: MONOTONIC,
    )


async def settle(pilot) -> None:
    """Until what the worker read is on screen."""
    for _ in range(200):
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.pause()


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


# ----- the facts, without Textual ---------------------------------------------------------------------------------


def test_the_room_counts_participants_per_lesson_and_answers_per_check(lessons):
    progress = {
        "ada": Progress(current_lesson="first", checks_answered={"first:shape": True, "first:count": False},
                        checks_first_try={"first:shape": True, "first:count": False}),
        # right at the second try: answered, and right, but not at once
        "grace": Progress(current_lesson="first", checks_answered={"first:shape": True},
                          checks_first_try={"first:shape": False}),
        "alan": Progress(current_lesson="second", checks_answered={"first:shape": True, "second:loss": True},
                         checks_first_try={"first:shape": True, "second:loss": True}),
        # saved before first tries were kept: answered, not known to be right at once
        "linus": Progress(current_lesson="second", checks_answered={"first:shape": True}),
        "edsger": Progress(current_lesson="gone", checks_answered={"gone:x": True}),
        "barbara": None,  # just joined: the app has saved nothing yet
    }
    counts = {count.lesson: count for count in room_picture(progress, lessons)}
    assert list(counts) == ["1 First [b]steps[/b]", "2 Second", "gone (not in the server's lessons)", "—"]
    first = counts["1 First [b]steps[/b]"]
    assert first.here == 2
    assert [(check.check_id, check.right_first_try, check.answered) for check in first.checks] == [
        ("shape", 2, 4), ("count", 0, 1),
    ]
    second = counts["2 Second"]
    assert second.here == 2 and [(check.right_first_try, check.answered) for check in second.checks] == [(1, 1)]
    assert counts["gone (not in the server's lessons)"].here == 1
    assert counts["—"].here == 1


def test_facts_read_each_name_once_and_the_engine(participants, lessons):
    save_progress(participants, "ada", "second", {"first:shape": True, "first:count": False, "old:check": True})
    engine = FakeEngine(pid=os.getpid(), restarts=2)
    reader = FactsReader(participants, lessons, engine)
    sessions = [SessionCopy(1, "ada", "a", 10.0, 1.0), SessionCopy(2, "ada", "b", 5.0, 2.0),
                SessionCopy(3, "grace", "c", 1.0, 1.0)]
    facts = reader.read(sessions)
    assert [(row.session.number, row.lesson, row.right, row.answered) for row in facts.sessions] == [
        (1, "2 Second", 1, 2), (2, "2 Second", 1, 2), (3, "—", 0, 0),  # a check of no lesson here is not counted
    ]
    assert [count.here for count in facts.lessons] == [0, 1, 1]  # ada once; grace has saved nothing
    assert facts.engine.pid == os.getpid() and facts.engine.restarts == 2
    assert facts.engine.memory is not None and facts.engine.memory.rss_kb >= facts.engine.memory.pss_kb > 0

    save_progress(participants, "ada", "first", {"first:shape": True})
    assert reader.read(sessions[:1]).sessions[0].lesson == "1 First [b]steps[/b]"  # read again once changed


def test_session_copy_takes_the_times_from_the_clocks():
    session = FakeSession(1, "ada", connected_at=NOW - 90, last_input=MONOTONIC - 7.5)
    assert SessionCopy.of(session, now=NOW, monotonic=MONOTONIC) == SessionCopy(1, "ada", "192.0.2.7", 90.0, 7.5)
    session.pty = FakePty(group=4321)  # its program has started
    assert SessionCopy.of(session, now=NOW, monotonic=MONOTONIC).group == 4321


# The engine's queue, by process: ada's app (group 101) is being computed for and waits again too, grace's has
# two connections waiting, alan's one; 3000 is a process of no session; edsger has nothing queued.
BUSY_ENGINE = EngineStatus(
    loaded=True, waiting=(2001, 1030, 3000, 1011, 1020), computing=Computing(1010, 3.25), last_compute_s=1.5,
    answered=57, from_cache=12,
)
GROUPS = {1010: 101, 1011: 101, 1020: 102, 2001: 102, 1030: 103, 3000: 999}
ROOM = [SessionCopy(1, "ada", "a", 60.0, 1.0, group=101), SessionCopy(2, "grace", "b", 60.0, 1.0, group=102),
        SessionCopy(3, "alan", "c", 60.0, 1.0, group=103), SessionCopy(4, "edsger", "d", 60.0, 1.0, group=104),
        SessionCopy(5, "barbara", "e", 1.0, 1.0, group=None)]


def test_each_session_is_found_in_the_engines_queue_by_its_process_group(participants, lessons):
    reader = FactsReader(participants, lessons, FakeEngine(says=BUSY_ENGINE), memory_of=lambda pid: FIXED_MEMORY,
                         group_of=GROUPS.get)
    facts = reader.read(ROOM)
    assert [row.queue for row in facts.sessions] == [
        QueuePlace(computing=True, place=4), QueuePlace(place=1), QueuePlace(place=2), QueuePlace(), QueuePlace(),
    ]
    assert facts.engine.status == BUSY_ENGINE and facts.engine.computing_for == "ada (session 1)"

    elsewhere = EngineStatus(True, (), Computing(3000, 0.5), None, 0, 0)
    reader.engine = FakeEngine(says=elsewhere)
    assert reader.read(ROOM).engine.computing_for == "process 3000 (not a session's)"
    reader.engine = FakeEngine(says="it did not answer within 1 s")
    facts = reader.read(ROOM)
    assert facts.engine.status is None and facts.engine.status_unavailable == "it did not answer within 1 s"
    assert {row.queue for row in facts.sessions} == {QueuePlace()}
    reader.engine = FakeEngine(pid=None, says=BUSY_ENGINE)  # being started again: not asked
    assert reader.read(ROOM).engine.status is None


def test_a_process_group_from_the_kernel():
    assert process_group(os.getpid()) == os.getpgrp()
    assert process_group(2**22 + 1) is None  # above Linux's largest pid: no such process


def test_queue_cells_say_computing_or_the_place():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]
    assert queue_cell(QueuePlace()) == ""
    assert queue_cell(QueuePlace(place=2)) == "2nd"
    assert queue_cell(QueuePlace(computing=True)) == "computing"
    assert queue_cell(QueuePlace(computing=True, place=3)) == "computing, 3rd"


def test_the_queue_line_says_who_waits_whose_request_is_computed_and_the_counts():
    running = EngineFacts(77, 0, None, FIXED_MEMORY, BUSY_ENGINE, None, "ada (session 1)")
    assert queue_words(running) == (
        "Queue: 5 waiting · computing for ada (session 1), 3.2 s so far · last took 1.5 s · "
        "57 answered, 12 from cache"
    )
    assert queue_words(EngineFacts(77, 0, None, None, IDLE_ENGINE)) == (
        "Queue: empty · idle · nothing computed yet · 0 answered, 0 from cache"
    )
    loading = EngineStatus(False, (1234,), None, None, 0, 0)
    assert queue_words(EngineFacts(77, 0, None, None, loading)).startswith("Queue: 1 waiting · loading the model · ")
    assert queue_words(EngineFacts(77, 0, None, None, None, "it is not\x1b[2J listening")) == (
        "Queue: unknown: it is not\\x1b[2J listening"
    )
    assert queue_words(EngineFacts(None, 1, None, None)) is None  # starting again: the engine line says so
    assert queue_words(EngineFacts(None, 0, "could not start", None)) is None


def test_a_broken_progress_file_counts_as_none_and_is_left_in_place(participants, lessons):
    path = participants / "ada" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "current_lesson": ')
    assert read_progress(path) is None
    assert path.read_text() == '{"version": 1, "current_lesson": '  # the participant's app sets it aside, not this
    assert read_progress(participants / "nobody" / "progress.json") is None


def test_process_memory_from_proc():
    memory = process_memory(os.getpid())
    assert memory is not None and memory.rss_kb >= memory.pss_kb > 0
    assert process_memory(2**22 + 1) is None  # above Linux's largest pid: no such process


def test_the_engine_line_says_running_restarting_or_refused():
    running = EngineFacts(pid=77, restarts=1, refused=None, memory=FIXED_MEMORY)
    assert engine_words(running) == (
        "Engine: running, process 77 · restarted 1 time · memory 800 MB resident, 750 MB proportional (PSS)"
    )
    assert engine_words(EngineFacts(77, 0, None, None)).endswith("restarted 0 times · memory unknown")
    assert engine_words(EngineFacts(None, 3, None, None)) == (
        "Engine: starting again (it stopped: see the log) · restarted 3 times"
    )
    assert engine_words(EngineFacts(None, 0, "could not\x1b[2J start", None)) == (
        "Engine: stopped: could not\\x1b[2J start"
    )


def test_the_log_keeps_lines_prints_them_unless_told_not_to(capsys):
    log = ServeLog(stamp=lambda: "10:00:00", max_kept=2)
    log.write("one")
    log.echo = False
    log.write("two")
    log.write("three")
    assert capsys.readouterr().out == "10:00:00 one\n"
    assert log.since(0) == (["10:00:00 two", "10:00:00 three"], 3)  # the newest two are kept
    assert log.since(2) == (["10:00:00 three"], 3)
    assert log.since(3) == ([], 3)


def test_the_dashboard_only_in_a_terminal_and_not_headless(tmp_path):
    class Stream:
        def __init__(self, terminal: bool):
            self.terminal = terminal

        def isatty(self) -> bool:
            return self.terminal

    options = ServeOptions(state_dir=tmp_path, auth=NoAuth())
    terminals = (Stream(True), Stream(True), Stream(True))
    assert wants_dashboard(options, terminals)
    assert not wants_dashboard(ServeOptions(state_dir=tmp_path, auth=NoAuth(), headless=True), terminals)
    assert not wants_dashboard(options, (Stream(True), Stream(False), Stream(True)))  # stdout to a log file
    assert not wants_dashboard(options, (None, Stream(True), Stream(True)))


# ----- the dashboard --------------------------------------------------------------------------------------------


async def test_the_table_shows_each_session(participants, lessons):
    server = FakeServer()
    server.join(FakeSession(1, "ada"))
    server.join(FakeSession(2, "grace", connected_at=NOW - 3 * 3600 - 300, last_input=MONOTONIC - 61))
    save_progress(participants, "ada", "second", {"first:shape": True, "first:count": False, "second:loss": True})
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        assert table.keys == ["1", "2"]
        assert table.cells("1") == ["1", "ada", "192.0.2.7", "2 min", "4 s ago", "2 / 3", "", "2 Second"]
        assert table.cells("2") == ["2", "grace", "192.0.2.7", "3 h 05 min", "1 min ago", "0 / 0", "", "—"]
        assert table.border_title == "Sessions: 2 of 40"

        server.sessions.pop(1)  # ada leaves, alan joins, grace moves on
        server.join(FakeSession(3, "alan"))
        save_progress(participants, "grace", "first")
        app.screen.refresh_facts()
        await settle(pilot)
        assert table.keys == ["2", "3"]
        assert table.cells("2")[-1] == "1 First [b]steps[/b]"  # a title is text, never markup
        assert table.border_title == "Sessions: 2 of 40"


@pytest.mark.parametrize("width, side_by_side", [(120, False), (160, False), (200, True)])
async def test_the_tables_stand_side_by_side_only_on_a_wide_terminal(participants, lessons, width, side_by_side):
    app = make_dashboard(FakeServer(), participants, lessons)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot)
        sessions, room = app.screen.query_one(SessionTable).region, app.screen.query_one(RoomTable).region
        assert (room.x > sessions.right - 1 and room.y == sessions.y) is side_by_side
        assert (room.y >= sessions.bottom and room.x == sessions.x) is not side_by_side


async def test_the_room_table_shows_the_counts_per_lesson_and_per_check(participants, lessons):
    server = FakeServer()
    for number, name in enumerate(["ada", "grace", "alan"], 1):
        server.join(FakeSession(number, name))
    save_progress(participants, "ada", "first", {"first:shape": True}, {"first:shape": True})
    save_progress(participants, "grace", "first", {"first:shape": True, "first:count": True},
                  {"first:shape": False, "first:count": True})
    save_progress(participants, "alan", "\x1b[31m[red]odd", {"first:shape": True}, {"first:shape": True})
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        room = app.screen.query_one(RoomTable)
        assert [room.cells(key) for key in room.keys] == [
            ["1 First [b]steps[/b]", "2", ""],
            ["└ check shape", "", "2 / 3"],  # grace was right at the second try
            ["└ check count", "", "1 / 1"],
            ["\\x1b[31m[red]odd (not in the server's lessons)", "1", ""],  # escaped, not read as markup
            ["no one here, no answers: 2", "0", ""],  # lesson 2, on one line
        ]
        sessions = app.screen.query_one(SessionTable)
        assert sessions.cells("3")[-1] == "\\x1b[31m[red]odd (not in the server's lessons)"


async def test_the_engine_line_and_the_log_pane(participants, lessons):
    engine = FakeEngine(pid=4242, restarts=1)
    log = ServeLog(echo=False, stamp=lambda: "10:00:00")
    log.write("ada joined from 192.0.2.7 (1 of 40 sessions)")
    app = make_dashboard(FakeServer(), participants, lessons, engine=engine, log=log)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        line = app.screen.query_one(EngineLine)
        assert line.content.plain == (
            "Engine: running, process 4242 · restarted 1 time · memory 800 MB resident, 750 MB proportional (PSS)\n"
            "Queue: empty · idle · nothing computed yet · 0 answered, 0 from cache"
        )
        pane = app.screen.query_one(Log)
        assert pane.lines == ["10:00:00 ada joined from 192.0.2.7 (1 of 40 sessions)"]

        engine.pid = None  # it died; the supervisor starts another
        log.write("engine: \x1b[2Jstopping")
        app.screen.refresh_facts()
        await settle(pilot)
        assert line.content.plain == "Engine: starting again (it stopped: see the log) · restarted 1 time"
        assert line.region.height == 2  # the queue line's room is kept: the tables below do not move
        assert pane.lines[-1] == "10:00:00 engine: \\x1b[2Jstopping"
        assert len(pane.lines) == 2  # each line once


async def test_the_sessions_table_and_the_engine_pane_show_the_engines_queue(participants, lessons):
    server = FakeServer()
    for session in ROOM[:4]:
        server.join(FakeSession(session.number, session.name, pty=FakePty(session.group)))
    engine = FakeEngine(says=BUSY_ENGINE)
    app = make_dashboard(server, participants, lessons, engine=engine)
    app.reader = FactsReader(participants, lessons, engine, memory_of=lambda pid: FIXED_MEMORY, group_of=GROUPS.get)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        assert [table.cells(key)[6] for key in table.keys] == ["computing, 4th", "1st", "2nd", ""]
        line = app.screen.query_one(EngineLine)
        assert line.content.plain.splitlines()[1].startswith("Queue: 5 waiting · computing for ada (session 1), ")

        engine.says = "it did not answer within 1 s"  # a restarting or stuck engine: the rest goes on
        app.screen.refresh_facts()
        await settle(pilot)
        assert [table.cells(key)[6] for key in table.keys] == ["", "", "", ""]
        assert line.content.plain.splitlines()[1] == "Queue: unknown: it did not answer within 1 s"


async def test_d_asks_first_then_disconnects_the_session_under_the_cursor(participants, lessons):
    server = FakeServer()
    server.join(ada := FakeSession(1, "ada"))
    server.join(grace := FakeSession(2, "grace"))
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "down", "d")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Disconnect grace (session 2, from 192.0.2.7)?"
        await press(pilot, "n")
        assert not isinstance(app.screen, ConfirmScreen) and grace.farewells == []
        await press(pilot, "d", "y")
        assert grace.farewells == [INSTRUCTOR_FAREWELL] and ada.farewells == []


async def test_a_real_session_is_ended_with_the_instructors_farewell(participants, lessons):
    server = FakeServer()
    server.join(session := Session(1, "ada", "127.0.0.1"))
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "d", "y")
        assert session.farewell.done() and session.farewell.result() == INSTRUCTOR_FAREWELL


async def test_the_palette_disconnects_a_session_too(participants, lessons):
    server = FakeServer()
    server.join(ada := FakeSession(1, "ada"))
    server.join(grace := FakeSession(2, "grace"))
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await pilot.press(*"grace")
        await pilot.pause(0.3)
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.question.startswith("Disconnect grace")
        await press(pilot, "y")
        assert grace.farewells == [INSTRUCTOR_FAREWELL] and ada.farewells == []


async def test_a_session_that_left_while_asked_about_is_not_ended(participants, lessons):
    server = FakeServer()
    server.join(ada := FakeSession(1, "ada"))
    app = make_dashboard(server, participants, lessons)
    notices = []
    app.notify = lambda message, **options: notices.append(message)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "d")
        server.sessions.clear()
        await press(pilot, "y")
        assert ada.farewells == [] and notices == ["ada has left already."]
        await press(pilot, "d")  # nobody under the cursor any more
        assert not isinstance(app.screen, ConfirmScreen)


async def test_q_stops_at_once_with_nobody_connected(participants, lessons):
    app = make_dashboard(FakeServer(), participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_stopping_with_sessions_open_asks_first(participants, lessons, key):
    server = FakeServer()
    server.join(FakeSession(1, "ada"))
    server.join(FakeSession(2, "grace"))
    app = make_dashboard(server, participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, key)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.consequence == "2 sessions will end; every participant's progress is saved."
        await press(pilot, "escape")
        assert app.return_code is None and not isinstance(app.screen, ConfirmScreen)
        await press(pilot, key, "y")
    assert app.return_code == 0


async def test_the_servers_stop_closes_the_dashboard_and_the_log_is_printed_again(participants, lessons, capsys):
    log = ServeLog(stamp=lambda: "10:00:00")
    app = make_dashboard(FakeServer(), participants, lessons, log=log)
    stop = asyncio.Event()
    showing = asyncio.create_task(run_dashboard(app, stop, headless=True))
    for _ in range(200):
        if app.is_running and app.screen_stack and app.screen.query(SessionTable):
            break
        await asyncio.sleep(0.02)
    log.write("while it shows")  # not printed: the dashboard draws there
    stop.set()
    assert await asyncio.wait_for(showing, 10) is True
    log.write("after it")
    assert capsys.readouterr().out == "10:00:00 after it\n"


async def test_the_servers_stop_closes_the_dashboard_at_any_moment(participants, lessons):
    """Even while it is still mounting (a widget of Textual's own raised then: the dashboard has no Header)."""
    for delay in (0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.2):
        server = FakeServer()
        server.join(FakeSession(1, "ada"))
        app = make_dashboard(server, participants, lessons)
        stop = asyncio.Event()
        showing = asyncio.create_task(run_dashboard(app, stop, headless=True))
        await asyncio.sleep(delay)
        stop.set()
        assert await asyncio.wait_for(showing, 10) is True, f"stopped after {delay} s"


async def test_a_slow_read_is_not_piled_upon(participants, lessons):
    release, reads = threading.Event(), []

    class SlowReader(FactsReader):
        def read(self, sessions):
            reads.append(len(sessions))
            release.wait(10)
            return super().read(sessions)

    app = make_dashboard(FakeServer(), participants, lessons)
    app.reader = SlowReader(participants, lessons, FakeEngine(), memory_of=lambda pid: FIXED_MEMORY)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        for _ in range(3):
            app.screen.refresh_facts()
        await pilot.pause(0.1)
        assert reads == [0]  # the first read still runs: no second thread on the same reader
        release.set()
        await settle(pilot)
        app.screen.refresh_facts()
        await settle(pilot)
        assert len(reads) >= 2


async def test_a_dashboard_that_fails_lets_the_server_go_on_with_its_log(participants, lessons):
    class BrokenReader(FactsReader):
        def read(self, sessions):
            raise RuntimeError("a bug")

    log = ServeLog(echo=False, stamp=lambda: "10:00:00")
    app = make_dashboard(FakeServer(), participants, lessons, log=log)
    app.reader = BrokenReader(participants, lessons, FakeEngine())
    assert await asyncio.wait_for(run_dashboard(app, asyncio.Event(), headless=True), 10) is False
    assert log.echo  # printed again


# ----- the room's notice: a message to everyone, a lesson to follow ---------------------------------------------


def record_notices(app) -> list[tuple[str, str, str]]:
    """Every notification the dashboard raises from now on, as (severity, title, message)."""
    seen = []
    app.notify = lambda message, title="", severity="information", **options: seen.append((severity, title, message))
    return seen


async def test_m_sends_every_participant_a_message_and_an_empty_one_is_refused(participants, lessons):
    server = FakeServer()
    server.join(FakeSession(1, "ada"))
    server.join(FakeSession(2, "grace"))
    app = make_dashboard(server, participants, lessons)
    notices = record_notices(app)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "m")
        assert isinstance(app.screen, MessageScreen)
        await press(pilot, "space", "enter")
        assert isinstance(app.screen, MessageScreen)  # nothing to send
        assert app.screen.query_one("#message-problem").content == EMPTY_REFUSED
        await pilot.press(*"Back at 14:00")
        await press(pilot, "enter")
        assert not isinstance(app.screen, MessageScreen)
        assert read_room_notice(app.board.path) == RoomNotice(1, "Back at 14:00", None, NOW)
        assert notices == [("information", "Sent to everyone", "message: Back at 14:00 (2 sessions connected)")]
        app.screen.refresh_facts()
        await settle(pilot)
        logged = app.screen.query_one(Log).lines[-1]
        assert logged == "10:00:00 to everyone (2 sessions connected): message: Back at 14:00"

        await press(pilot, "m")
        await pilot.press(*"never mind")
        await press(pilot, "escape")
        assert not isinstance(app.screen, MessageScreen)
        assert read_room_notice(app.board.path).id == 1  # nothing sent


async def test_l_suggests_a_lesson_chosen_from_the_servers_lessons(participants, lessons):
    app = make_dashboard(FakeServer(), participants, lessons)
    notices = record_notices(app)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "l")
        assert isinstance(app.screen, SuggestScreen)
        options = app.screen.query_one("#suggest-lessons")
        assert [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)] == [
            "1 First [b]steps[/b]", "2 Second",  # a title is text, never markup
        ]
        assert options.highlighted == 0
        await press(pilot, "down", "enter")
        assert not isinstance(app.screen, SuggestScreen)
        assert read_room_notice(app.board.path) == RoomNotice(1, None, "second", NOW)
        assert notices == [("information", "Sent to everyone", "follow me to lesson 2: Second (0 sessions connected)")]

        await press(pilot, "l")
        assert app.screen.query_one("#suggest-lessons").highlighted == 1  # the one after the last, or the last
        await press(pilot, "escape")
        assert not isinstance(app.screen, SuggestScreen)
        assert read_room_notice(app.board.path).id == 1


@pytest.mark.parametrize("command, screen", [("Message everyone", MessageScreen), ("Suggest a lesson", SuggestScreen)])
async def test_the_palette_offers_both_room_actions(participants, lessons, command, screen):
    app = make_dashboard(FakeServer(), participants, lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await pilot.press(*command)
        await pilot.pause(0.3)
        await press(pilot, "enter")
        assert isinstance(app.screen, screen)


async def test_a_notice_that_cannot_be_written_is_said_and_logged(participants, lessons):
    app = make_dashboard(FakeServer(), participants, lessons)
    app.board.path.parent.parent.mkdir(parents=True, exist_ok=True)
    app.board.path.parent.write_text("a file where the room's folder goes")
    notices = record_notices(app)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "m")
        await pilot.press(*"hello")
        await press(pilot, "enter")
        [(severity, title, message)] = notices
        assert (severity, title) == ("error", "not sent") and message.startswith("could not use the folder")
        assert app.server_log.since(0)[0][-1].startswith("10:00:00 could not send the notice: could not use the folder")


async def test_with_no_lessons_none_is_offered(participants, tmp_path):
    (tmp_path / "empty").mkdir()
    app = make_dashboard(FakeServer(), participants, load_lessons(tmp_path / "empty"))
    notices = record_notices(app)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "l")
        assert not isinstance(app.screen, SuggestScreen)
        assert notices == [("warning", "", "There are no lessons to suggest: the server has loaded none.")]


# ----- fitting the terminal ---------------------------------------------------------------------------------------

LONG_TITLES = [
    "From text to loss, in one picture", "Text → token ids", "Windows — inputs and targets",
    "The model and its logits", "Softmax — from scores to probabilities", "Log p of each target",
    "Mean and negate — the cross-entropy loss", "Perplexity — the loss as a number of choices",
    "Recap — per token, per window, per batch", "Bug lab — five ways to get the loss wrong",
]
PERPLEXITY = "8 Perplexity — the loss as a number of choices"  # lesson l7, as the dashboard names it


@pytest.fixture
def ten_lessons(tmp_path) -> LessonSet:
    """The workshop's ten lessons, as long as their titles are, each with two checks."""
    folder = tmp_path / "ten-lessons"
    folder.mkdir()
    for index, title in enumerate(LONG_TITLES):
        checks = "".join(
            f"  - id: c{index}{check}\n    question: How many?\n    kind: number\n    answer: vocab_size\n"
            for check in "ab"
        )
        lesson = f'---\nid: l{index}\ntitle: "{title}"\nchecks:\n{checks}---\nText.\n'
        (folder / f"{index:02d}-l{index}.md").write_text(lesson)
    loaded = load_lessons(folder)
    assert not loaded.problems and len(loaded.lessons) == 10
    return loaded


def five_in_the_room(participants: Path) -> FakeServer:
    """Five participants on lessons 1, 3 and 7 (shown numbers 2, 4, 8), the first lessons' checks answered."""
    server = FakeServer()
    for number, (name, on) in enumerate([("ada", 7), ("grace", 3), ("alan", 1), ("linus", 7), ("barbara", 3)], 1):
        answered = {f"l{lesson}:c{lesson}{check}": True for lesson in range(min(on, 4)) for check in "ab"}
        save_progress(participants, name, f"l{on}", answered, answered)
        server.join(FakeSession(number, name, address="192.168.100.123", pty=FakePty(100 + number)))
    return server


def rows_in_view(table) -> int:
    return table.scrollable_content_region.height - table.header_height


def fits_its_width(table) -> bool:
    return not table.show_horizontal_scrollbar and table.virtual_size.width <= table.scrollable_content_region.width


async def test_at_80x24_the_sessions_come_first_and_every_pane_keeps_its_title(participants, ten_lessons):
    app = make_dashboard(five_in_the_room(participants), participants, ten_lessons)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        sessions, room, log = screen.query_one(SessionTable), screen.query_one(RoomTable), screen.query_one(Log)
        assert sessions.border_title == "Sessions: 5 of 40"
        assert rows_in_view(sessions) >= 5 and sessions.keys == ["1", "2", "3", "4", "5"]
        assert fits_its_width(sessions) and fits_its_width(room)
        assert sessions.shown_columns[:2] == ("number", "name") and sessions.shown_columns[-1] == "lesson"
        lesson = sessions.cells("1")[-1]
        assert len(lesson) >= 16 and lesson.endswith("…") and PERPLEXITY.startswith(lesson[:-1])
        # how to join on a line; every pane below with its frame (and so its title) and rows in view
        assert not screen.query_one("#banner").display
        short = screen.query_one("#banner-short")
        assert short.region.height == 1 and short.content.plain == "How to join: ssh -p 2222 THEIR-NAME@127.0.0.1"
        assert screen.query_one(EngineLine).region.height == 2
        assert sessions.region.y < room.region.y < log.region.y
        assert rows_in_view(room) >= 3 and log.scrollable_content_region.height >= 2
        assert room.border_title == "Where the room is" and log.border_title == "Server log"
        assert log.region.bottom <= 23  # above the footer
        # the room's picture: a line per lesson, the lessons someone is on first
        first = [room.cells(key)[:2] for key in room.keys[:3]]
        assert first[:2] == [["2 Text → token ids", "1"], ["4 The model and its logits", "2"]]
        assert first[2][0].startswith("8 Perplexity") and first[2][1] == "2"
        keys = {key.key: key for key in screen.query(FooterKey)}
        for key in "dmlq":
            assert keys[key].region.right <= 80 and keys[key].region.width == len(keys[key].description) + 4


async def test_at_120x36_the_tables_fit_and_the_room_is_in_view(participants, ten_lessons):
    app = make_dashboard(five_in_the_room(participants), participants, ten_lessons)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        sessions, room = app.screen.query_one(SessionTable), app.screen.query_one(RoomTable)
        assert fits_its_width(sessions) and fits_its_width(room)
        assert sessions.shown_columns == ("number", "name", "address", "connected", "last_key", "checks", "queue",
                                          "lesson")
        lesson = sessions.cells("1")[-1]
        assert lesson.endswith("…") and PERPLEXITY.startswith(lesson[:-1])
        assert len(lesson) >= 30
        assert sessions.cells("3")[-1] == "2 Text → token ids"
        assert rows_in_view(sessions) >= 5
        assert len(room.keys) <= rows_in_view(room)  # the whole picture, without scrolling
        labels = [room.cells(key)[0] for key in room.keys]
        assert PERPLEXITY in labels
        assert labels[-1] == "no one here, no answers: 5–7, 9–10"


async def test_the_tables_fit_again_when_the_terminal_narrows(participants, ten_lessons):
    app = make_dashboard(five_in_the_room(participants), participants, ten_lessons)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        sessions = app.screen.query_one(SessionTable)
        assert sessions.cells("1")[-1] == PERPLEXITY
        sessions.move_cursor(row=3)
        assert app.screen.query(".-command-palette")  # its key in the footer while there is room
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not app.screen.query(".-command-palette")
        assert fits_its_width(sessions) and fits_its_width(app.screen.query_one(RoomTable))
        assert sessions.cells("1")[-1].endswith("…") and "address" not in sessions.shown_columns
        assert sessions.session_under_cursor == 4  # the instructor's place kept


async def test_the_log_pane_follows_new_lines_unless_scrolled_up(participants, lessons):
    log = ServeLog(echo=False, stamp=lambda: "10:00:00")
    for number in range(3):
        log.write(f"before the dashboard, line {number}")
    app = make_dashboard(FakeServer(), participants, lessons, log=log)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(Log)

        async def more(count: int, width: int = 40) -> str:
            for _ in range(count):
                log.write(f"line {len(pane.lines)} ".ljust(width, "x"))
                app.screen.refresh_facts()
                await settle(pilot)
            return pane.lines[-1]

        def newest_in_view() -> bool:
            return pane.scroll_offset.y + pane.scrollable_content_region.height == len(pane.lines)

        await more(20)
        await more(1, width=200)  # wider than the pane: its horizontal scrollbar comes, the newest stays in view
        await more(3)
        assert pane.max_scroll_y > 10 and newest_in_view()

        pane.scroll_to(y=2, animate=False)  # the instructor scrolls up to read: their place is kept
        await settle(pilot)
        await more(5)
        assert pane.scroll_offset.y == 2

        pane.scroll_end(animate=False)  # and back to the end: it follows again
        await settle(pilot)
        await more(5)
        assert newest_in_view()

        await pilot.resize_terminal(80, 24)  # a shorter pane: the newest line still in view
        await settle(pilot)
        assert newest_in_view()


def test_columns_fit_the_room_the_fill_column_cut_and_the_least_needed_left_out():
    natural = {"number": 1, "name": 5, "address": 15, "lesson": 40}
    order = ["number", "name", "address", "lesson"]
    assert fit_columns(natural, order, room=100, fill="lesson", droppable=["address"]) == ColumnFit(
        ("number", "name", "address", "lesson"), (1, 5, 15, 40))
    assert fit_columns(natural, order, room=50, fill="lesson", droppable=["address"]) == ColumnFit(
        ("number", "name", "address", "lesson"), (1, 5, 15, 21))  # 3 + 7 + 17 + 23 = 50
    assert fit_columns(natural, order, room=40, fill="lesson", droppable=["address"]) == ColumnFit(
        ("number", "name", "lesson"), (1, 5, 28))
    assert fit_columns(natural, order, room=10, fill="lesson", droppable=["address"]).widths[-1] == 1


def test_the_quiet_lessons_on_a_line_and_the_join_words():
    assert number_ranges([1, 3, 4, 5, 9, 10]) == "1, 3–5, 9–10"
    assert essential_join_words(BANNER) == "ssh -p 2222 THEIR-NAME@127.0.0.1"
    with_password = "server on x port 1\npassword: abc-def\nparticipants type:  ssh -p 1 THEIR-NAME@x\nstop"
    assert essential_join_words(with_password) == "password: abc-def · ssh -p 1 THEIR-NAME@x"


# ----- the picture ----------------------------------------------------------------------------------------------


def test_dashboard_snapshot_three_sessions(snap_compare, participants, lessons):
    """The whole dashboard at fixed times: how to join, a busy engine, three sessions (two in its queue), the
    room, the log."""
    save_progress(participants, "ada", "second", {"first:shape": True, "first:count": True, "second:loss": False},
                  first_tries={"first:shape": True, "first:count": False, "second:loss": False})
    save_progress(participants, "grace", "first", {"first:shape": False}, first_tries={"first:shape": False})
    server = FakeServer()
    server.join(FakeSession(1, "ada", connected_at=NOW - 1500, last_input=MONOTONIC - 2, pty=FakePty(101)))
    server.join(FakeSession(2, "grace", connected_at=NOW - 620, last_input=MONOTONIC - 75, pty=FakePty(102)))
    server.join(FakeSession(3, "alan", connected_at=NOW - 5, last_input=MONOTONIC - 5, pty=FakePty(103)))
    log = ServeLog(echo=False, stamp=lambda: "10:00:00")
    for line in ("ada joined from 192.0.2.7 (1 of 40 sessions)", "grace joined from 192.0.2.7 (2 of 40 sessions)",
                 "alan joined from 192.0.2.7 (3 of 40 sessions)"):
        log.write(line)
    engine = FakeEngine(restarts=1, says=BUSY_ENGINE)
    app = make_dashboard(server, participants, lessons, engine=engine, log=log, group_of=GROUPS.get)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def test_dashboard_snapshot_at_80x24(snap_compare, participants, ten_lessons):
    """A small terminal: how to join on a line, five sessions in view, the room a line per lesson (those someone is
    on first), a log that shows its newest lines, a footer with its four keys."""
    server = five_in_the_room(participants)
    log = ServeLog(echo=False, stamp=lambda: "10:00:00")
    for number, name in enumerate(["ada", "grace", "alan", "linus", "barbara"], 1):
        log.write(f"{name} joined from 192.168.100.123 ({number} of 40 sessions)")
    log.write("grace: wrong password from 192.168.100.124")
    engine = FakeEngine(restarts=1, says=BUSY_ENGINE)
    app = make_dashboard(server, participants, ten_lessons, engine=engine, log=log, group_of=GROUPS.get)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


# ----- `loss-tutor serve` in a terminal -------------------------------------------------------------------------

SERVE_IN_ITS_TERMINAL = (
    "import fcntl, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"  # so that closing the terminal hangs it up, as a dropped ssh does
    "from tutor.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class ServeInATerminal:
    """`loss-tutor serve` in a terminal of its own (80×24 would do; wider, so that the tables show whole)."""

    def __init__(self, pty: PtySession):
        self.pty = pty
        self.screen = pyte.Screen(120, 36)
        self.stream = pyte.ByteStream(self.screen)
        self.received = b""

    @classmethod
    async def start(cls, tmp_path: Path) -> ServeInATerminal:
        passed_on = ("PATH", "HOME", "LANG", "LOSS_TUTOR_CACHE_DIR", "XDG_CACHE_HOME")
        env = {name: os.environ[name] for name in passed_on if name in os.environ}
        env["TERM"] = "xterm-256color"
        command = [sys.executable, "-I", "-c", SERVE_IN_ITS_TERMINAL, "serve", "--port", "0", "--no-auth",
                   "--state-dir", str(tmp_path / "workshop")]
        return cls(await PtySession.start(command, env=env, cwd=tmp_path, size=(120, 36)))

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def read_until(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "not shown in time; the screen:\n" + self.text
            try:
                data = await asyncio.wait_for(self.pty.read(), 0.5)
            except asyncio.TimeoutError:
                continue
            if not data:
                return
            self.received += data
            self.stream.feed(data)

    async def exit_code(self, timeout: float = 60.0) -> int | None:
        """Once it has ended, reading what it draws meanwhile: a terminal nobody reads fills up, and the
        dashboard's last frames would then wait for room in it."""
        exited = asyncio.ensure_future(self.pty.wait())
        await self.read_until(exited.done, timeout)
        return await asyncio.wait_for(exited, timeout)

    def engine(self) -> int | None:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    command_line = Path(f"/proc/{entry}/cmdline").read_bytes()
                    parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError):
                    continue
                if parent == self.pty.pid and b"tutor.engine.shared_server" in command_line:
                    return int(entry)
        return None


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        await asyncio.sleep(0.1)


async def test_serve_shows_the_dashboard_and_q_stops_the_server_and_the_engine(tmp_path):
    serve = await ServeInATerminal.start(tmp_path)
    try:
        await serve.read_until(lambda: "Stop the server" in serve.text and "Engine: running" in serve.text)
        assert "How to join" in serve.text and "Sessions: 0 of 40" in serve.text and "--no-auth" in serve.text
        engine = serve.engine()
        assert engine is not None
        await serve.pty.write(b"q")
        assert await serve.exit_code() == 0
        await serve.read_until(lambda: b" stopped\r\n" in serve.received, timeout=10)
        # the terminal given back before the last lines of the log are printed on it
        received = serve.received
        assert received.rfind(b"\x1b[?1049l") > received.rfind(b"\x1b[?1049h") >= 0
        assert received.rfind(b"stopping: ending 0 session(s)") > received.rfind(b"\x1b[?1049l")
        await until(lambda: gone(engine), 20, "the engine ending with the server")
    finally:
        serve.pty.hang_up()
        await serve.pty.end(2.0)


@pytest.mark.parametrize("how", ["SIGTERM", "hang-up"])
async def test_serve_with_the_dashboard_stops_cleanly_on_a_signal(tmp_path, how):
    serve = await ServeInATerminal.start(tmp_path)
    try:
        await serve.read_until(lambda: "Stop the server" in serve.text and "Engine: running" in serve.text)
        engine = serve.engine()
        assert engine is not None
        if how == "SIGTERM":
            os.kill(serve.pty.pid, signal.SIGTERM)
            await serve.read_until(lambda: b" stopped\r\n" in serve.received)
            received = serve.received
            assert received.rfind(b"\x1b[?1049l") > received.rfind(b"\x1b[?1049h") >= 0  # the terminal given back
        else:
            serve.pty.hang_up()  # the instructor's ssh connection drops: SIGHUP, and a terminal that is gone
        assert await asyncio.wait_for(serve.pty.wait(), 60) == 0
        await until(lambda: gone(engine), 20, "the engine ending with the server")
        assert group_members(serve.pty.group) == []
    finally:
        serve.pty.hang_up()
        await serve.pty.end(2.0)
