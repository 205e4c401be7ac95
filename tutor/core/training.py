"""Training's settings and progress as plain data: what the training code (tutor/lm/training.py) reports after each
step and evaluation, for the command line, the engine and the lessons. No torch here: every value is an int, a
float, a string, None, or a tuple of those, so the progress pickles through a restricted unpickler and `to_json_dict`
gives JSON types.

Two runs, both with the book's optimizer (chapter 5: AdamW, learning rate 0.0004, weight decay 0.1):
- overfitting one batch: the same batch, step after step, until the model has memorised it;
- training on the text: the book's `train_model_simple`, 90 % of the text's characters for training and the last
  10 % for validation, both losses evaluated every few steps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from tutor.core.settings import (
    MODEL_CONTEXT_LENGTH,
    WholeNumberRule,
    check_positions,
    check_window_settings,
    whole_number_rules,
)

LEARNING_RATE = 0.0004  # the book's chapter 5, for both runs
WEIGHT_DECAY = 0.1
TRAIN_RATIO = 0.90  # of the text's characters, as the book splits it; the rest is for validation
TRAINING_SEED = 123  # seeds dropout and the shuffling of the training windows

OVERFIT_STEPS = 25  # the overfitting lesson's (and `loss-tutor train --overfit-batch`'s) default
# The most a run may be asked for: 50 epochs of the sample story is about 40 minutes on two cores, and 10,000
# overfitting steps about two hours. More is a typing mistake far more often than a plan.
MAX_EPOCHS = 50
MAX_STEPS = 10_000


def whole_number(label: str, value: object, low: int = 1, high: int | None = None) -> None:
    WholeNumberRule(label, low, high).check(value)


def check_rate(label: str, value: object, *, positive: bool) -> None:
    number_types = (int, float)
    if not isinstance(value, number_types) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{label} must be a number; got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{label} must be {'above' if positive else 'at least'} 0; got {value!r}")


@dataclass(frozen=True)
class TextRunSettings:
    """How to train on a text. The defaults are the lesson's run, chosen for the sample story (3,868 tokens to train
    on, 452 to validate) and two cores:
    - windows of 64 tokens that do not overlap, as the book's 256 with stride 256 do not: 30 batches an epoch, a step
      every 1.1 s or so, and the 452 validation tokens make 7 windows, every one of them evaluated (at 256 they make
      one, a 256-token sample of them; at the app's 8 with stride 4 an epoch is 482 steps, about 4 minutes);
    - the book's batch size, learning rate and weight decay;
    - 4 epochs (the book runs 10) and both losses every 10 steps on 4 batches each: the whole run, evaluations
      included, takes about 3 minutes 10 s, and by its end the validation loss has levelled off near 6 while the
      training loss goes on falling past 2.5. Each epoch more costs about 45 s.
    `max_steps` stops the run early, after that many steps (and a last evaluation)."""

    context_length: int = 64
    stride: int = 64
    batch_size: int = 2
    epochs: int = 4
    eval_freq: int = 10
    eval_iter: int = 4
    seed: int = TRAINING_SEED
    learning_rate: float = LEARNING_RATE
    weight_decay: float = WEIGHT_DECAY
    max_steps: int | None = None

    def validate(self, max_context_length: int = MODEL_CONTEXT_LENGTH) -> None:
        """Raise `ValueError` with a learner-readable reason for settings no run can be made with."""
        check_window_settings(
            batch_size=self.batch_size, context_length=self.context_length, stride=self.stride,
            max_context_length=max_context_length,
        )
        check_positions(self.batch_size, self.context_length)
        whole_number("epochs", self.epochs, high=MAX_EPOCHS)
        whole_number("the evaluation frequency (steps between evaluations)", self.eval_freq)
        whole_number("the batches per evaluation", self.eval_iter)
        whole_number_rules()["seed"].check(self.seed)
        check_rate("the learning rate", self.learning_rate, positive=True)
        check_rate("the weight decay", self.weight_decay, positive=False)
        if self.max_steps is not None:
            whole_number("the number of steps", self.max_steps, high=MAX_STEPS)

    def to_json_dict(self) -> dict:
        return asdict(self)


def train_characters(text: str) -> int:
    """Where the book splits a text: the first 90 % of its characters train, the rest validate."""
    return int(TRAIN_RATIO * len(text))


@dataclass(frozen=True)
class TextRunPlan:
    """What a run on a text will do, known before its first step."""

    characters: int
    train_characters: int
    val_characters: int
    train_tokens: int
    val_tokens: int
    train_windows: int
    val_windows: int
    batches_per_epoch: int  # full training batches (the book's train loader drops a short last one)
    val_batches: int  # validation batches, the last one possibly short (the book's val loader keeps it)
    total_steps: int  # batches_per_epoch × epochs, or max_steps if that is fewer
    evaluations: int = 0  # how many times both losses will be measured, the ones before and after training included

    def to_json_dict(self) -> dict:
        return asdict(self)


def count_evaluations(total_steps: int, eval_freq: int) -> int:
    """The one before training, one after steps 1, 1 + eval_freq, ... (the book's schedule), and one after the last
    step if the schedule does not fall there."""
    return 1 + len(range(1, total_steps + 1, eval_freq)) + ((total_steps - 1) % eval_freq != 0)


@dataclass(frozen=True)
class OverfitStepResult:
    """The batch's numbers after `step` optimizer steps on it (step 0: before any).

    `train_loss` is the step's own loss, computed in train mode (dropout on) before its update: the number the
    optimizer saw. The rest are measured after the update in eval mode (dropout off), as every lesson computes them:
    the loss, its exp (perplexity), the share of positions whose most likely token is the target, and each
    position's most likely token id."""

    step: int
    train_loss: float | None  # None at step 0: no step taken yet
    eval_loss: float
    perplexity: float
    accuracy: float
    predicted: tuple[tuple[int, ...], ...]  # (batch size, context length) token ids
    seconds: float  # the step and its evaluation

    def to_json_dict(self) -> dict:
        return {**asdict(self), "predicted": [list(row) for row in self.predicted]}


@dataclass(frozen=True)
class TextRunStep:
    """One optimizer step on one training batch; `loss` is the loss it trained on, in train mode (dropout on)."""

    step: int  # steps taken so far, this one included
    epoch: int  # 1-based
    tokens_seen: int  # input tokens of every batch trained on so far, this one included
    loss: float
    seconds: float

    def to_json_dict(self) -> dict:
        return {"event": "step", **asdict(self)}


@dataclass(frozen=True)
class TextRunEvaluation:
    """Both losses in eval mode (dropout off), as the book's `evaluate_model`: the mean loss of `eval_iter` training
    batches (a fresh shuffle of them) and of the first `eval_iter` validation batches."""

    step: int  # steps taken when it was evaluated (0: before training)
    epoch: int
    tokens_seen: int
    train_loss: float
    val_loss: float
    seconds: float

    def to_json_dict(self) -> dict:
        return {"event": "evaluation", **asdict(self)}


TrainingEvent = TextRunStep | TextRunEvaluation

# (step, tokens seen, loss)
LossPoint = tuple[int, int, float]


@dataclass(frozen=True)
class TextRunProgress:
    """Where a run on a text stands: what the lesson draws. `train_losses` and `val_losses` are the evaluations (eval
    mode), the book's two curves; `step_losses` the loss of every step (train mode, dropout on)."""

    step: int
    total_steps: int
    epoch: int  # the epoch of the last step (1 before the first)
    epochs: int
    tokens_seen: int
    step_losses: tuple[LossPoint, ...]
    train_losses: tuple[LossPoint, ...]
    val_losses: tuple[LossPoint, ...]
    finished: bool
    seconds: float  # time spent stepping and evaluating so far (a paused run's clock stops)
    plan: TextRunPlan
    evaluating: tuple[int, int] | None = None  # an evaluation under way: (batches measured, of how many)
    step_seconds: float = 0.0  # the part of `seconds` spent in steps; the rest went to evaluations

    @property
    def seconds_left(self) -> float | None:
        """What the rest of the run should take: the steps left at what a step has taken, and the evaluations left
        at what an evaluation has taken (they cost differently, and the first step comes after one). None until
        a step and an evaluation have been timed."""
        done = len(self.train_losses) + (self.evaluating[0] / self.evaluating[1] if self.evaluating else 0.0)
        if not self.step or not done:
            return None
        per_step = self.step_seconds / self.step
        per_evaluation = (self.seconds - self.step_seconds) / done
        evaluations_left = max(self.plan.evaluations - done, 0.0)
        return (self.total_steps - self.step) * per_step + evaluations_left * per_evaluation

    @property
    def seconds_per_epoch(self) -> float | None:
        """What an epoch has cost so far, its evaluations included: what each epoch more would cost. None before
        the first step."""
        return self.seconds / self.step * self.plan.batches_per_epoch if self.step else None

    def to_json_dict(self) -> dict:
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        for name in ("step_losses", "train_losses", "val_losses"):
            values[name] = [list(point) for point in values[name]]
        return {**values, "plan": self.plan.to_json_dict()}
