"""What the two training lessons' panes say (tutor/ui/widgets/overfit_pane.py, train_text_pane.py), as plain text
worked out from the labs (tutor/core/lab.py) and the engine's answers: which lab a lesson runs, which of its keys
apply now, the status lines, the numbers, the chart's series and the batch's targets marked right or wrong. No
Textual here: the panes only draw these. Every number comes from an answer of the engine; the settings the lines
name (learning rate, window size) are the ones the engine trains with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tutor.core.answers import ModelMenu, OverfitProgress
from tutor.core.formatting import counted, safe_to_draw, visible
from tutor.core.lab import OVERFIT, TEXT_RUN, Lab, Labs
from tutor.core.report import Report
from tutor.core.text_chart import Series
from tutor.core.training import (
    LEARNING_RATE,
    TRAIN_RATIO,
    WEIGHT_DECAY,
    OverfitStepResult,
    TextRunPlan,
    TextRunProgress,
    TextRunSettings,
)

# The pane of each lab, as a lesson's `panes` names it.
LAB_OF_PANE = {"overfit": OVERFIT, "train_text": TEXT_RUN}
# The lesson screen's keys for a lab: run or pause, one step (overfitting only), start over, use the model.
RUN, STEP, RESTART, USE = "run", "step", "restart", "use"
OPTIMIZER_WORDS = f"AdamW, lr {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY:g}"
RIGHT, WRONG = "✓", "✗"


def lesson_lab(panes: Sequence[str]) -> str | None:
    """The lab a lesson with these panes runs, or None."""
    return next((LAB_OF_PANE[pane] for pane in panes if pane in LAB_OF_PANE), None)


# Every key a lab's lesson shows: those that do not work now are shown dimmed, so that the footer keeps its place
# (and its layout) while a lab runs.
KEYS_OF_LAB = {OVERFIT: frozenset({RUN, STEP, RESTART, USE}), TEXT_RUN: frozenset({RUN, RESTART, USE})}


def lab_keys(kind: str | None, labs: Labs) -> frozenset[str]:
    """Which of the lab keys work now in a lesson running `kind`: `u` only once this lab has trained the model the
    engine holds by a step at least."""
    if kind is None:
        return frozenset()
    lab = labs[kind]
    keys = {RESTART}
    if kind == OVERFIT:
        keys |= {RUN, STEP}  # past its target steps, `r` trains on for as many more
    elif not lab.finished:
        keys.add(RUN)
    if has_trained(lab) and labs.trained_by == kind:
        keys.add(USE)
    return frozenset(keys)


def has_trained(lab: Lab) -> bool:
    """Whether the lab has taken a training step: a run on the text first measures the model as it starts."""
    latest = lab.latest
    if isinstance(latest, OverfitProgress):
        return bool(latest.steps) and latest.steps[-1].step >= 1
    return isinstance(latest, TextRunProgress) and latest.step >= 1


# ----- numbers as the panes write them -----------------------------------------------------------------------


def loss_text(loss: float) -> str:
    if math.isfinite(loss) and 0 < abs(loss) < 0.001:
        return f"{loss:.1e}"
    return f"{loss:.3f}"


def perplexity_text(perplexity: float) -> str:
    if not math.isfinite(perplexity):
        return "inf"
    if perplexity >= 100:
        return f"{perplexity:,.0f}"
    return f"{perplexity:.2f}" if perplexity >= 10 else f"{perplexity:.3f}"


def duration(seconds: float) -> str:
    """A measured time: "42 s", "3 min 05 s", "1 h 02 min"."""
    whole = max(int(round(seconds)), 0)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def busy_words(lab: Lab, in_hand: str) -> str:
    """The lab's state words, except that work asked for while the lab is not running (one step, or what was in
    hand when the learner paused) is said to be finished first: `in_hand` names it."""
    if lab.waiting and not lab.running and not lab.queue_place:
        return f"finishing {in_hand}, then pausing…"
    return lab.state_words


# ----- overfitting one batch ------------------------------------------------------------------------------------


def overfit_results(lab: Lab) -> tuple[OverfitStepResult, ...]:
    return lab.latest.steps if isinstance(lab.latest, OverfitProgress) else ()


def overfit_status(lab: Lab) -> str:
    """The pane's first line: the step reached, what the lab does, the keys that go on."""
    results = overfit_results(lab)
    if not results:
        if lab.problem:
            return f"stopped: {safe_to_draw(lab.problem)} · r or o tries again"
        if lab.waiting and lab.queue_place:
            return lab.state_words
        if lab.waiting:
            return "starting: copying the model, then its first step on this batch…"
        return f"not started · r trains on this batch to step {lab.target_steps}, o takes one step"
    step = results[-1].step
    where = f"step {step} of {max(lab.target_steps, step)}"
    if lab.running or lab.waiting or lab.problem:
        return f"{where} · {busy_words(lab, 'this step')}"
    if step >= lab.target_steps:
        return f"{where} · done · r trains on, o one more step, x starts over"
    return f"{where} · paused · r goes on, o one step, x starts over"


