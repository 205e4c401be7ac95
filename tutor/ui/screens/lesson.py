"""The lesson screen: explanation beside the panes that show this step's code, tensors and tokens."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Input, Static

from tutor.core.counting import DIGIT_KEYS, of_total, shown_number
from tutor.core.formatting import safe_to_draw
from tutor.core.jobs import TRAINED
from tutor.core.lab import GENERATE, OVERFIT, OVERFIT_TARGET_STEPS
from tutor.core.lessons import Lesson, LessonSet
from tutor.core.model_choice import LIST
from tutor.core.session import Session
from tutor.core.training_view import KEYS_OF_LAB, RESTART, RUN, STEP, USE, lab_keys, lesson_lab
from tutor.ui.commands import model_commands
from tutor.ui.typed_app import ReachesTutorApp, follow_session
from tutor.ui.widgets.explanation import ExplanationPane
from tutor.ui.widgets.lesson_text import LessonText
from tutor.ui.widgets.model_header import ModelHeader
from tutor.ui.widgets.priority_footer import PriorityFooter
from tutor.ui.widgets.steady_static import SteadyStatic

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

    from tutor.ui.widgets.check_panel import BackToLesson, CheckAnswered
    from tutor.ui.widgets.lesson_list import LessonPicked
    from tutor.ui.widgets.panes import PaneArea
    from tutor.ui.widgets.token_table import TokenChosen

WIDE_FROM = 110  # columns from which the lesson list is shown beside the lesson
# Columns from which the explanation and the panes stand side by side; below it the panes stack under the
# explanation, so that each has the whole width: a side by side split of fewer columns cut off the token
# table's last columns and squeezed the explanation into a long, narrow scroll.
SIDE_BY_SIDE_FROM = 160
LESSON_KEYS = Binding.Group("lesson")
# The footer's keys, most needed first: on a narrow screen it drops them from the end, so Quit and Help stay.
FOOTER_KEEP = ("quit", "help", "step", "lab_run", "lab_step", "lab_restart", "lab_use", "go_to_prompt", "answer",
               "follow", "zoom", "settings", "edit_text", "command_palette", "row")
ROW_KEYS = Binding.Group("row")
REST_OF_THE_SCREEN = ("tutor.ui.widgets.lesson_list", "tutor.ui.widgets.check_panel", "tutor.ui.widgets.panes")
LAB_ACTIONS = {"lab_run": RUN, "lab_step": STEP, "lab_restart": RESTART, "lab_use": USE}
SCREENS_OPENED_BY_KEYS = ("tutor.ui.screens.help", "tutor.ui.screens.inspector", "tutor.ui.screens.settings_screen",
                          "tutor.ui.screens.text_screen", "tutor.ui.screens.model_screen")


def _width_classes(width: int) -> list[str]:
    """The layout classes for a screen this wide (`HORIZONTAL_BREAKPOINTS` keeps the first one up to date)."""
    classes = ["-wide" if width >= WIDE_FROM else "-narrow"]
    if width >= SIDE_BY_SIDE_FROM:
        classes.append("-side-by-side")
    return classes


class LessonScreen(ReachesTutorApp, Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]
    BINDINGS = [
        # Paired keys share one label in the footer ("← → lesson"), so all of it fits 80 columns.
        # ← → change lesson whatever has the focus (a tab bar, a zoomed pane, the token table), except in the
        # answer box, where they move the cursor (see `check_action`).
        Binding("left", "step(-1)", "Previous lesson", key_display="←", id="previous-lesson", group=LESSON_KEYS,
                priority=True),
        Binding("right", "step(1)", "Next lesson", key_display="→", id="next-lesson", group=LESSON_KEYS,
                priority=True),
        Binding("p", "step(-1)", "Previous lesson", show=False, id="previous-lesson-p"),
        Binding("n,space", "step(1)", "Next lesson", show=False, id="next-lesson-n"),
        Binding("left_square_bracket", "row(-1)", "Previous batch row", key_display="[", id="previous-row", group=ROW_KEYS),
        Binding("right_square_bracket", "row(1)", "Next batch row", key_display="]", id="next-row", group=ROW_KEYS),
        Binding("e", "edit_text", "Text", id="edit-text"),
        Binding("s", "settings", "Settings", id="settings"),
        Binding("m", "choose_model", "Model", tooltip="Which model every lesson's numbers come from",
                id="choose-model"),
        # The training lessons' keys: only in a lesson whose pane runs a training lab (see `check_action`).
        Binding("r", "lab_run", "Run/pause", id="lab-run"),
        Binding("o", "lab_step", "One step", id="lab-step"),
        Binding("x", "lab_restart", "Start over", id="lab-restart"),
        Binding("u", "lab_use", "Use it", tooltip="Every lesson computes with the model trained here", id="lab-use"),
        # The generation lesson's prompt, from wherever the focus is (see `check_action`); escape gives the keys back.
        Binding("g", "go_to_prompt", "Prompt", tooltip="Type the prompt the model continues", id="go-to-prompt"),
        Binding("a", "answer", "Answer", id="answer-check"),
        Binding("h", "hint", "Hint", show=False, id="hint"),
        Binding("l", "toggle_list", "Lessons", show=False, id="toggle-lesson-list"),
        Binding("z", "zoom", "Zoom", id="zoom-pane"),
        Binding("t", "next_tab", "Next tab", show=False, id="next-tab"),
        # In a workshop, only while the instructor suggests a lesson (see `check_action`).
        Binding("f", "follow", "Follow", tooltip="Go to the lesson the instructor is on", id="follow-instructor"),
        # Digits go to the lesson of that number as shown (1 is the first), 0 to lesson 10: see tutor.core.counting.
        *[
            Binding(digit, f"go_to({index})", f"Lesson {shown_number(index)}", show=False, id=f"lesson-{digit}")
            for index, digit in enumerate(DIGIT_KEYS)
        ],
    ]

    def __init__(self) -> None:
        # The breakpoint class is set from the start: set on the first resize instead, it restyled every widget.
        super().__init__(classes=" ".join(_width_classes(self.app.size.width)))
        # What `show_lesson` last drew: the lesson screen draws a lesson anew only when one of them changes.
        self._lessons_shown: LessonSet | None = None
        self._lesson_shown: Lesson | None = None
        self._suggestion_shown: int | None = None  # the index of the lesson the instructor suggests, while pending
        self._lesson_keys_shown: tuple = ()  # what `_lesson_keys` was when the footer was last refreshed
        self._prompt_wanted = False  # `g` chose the Generate tab: its prompt takes the focus once it shows

    # ----- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ModelHeader()
        with Horizontal(id="body"):
            yield Container(id="lesson-list-slot")
            with Container(id="lesson-area"):
                yield ExplanationPane(id="explanation")
                yield Container(id="pane-slot")
        yield SteadyStatic(id="suggestion-bar", markup=False)
        yield SteadyStatic(id="problem-bar", markup=False)
        yield PriorityFooter(FOOTER_KEEP, compact=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= SIDE_BY_SIDE_FROM, "-side-by-side")

    def on_mount(self) -> None:
        follow_session(self, self._session_changed)
        self.tutor_app.labs.changed.subscribe(self, lambda labs: self._refresh_lesson_keys())
        self.show_lesson()
        self.query_one(ExplanationPane).focus()
        self.call_after_refresh(self._import_then, REST_OF_THE_SCREEN, self._mount_the_rest)

    def _import_then(self, modules: tuple[str, ...], then: Callable[[], object] | None = None) -> None:
        """Import these modules one per frame, so each is a short step between frames and keys are answered
        in between; then call `then`. (A thread would not help: it shares the interpreter lock and slows
        every step it overlaps.)"""
        if modules:
            importlib.import_module(modules[0])
            self.call_after_refresh(self._import_then, modules[1:], then)
        elif then is not None:
            self.call_after_refresh(then)

    async def _mount_the_rest(self) -> None:
        """The first frame has the lesson's text; the lesson list, the check and then, a frame later, the
        tabbed panes (tables, highlighter, inputs) are imported and mounted just after it, a piece at a
        time so that keys are answered in between."""
        from tutor.ui.widgets.check_panel import CheckPanel
        from tutor.ui.widgets.lesson_list import LessonList

        try:
            await self.query_one("#lesson-list-slot").mount(LessonList(id="lesson-list"))
            await self.query_one(ExplanationPane).mount(CheckPanel(id="check-panel"))
        except MountError:  # the app quit before this ran
            return
        if not self.app.is_running:  # it quit while these were mounting
            return
        self.show_report()
        self.call_after_refresh(self._mount_panes)

    async def _mount_panes(self) -> None:
        from tutor.ui.widgets.panes import PaneArea

        pane_area = PaneArea(id="pane-area")
        try:
            await self.query_one("#pane-slot").mount(pane_area)
        except MountError:
            return
        if not self.app.is_running:  # quit while the panes were mounting: their tabs are being taken down
            return
        if self.lesson is not None and pane_area.is_mounted:
            pane_area.configure(self.lesson, opening=True)
            self.show_active_pane()
        # so that the first press of `?`, `s`, `e` or enter on a token opens its screen at once
        self.call_after_refresh(self._import_then, SCREENS_OPENED_BY_KEYS)

    # ----- what is shown --------------------------------------------------------------------------

    @property
    def lesson(self) -> Lesson | None:
        return self.tutor_app.lesson

    def _pane_area(self) -> PaneArea | None:
        found = self.query("#pane-area")
        return found.first() if found else None

    def _session_changed(self, session: Session) -> None:
        if self.tutor_app.lessons is not self._lessons_shown or self.lesson is not self._lesson_shown:
            self.show_lesson()  # another lesson, or the lesson files were read again
        else:
            self.show_report()
        self._show_suggestion()

    def show_lesson(self) -> None:
        app, lesson = self.tutor_app, self.lesson
        before = self._lesson_shown
        self._lessons_shown, self._lesson_shown = app.lessons, lesson
        self._refresh_lesson_keys()
        if lesson is None:
            self._show_no_lessons()
            return
        opening = before is None or before.id != lesson.id
        if opening:
            self._open_at_the_top()
        self.query_one("#pane-slot").display = any(pane != "explanation" for pane in lesson.panes)
        total = len(app.lessons.lessons)
        self.title = f"loss-tutor · lesson {of_total(app.lesson_index, total)}: {lesson.title}"
        pane_area = self._pane_area()
        if pane_area is not None:
            pane_area.configure(lesson, opening=opening)
        self.show_report()

    def _open_at_the_top(self) -> None:
        """Another lesson: it opens at its top and unzoomed, however the learner got there, and the keys are
        the lesson's (the answer box was the last lesson's check)."""
        if self.maximized is not None:
            self.minimize()
        explanation = self.query_one(ExplanationPane)
        explanation.scroll_home(animate=False, immediate=True)
        for check_panel in self.query("#check-panel"):
            if check_panel.has_focus_within:
                explanation.focus(scroll_visible=False)
        pane_area = self._pane_area()
        if pane_area is not None:
            pane_area.scroll_panes_home()

    def show_report(self) -> None:
        """Fill the explanation and the pane in view from the session's report (or say it is coming)."""
        app = self.tutor_app
        index = app.lesson_index
        if index is None:
            return
        lesson, session = app.lessons.lessons[index], app.session
        values = session.report.values() if session.report else None
        explanation = self.query_one(ExplanationPane)
        explanation.show(lesson, values, session.checks)
        # Said on the border, not in a bar of its own: a bar would resize every pane, twice per recompute.
        waiting = session.waiting_words if session.queue_place else "computing new numbers…"
        explanation.border_subtitle = f"{waiting} these are the last good ones" if session.busy and session.report else None
        self.show_active_pane()
        for lesson_list in self.query("#lesson-list"):
            lesson_list.show(app.lessons.lessons, index, session.seen, session.checks)
        self._show_problems()

    def show_active_pane(self) -> None:
        pane_area, lesson = self._pane_area(), self.lesson
        if pane_area is not None and lesson is not None:
            pane_area.show(lesson, self.tutor_app.session, self._waiting_text())

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.show_active_pane()
        if self._prompt_wanted:
            self._prompt_wanted = False
            self._focus_prompt()
            return
        pane_area = self._pane_area()
        if pane_area is not None:
            pane_area.focus_the_tab_in_view_if_wanted()

    def on_pane_area_pane_mounted(self, event: PaneArea.PaneMounted) -> None:
        self.show_active_pane()

    def _waiting_text(self) -> str:
        session = self.tutor_app.session
        if session.report is None and session.problem:
            return safe_to_draw(f"cannot compute: {session.problem}")
        if session.queue_place is not None:  # a shared engine said where the request is
            return session.waiting_words
        return "loading the model (importing torch, reading the weights)…"

    def _show_problems(self) -> None:
        session = self.tutor_app.session
        lines = [f"lesson file problem — {problem}" for problem in self.tutor_app.lessons.problems]
        if session.problem:
            lines.append(f"cannot compute: {session.problem}")
        bar = self.query_one("#problem-bar", Static)
        bar.update(safe_to_draw("\n".join(lines)))  # file names, PyTorch's words
        bar.display = bool(lines)

    def _show_suggestion(self) -> None:
        """The lesson a workshop's instructor suggests, in a bar while it is pending; `f` is in the footer only then."""
        app = self.tutor_app
        suggested = app.session.suggested_lesson
        index = app.lessons.index_of(suggested) if suggested is not None else None
        bar = self.query_one("#suggestion-bar", Static)
        if index is not None:
            title = app.lessons.lessons[index].title
            bar.update(safe_to_draw(f"The instructor is on lesson {shown_number(index)}: {title} — press f to follow"))
        bar.display = index is not None
        self.set_class(index is not None, "-suggestion-pending")
        if index != self._suggestion_shown:
            self._suggestion_shown = index
            self.refresh_bindings()

    def _show_no_lessons(self) -> None:
        """Not one lesson loaded (none in the folder, or every file has a problem): say so, and show nothing
        of the lesson that was shown before."""
        if self.tutor_app.lessons.folder_is_empty:
            then = (" and it shows here within a second" if self.tutor_app.watch_lessons
                    else ", then choose Reload lessons in the palette (ctrl+p)")
            text = f"## No lessons\n\nThere are no lesson files (`*.md`) in the lessons folder. Add one{then}."
        else:
            text = "## No lessons\n\nNo lesson could be loaded; the problems are listed below."
        self.title = "loss-tutor · no lessons"
        explanation = self.query_one(ExplanationPane)
        explanation.border_title = "no lessons"
        explanation.border_subtitle = None
        explanation.query_one(LessonText).update(text)
        explanation.focus()  # the check's answer and the panes, which may have had it, are hidden
        for check_panel in self.query("#check-panel"):
            check_panel.display = False
        self.query_one("#pane-slot").display = False
        for lesson_list in self.query("#lesson-list"):
            lesson_list.clear_options()
        self._show_problems()

    # ----- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "follow":
            return self._suggestion_shown is not None
        if action in LAB_ACTIONS:
            key, kind = LAB_ACTIONS[action], self._lesson_lab()
            if key in self._lab_keys():
                return True
            return None if key in KEYS_OF_LAB.get(kind, ()) else False  # None: shown, dimmed
        if action == "go_to_prompt":
            return self.lesson is not None and "generate" in self.lesson.panes
        if action == "step" and isinstance(self.focused, Input):
            return False  # ← → move the cursor in the answer box (the key goes on to it)
        return super().check_action(action, parameters)

    # ----- the training lessons' keys ---------------------------------------------------------------

    def _lesson_lab(self) -> str | None:
        return lesson_lab(self.lesson.panes) if self.lesson is not None else None

    def _lab_keys(self) -> frozenset[str]:
        return lab_keys(self._lesson_lab(), self.tutor_app.labs.labs)

    def _lesson_keys(self) -> tuple:
        """The keys that depend on the lesson and its lab: the lab's that work now, and whether `g` is shown."""
        return self._lab_keys(), bool(self.check_action("go_to_prompt", ()))

    def _refresh_lesson_keys(self) -> None:
        keys = self._lesson_keys()
        if keys != self._lesson_keys_shown:
            self._lesson_keys_shown = keys
            self.refresh_bindings()

    def action_lab_run(self) -> None:
        """Run the lab, or pause it; an overfitting run that reached its target steps trains on for as many more."""
        kind, labs = self._lesson_lab(), self.tutor_app.labs
        if kind is None:
            return
        lab = labs.labs[kind]
        steps = getattr(lab.latest, "steps", ())
        if kind == OVERFIT and not lab.running and steps and steps[-1].step >= lab.target_steps:
            lab.target_steps = steps[-1].step + OVERFIT_TARGET_STEPS
        labs.toggle(kind)

    def action_lab_step(self) -> None:
        self.tutor_app.labs.step_once()

    def action_lab_restart(self) -> None:
        kind = self._lesson_lab()
        if kind is not None:
            self.tutor_app.labs.cancel(kind)

    def action_lab_use(self) -> None:
        """Every lesson computes with the trained model as it is now: a run still training is paused first (each
        step would change the model under the lessons, and keep the engine from computing them)."""
        labs = self.tutor_app.labs
        training = labs.labs.running()
        paused = training is not None and training.running and training.kind != GENERATE
        if paused:
            labs.pause(training.kind)
        self.tutor_app.choose_model(TRAINED)
        self.notify("Every lesson now computes with the model trained here"
                    + (", as it is now. Training is paused: r goes on." if paused else ".")
                    + " m chooses another model, or saves this one.", title="model", timeout=6)

    def action_follow(self) -> None:
        self.tutor_app.follow_suggestion()

    def action_go_to(self, index: int) -> None:
        self.tutor_app.go_to_lesson(index)

    def action_step(self, delta: int) -> None:
        """The next or previous lesson; nothing past the first or the last."""
        app = self.tutor_app
        if app.lesson_index is not None and 0 <= app.lesson_index + delta < len(app.lessons.lessons):
            app.go_to_lesson(app.lesson_index + delta)

    def action_row(self, delta: int) -> None:
        session = self.tutor_app.session
        if session.report is None:
            return
        row = session.row + delta
        if 0 <= row < session.report.batch_size:
            session.row = row
            self.show_active_pane()

    def action_next_tab(self) -> None:
        pane_area = self._pane_area()
        if pane_area is not None and self.query_one("#pane-slot").display:
            pane_area.next_tab()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        for pane in (self.query_one(ExplanationPane), *self.query("#panes"), *self.query("#lesson-list")):
            if pane.has_focus_within or pane.has_focus:
                self.maximize(pane, container=False)
                return
        self.maximize(self.query_one(ExplanationPane), container=False)

    def action_toggle_list(self) -> None:
        self.toggle_class("-list-toggled")

    def action_go_to_prompt(self) -> None:
        """The Generate tab in view, unzoomed if another pane filled the screen, and the focus in its prompt."""
        for tabs in self.query("#panes"):
            if self.maximized is not None and self.maximized is not tabs:
                self.minimize()
            if tabs.active == "tab-generate":
                self._focus_prompt()
            else:
                self._prompt_wanted = True
                tabs.active = "tab-generate"

    def _focus_prompt(self) -> None:
        for prompt in self.query("#generate-prompt"):
            prompt.focus()

    def action_answer(self) -> None:
        for check_panel in self.query("#check-panel"):
            check_panel.focus_answer()

    def action_hint(self) -> None:
        for check_panel in self.query("#check-panel"):
            check_panel.next_hint()

    def action_edit_text(self) -> None:
        from tutor.ui.screens.text_screen import TextScreen

        self.app.push_screen(TextScreen())

    def action_settings(self) -> None:
        from tutor.ui.screens.settings_screen import SettingsScreen

        self.app.push_screen(SettingsScreen())

    def action_choose_model(self, focus: str = LIST) -> None:
        from tutor.ui.screens.model_screen import ModelScreen

        self.app.clear_notifications()  # from this screen, whose notices (e.g. `u`'s) would lie over the form
        self.app.push_screen(ModelScreen(focus))

    def system_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Next lesson", "Go to the next lesson", lambda: self.action_step(1))
        yield SystemCommand("Previous lesson", "Go to the previous lesson", lambda: self.action_step(-1))
        yield SystemCommand("Edit text or open a file", "Use your own text", self.action_edit_text)
        yield SystemCommand("Settings", "Batch size, context length, stride, seed, shuffle, batch", self.action_settings)
        yield SystemCommand("Toggle lesson list", "Show or hide the list of lessons", self.action_toggle_list)
        yield from model_commands(self)

    # ----- events ---------------------------------------------------------------------------------

    def on_lesson_picked(self, message: LessonPicked) -> None:
        self.tutor_app.go_to_lesson(message.index)

    def on_token_chosen(self, message: TokenChosen) -> None:
        from tutor.ui.screens.inspector import InspectorScreen

        report = self.tutor_app.session.report
        if report is not None:
            self.app.push_screen(InspectorScreen(message.token, report))

    def on_check_answered(self, message: CheckAnswered) -> None:
        app = self.tutor_app
        session = app.session
        key = f"{message.lesson_id}:{message.check_id}"
        session.record_answer(key, message.correct)
        app.save_progress()
        if message.correct:  # the check stays in view with its explanation; moving on is the learner's key
            self.show_report()

    def on_back_to_lesson(self, message: BackToLesson) -> None:
        self.query_one(ExplanationPane).focus(scroll_visible=False)
