"""Predict, then reveal: a lesson's questions, answered before the live value is shown.

A right answer stays on screen with its explanation until the learner moves on (`a` for the next check, or
another lesson); the focus goes back to the lesson, so its keys work again. Each answered check keeps its
own feedback, listed above the check in view."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static

from tutor.core.checks import answer_prompt, grade, right_message
from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import Check, Lesson, fill_placeholders
from tutor.ui.inline_code import with_inline_code
from tutor.ui.widgets.steady_static import SteadyStatic
from tutor.ui.widgets.visible_controls import ControlPictures


@dataclass
class CheckAnswered(Message):
    lesson_id: str
    check_id: str
    correct: bool


class BackToLesson(Message):
    """The learner left the answer box (escape): the lesson's keys are wanted again."""


class AnswerBox(Input):
    """Where a prediction is typed; what it is typed in is said in the footer while it has the focus."""

    BINDINGS = [Binding("enter", "submit", "Check answer", id="check-answer")]


class HintButton(Button):
    """The next hint, for the mouse and for a terminal that keeps F1 to itself."""

    BINDINGS = [Binding("enter,space", "press", "Hint", show=False)]


class CheckPanel(Vertical):
    """Shows the first check of the lesson not yet answered right, or the one just answered right with its
    explanation; hints one at a time (`h` on the lesson, F1 or the Hint button in the answer box).
    Inline code in the checks' texts (`inputs`) is drawn as code, without its backticks."""

    COMPONENT_CLASSES = {"check-panel--code"}

    BINDINGS = [
        # In the panel's bindings, not the answer box's: they work from the box and from the Hint button.
        Binding("escape", "back_to_lesson", "Lesson keys", id="leave-answer"),
        Binding("f1", "hint", "Hint", id="hint-from-answer"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lesson: Lesson | None = None
        self.values: dict | None = None
        self.check: Check | None = None
        self.just_answered = False  # `check` was just answered right: it stays in view until the learner moves on
        self.hints_shown = 0
        self.feedback = ""  # what the last wrong answer to `check` was told
        self.answered: dict[str, bool] = {}
        self._changed_lesson = False  # `lesson` changed since the panel was last drawn

    def compose(self) -> ComposeResult:
        yield SteadyStatic(id="check-done")
        yield SteadyStatic(id="check-question")
        with Horizontal(id="check-answer-row"):
            yield AnswerBox(id="check-answer", classes="answer", highlighter=ControlPictures())
            yield HintButton("Hint", id="check-hint-button", compact=True)
        yield SteadyStatic(id="check-hints")
        yield SteadyStatic(id="check-feedback")
        yield SteadyStatic(id="check-next")  # after a right answer: how to go on

    def _is_answered(self, check: Check) -> bool:
        return self.lesson is not None and bool(self.answered.get(f"{self.lesson.id}:{check.id}"))

    def show(self, lesson: Lesson, values: dict | None, answered: dict[str, bool]) -> None:
        """Draw `lesson`'s checks; before the panel's own widgets are mounted, `on_mount` draws them."""
        self._changed_lesson = self._changed_lesson or self.lesson is None or self.lesson.id != lesson.id
        self.lesson, self.values, self.answered = lesson, values, answered
        if self.is_mounted:
            self._draw()

    def on_mount(self) -> None:
        if self.lesson is not None:
            self._draw()

    def _draw(self) -> None:
        lesson, changed_lesson, self._changed_lesson = self.lesson, self._changed_lesson, False
        if changed_lesson or not self.just_answered:
            pending = [check for check in lesson.checks if not self._is_answered(check)]
            self._show_check(pending[0] if pending else None, fresh=changed_lesson)
        self.display = bool(lesson.checks)
        self._show_state()

    def _show_check(self, check: Check | None, fresh: bool = False) -> None:
        """Put `check` in view, waiting for an answer (None: all are answered)."""
        if fresh or check != self.check or self.just_answered:
            self.check, self.hints_shown, self.feedback, self.just_answered = check, 0, "", False
            self.query_one("#check-answer", Input).value = ""
            self.remove_class("-right", "-wrong")

    def _show_state(self) -> None:
        question = self.query_one("#check-question", Static)
        answer = self.query_one("#check-answer", Input)
        lesson, check = self.lesson, self.check
        if lesson is None or not lesson.checks:
            return
        count = len(lesson.checks)
        answered_before = self._answered_before()
        self.query_one("#check-done", Static).update(answered_before)
        self.query_one("#check-done").display = bool(answered_before)
        waiting = check is not None and not self.just_answered
        if check is None:
            question.update(Text.assemble(("Check", "bold"), f" — all {count} answered ✓"))
        elif self.just_answered:
            question.update(Text.assemble(
                (f"Check {lesson.checks.index(check) + 1} of {count} ✓", "bold"), " — answered right\n",
                self._question(check),
            ))
        else:
            question.update(Text.assemble(
                (f"Check {lesson.checks.index(check) + 1} of {count}", "bold"),
                " — predict, then press enter (a focuses the answer)\n",
                self._question(check),
            ))
            answer.placeholder = answer_prompt(check)
        self.query_one("#check-answer-row").display = waiting
        if not waiting and answer.has_focus:
            self.post_message(BackToLesson())  # the box is hidden: the focus must not stay in it
        hints = check.hints[: self.hints_shown] if waiting and check else ()
        lines = [f"hint {i + 1}: {fill_placeholders(hint, self.values)}" for i, hint in enumerate(hints)]
        more_hints = waiting and check is not None and self.hints_shown < len(check.hints)
        if more_hints and check is not None:
            lines.append(f"(h: hint {self.hints_shown + 1} of {len(check.hints)} — F1 in the answer box)")
        self.query_one("#check-hint-button").display = more_hints
        self.query_one("#check-hints", Static).update(self._with_code("\n".join(lines)))
        self.query_one("#check-next", Static).update(Text(self._what_next() if self.just_answered else ""))
        feedback = self.feedback
        if self.just_answered and check is not None and self.values is not None:
            feedback = "✓ " + right_message(check, self.values)  # with this run's numbers, should they change
        self.query_one("#check-feedback", Static).update(self._with_code(safe_to_draw(feedback)))  # may quote the answer

    def _with_code(self, text: str, style: str = "") -> Text:
        return with_inline_code(text, self.get_component_rich_style("check-panel--code", partial=True), style)

    def _question(self, check: Check) -> Text:
        choices = f"  ({' / '.join(check.choices)})" if check.kind == "choice" else ""
        return self._with_code(fill_placeholders(check.question, self.values) + choices)

    def _answered_before(self) -> Text:
        """The lesson's other checks answered right, each with what its answer was told."""
        text = Text()
        lesson = self.lesson
        if lesson is None:
            return text
        for number, check in enumerate(lesson.checks, 1):
            if check == self.check or not self._is_answered(check):
                continue
            text.append(f"Check {number} of {len(lesson.checks)} ✓", "bold")
            text.append(" — ")
            text.append(self._question(check))
            text.append("\n")
            if self.values is not None:
                text.append(self._with_code(safe_to_draw(right_message(check, self.values)), "italic"))
            text.append("\n\n")
        text.rstrip()
        return text

    def _what_next(self) -> str:
        lesson = self.lesson
        pending = [check for check in lesson.checks if not self._is_answered(check)] if lesson else []
        if lesson is not None and pending:
            return f"Press a for check {lesson.checks.index(pending[0]) + 1} of {len(lesson.checks)}, or → for the next lesson."
        return "All checks of this lesson answered: → for the next lesson."

    def next_hint(self) -> None:
        if self.check and not self.just_answered and self.hints_shown < len(self.check.hints):
            self.hints_shown += 1
            self._show_state()
            self._bring_into_view("#check-hints")

    def _bring_into_view(self, selector: str, top: bool = False) -> None:
        """Scroll the lesson so that what just changed below the answer box is seen, once it is laid out."""
        self.call_after_refresh(self.query_one(selector).scroll_visible, animate=False, top=top)

    def focus_answer(self) -> None:
        """`a`: into the answer box; after a right answer, on to the next check first."""
        if self.just_answered and self.lesson is not None:
            pending = [check for check in self.lesson.checks if not self._is_answered(check)]
            self._show_check(pending[0] if pending else None)
            self._show_state()
        if self.check is not None and not self.just_answered:
            answer = self.query_one("#check-answer", Input)
            answer.focus()
            self.call_after_refresh(answer.scroll_visible, animate=False)  # where it is once the check is laid out

    def action_back_to_lesson(self) -> None:
        self.post_message(BackToLesson())

    def action_hint(self) -> None:
        self.next_hint()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.next_hint()
        self.focus_answer()  # a hint asked for with the mouse or the button: the answer is typed next

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.check is None or self.lesson is None or self.just_answered:
            return
        if not event.value.strip():
            self.feedback = "Type your prediction first."
        elif self.values is None:
            self.feedback = "The model is still loading: answer again when the numbers are ready."
        else:
            result = grade(self.check, event.value, self.values)
            self.feedback = ("✓ " if result.correct else "✗ ") + result.message
            self.just_answered = result.correct
            self.set_class(result.correct, "-right")
            self.set_class(not result.correct, "-wrong")
            self.post_message(CheckAnswered(self.lesson.id, self.check.id, result.correct))
        self._show_state()
        self._bring_into_view("#check-feedback", top=self.just_answered)  # a right answer's explanation from its start
