"""The overfitting lesson's pane: the model trained on the batch on screen, step by step, on the engine. A status line
(the step reached, what the lab does), the loss per step as a chart, the latest step's numbers and the batch's
target tokens marked ✓ or ✗ as the model comes to predict them.

The lab runs through `app.labs` (tutor/ui/lab_runner.py); the lesson screen's keys start, pause and reset it
(tutor/core/training_view.py says which apply). This pane only draws what `app.labs.changed` publishes, and the
lessons' report (the model in use) before any step.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll

from tutor.core.answers import OverfitProgress
from tutor.core.formatting import safe_to_draw
from tutor.core.glyphs import to_ascii
from tutor.core.lab import OVERFIT
from tutor.core.report import Report
from tutor.core.training_view import (
    OPTIMIZER_WORDS,
    RIGHT,
    WRONG,
    marked_targets,
    overfit_numbers,
    overfit_results,
    overfit_series,
    overfit_status,
    same_batch,
)
from tutor.ui.typed_app import shows_ascii_only
from tutor.ui.widgets.lab_pane import LabPane
from tutor.ui.widgets.loss_chart import LossChart
from tutor.ui.widgets.steady_static import SteadyStatic


class OverfitPane(LabPane):
    """Its keys are the lesson screen's."""

    LAB_KIND = OVERFIT
    COMPONENT_CLASSES = {"overfit-pane--right", "overfit-pane--wrong", "overfit-pane--row"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.report: Report | None = None  # the lessons' report: the batch with the model in use

    def compose(self) -> ComposeResult:
        yield SteadyStatic(id="overfit-status", classes="lab-status", markup=False)
        with Horizontal(classes="lab-body"):
            yield LossChart(id="overfit-chart", title="loss", x_label="step",
                            empty_message="no step yet: r or o starts")
            with VerticalScroll(classes="lab-details", can_focus=False):
                yield SteadyStatic(id="overfit-numbers", classes="lab-numbers", markup=False)
                yield SteadyStatic(id="overfit-changed", classes="lab-warning", markup=False)
                yield SteadyStatic(id="overfit-targets", markup=False)
                yield SteadyStatic(id="overfit-settings", classes="lab-note", markup=False)

    def show(self, report: Report | None) -> None:
        """The lessons' report: before the first step, its numbers and ✓/✗ are the batch's."""
        self.report = report
        self.tutor_app.labs.get_ready_to_train()
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        lab = self.lab
        shown = (lab.running, lab.waiting, lab.queue_place, lab.problem, id(lab.latest), lab.target_steps,
                 id(self.report), self.app.theme)
        if shown == self._drawn:
            return
        self._drawn = shown
        ascii_only = shows_ascii_only(self)
        text = to_ascii if ascii_only else str
        self.query_one("#overfit-status", SteadyStatic).update(text(safe_to_draw(overfit_status(lab))))
        self.query_one("#overfit-numbers", SteadyStatic).update(text("\n".join(overfit_numbers(lab, self.report))))
        trained = lab.latest.report if isinstance(lab.latest, OverfitProgress) else None
        changed = self.query_one("#overfit-changed", SteadyStatic)
        changed.display = not same_batch(trained, self.report)
        changed.update(text("the batch has changed since this run began: x starts over on the new one"))
        self.query_one("#overfit-targets", SteadyStatic).update(self._targets(trained or self.report, ascii_only))
        settings = self.query_one("#overfit-settings", SteadyStatic)
        settings.display = not lab.started
        settings.update(f"{OPTIMIZER_WORDS}, on this batch")
        results = overfit_results(lab)
        self.query_one(LossChart).show(
            overfit_series(results), x_max=max(lab.target_steps, len(results) - 1),
            empty_message="the first step is on its way…" if lab.waiting else "no step yet: r or o starts",
        )

    def _targets(self, report: Report | None, ascii_only: bool) -> Text:
        """The batch's targets, row by row, each after ✓ if the model's most likely token is it, else ✗."""
        if report is None:
            return Text("")
        right = self.get_component_rich_style("overfit-pane--right", partial=True)
        wrong = self.get_component_rich_style("overfit-pane--wrong", partial=True)
        row_style = self.get_component_rich_style("overfit-pane--row", partial=True)
        marks = ("+", "x") if ascii_only else (RIGHT, WRONG)
        text = Text()
        row = None
        for token in marked_targets(report, ascii_only=ascii_only):
            if token.row != row:
                row = token.row
                text.append(("\n" if text else "") + f"row {row + 1}:", style=row_style)
            text.append(" ")
            text.append(marks[0] if token.right else marks[1], style=right if token.right else wrong)
            text.append(token.text)
        return text
