"""The settings form: batch size, context length, stride, seed, shuffle and which batch.

A value is refused next to its field with the reason; the settings in force change only once the
new numbers have been computed, and the form stays open until then.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Label, Static, Switch

from tutor.core.formatting import counted, safe_to_draw
from tutor.ui.screens.computing_form import ComputingForm
from tutor.core.settings import MODEL_CONTEXT_LENGTH, Settings, check_positions, count_windows, tokens_needed
from tutor.ui.widgets.visible_controls import ControlPictures

FIELDS = {
    "batch_size": ("Batch size", "rows in a batch, 1 or more"),
    "context_length": ("Context length", f"tokens per window, 1 to {MODEL_CONTEXT_LENGTH}"),
    "stride": ("Stride", "tokens between window starts, 1 or more"),
    "seed": ("Seed", "seed for shuffling, a whole number"),
    "batch_index": ("Batch", "which batch to show, from 0"),
}


def parse_whole(text: str, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip() or 'nothing'!r} is not a whole number; {FIELDS[name][1]}") from None


def field_errors(values: dict[str, str], shuffle: bool, token_count: int | None) -> tuple[Settings | None, dict[str, str]]:
    """The settings the form describes, or the reason for each field that is wrong."""
    numbers, errors = {}, {}
    for name, text in values.items():
        try:
            numbers[name] = parse_whole(text, name)
        except ValueError as error:
            errors[name] = str(error)
    limits = {
        "batch_size": (1, None),
        "context_length": (1, MODEL_CONTEXT_LENGTH),
        "stride": (1, None),
        "batch_index": (0, None),
    }
    for name, (low, high) in limits.items():
        value = numbers.get(name)
        if value is not None and (value < low or (high is not None and value > high)):
            allowed = f"{low} to {high}" if high is not None else f"{low} or more"
            errors[name] = f"{value} is out of range: {FIELDS[name][0].lower()} must be {allowed}"
    if errors:
        return None, errors
    settings = Settings(shuffle=shuffle, **numbers)
    try:
        check_positions(settings.batch_size, settings.context_length)
    except ValueError as error:
        errors["batch_size"] = str(error)
        return None, errors
    if token_count is not None:
        needed = tokens_needed(settings.context_length, settings.stride, settings.batch_size)
        if token_count < needed:
            errors["context_length"] = (
                f"your text has {counted(token_count, 'token')}; a batch of {counted(settings.batch_size, 'window')} of "
                f"{settings.context_length} with stride {settings.stride} needs {needed}"
            )
            return None, errors
        batches = count_windows(token_count, settings.context_length, settings.stride) // settings.batch_size
        if settings.batch_index >= batches:
            errors["batch_index"] = f"{settings.batch_index} is too big: these settings make batches 0 to {batches - 1}"
            return None, errors
    return settings, errors


class SettingsScreen(ComputingForm):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel-settings"),
        Binding("ctrl+s", "apply", "Apply", id="apply-settings"),
    ]

    def compose(self) -> ComposeResult:
        settings = self.app.session.settings
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
            yield Static(id="form-status", classes="form-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#field-batch_size", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value for name in FIELDS}
        shuffle = self.query_one("#field-shuffle", Switch).value
        report = self.app.session.report
        settings, errors = field_errors(values, shuffle, report.token_count if report else None)
        for name in FIELDS:
            self.query_one(f"#error-{name}", Static).update(errors.get(name, ""))
        if settings is None:
            self.query_one("#form-status", Static).update("Not applied: fix the fields marked above.")
            return
        if settings == self.app.session.settings:
            self.dismiss(None)
            return
        self.query_one("#form-status", Static).update("Computing with the new settings…")
        self.submit(settings=settings)

    def refused(self, problem: str) -> None:
        self.query_one("#form-status", Static).update(
            safe_to_draw(f"Not applied: {problem}. The last good settings stay in force.")
        )
