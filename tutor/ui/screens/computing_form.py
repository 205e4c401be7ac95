"""A modal form whose change takes effect only once the new numbers are computed: it stays open until
then, closes if they came, and says why if they could not be computed. Escape cancels either way."""

from __future__ import annotations

from textual.screen import ModalScreen


class ComputingForm(ModalScreen[None]):
    def __init__(self):
        super().__init__()
        self.waiting_for: int | None = None  # the generation of the computation this form asked for
        self.finished = False  # closed, or closing: the form asks for nothing more and closes only once
        self.close_when_on_top = False

    def on_mount(self) -> None:
        for widget in self.query("Input, TextArea"):
            widget.cursor_blink = self.app.cursor_blink

    def submit(self, **change) -> None:
        if not self.finished:
            self.waiting_for = self.app.recompute(**change)

    def show_report(self) -> None:
        """Called whenever a computation finishes: close if ours worked, say why if it did not."""
        generation, problem = self.app.session.outcome
        if self.finished or self.waiting_for is None or generation != self.waiting_for:
            return
        self.waiting_for = None
        if problem is None:
            self.close_form()
        else:
            self.refused(problem)

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
        if self.waiting_for is not None:
            self.app.cancel(self.waiting_for)
            self.waiting_for = None
        self.close_form()
