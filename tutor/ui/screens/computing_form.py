"""A modal form whose change takes effect only once the new numbers are computed: it stays open until
then, closes if they came, and says why if they could not be computed. Escape cancels either way."""

from __future__ import annotations

from textual.screen import ModalScreen

from tutor.core.session import Session
from tutor.core.settings import Settings
from tutor.core.texts import LoadedText
from tutor.ui.typed_app import ReachesTutorApp, follow_session
from tutor.ui.widgets.computing_progress import ComputingProgress


class ComputingForm(ReachesTutorApp, ModalScreen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.waiting_for: int | None = None  # the generation of the computation this form asked for
        self.asked_for: int | None = None  # the same, kept once it has finished (a refused one is cancelled too)
        self.finished = False  # closed, or closing: the form asks for nothing more and closes only once
        self.close_when_on_top = False

    def on_mount(self) -> None:
        follow_session(self, self._session_changed)

    def submit(
        self, *, text: LoadedText | None = None, settings: Settings | None = None, text_path: str | None = None
    ) -> None:
        if not self.finished:
            self.waiting_for = self.asked_for = self.tutor_app.recompute(text=text, settings=settings, text_path=text_path)
            for progress in self.query(ComputingProgress):  # a form that shows how its computation goes
                progress.start(lambda: self.tutor_app.session.attempt_words)

    def _session_changed(self, session: Session) -> None:
        """Close if the computation this form asked for worked, say why if it did not."""
        outcome = session.outcome
        if self.finished or self.waiting_for is None or outcome.generation != self.waiting_for:
            return
        self.waiting_for = None
        self._stop_progress()
        if outcome.problem is None:
            self.close_form()
        else:
            self.refused(outcome.problem)

    def close_form(self) -> None:
        """Close this form, once. `dismiss` pops whichever screen is on top, so while another one is over
        this form (the palette, help, the too-small notice) the form closes when it is back on top."""
        if self.finished:
            return
        if not self.is_active:
            self.close_when_on_top = True
            return
        self.finished = True
        self.dismiss(None)

    def on_screen_resume(self) -> None:
        if self.close_when_on_top:
            self.close_form()

    def refused(self, problem: str) -> None:
        """Say, in the form, why the change was not applied (each form says it next to its own fields)."""
        raise NotImplementedError(f"{type(self).__name__} must say why a change was refused")

    def action_cancel(self) -> None:
        if self.asked_for is not None:  # still computing: abandoned; refused: its problem is shown no more
            self.tutor_app.cancel_computation(self.asked_for)
            self.waiting_for = None
        self._stop_progress()
        self.close_form()

    def _stop_progress(self) -> None:
        for progress in self.query(ComputingProgress):
            progress.stop()
