"""The lesson pane of the book's training run on the learner's text: its progress (step, epoch, tokens seen, time
taken and the estimate for the rest), the training and validation losses drawn as two curves against the tokens
seen, the latest losses and the run's plan.

The run goes on in the engine a slice at a time through `app.labs` (tutor/ui/lab_runner.py); the lesson screen's
keys start, pause and cancel it. This pane only draws what `app.labs.changed` publishes.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll

from tutor.core.formatting import safe_to_draw
from tutor.core.glyphs import to_ascii
from tutor.core.lab import TEXT_RUN
from tutor.core.training import TextRunSettings
from tutor.core.training_view import (
    plan_lines,
    settings_lines,
    text_run_losses,
    text_run_progress,
    text_run_series,
    text_run_status,
    text_run_timing,
    tokens_at_end,
)
from tutor.ui.typed_app import shows_ascii_only
from tutor.ui.widgets.lab_pane import LabPane
from tutor.ui.widgets.loss_chart import LossChart
from tutor.ui.widgets.steady_static import SteadyStatic


class TrainTextPane(LabPane):
    """Its keys are the lesson screen's."""

    LAB_KIND = TEXT_RUN

    def compose(self) -> ComposeResult:
        yield SteadyStatic(id="train-text-status", classes="lab-status", markup=False)
        yield SteadyStatic(id="train-text-problem", classes="lab-problem", markup=False)
        with Horizontal(classes="lab-body"):
            yield LossChart(id="train-text-chart", title="loss", x_label="tokens seen",
                            empty_message="none yet: r starts")
            with VerticalScroll(classes="lab-details", can_focus=False):
                yield SteadyStatic(id="train-text-numbers", classes="lab-numbers", markup=False)
                yield SteadyStatic(id="train-text-plan", classes="lab-note", markup=False)

    def show(self) -> None:
        self.tutor_app.labs.get_ready_to_train()
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        lab, menu = self.lab, self.tutor_app.labs.menu
        shown = (lab.running, lab.waiting, lab.queue_place, lab.problem, id(lab.latest), id(menu), self.app.theme)
        if shown == self._drawn:
            return
        self._drawn = shown
        text = to_ascii if shows_ascii_only(self) else str
        progress = text_run_progress(lab)
        # What the engine trains with: the run's own settings, with the epochs the lab asks for.
        epochs = progress.epochs if progress is not None else self.tutor_app.labs.text_run_epochs
        settings = replace(TextRunSettings(), **({"epochs": epochs} if epochs else {}))
        self.query_one("#train-text-status", SteadyStatic).update(text(safe_to_draw(text_run_status(lab))))
        problem = self.query_one("#train-text-problem", SteadyStatic)
        problem.display = lab.problem is not None
        problem.update(text(f"{'Stopped' if lab.started else 'Not started'}: {safe_to_draw(lab.problem or '')}"))
        if progress is None:
            numbers, plan = [], settings_lines(settings, menu)
        else:
            numbers = [*text_run_timing(progress), *text_run_losses(progress)]
            plan = plan_lines(progress.plan, settings)
        numbers_widget = self.query_one("#train-text-numbers", SteadyStatic)
        numbers_widget.display = bool(numbers)
        numbers_widget.update(text("\n".join(numbers)))
        self.query_one("#train-text-plan", SteadyStatic).update(text("\n".join(plan)))
        busy = lab.running or lab.waiting
        self.query_one(LossChart).show(
            text_run_series(progress), x_max=tokens_at_end(progress),
            empty_message="measuring both losses before the first step…" if busy else "none yet: r starts",
        )
