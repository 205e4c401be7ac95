"""The instructor's dashboard: `loss-tutor serve` runs it in the instructor's terminal (unless --headless), in
the same event loop as the SSH server. Quitting it (q, ctrl+c) stops the server; so does the server's stop
signal, which closes it. Disconnecting a session asks first.

The instructor can also send every participant a message, or suggest a lesson for them to follow: the room's
notice (tutor/workshop/room_board.py), a file each participant's app reads about once a second. It is written in a
worker thread, as the event loop is the SSH server's too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from tutor.core.counting import shown_number
from tutor.core.formatting import counted, safe_to_draw
from tutor.core.lessons import load_lessons
from tutor.core.room_notice import RoomNotice
from tutor.workshop.dashboard_commands import SessionCommands
from tutor.workshop.dashboard_confirm import ConfirmScreen
from tutor.workshop.dashboard_facts import EngineView, FactsReader, SessionView
from tutor.workshop.dashboard_log import ServeLog
from tutor.workshop.dashboard_message import MessageScreen
from tutor.workshop.dashboard_screen import DashboardScreen
from tutor.workshop.dashboard_suggest import SuggestScreen
from tutor.workshop.options import ServeOptions
from tutor.workshop.room_board import RoomBoard, RoomBoardError
from tutor.workshop.server import WorkshopServer

INSTRUCTOR_FAREWELL = "The instructor has ended your session. Your progress is saved: connect again to resume."


class ServerView(Protocol):
    """What the dashboard needs of tutor/workshop/server.py's WorkshopServer."""

    @property
    def sessions(self) -> Mapping[int, SessionView]: ...


@dataclass
class NoticeSent(Message):
    notice: RoomNotice
    what: str  # what was sent, in words for the log


@dataclass
class NoticeNotSent(Message):
    reason: str


