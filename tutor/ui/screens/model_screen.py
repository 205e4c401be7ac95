"""Which model every lesson's numbers come from: the untrained one, the one trained in this session, or a weights
file. The engine says which it offers (a `ModelMenu`); the learner's own engine also opens a file named here and
saves the trained model. In a workshop the instructor chose the models and nobody opens or saves a file."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tutor.core.answers import ModelMenu
from tutor.core.formatting import safe_to_draw
from tutor.core.lab import Labs
from tutor.core.model_choice import LIST, OPEN, SAVE, may_open_files, may_save_trained, option_details, option_title
from tutor.core.session import Session
from tutor.ui.lab_runner import MenuAnswered
from tutor.ui.typed_app import ReachesTutorApp, follow_labs, follow_session
from tutor.ui.widgets.steady_static import SteadyStatic
from tutor.ui.widgets.visible_controls import ControlPictures

ASKING = "Asking the engine which models it offers…"


class ModelScreen(ReachesTutorApp, ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close", id="close-models")]
    DEFAULT_CSS = """
    ModelScreen #model-list {
        height: 1fr;
        min-height: 4;
    }
    ModelScreen #open-field {
        margin-top: 1;
    }
    ModelScreen #form-status {
        min-height: 1;  /* its line is kept, so a message takes it without moving the fields */
    }
    """

    def __init__(self, focus: str = LIST) -> None:
        """`focus`: where the learner starts: the list, or the field to open (`OPEN`) or save (`SAVE`) a file."""
        super().__init__()
        self._focus_wanted = focus
        self._choices: list[str] = []  # each option's choice, in the order listed
        self._listed: tuple[str, ...] = ()  # what the list shows, to redraw it only when that changes
        self._asked: dict[int, str] = {}  # ticket -> what it asked for (LIST, OPEN, SAVE), while unanswered
        self._close_when_on_top = False
        self._dismissed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="model-form", classes="form"):
            yield Static("Model — every lesson's numbers come from the one in use", classes="form-title")
            yield SteadyStatic(id="model-note", markup=False)  # set again whenever the labs change
            yield OptionList(id="model-list", markup=False)
            with Horizontal(classes="field", id="open-field"):
                yield Label("Open a file", classes="field-label")
                yield Input(placeholder="path of a .pth or .safetensors file", id="field-open", compact=True,
                            classes="field-input", highlighter=ControlPictures())
            with Horizontal(classes="field", id="save-field"):
                yield Label("Save trained", classes="field-label")
                yield Input(placeholder="where to write it (.safetensors)", id="field-save", compact=True,
                            classes="field-input", highlighter=ControlPictures())
            with Vertical(classes="form-outcome"):  # the form's one message line: what it is doing, or why it did not
                yield Static(id="form-status", classes="form-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        app = self.tutor_app
        follow_session(self, self._session_changed)
        follow_labs(self, self._labs_changed)
        self._show(app.labs.menu)
        self._ask(app.labs.refresh_menu(), LIST)
        self._status("" if app.labs.menu is not None else ASKING)

    # ----- what is shown --------------------------------------------------------------------------------

    def _show(self, menu: ModelMenu | None) -> None:
        self._show_list(menu)
        in_a_workshop = self.tutor_app.workshop_texts is not None
        opening, saving = may_open_files(menu, in_a_workshop=in_a_workshop), may_save_trained(menu)
        for name, shown in ((OPEN, opening), (SAVE, saving)):
            self.query_one(f"#{name}-field").display = shown
        if menu is not None and not menu.may_open_files:
            note = "The instructor chose these models: ↑ ↓ pick one, enter uses it"
        else:
            note = f"↑ ↓ pick one, enter uses it · tab: {'open or save a file' if saving else 'open a file'}"
        self.query_one("#model-note", Static).update(note)
        self._focus_where_wanted(opening, saving)

    def _show_list(self, menu: ModelMenu | None) -> None:
        session = self.tutor_app.session
        attempt = session.attempt
        computing = attempt.model if attempt is not None and attempt.model != session.model else None
        options = menu.options if menu is not None else ()
        prompts = tuple(
            "\n".join([
                option_title(option, in_use=option.choice == session.model, being_computed=option.choice == computing),
                *(f"  {line}" for line in option_details(option)),
            ])
            for option in options
        )
        if prompts == self._listed:
            return
        option_list = self.query_one("#model-list", OptionList)
        highlighted = option_list.highlighted
        was_on = self._choices[highlighted] if highlighted is not None and highlighted < len(self._choices) else None
        self._listed, self._choices = prompts, [option.choice for option in options]
        option_list.clear_options()
        option_list.add_options([Option(Content(prompt)) for prompt in prompts])
        start_on = was_on if was_on in self._choices else session.model
        if start_on in self._choices:
            option_list.highlighted = self._choices.index(start_on)

    def _focus_where_wanted(self, opening: bool, saving: bool) -> None:
        """The list has the focus unless the learner came to open or save a file and that field is shown; a
        field hidden since (the engine opens no files) gives it back to the list."""
        wanted, focused = self._focus_wanted, self.focused
        shown = {"field-open": opening, "field-save": saving}
        if wanted in (OPEN, SAVE) and shown[f"field-{wanted}"]:
            self.query_one(f"#field-{wanted}", Input).focus()
            self._focus_wanted = LIST  # done: later menus leave the focus where the learner put it
        elif focused is None or not shown.get(focused.id or "", True):
            self.query_one("#model-list", OptionList).focus()

    def _status(self, text: str, tone: str = "") -> None:
        """Say `text` on the form's message line; `tone`: "error" (refused) or "done" (saved), else under way."""
        status = self.query_one("#form-status", Static)
        status.update(safe_to_draw(text))
        status.set_class(tone == "error", "-error")
        status.set_class(tone == "done", "-done")

    def _tell(self, text: str, tone: str) -> None:
        """Say an answer of the engine's on the message line: the app then shows it in no notice of its own."""
        self._status(text, tone)
        self.tutor_app.labs.menu_answer_shown = True

    # ----- the engine's answers -------------------------------------------------------------------------

    def _ask(self, ticket: int, what: str) -> None:
        self._asked[ticket] = what

    def _session_changed(self, session: Session) -> None:
        self._show_list(self.tutor_app.labs.menu)

    def _labs_changed(self, labs: Labs) -> None:
        runner = self.tutor_app.labs
        answer = runner.menu_answer
        if answer is not None and answer.ticket in self._asked:
            self._answered(self._asked.pop(answer.ticket), answer)
        if self.is_attached:
            self._show(runner.menu)

    def _answered(self, what: str, answer: MenuAnswered) -> None:
        if what == LIST:
            if answer.problem is not None:
                self._tell(f"Cannot list the models: {answer.problem}", "error")
            elif self.query_one("#form-status", Static).content == ASKING:
                self._status("")
        elif answer.problem is not None:
            why = answer.problem.rstrip(". ")
            if what == OPEN:
                self._tell(f"Not opened: {why}. The model in use has not changed.", "error")
            else:
                self._tell(f"Not saved: {why}. Nothing was written.", "error")
        elif what == OPEN and answer.menu is not None and answer.menu.opened is not None:
            self.action_close()  # the app uses it now, says so, and its header names it once the numbers are in
        elif what == SAVE and answer.menu is not None and answer.menu.saved_to is not None:
            saved = answer.menu.saved_to
            self._tell(f"Saved to {saved}. Open it again here, or start with: loss-tutor --weights {saved}", "done")

    # ----- what the learner does ------------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = self._choices[event.option_index]
        session = self.tutor_app.session
        if choice != session.model or session.attempt is not None:
            self.tutor_app.choose_model(choice)
        self.action_close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        what = OPEN if event.input.id == "field-open" else SAVE
        path = event.value.strip()
        if not path:
            self._status("Type the path of a weights file first." if what == OPEN else
                         "Type where to save the trained model first.", "error")
            return
        if what == OPEN:
            self._status(f"Opening {path}…")
            self._ask(self.tutor_app.labs.open_weights(path), OPEN)
        else:
            self._status(f"Saving the trained model to {path}…")
            self._ask(self.tutor_app.labs.save_trained(path), SAVE)

    def action_close(self) -> None:
        """Close, now if this form is on top, else once it is back on top: `dismiss` pops whichever screen is
        (the palette, help, the too-small notice)."""
        if self._dismissed:
            return
        if self.is_active:
            self._dismissed = True
            self.dismiss(None)
        else:
            self._close_when_on_top = True

    def on_screen_resume(self) -> None:
        if self._close_when_on_top:
            self._close_when_on_top = False
            self.action_close()
