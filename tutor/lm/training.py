"""Training the model, as the book's chapter 5 does: AdamW on the cross entropy of each batch.

`OverfitRun` trains on one batch over and over, one `step()` at a time, and measures the batch after each step: the
loss falls to 0, the perplexity to 1 and every prediction comes right, because the model memorises those tokens.
`TextRun` is the book's `train_model_simple` on a text, split 90 / 10 into training and validation parts, made to
run in chunks (`run_for`) so that whoever runs it can report progress, pause (not call it) or cancel (drop it).

Both train a deep copy of the model they are given: the tutor's untrained model is memory-mapped from its cache file
and shared. Between steps the copy is in eval mode with `requires_grad` off, ready for any lesson to compute with
(it is the same object the next step changes). Dropout, and the book's DataLoaders, draw their random numbers from
PyTorch's global generator; a run sets that to its own state while it draws and puts the caller's back afterwards,
so a run is the same for the same seed, in chunks or in one go, and leaves the caller's random numbers as they were.

A step is all or nothing: `checkpoint` (if given) is called before each step, after its backward pass and before
each evaluation batch, and may raise to abandon the work; the optimizer's update comes after the last checkpoint,
so an abandoned step leaves the weights, the optimizer and the run as they were before it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from tutor.core.training import (
    LEARNING_RATE,
    TRAIN_RATIO,
    TRAINING_SEED,
    WEIGHT_DECAY,
    OverfitStepResult,
    TextRunEvaluation,
    TextRunPlan,
    TextRunProgress,
    TextRunSettings,
    TextRunStep,
    TrainingEvent,
    check_rate,
    count_evaluations,
    train_characters,
)
from tutor.core.windows import check_enough_tokens, count_windows
from tutor.lm.data import tokenize, windows_at
from tutor.lm.model import GPTModel

Checkpoint = Callable[[], None]


def carry_on() -> None:
    """The checkpoint of a run nobody abandons."""


def trainable_copy(model: GPTModel) -> GPTModel:
    """A copy of `model` with weights of its own, in eval mode with `requires_grad` off. Its weights will no longer
    be the seed's, so its `seed` is None."""
    copied = copy.deepcopy(model)
    copied.seed = None
    return copied.eval().requires_grad_(False)


