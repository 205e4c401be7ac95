"""The settings form: batch size, context length, stride, seed, shuffle and which batch.

A value is refused next to its field with the reason; the settings in force change only once the
new numbers have been computed, and the form stays open until then.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Static, Switch

from tutor.core.formatting import safe_to_draw
from tutor.core.settings import MODEL_CONTEXT_LENGTH, settings_or_reasons
from tutor.ui.screens.computing_form import ComputingForm
from tutor.ui.widgets.computing_progress import ComputingProgress
from tutor.ui.widgets.visible_controls import ControlPictures

FIELDS = {
    "batch_size": ("Batch size", "rows in a batch, 1 or more"),
    "context_length": ("Context length", f"tokens per window, 1 to {MODEL_CONTEXT_LENGTH}"),
    "stride": ("Stride", "tokens between window starts, 1 or more"),
    "seed": ("Seed", "seed for shuffling, a whole number"),
    "batch_index": ("Batch", "which batch to show, from 0"),
}


class SettingsScreen(ComputingForm):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel-settings"),
        Binding("ctrl+s", "apply", "Apply", id="apply-settings"),
    ]

    def compose(self) -> ComposeResult:
        settings = self.tutor_app.session.settings
        with VerticalScroll(id="settings-form", classes="form"):
            yield Static("Settings — enter or ctrl+s applies, escape cancels", classes="form-title")
            for name, (label, hint) in FIELDS.items():
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(
                        str(getattr(settings, name)), id=f"field-{name}", placeholder=hint, classes="field-input",
                        highlighter=ControlPictures(),  # a paste may hold anything
                    )
                yield Static(id=f"error-{name}", classes="field-error", markup=False)
            with Horizontal(classes="field"):
                yield Label("Shuffle", classes="field-label")
                yield Switch(settings.shuffle, id="field-shuffle")
            # At the form's foot whatever is scrolled into view: what became of the change, and while it is
            # computed, how that goes.
            with Vertical(classes="form-outcome"):
                yield Static(id="form-status", classes="form-status", markup=False)
                yield ComputingProgress(id="computing-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#field-batch_size", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value for name in FIELDS}
        shuffle = self.query_one("#field-shuffle", Switch).value
        report = self.tutor_app.session.report
        settings, errors = settings_or_reasons(values, shuffle, report.token_count if report else None)
        for name in FIELDS:
            self.query_one(f"#error-{name}", Static).update(errors.get(name, ""))
        if settings is None:
            self.query_one("#form-status", Static).update("Not applied: fix the fields marked above.")
            return
        if settings == self.tutor_app.session.settings:
            self.dismiss(None)
            return
        self.query_one("#form-status", Static).update("Computing with the new settings…")
        self.submit(settings=settings)

    def refused(self, problem: str) -> None:
        self.query_one("#form-status", Static).update(
            safe_to_draw(f"Not applied: {problem}. The last good settings stay in force.")
        )
