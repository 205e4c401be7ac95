"""The running app as the tutor's screens and its palette commands reach it: a `TutorApp`, typed, so that
`session`, `lessons` and the app's methods are checked rather than looked up by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:  # app.py imports the screens: at run time this module must not import it back
    from textual.app import App
    from textual.dom import DOMNode

    from tutor.core.lab import Labs
    from tutor.core.session import Session
    from tutor.ui.app import TutorApp


class _HasApp(Protocol):
    @property
    def app(self) -> App: ...


class ReachesTutorApp:
    """Mixed into a screen or a command provider, whose `app` is always the tutor's."""

    @property
    def tutor_app(self: _HasApp) -> TutorApp:
        return cast("TutorApp", self.app)


def follow_session(node: DOMNode, redraw: Callable[[Session], None]) -> None:
    """Call `redraw` with the session every time the app changes it, in the same turn as the change (queued,
    it would come a message later). The signal drops a node that has gone. Textual's signal logs and ignores
    what an immediate callback raises; here it is raised again in the node's message loop, so a broken
    redraw stops the app with its traceback, as any other handler's error does."""

    cast("TutorApp", node.app).session_changed.subscribe(node, _raising_later(node, redraw), immediate=True)


def follow_labs(node: DOMNode, redraw: Callable[[Labs], None]) -> None:
    """Call `redraw` with the labs every time they change (`app.labs.changed`), in the same turn, as
    `follow_session` does: a form that shows an answer has shown it before the app decides whether to tell it."""
    cast("TutorApp", node.app).labs.changed.subscribe(node, _raising_later(node, redraw), immediate=True)


def _raising_later(node: DOMNode, callback: Callable) -> Callable:
    """`callback`, whose error is raised again in the node's message loop instead of being logged by the signal."""

    def call_or_raise(data) -> None:
        try:
            callback(data)
        except Exception as error:
            node.call_next(_raise, error)

    return call_or_raise


def _raise(error: Exception) -> None:
    raise error


def shows_ascii_only(node: DOMNode) -> bool:
    """Whether the tutor draws in ASCII only (TutorApp.ascii_only): tokens then show `_` and `\\n`."""
    return cast("TutorApp", node.app).ascii_only
