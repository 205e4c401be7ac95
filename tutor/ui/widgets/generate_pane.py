"""The generation lesson's pane: the learner's prompt and sampling settings, the continuation as it streams in,
and one step's candidates before and after top-k and temperature.

The generation runs on the engine through `app.labs` (tutor/ui/lab_runner.py); this pane sets its job, starts,
pauses and resumes it, and draws what `app.labs.changed` publishes. What it draws is worked out in
tutor/core/generation_view.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from tutor.core.answers import GenerationProgress
from tutor.core.formatting import safe_to_draw
from tutor.core.generation_view import (
    BEFORE_TITLE,
    GenerationFields,
    after_title,
    default_prompt,
    progress_line,
    read_fields,
    step_candidates,
    step_line,
)
from tutor.core.lab import GENERATE
from tutor.ui.typed_app import shows_ascii_only
from tutor.ui.widgets.candidate_bars import CandidateBars
from tutor.ui.widgets.lab_pane import LabPane
from tutor.ui.widgets.steady_static import SteadyStatic
from tutor.ui.widgets.visible_controls import ControlPictures

if TYPE_CHECKING:
    pass

# The fields for numbers: (id, label before it). Each is drawn as `label [value]`, so it reads as a field without
# colour too.
NUMBER_FIELDS = (
    ("generate-new-tokens", "tokens"),
    ("generate-temperature", "temperature"),
    ("generate-top-k", "top-k"),
    ("generate-seed", "seed"),
)


class GenerateField(Input):
    """One of the pane's fields: one line high, its text's control characters drawn visibly."""

    def __init__(self, value: str, **kwargs) -> None:
        super().__init__(value, compact=True, highlighter=ControlPictures(), **kwargs)


class OnOffBox(Checkbox):
    """A Checkbox whose box is empty while off: Textual draws its X in both states and tells them apart by colour
    alone, which NO_COLOR takes away."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 (Textual's name, read by ToggleButton._button)
        return "X" if self.value else " "


