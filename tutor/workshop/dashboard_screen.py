"""The instructor's dashboard screen: how to join, the engine, the sessions, where the room is, the server's log.

Once a second the sessions are copied (on the event loop, which the SSH server shares) and a worker thread reads
the participants' progress files and /proc and asks the engine for its queue (briefly: an engine that does not
answer in time is shown as such); what it read comes back as `FactsRead`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from tutor.core.formatting import safe_to_draw
from tutor.workshop.dashboard_engine import EngineLine
from tutor.workshop.dashboard_facts import DashboardFacts, SessionCopy
from tutor.workshop.dashboard_log import MAX_KEPT
from tutor.workshop.dashboard_log_pane import LogPane
from tutor.workshop.dashboard_room import RoomTable
from tutor.workshop.dashboard_sessions import DisconnectAsked, SessionTable

if TYPE_CHECKING:  # dashboard.py imports this module
    from tutor.workshop.dashboard import WorkshopDashboard

REFRESH_S = 1.0
WIDE_FROM = 180  # columns from which the two tables stand side by side
TALL_FROM = 40  # rows from which how to join is shown whole; below, only how to get in (the log has it whole)
ROOMY_FROM = 100  # columns from which the footer has room for the palette's key
COMMAND_LINE = "participants type:"  # how tutor/workshop/command.py's banner says what to type
PASSWORD_LINE = "password:"


def essential_join_words(banner: str) -> str:
    """What a participant needs of the banner, on a line: the command to type, and the password if it has one."""
    lines = [line.strip() for line in banner.splitlines()]
    kept = [line.removeprefix(COMMAND_LINE).strip() for line in lines if line.startswith((COMMAND_LINE, PASSWORD_LINE))]
    return " · ".join(kept or lines[:1])


@dataclass
class FactsRead(Message):
    facts: DashboardFacts


class DashboardScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL_FROM, "-tall")]
    BINDINGS = [
        Binding("m", "message", "Message everyone", tooltip="Show every participant a message", id="message-everyone"),
        Binding("l", "suggest", "Suggest a lesson", tooltip="Offer every participant to follow you to a lesson",
                id="suggest-lesson"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log_lines_shown = 0  # the number of the newest log line in the pane
        self._reading: Worker | None = None

    @property
    def dashboard(self) -> WorkshopDashboard:
        return cast("WorkshopDashboard", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.dashboard.banner), id="banner")
        yield Static(Text.assemble(("How to join: ", "bold"), essential_join_words(self.dashboard.banner)),
                     id="banner-short")
        yield EngineLine(id="engine")
        with Container(id="tables"):  # side by side or one above the other: see dashboard.tcss
            yield SessionTable(id="sessions")
            yield RoomTable(id="room")
        yield LogPane(max_lines=MAX_KEPT, id="server-log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner").border_title = "How to join"
        self.query_one("#room").border_title = "Where the room is"
        self.query_one("#server-log").border_title = "Server log"
        self.refresh_facts()
        self.set_interval(REFRESH_S, self.refresh_facts)

    def refresh_facts(self) -> None:
        dashboard = self.dashboard
        now, monotonic = dashboard.now(), dashboard.monotonic()
        sessions = [
            SessionCopy.of(session, now=now, monotonic=monotonic) for session in dashboard.server.sessions.values()
        ]
        self.query_one(SessionTable).border_title = f"Sessions: {len(sessions)} of {dashboard.max_sessions}"
        if self._reading is None or self._reading.is_finished:  # a slow read is not piled upon: one at a time
            self._reading = self._read(sessions)
        self._show_new_log_lines()

    @work(thread=True, group="read-facts")
    def _read(self, sessions: list[SessionCopy]) -> None:
        facts = self.dashboard.reader.read(sessions)
        if not get_current_worker().is_cancelled:
            self.post_message(FactsRead(facts))

    def on_facts_read(self, message: FactsRead) -> None:
        facts = message.facts
        self.query_one(EngineLine).show(facts.engine)
        self.query_one(SessionTable).show(facts.sessions)
        self.query_one(RoomTable).show(facts.lessons)

    def _show_new_log_lines(self) -> None:
        lines, self._log_lines_shown = self.dashboard.server_log.since(self._log_lines_shown)
        if lines:
            self.query_one(LogPane).write_lines(safe_to_draw(line) for line in lines)

    def on_resize(self, event: Resize) -> None:
        footer, roomy = self.query_one(Footer), event.size.width >= ROOMY_FROM
        if footer.show_command_palette != roomy:  # narrow: room for the four keys instead
            footer.show_command_palette = roomy
            footer.refresh(recompose=True)

    def on_disconnect_asked(self, message: DisconnectAsked) -> None:
        self.dashboard.ask_to_disconnect(message.number)

    def action_message(self) -> None:
        self.dashboard.ask_for_message()

    def action_suggest(self) -> None:
        self.dashboard.ask_for_lesson()
