"""Predict, then reveal: a lesson's questions, answered before the live value is shown."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from tutor.core.checks import grade
from tutor.core.formatting import safe_to_draw
from tutor.core.lessons import Check, Lesson, fill_placeholders
from tutor.ui.widgets.steady_static import SteadyStatic
from tutor.ui.widgets.visible_controls import ControlPictures


@dataclass
class CheckAnswered(Message):
    lesson_id: str
    check_id: str
    correct: bool
    message: str
    last: bool  # no more checks in this lesson


KIND_PROMPTS = {
    "number": "a number, e.g. 0.5",
    "shape": "a shape, e.g. 2, 8",
    "choice": "one of the choices",
}


class CheckPanel(Vertical):
    """Shows the first check of the lesson not yet answered right; `h` reveals hints one at a time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lesson: Lesson | None = None
        self.values: dict | None = None
        self.check: Check | None = None
        self.hints_shown = 0
        self.feedback = ""
        self.answered: dict[str, bool] = {}

    def compose(self) -> ComposeResult:
        yield SteadyStatic(id="check-question")
        yield Input(id="check-answer", classes="answer", highlighter=ControlPictures())
        yield SteadyStatic(id="check-hints")
        yield SteadyStatic(id="check-feedback")

    def show(self, lesson: Lesson, values: dict | None, answered: dict[str, bool]) -> None:
        changed_lesson = self.lesson is None or self.lesson.id != lesson.id
        self.lesson, self.values, self.answered = lesson, values, answered
        pending = [check for check in lesson.checks if not answered.get(f"{lesson.id}:{check.id}")]
        check = pending[0] if pending else None
        if changed_lesson or check != self.check:
            self.check, self.hints_shown = check, 0
            if changed_lesson:
                self.feedback = ""
            self.query_one("#check-answer", Input).value = ""
        self.display = bool(lesson.checks)
        self._show_state()

    def _show_state(self) -> None:
        question = self.query_one("#check-question", Static)
        answer = self.query_one("#check-answer", Input)
        lesson = self.lesson
        if lesson is None or not lesson.checks:
            return
        if self.check is None:
            question.update(Text.assemble(("Check", "bold"), f" — all {len(lesson.checks)} answered ✓"))
            answer.display = False
        else:
            number = lesson.checks.index(self.check) + 1
            choices = f"  ({' / '.join(self.check.choices)})" if self.check.kind == "choice" else ""
            question.update(
                Text.assemble(
                    (f"Check {number} of {len(lesson.checks)}", "bold"),
                    " — predict, then press enter (a focuses the answer)\n",
                    fill_placeholders(self.check.question, self.values) + choices,
                )
            )
            answer.display = True
            answer.placeholder = KIND_PROMPTS[self.check.kind]
        hints = self.check.hints[: self.hints_shown] if self.check else ()
        hint_lines = [f"hint {i + 1}: {fill_placeholders(hint, self.values)}" for i, hint in enumerate(hints)]
        if self.check and self.hints_shown < len(self.check.hints):
            hint_lines.append(f"(h: hint {self.hints_shown + 1} of {len(self.check.hints)})")
        self.query_one("#check-hints", Static).update(Text("\n".join(hint_lines)))
        self.query_one("#check-feedback", Static).update(Text(safe_to_draw(self.feedback)))  # may quote the answer

    def next_hint(self) -> None:
        if self.check and self.hints_shown < len(self.check.hints):
            self.hints_shown += 1
            self._show_state()

    def focus_answer(self) -> None:
        if self.check is not None:
            self.query_one("#check-answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.check is None or self.lesson is None:
            return
        if not event.value.strip():
            self.feedback = "Type your prediction first."
        elif self.values is None:
            self.feedback = "The model is still loading: answer again when the numbers are ready."
        else:
            result = grade(self.check, event.value, self.values)
            self.feedback = ("✓ " if result.correct else "✗ ") + result.message
            self.set_class(result.correct, "-right")
            self.set_class(not result.correct, "-wrong")
            others_pending = [
                check
                for check in self.lesson.checks
                if check != self.check and not self.answered.get(f"{self.lesson.id}:{check.id}")
            ]
            self.post_message(
                CheckAnswered(self.lesson.id, self.check.id, result.correct, self.feedback, last=not others_pending)
            )
        self._show_state()