def make_optimizer(model: GPTModel, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    """The book's AdamW. Fused: the same update in one pass over each tensor, about 0.1 s a step for the 124M model
    on two cores against 0.5 for the default implementation, and with fewer temporary copies (300 MB less at the
    peak). Its rounding differs from the default's, which Adam can turn into a step of up to the learning rate where
    a gradient is tiny: the book's loop gives the same numbers only with the same implementation."""
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


def get_ready_to_train() -> None:
    """Builds a throwaway optimizer. A process's first one imports PyTorch's compiler (about 1.1 s on two cores, and
    75 MB), which the first step of a training lesson would otherwise make the learner wait for."""
    make_optimizer(torch.nn.Linear(1, 1), LEARNING_RATE, WEIGHT_DECAY)


def loss_of_batch(model: GPTModel, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The book's `calc_loss_batch`: cross entropy of the flattened logits against the flattened targets."""
    logits = model(inputs)  # (B, T, vocab)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


class RandomStream:
    """The random numbers a run draws. The book's code draws them all from PyTorch's global generator, seeded once:
    dropout's masks, and the seeds its DataLoaders take at each pass. A run does the same with a generator of its
    own: inside `drawing()` the global generator is set to the run's state and the caller's is put back after, and
    the run's state moves on only when `commit()` is called, once the work that drew the numbers is done."""

    def __init__(self, seed: int):
        self.state = torch.Generator().manual_seed(seed).get_state()
        self._drawn: torch.Tensor | None = None

    @contextmanager
    def drawing(self) -> Iterator[None]:
        self._drawn = None
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.state)
            yield
            self._drawn = torch.get_rng_state()

    def commit(self) -> None:
        if self._drawn is not None:
            self.state, self._drawn = self._drawn, None


Batch = tuple[torch.Tensor, torch.Tensor]


def train_step(
    model: GPTModel,
    optimizer: torch.optim.Optimizer,
    stream: RandomStream,
    next_batch: Callable[[], Batch],
    checkpoint: Checkpoint,
) -> tuple[float, int]:
    """One optimizer step on the batch `next_batch()` gives (it may draw random numbers), in train mode (dropout
    on); returns the loss it trained on and the batch's token count. All or nothing: if `checkpoint` raises, the
    weights, the optimizer's state and the random stream are as they were."""
    model.train().requires_grad_(True)
    try:
        with stream.drawing():
            inputs, targets = next_batch()
            loss = loss_of_batch(model, inputs, targets)
            loss.backward()
        checkpoint()
        optimizer.step()
    finally:
        optimizer.zero_grad(set_to_none=True)  # 4 bytes a weight, freed between steps
        model.eval().requires_grad_(False)
    stream.commit()
    return loss.item(), inputs.numel()


def perplexity_of(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past about 709


class OverfitRun:
    """AdamW on one batch, step after step. `measure()` gives the batch's numbers before the first step;
    `step()` takes one step and gives them after it."""

    def __init__(
        self,
        model: GPTModel,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        lr: float = LEARNING_RATE,
        weight_decay: float = WEIGHT_DECAY,
        seed: int = TRAINING_SEED,
    ):
        check_rate("the learning rate", lr, positive=True)
        check_rate("the weight decay", weight_decay, positive=False)
        if inputs.dim() != 2 or inputs.shape != targets.shape:
            raise ValueError(
                f"inputs and targets must be batches of the same (batch size, context length); got "
                f"{tuple(inputs.shape)} and {tuple(targets.shape)}"
            )
        if inputs.shape[1] > model.pos_emb.num_embeddings:
            raise ValueError(
                f"the batch's context length {inputs.shape[1]} is longer than the model's "
                f"({model.pos_emb.num_embeddings})"
            )
        self.model = trainable_copy(model)
        self.inputs = inputs.clone()
        self.targets = targets.clone()
        self.optimizer = make_optimizer(self.model, lr, weight_decay)
        self._stream = RandomStream(seed)
        self.steps_taken = 0

    def measure(self) -> OverfitStepResult:
        """The batch's numbers now, in eval mode (dropout off), with no step taken."""
        return self._measured(None, time.perf_counter())

    def step(self, checkpoint: Checkpoint | None = None) -> OverfitStepResult:
        """One step on the batch, then the batch's numbers after it. If `checkpoint` raises, no step was taken."""
        checkpoint = checkpoint or carry_on
        started = time.perf_counter()
        checkpoint()
        train_loss, _ = train_step(self.model, self.optimizer, self._stream, lambda: (self.inputs, self.targets),
                                   checkpoint)
        self.steps_taken += 1
        return self._measured(train_loss, started)

    def _measured(self, train_loss: float | None, started: float) -> OverfitStepResult:
        with torch.no_grad():
            logits = self.model(self.inputs)
            loss = F.cross_entropy(logits.flatten(0, 1), self.targets.flatten()).item()
            predicted = logits.argmax(dim=-1)
        return OverfitStepResult(
            step=self.steps_taken,
            train_loss=train_loss,
            eval_loss=loss,
            perplexity=perplexity_of(loss),
            accuracy=(predicted == self.targets).float().mean().item(),
            predicted=tuple(tuple(row) for row in predicted.tolist()),
            seconds=time.perf_counter() - started,
        )


def part_token_ids(part: str) -> list[int]:
    return tokenize(part) if part.strip() else []


def check_part(name: str, token_count: int, settings: TextRunSettings, *, drop_last: bool) -> None:
    try:
        check_enough_tokens(
            token_count, batch_size=settings.batch_size, context_length=settings.context_length,
            stride=settings.stride, drop_last=drop_last,
        )
    except ValueError as error:  # "the text is too short: it has ..."
        raise ValueError(f"{name} is {str(error).removeprefix('the text is ')}") from None


class TextRun:
    """The book's `train_model_simple` on `text`, resumable: `run_for(seconds)` works for about that long and
    returns what happened; call it again to go on.

    Its numbers are those of the book's loop over the book's loaders (`create_dataloader_v1`: the training windows
    shuffled anew at each pass, a short last batch dropped; the validation windows in order, a short last batch
    kept) after `torch.manual_seed(settings.seed)`: the same batches in the same order and the same dropout masks,
    as every random number is drawn as the book's code draws it from the global generator. Every `eval_freq` steps
    (after steps 1, 1 + eval_freq, ... as the book counts from 0) both losses are the mean of `eval_iter` batches in
    eval mode, the training ones from a new pass over the shuffled windows. Two evaluations more than the book: one
    before training (on the batches the first steps will train on, so that it draws no random number) and one after
    the last step if the book's schedule does not fall there, so that the curves show where the run started and
    where it ended."""

    def __init__(self, model: GPTModel, text: str, settings: TextRunSettings | None = None):
        self.settings = settings = settings or TextRunSettings()
        settings.validate(max_context_length=model.pos_emb.num_embeddings)
        split = train_characters(text)
        self._train_ids = part_token_ids(text[:split])
        self._val_ids = part_token_ids(text[split:])
        check_part(f"the training part (the first {TRAIN_RATIO:.0%} of the text's characters)", len(self._train_ids),
                   settings, drop_last=True)
        check_part(f"the validation part (the last {1 - TRAIN_RATIO:.0%} of them)", len(self._val_ids), settings,
                   drop_last=False)
        train_windows = count_windows(len(self._train_ids), settings.context_length, settings.stride)
        val_windows = count_windows(len(self._val_ids), settings.context_length, settings.stride)
        batches_per_epoch = train_windows // settings.batch_size
        all_steps = batches_per_epoch * settings.epochs
        total_steps = all_steps if settings.max_steps is None else min(all_steps, settings.max_steps)
        self.plan = TextRunPlan(
            characters=len(text),
            train_characters=split,
            val_characters=len(text) - split,
            train_tokens=len(self._train_ids),
            val_tokens=len(self._val_ids),
            train_windows=train_windows,
            val_windows=val_windows,
            batches_per_epoch=batches_per_epoch,
            val_batches=math.ceil(val_windows / settings.batch_size),
            total_steps=total_steps,
            evaluations=count_evaluations(total_steps, settings.eval_freq),
        )
        self.model = trainable_copy(model)
        self.optimizer = make_optimizer(self.model, settings.learning_rate, settings.weight_decay)
        self._stream = RandomStream(settings.seed)
        with self._stream.drawing():
            self._order: list[int] | None = self._new_pass()  # the first epoch's, as the book's loop starts with it
        self._stream.commit()
        self._epoch = 0  # 0-based
        self._batch_in_epoch = 0
        self.step = 0
        self.tokens_seen = 0
        self._evaluation_due = True  # the one before training
        self._evaluation: _Evaluation | None = None  # the one being measured, a batch at a time
        self._step_losses: list[tuple[int, int, float]] = []
        self._train_losses: list[tuple[int, int, float]] = []
        self._val_losses: list[tuple[int, int, float]] = []
        self.seconds = 0.0
        self.step_seconds = 0.0

    @property
    def finished(self) -> bool:
        return self.step == self.plan.total_steps and not self._evaluation_due

    def run_for(self, seconds: float, checkpoint: Checkpoint | None = None) -> list[TrainingEvent]:
        """Steps and evaluations, one after another, until `seconds` have passed (at least one step or one batch of an
        evaluation, unless the run is finished) or the run ends; returns the steps and evaluations it completed (none
        if it only went on with an evaluation: an evaluation is measured a batch at a time, so that a slice of a
        second or so shows progress even while it runs). If `checkpoint` raises, the step or evaluation batch it
        interrupted is undone and the exception goes on to the caller; what came before it stands, and a later call
        goes on from there."""
        checkpoint = checkpoint or carry_on
        started = time.perf_counter()
        events: list[TrainingEvent] = []
        while not self.finished:
            event = self._next_unit(checkpoint)
            if event is not None:
                events.append(event)
            if time.perf_counter() - started >= seconds:
                break
        return events

    def progress(self) -> TextRunProgress:
        return TextRunProgress(
            step=self.step,
            total_steps=self.plan.total_steps,
            epoch=self._epoch_of_last_step(),
            epochs=self.settings.epochs,
            tokens_seen=self.tokens_seen,
            step_losses=tuple(self._step_losses),
            train_losses=tuple(self._train_losses),
            val_losses=tuple(self._val_losses),
            finished=self.finished,
            seconds=self.seconds,
            plan=self.plan,
            evaluating=self._evaluation.measured() if self._evaluation is not None else None,
            step_seconds=self.step_seconds,
        )

    def _next_unit(self, checkpoint: Checkpoint) -> TrainingEvent | None:
        """A step, or the next batch of the evaluation that is due: the evaluation once its last batch is measured."""
        started = time.perf_counter()
        if not self._evaluation_due:
            step = self._train(checkpoint, started)
            self.seconds += step.seconds
            self.step_seconds += step.seconds
            return step
        if self._evaluation is None:
            self._evaluation = self._begin_evaluation()
        evaluation = self._evaluation
        inputs, targets = evaluation.next_batch()
        checkpoint()
        with torch.no_grad():
            evaluation.losses.append(loss_of_batch(self.model, inputs, targets).item())
        seconds = time.perf_counter() - started
        evaluation.seconds += seconds
        self.seconds += seconds
        return self._end_evaluation() if evaluation.done else None

    def _epoch_of_last_step(self) -> int:
        if self.step == 0:
            return 1
        return (self.step - 1) // self.plan.batches_per_epoch + 1

    def _new_pass(self) -> list[int]:
        """The order of the training windows in a new pass over the book's training loader, drawn as it draws it
        from the global generator (it has no generator of its own): the base seed of its workers when the pass
        starts, then the seed of the generator its sampler shuffles the windows with."""
        torch.empty((), dtype=torch.int64).random_()
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        return torch.randperm(self.plan.train_windows, generator=torch.Generator().manual_seed(seed)).tolist()

    @staticmethod
    def _new_val_pass() -> None:
        """What a pass over the book's validation loader (in order) draws from the global generator: its base seed."""
        torch.empty((), dtype=torch.int64).random_()

    def _train_batch(self, order: list[int], batch: int) -> Batch:
        size = self.settings.batch_size
        return windows_at(self._train_ids, order[batch * size : (batch + 1) * size],
                          context_length=self.settings.context_length, stride=self.settings.stride)

    def _val_batch(self, batch: int) -> Batch:
        size = self.settings.batch_size
        indices = list(range(batch * size, min((batch + 1) * size, self.plan.val_windows)))
        return windows_at(self._val_ids, indices, context_length=self.settings.context_length,
                          stride=self.settings.stride)

    def _train(self, checkpoint: Checkpoint, started: float) -> TextRunStep:
        checkpoint()
        order = self._order

        def next_batch() -> Batch:
            nonlocal order
            if order is None:  # a new epoch: the book's loop starts a new pass over its training loader
                order = self._new_pass()
            return self._train_batch(order, self._batch_in_epoch)

        loss, token_count = train_step(self.model, self.optimizer, self._stream, next_batch, checkpoint)
        self.step += 1
        self.tokens_seen += token_count
        self._batch_in_epoch += 1
        self._order = order
        if self._batch_in_epoch == self.plan.batches_per_epoch:
            self._epoch, self._batch_in_epoch, self._order = self._epoch + 1, 0, None
        self._step_losses.append((self.step, self.tokens_seen, loss))
        self._evaluation_due = (self.step - 1) % self.settings.eval_freq == 0 or self.step == self.plan.total_steps
        return TextRunStep(step=self.step, epoch=self._epoch_of_last_step(), tokens_seen=self.tokens_seen, loss=loss,
                           seconds=time.perf_counter() - started)

    def _begin_evaluation(self) -> _Evaluation:
        """The batches of the book's `evaluate_model`: `calc_loss_loader` over each loader, `eval_iter` batches at most.
        It draws what a new pass over each loader draws, the training loader's first (before the first step it draws
        nothing: it measures the batches the first steps will train on)."""
        train_batches = min(self.settings.eval_iter, self.plan.batches_per_epoch)
        val_batches = min(self.settings.eval_iter, self.plan.val_batches)
        with self._stream.drawing():
            order = self._order
            if self.step > 0:
                order = self._new_pass()
                self._new_val_pass()
        self._stream.commit()
        return _Evaluation(
            batches=[*(self._train_batch(order, batch) for batch in range(train_batches)),
                     *(self._val_batch(batch) for batch in range(val_batches))],
            train_count=train_batches,
        )

    def _end_evaluation(self) -> TextRunEvaluation:
        evaluation = self._evaluation
        train_loss, val_loss = evaluation.means()
        self._evaluation, self._evaluation_due = None, False
        self._train_losses.append((self.step, self.tokens_seen, train_loss))
        self._val_losses.append((self.step, self.tokens_seen, val_loss))
        return TextRunEvaluation(step=self.step, epoch=self._epoch_of_last_step(), tokens_seen=self.tokens_seen,
                                 train_loss=train_loss, val_loss=val_loss, seconds=evaluation.seconds)


@dataclass
class _Evaluation:
    """An evaluation under way: its batches, training ones first, and the loss of each one measured so far."""

    batches: list[Batch]
    train_count: int  # the first ones are the training batches, the rest the validation ones
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        return len(self.losses) == len(self.batches)

    def measured(self) -> tuple[int, int]:
        return len(self.losses), len(self.batches)

    def next_batch(self) -> Batch:
        return self.batches[len(self.losses)]

    def means(self) -> tuple[float, float]:
        """The book's `calc_loss_loader` on each part: the mean of its batches' losses (each batch's mean, however
        short)."""
        return _mean(self.losses[: self.train_count]), _mean(self.losses[self.train_count :])


def _mean(losses: list[float]) -> float:
    # Added one by one, as the book's loop does: `sum` rounds otherwise from Python 3.12 on (compensated summation).
    total = 0.0
    for loss in losses:
        total += loss
    return total / len(losses)
