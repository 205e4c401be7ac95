"""Your own text: edit it in place, or open a file by path (in a workshop: pick one of the workshop's texts).
The old text stays until the new one works."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.widgets.text_area import Selection

from tutor.core.formatting import CONTROL_CHARACTERS, safe_to_draw
from tutor.core.texts import LoadedText, TextError, describe, read_text_file, text_from_string
from tutor.core.workshop_texts import WorkshopTexts
from tutor.ui.screens.computing_form import ComputingForm
from tutor.ui.widgets.computing_progress import ComputingProgress
from tutor.ui.widgets.visible_controls import ControlPictures


class TextEditor(TextArea):
    """The learner's text as it is: the document keeps every character (the model reads them all), and each
    control character is drawn as one visible character (␛), so the cursor, which counts characters, stays
    on what is drawn. (Textual lays a line out as if those took no cell: a line full of them wraps late.)
    It opens with all of it selected, so that typing or pasting replaces it and an arrow key keeps it."""

    # ctrl+a selects all, as in most editors (TextArea has it on f7 only; home goes to the line's start).
    BINDINGS = [Binding("ctrl+a", "select_all", "Select all", id="select-all-text")]

    def get_line(self, line_index: int) -> Text:
        return Text(safe_to_draw(self.document.get_line(line_index), one_cell=True), end="", no_wrap=True)


class TextScreen(ComputingForm):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel-text"),
        Binding("ctrl+s", "use_typed", "Use this text", id="use-typed-text"),
    ]
    DEFAULT_CSS = """
    TextScreen #file-list {
        width: 1fr;
        max-height: 8;
    }
    TextScreen #no-files {
        width: 1fr;
        padding: 1 0 0 0;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.file_names: list[str] = []  # in a workshop: the texts offered, in the order listed
        self._listing_problem = ""

    def compose(self) -> ComposeResult:
        session = self.tutor_app.session
        with Vertical(id="text-form", classes="form"):
            yield Static(safe_to_draw(f"Your text — now: {session.source}"), classes="form-title", markup=False)
            editable = session.text.text  # whole: no text in use is longer than the form accepts (MAX_TEXT_CHARS)
            controls = " (control characters show as ␛ and stay in it)" if CONTROL_CHARACTERS.search(editable) else ""
            yield Static(
                f"All of it is selected: type or paste to replace it, or press an arrow key to edit it{controls}. "
                "ctrl+a (or f7) selects all, then delete clears it; ctrl+s uses the text:",
                classes="form-hint", markup=False,
            )
            yield TextEditor(editable, id="text-editor", soft_wrap=True, show_line_numbers=False)
            yield Static(id="error-text", classes="field-error", markup=False)
            with Horizontal(classes="field"):
                yield Label("Or open a file", classes="field-label")
                workshop_texts = self.tutor_app.workshop_texts
                if workshop_texts is None:
                    yield Input(
                        session.text_path or "", placeholder="path to a UTF-8 text file, then enter", id="field-path",
                        highlighter=ControlPictures(),
                    )
                else:
                    yield self._workshop_files(workshop_texts)
            yield Static(id="error-path", classes="field-error", markup=False)
            with Vertical(classes="form-outcome"):  # as in the settings form: at the foot, where the eye is
                yield Static(id="form-status", classes="form-status", markup=False)
                yield ComputingProgress(id="computing-progress")
        yield Footer()

    def _workshop_files(self, workshop_texts: WorkshopTexts) -> OptionList | Static:
        """The workshop's texts to pick from (there is no field for a path), or a line saying there are none."""
        try:
            self.file_names = workshop_texts.names()
        except TextError as error:
            self._listing_problem = str(error)
        if not self.file_names:
            return Static("none in this workshop: type or paste your text above", id="no-files", markup=False)
        options = [Option(Content(name)) for name in self.file_names]  # plain text; only printable names are listed
        file_list = OptionList(*options, id="file-list", markup=False)
        file_list.border_subtitle = "tab here, ↑ ↓ to pick, enter to open"
        return file_list

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.selection = Selection(editor.document.end, (0, 0))  # all of it, with the cursor (and view) at the top
        editor.focus()
        if self._listing_problem:
            self._errors(path=self._listing_problem)
        self._highlight_file_in_use()

    def _highlight_file_in_use(self) -> None:
        """In a workshop, the list starts on the text in use if it is one of the files listed."""
        workshop_texts, path = self.tutor_app.workshop_texts, self.tutor_app.session.text_path
        if workshop_texts is None or path is None:
            return
        name = workshop_texts.name_in_folder(path)
        if name is not None and name in self.file_names:
            self.query_one("#file-list", OptionList).highlighted = self.file_names.index(name)

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

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = self.file_names[event.option_index]
        self._status(f"reading {name}…")
        self._read_workshop_file(name)

    @work(thread=True, exclusive=True, group="read-file")
    def _read_workshop_file(self, name: str) -> None:
        workshop_texts = self.tutor_app.workshop_texts
        assert workshop_texts is not None  # the list is shown only in a workshop
        try:
            loaded = workshop_texts.read(name)
        except TextError as error:
            self.app.call_from_thread(self._file_failed, str(error))
        else:
            self.app.call_from_thread(self._submit, loaded, workshop_texts.path_of(name))

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
