"""The instructor's message to every participant, typed in a small window over the dashboard: enter sends it,
escape cancels; an empty message is refused. It answers the message (stripped), or None."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from tutor.core.room_notice import MAX_MESSAGE_CHARS
from tutor.ui.widgets.visible_controls import ControlPictures

EMPTY_REFUSED = "Type a message first: an empty one is not sent."


class MessageScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-message")]

    def compose(self) -> ComposeResult:
        with Vertical(id="message-box"):
            yield Static(Text("Message everyone"), id="message-title")
            yield Static(Text(
                "Shown for a minute in every participant's tutor, and in that of anyone who joins before your "
                "next message or suggestion. Enter sends it."
            ), id="message-about")
            yield Input(
                placeholder=f"up to {MAX_MESSAGE_CHARS} characters", max_length=MAX_MESSAGE_CHARS,
                highlighter=ControlPictures(), id="message-input",
            )
            yield Static(id="message-problem", markup=False)
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        message = event.value.strip()
        if not message:
            self.query_one("#message-problem", Static).update(EMPTY_REFUSED)
            return
        self.dismiss(message)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#message-problem", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)
