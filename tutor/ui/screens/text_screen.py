"""Your own text: edit it in place, or open a file by path. The old text stays until the new one works."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Label, Static, TextArea

from tutor.core.formatting import CONTROL_CHARACTERS, safe_to_draw
from tutor.ui.screens.computing_form import ComputingForm
from tutor.core.texts import LoadedText, TextError, describe, read_text_file, text_from_string
from tutor.ui.widgets.visible_controls import ControlPictures


class TextEditor(TextArea):
    """The learner's text as it is: the document keeps every character (the model reads them all), and each
    control character is drawn as one visible character (␛), so the cursor, which counts characters, stays
    on what is drawn. (Textual lays a line out as if those took no cell: a line full of them wraps late.)"""

    def get_line(self, line_index: int) -> Text:
        return Text(safe_to_draw(self.document.get_line(line_index), one_cell=True), end="", no_wrap=True)


class TextScreen(ComputingForm):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel-text"),
        Binding("ctrl+s", "use_typed", "Use this text", id="use-typed-text"),
    ]

    def compose(self) -> ComposeResult:
        session = self.tutor_app.session
        with Vertical(id="text-form", classes="form"):
            yield Static(safe_to_draw(f"Your text — now: {session.source}"), classes="form-title", markup=False)
            editable = session.text.text  # whole: no text in use is longer than the form accepts (MAX_TEXT_CHARS)
            controls = " (control characters show as ␛ and stay in it)" if CONTROL_CHARACTERS.search(editable) else ""
            yield Static(f"Edit below, then ctrl+s to use it{controls}:", classes="form-hint")
            yield TextEditor(editable, id="text-editor", soft_wrap=True, show_line_numbers=False)
            yield Static(id="error-text", classes="field-error", markup=False)
            with Horizontal(classes="field"):
                yield Label("Or open a file", classes="field-label")
                yield Input(
                    session.text_path or "", placeholder="path to a UTF-8 text file, then enter", id="field-path",
                    highlighter=ControlPictures(),
                )
            yield Static(id="error-path", classes="field-error", markup=False)
            yield Static(id="form-status", classes="form-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def _status(self, text: str) -> None:
        self.query_one("#form-status", Static).update(safe_to_draw(text))  # may hold a file name

    def _errors(self, text: str = "", path: str = "") -> None:
        self.query_one("#error-text", Static).update(safe_to_draw(text))
        self.query_one("#error-path", Static).update(safe_to_draw(path))

    def action_use_typed(self) -> None:
        try:
            loaded = text_from_string(self.query_one(TextArea).text)
        except TextError as error:
            self._errors(text=str(error))
            return
        self._errors()
        self._submit(loaded, None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if not path:
            self._errors(path="type the path of a text file first")
            return
        self._status(f"reading {path}…")
        self._read_file(path)

    @work(thread=True, exclusive=True, group="read-file")
    def _read_file(self, path: str) -> None:
        try:
            loaded = read_text_file(path)
        except TextError as error:
            self.app.call_from_thread(self._file_failed, str(error))
        else:
            self.app.call_from_thread(self._submit, loaded, path)

    def _file_failed(self, reason: str) -> None:
        self._errors(path=reason)
        self._status("Not opened: the text in use has not changed.")

    def _submit(self, loaded: LoadedText, path: str | None) -> None:
        note = " — only the start is read; the rest is not needed for one batch" if loaded.truncated else ""
        self._status(f"Computing with {describe(loaded)}…{note}")
        self.submit(text=loaded, text_path=path)

    def refused(self, problem: str) -> None:
        self._errors(text=problem)
        self._status("Not used: the text in use has not changed. Edit and try again, or escape.")