class GeneratePane(LabPane):
    """Type a prompt and press enter: the model continues it token by token. `r` pauses and resumes, `,` and
    `.` show an earlier or later token's candidates, escape leaves a field for the lesson's keys."""

    LAB_KIND = GENERATE

    COMPONENT_CLASSES = {"generate-pane--prompt", "generate-pane--step-token"}
    BINDINGS = [
        Binding("enter", "edit_prompt", "Edit prompt", id="generate-edit-prompt"),
        Binding("r", "toggle", "Pause/resume", id="generate-toggle"),
        Binding("comma", "step(-1)", "Earlier token", key_display=",", id="generate-earlier-token"),
        Binding("full_stop", "step(1)", "Later token", key_display=".", id="generate-later-token"),
        # From a field, where the lesson's keys would type: back to the pane, where they work.
        Binding("escape", "leave_fields", "Lesson keys", id="generate-leave-fields"),
        # The scrolled part (the text, a step's candidates), from the pane and its fields
        Binding("up", "scroll_output(-1)", "Scroll up", show=False, id="generate-scroll-up"),
        Binding("down", "scroll_output(1)", "Scroll down", show=False, id="generate-scroll-down"),
        Binding("pageup", "scroll_output(-10)", "Page up", show=False, id="generate-page-up"),
        Binding("pagedown", "scroll_output(10)", "Page down", show=False, id="generate-page-down"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.step_index: int | None = None  # the step the bars show; None: the latest
        self.problem: str | None = None  # why the fields could not start a generation
        self._default_prompt = ""  # the prompt the field was filled with from the learner's text

    def compose(self) -> ComposeResult:
        app = self.tutor_app
        self._default_prompt = default_prompt(app.session.text.text)
        fields = GenerationFields.of(app.labs.generation_job, self._default_prompt)
        with Horizontal(id="generate-prompt-row", classes="generate-row"):
            yield Label("prompt [", markup=False)
            yield GenerateField(fields.prompt, id="generate-prompt", placeholder="a few words to continue")
            yield Label("]", markup=False)
            yield Button("Generate", id="generate-start", compact=True)
            yield Button("Pause", id="generate-pause", compact=True, disabled=True)
        with Horizontal(id="generate-settings", classes="generate-row"):
            values = (fields.new_tokens, fields.temperature, fields.top_k, fields.seed)
            for index, ((field_id, label), value) in enumerate(zip(NUMBER_FIELDS, values)):
                yield Label(f"{label} [", classes="-after-field" if index else "", markup=False)
                yield GenerateField(value, id=field_id, classes="generate-number")
                yield Label("]", markup=False)
            yield OnOffBox("KV cache", fields.kv_cache, id="generate-kv-cache", compact=True)
        yield SteadyStatic(id="generate-problem", markup=False)
        yield SteadyStatic(id="generate-status", markup=False)
        with VerticalScroll(id="generate-scroll", can_focus=False):
            yield Static(id="generate-output", markup=False)
            yield SteadyStatic(id="generate-step", markup=False)
            yield CandidateBars(id="generate-bars", before_title=BEFORE_TITLE, chosen_text="drawn")

    # ----- what the lesson screen hands it ------------------------------------------------------------

    def show(self, text: str) -> None:
        """The learner's text, whose first words are the prompt until the learner types another."""
        prompt = default_prompt(text)
        field = self.query_one("#generate-prompt", Input)
        if field.value == self._default_prompt and prompt != self._default_prompt:
            field.value = prompt
        self._default_prompt = prompt
        self._draw()

    # ----- actions ------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_fields":
            return self.has_focus_within and not self.has_focus
        return True

    def action_edit_prompt(self) -> None:
        self.query_one("#generate-prompt", Input).focus()

    def action_leave_fields(self) -> None:
        self.focus()

    def action_toggle(self) -> None:
        """Pause or go on; a generation that stopped on a problem (the engine cannot go on with it) begins again."""
        lab = self.lab
        if lab.running or (lab.started and not lab.finished and not lab.problem):
            self.tutor_app.labs.toggle(GENERATE)
        else:
            self.generate()

    def action_scroll_output(self, lines: int) -> None:
        scroll = self.query_one("#generate-scroll")
        scroll.scroll_to(y=scroll.scroll_y + lines, animate=False)

    def action_step(self, delta: int) -> None:
        count = len(self.lab.steps)
        if not count:
            return
        current = count - 1 if self.step_index is None else self.step_index
        wanted = min(max(current + delta, 0), count - 1)
        self.step_index = None if wanted == count - 1 and delta > 0 else wanted
        self._draw()
        self.call_after_refresh(self._scroll_to_step)

    def _scroll_to_step(self) -> None:
        """The step's line and its candidates in view, scrolled as little as that takes; if they do not all fit,
        the line at the top (not the margin above it) and as many candidates as fit under it."""
        scroll = self.query_one("#generate-scroll")
        top = self.query_one("#generate-step").virtual_region.y
        bottom = self.query_one(CandidateBars).virtual_region.bottom
        height = scroll.scrollable_content_region.height
        y = scroll.scroll_y
        if bottom - top > height or top < y:
            y = top
        elif bottom > y + height:
            y = bottom - height
        scroll.scroll_to(y=y, animate=False, immediate=True)

    def generate(self) -> None:
        """Start a new continuation with the fields' settings, or say which field is wrong and start nothing."""
        fields = GenerationFields(
            prompt=self.query_one("#generate-prompt", Input).value,
            new_tokens=self.query_one("#generate-new-tokens", Input).value,
            temperature=self.query_one("#generate-temperature", Input).value,
            top_k=self.query_one("#generate-top-k", Input).value,
            seed=self.query_one("#generate-seed", Input).value,
            kv_cache=self.query_one("#generate-kv-cache", Checkbox).value,
        )
        try:
            job = read_fields(fields)
        except ValueError as error:
            self.problem = str(error)
            self._draw()
            return
        self.problem, self.step_index = None, None
        labs = self.tutor_app.labs
        labs.generation_job = job
        labs.start(GENERATE)
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.generate()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "generate-start":
            self.generate()
        else:
            self.action_toggle()

    def on_click(self, event: events.Click) -> None:
        if not self.has_focus_within:
            self.focus()  # a click on the output: the pane's keys are the ones wanted

    # ----- drawing ------------------------------------------------------------------------------------

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        lab = self.lab
        progress = lab.latest if isinstance(lab.latest, GenerationProgress) else None
        steps = lab.steps
        if self.step_index is not None and self.step_index >= len(steps):
            self.step_index = None  # a new continuation, shorter than the step shown
        shown = (lab.running, lab.waiting, lab.queue_place, lab.problem, id(lab.latest), len(steps),
                 self.step_index, self.problem, self.app.theme, id(self.tutor_app.session.report))
        if shown == self._drawn:
            return
        self._drawn = shown
        app = self.tutor_app
        job = app.labs.generation_job
        problem = self.query_one("#generate-problem", Static)
        problem.update(f"Not started: {safe_to_draw(self.problem)}" if self.problem else "")
        problem.display = self.problem is not None
        model = app.session.report.model.name if app.session.report is not None else None
        self.query_one("#generate-status", Static).update(progress_line(progress, job, lab.state_words, model))
        paused = lab.started and not lab.finished and not lab.running
        pause = self.query_one("#generate-pause", Button)
        pause.label = "Resume" if paused else "Pause"
        pause.disabled = not (lab.running or paused)
        output = self.query_one("#generate-output", Static)
        output.update(self._output(progress, steps))
        output.display = progress is not None
        step_text = self.query_one("#generate-step", Static)
        bars = self.query_one(CandidateBars)
        if not steps:
            step_text.update("No token drawn yet. Type a prompt and press enter; then , and . step through the "
                             "tokens' candidates, and r pauses and resumes.")
            bars.show((), after_title=after_title(job))
            return
        index = len(steps) - 1 if self.step_index is None else self.step_index
        step = steps[index]
        line = step_line(step, len(steps), latest=self.step_index is None, ascii_only=shows_ascii_only(self))
        step_text.update(f"{line}  , . other tokens")
        bars.show(step_candidates(step), after_title=after_title(job))

    def _output(self, progress: GenerationProgress | None, steps: list) -> Text:
        """The prompt, muted, then the new tokens; the token the bars show underlined where each token's text
        is known (when the tokens together spell the continuation)."""
        prompt_style = self.get_component_rich_style("generate-pane--prompt", partial=True)
        step_style = self.get_component_rich_style("generate-pane--step-token", partial=True)
        if progress is None:
            return Text("")
        text = Text()
        text.append(safe_to_draw(progress.prompt), style=prompt_style)
        pieces = [step.token_text for step in steps]
        if "".join(pieces) != progress.text:
            text.append(safe_to_draw(progress.text))
            return text
        marked = len(steps) - 1 if self.step_index is None else self.step_index
        for index, piece in enumerate(pieces):
            text.append(safe_to_draw(piece), style=step_style if index == marked else "")
        return text