def correct_count(predicted: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(positions whose most likely token is the target, positions)."""
    pairs = [(p, t) for row_p, row_t in zip(predicted, targets) for p, t in zip(row_p, row_t)]
    return sum(p == t for p, t in pairs), len(pairs)


def overfit_numbers(lab: Lab, before: Report | None) -> list[str]:
    """The latest step's numbers, each on a short line; before any step, the batch's with the model in use."""
    results = overfit_results(lab)
    if results and isinstance(lab.latest, OverfitProgress):
        result = results[-1]
        right, total = correct_count(result.predicted, lab.latest.report.targets)
        lines = [
            f"loss {loss_text(result.eval_loss)} · perplexity {perplexity_text(result.perplexity)}",
            f"{right} of {total} predictions right {RIGHT}",
        ]
        if result.train_loss is not None:
            lines += [f"train-mode loss {loss_text(result.train_loss)}", f"{result.seconds:.2f} s for this step"]
        return lines
    if before is None:
        return []
    return [
        "before any step:",
        f"loss {loss_text(before.loss_pytorch)} · perplexity {perplexity_text(before.perplexity)}",
        f"{sum(token.correct for token in before.tokens)} of {len(before.tokens)} predictions right {RIGHT}",
    ]


def overfit_series(results: Sequence[OverfitStepResult]) -> tuple[Series, Series]:
    """The loss after each step in eval mode (step 0: before any), and each step's own loss in train mode."""
    return (
        Series("eval mode", tuple((float(r.step), r.eval_loss) for r in results)),
        Series("train mode", tuple((float(r.step), r.train_loss) for r in results if r.train_loss is not None)),
    )


@dataclass(frozen=True)
class MarkedToken:
    row: int
    text: str  # drawn visibly (spaces as ·)
    right: bool


def marked_targets(report: Report, *, ascii_only: bool = False) -> list[MarkedToken]:
    """Every target token of the report's batch, in order, with whether the model's most likely token is it."""
    return [MarkedToken(token.row, visible(token.target_token, ascii_only=ascii_only), token.correct)
            for token in report.tokens]


def same_batch(first: Report | None, second: Report | None) -> bool:
    return first is None or second is None or (first.inputs == second.inputs and first.targets == second.targets)


# ----- training on the text -----------------------------------------------------------------------------------


def text_run_progress(lab: Lab) -> TextRunProgress | None:
    return lab.latest if isinstance(lab.latest, TextRunProgress) else None


def text_run_status(lab: Lab) -> str:
    progress = text_run_progress(lab)
    if progress is None:
        if lab.problem:
            return "stopped · r tries again"
        if lab.waiting and lab.queue_place:
            return lab.state_words
        if lab.waiting:
            return "starting… splitting the text into windows, then measuring both losses before the first step"
        return "not started · r starts the run"
    where = f"step {progress.step:,} of {progress.total_steps:,} · epoch {progress.epoch} of {progress.epochs}"
    if progress.evaluating is not None and (lab.running or lab.waiting):  # paused, it would only crowd the line
        measured, batches = progress.evaluating
        where += f" · evaluating: {measured} of {batches} batches"
    if lab.running or lab.waiting or lab.problem:
        return f"{where} · {busy_words(lab, 'the steps in hand')}"
    if progress.finished:
        return f"{where} · finished · u uses it in every lesson, x starts over"
    return f"{where} · paused · r resumes, x starts over"


def text_run_timing(progress: TextRunProgress) -> list[str]:
    """The tokens trained on, the time it took, and (measured from it) the time the rest will take."""
    lines = [f"{progress.tokens_seen:,} tokens seen"]
    if not progress.step:
        return [*lines, f"{duration(progress.seconds)} so far"]
    lines.append(f"{duration(progress.seconds)} · {progress.step_seconds / progress.step:.2f} s a step")
    left = progress.seconds_left
    if not progress.finished and left is not None:
        lines.append(f"about {duration(left)} to go")
    return lines


def text_run_losses(progress: TextRunProgress) -> list[str]:
    lines = []
    if progress.train_losses and progress.val_losses:
        step, _, train = progress.train_losses[-1]
        val = progress.val_losses[-1][2]
        lines += [f"losses at step {step:,}, eval mode:", f"train {loss_text(train)} · validation {loss_text(val)}"]
    if progress.step_losses:
        lines.append(f"last step {loss_text(progress.step_losses[-1][2])} (train mode)")
    return lines


def plan_lines(plan: TextRunPlan, settings: TextRunSettings) -> list[str]:
    """The run's plan, as the engine made it from the text, in short lines."""
    return [
        f"train: {counted(plan.train_tokens, 'token')}, {counted(plan.train_windows, 'window')}",
        f"validate: {counted(plan.val_tokens, 'token')}, {counted(plan.val_windows, 'window')}",
        f"windows of {settings.context_length} tokens, stride {settings.stride}",
        f"{counted(plan.batches_per_epoch, 'batch', 'batches')} of {settings.batch_size} an epoch",
        f"{counted(plan.total_steps, 'step')} in {counted(settings.epochs, 'epoch')}",
    ]


def settings_lines(settings: TextRunSettings, menu: ModelMenu | None) -> list[str]:
    """What a run will do, before it has started (its plan needs the engine's tokenizer), in short lines."""
    lines = [
        "the book's train_model_simple:",
        f"AdamW, lr {LEARNING_RATE:g}",
        f"weight decay {WEIGHT_DECAY:g}",
        f"the first {TRAIN_RATIO:.0%} of the text trains,",
        f"the last {1 - TRAIN_RATIO:.0%} validates",
        f"windows of {settings.context_length}, stride {settings.stride},",
        f"batches of {settings.batch_size}, {counted(settings.epochs, 'epoch')}",
        f"both losses every {counted(settings.eval_freq, 'step')},",
        f"each on {counted(settings.eval_iter, 'batch', 'batches')}",
    ]
    if menu is not None and not menu.may_train_on_text:
        lines[:0] = ["training on the text is off here", "(the instructor can allow it)"]
    return lines


def text_run_series(progress: TextRunProgress | None) -> tuple[Series, Series]:
    """The book's two curves: both losses in eval mode against the tokens seen."""
    if progress is None:
        return Series("train", ()), Series("validation", ())
    return (
        Series("train", tuple((float(tokens), loss) for _, tokens, loss in progress.train_losses)),
        Series("validation", tuple((float(tokens), loss) for _, tokens, loss in progress.val_losses)),
    )


def tokens_at_end(progress: TextRunProgress | None) -> float | None:
    """The tokens seen once every step is taken (every training batch is full), for the chart's x axis."""
    if progress is None or not progress.step:
        return None
    return progress.tokens_seen / progress.step * progress.total_steps