class WorkshopDashboard(App[None]):
    TITLE = "loss-tutor serve"
    CSS_PATH = "dashboard.tcss"
    COMMANDS = App.COMMANDS | {SessionCommands}
    BINDINGS = [
        Binding("q", "quit", "Stop the server", tooltip="End every session (asks first), then stop", id="stop"),
        Binding("ctrl+c", "quit", "Stop the server", show=False, priority=True),
    ]

    def __init__(
        self,
        server: ServerView,
        reader: FactsReader,
        log: ServeLog,
        *,
        board: RoomBoard,
        banner: str,
        max_sessions: int,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.server = server
        self.reader = reader
        self.server_log = log
        self.board = board
        self._suggested: int | None = None  # the index of the lesson last suggested
        self.banner = banner
        self.max_sessions = max_sessions
        self.now = now
        self.monotonic = monotonic

    def notify(self, message: str, *, title: str = "", markup: bool = False, **options: Any) -> None:
        """Notifications carry participants' names: plain text."""
        super().notify(safe_to_draw(str(message)), title=safe_to_draw(title), markup=markup, **options)

    def get_default_screen(self) -> Screen:
        return DashboardScreen()

    def ask_to_disconnect(self, number: int) -> None:
        session = self.server.sessions.get(number)
        if session is None:
            self.notify(f"Session {number} has ended already.")
            return
        name = safe_to_draw(session.name)

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if self.server.sessions.get(number) is not session:
                self.notify(f"{name} has left already.")
                return
            session.end(INSTRUCTOR_FAREWELL)
            self.notify(f"Disconnecting {name} (session {number}).")

        self.push_screen(ConfirmScreen(
            f"Disconnect {name} (session {number}, from {safe_to_draw(session.address)})?",
            "Their tutor closes and their progress is saved; they can connect again.",
        ), answered)

    # ----- the room's notice ------------------------------------------------------------------------------------

    def ask_for_message(self) -> None:
        """Ask what to tell every participant, then send it."""

        def answered(message: str | None) -> None:
            if message is not None:
                self._post_notice(lambda: self.board.send_message(message), f"message: {message}")

        self.push_screen(MessageScreen(), answered)

    def ask_for_lesson(self) -> None:
        """Ask which lesson to suggest to every participant, then suggest it."""
        lessons = self.reader.lessons
        if not lessons.lessons:
            self.notify("There are no lessons to suggest: the server has loaded none.", severity="warning")
            return

        def answered(lesson_id: str | None) -> None:
            index = lessons.index_of(lesson_id) if lesson_id is not None else None
            if index is None:
                return
            self._suggested = index
            what = f"follow me to lesson {shown_number(index)}: {lessons.lessons[index].title}"
            self._post_notice(lambda: self.board.suggest_lesson(lesson_id), what)

        after_the_last = self._suggested + 1 if self._suggested is not None else 0
        self.push_screen(SuggestScreen(lessons, highlighted=after_the_last), answered)

    @work(thread=True, group="room-notice")
    def _post_notice(self, post: Callable[[], RoomNotice], what: str) -> None:
        try:
            notice = post()
        except (RoomBoardError, ValueError) as error:
            self.post_message(NoticeNotSent(str(error)))
        else:
            self.post_message(NoticeSent(notice, what))

    def on_notice_sent(self, message: NoticeSent) -> None:
        connected = counted(len(self.server.sessions), "session")
        self.server_log.write(safe_to_draw(f"to everyone ({connected} connected): {message.what}"))
        self.notify(f"{message.what} ({connected} connected)", title="Sent to everyone", timeout=6)

    def on_notice_not_sent(self, message: NoticeNotSent) -> None:
        self.server_log.write(safe_to_draw(f"could not send the notice: {message.reason}"))
        self.notify(message.reason, title="not sent", severity="error", timeout=10)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Message everyone", "Show every participant a message (m)", self.ask_for_message)
        yield SystemCommand("Suggest a lesson", "Offer every participant to follow you to a lesson (l)",
                            self.ask_for_lesson)

    async def action_quit(self) -> None:
        """Stop the server: at once if nobody is connected, otherwise after asking."""
        if isinstance(self.screen, ConfirmScreen):
            return
        count = len(self.server.sessions)
        if count == 0:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(
            "Stop the workshop server?",
            f"{counted(count, 'session')} will end; every participant's progress is saved.",
        ), answered)


async def show_dashboard(
    server: WorkshopServer, engine: EngineView, options: ServeOptions, log: ServeLog, how_to_join: str,
    stop: asyncio.Event, board: RoomBoard,
) -> bool:
    """The dashboard of `loss-tutor serve`, until it is quit or `stop` is set. False if it failed: then the log
    says so, and printing it goes on. `board` writes the room's notice."""
    lessons = await asyncio.to_thread(load_lessons, options.lessons_dir)
    reader = FactsReader(options.participants_dir, lessons, engine)
    app = WorkshopDashboard(server, reader, log, board=board, banner=how_to_join, max_sessions=options.max_sessions)
    log.echo = False  # printed by serve if the dashboard fails; in its log pane, whole, as the short pane is not
    for line in how_to_join.splitlines():
        log.write(f"how to join: {line}")
    if await run_dashboard(app, stop):
        return True
    log.write("the dashboard has stopped; the server goes on, printing this log; ctrl+c stops it")
    return False


async def run_dashboard(app: WorkshopDashboard, stop: asyncio.Event, *, headless: bool = False) -> bool:
    """Show the dashboard in this terminal (nowhere if `headless`) until the instructor quits it or `stop` is
    set; meanwhile the log is not printed. False if the dashboard itself failed (Textual has printed why, or
    the log says): the server can go on without it."""
    app.server_log.echo = False
    showing = asyncio.create_task(app.run_async(headless=headless))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({showing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not showing.done():
            app.exit()
        await showing
    except Exception as error:  # the terminal could not be used: the server goes on with its plain log
        app.server_log.echo = True
        app.server_log.write(f"the dashboard could not run: {type(error).__name__}: {error}")
        return False
    finally:
        stopping.cancel()
        app.server_log.echo = True
    return app.return_code == 0
