"""The bug lab: five common mistakes in computing the loss, each run live on the walkthrough's batch.

Every mistake is really executed. A number it produces, or the exact error PyTorch raises, goes into
a `BugResult` beside the correct loss. Results hold plain Python values only, so they can be pickled
and shown by a process that has no torch.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from tutor.core.formatting import counted, format_number, format_shape
from tutor.core.report import BugResult
from tutor.lm.walkthrough import Walkthrough, cross_entropy, is_out_of_memory, out_of_memory_reported

BUGS: tuple[tuple[str, str], ...] = (
    ("unshifted_targets", "targets not shifted"),
    ("softmax_before_ce", "softmax applied before nn.CrossEntropyLoss"),
    ("mean_wrong_dim", "mean over the wrong dimension"),
    ("forgot_flatten", "forgetting to flatten"),
    ("log_of_softmax", "log(softmax(x)) instead of log_softmax(x) on extreme logits"),
)

EXTREME_SCALE = 1000  # how much the log_of_softmax bug multiplies the logits by
LOG_SOFTMAX_POSITIONS = 32  # how many positions the log_of_softmax bug is shown on
MAX_ERROR_CHARS = 300
MAX_LISTED_VALUES = 8


def run_bug(walkthrough: Walkthrough, key: str) -> BugResult:
    """Run one mistake on the walkthrough's batch. Raises `KeyError` only for an unknown key."""
    run = _RUNNERS[key]
    try:
        return run(walkthrough)
    except Exception as error:  # the walkthrough itself failed (bad text, settings or model)
        if is_out_of_memory(error):
            raise
        return BugResult(
            key=key,
            title=_TITLES[key],
            code="",
            correct_code="",
            loss=None,
            correct_loss=math.nan,
            error=_error_text(error),
            explanation="This mistake could not be shown because the walkthrough itself failed to compute.",
        )


def run_all(walkthrough: Walkthrough, *, checkpoint: Callable[[], None] | None = None) -> dict[str, BugResult]:
    """Every mistake, `checkpoint` called before each (a safe point to stop at: see tutor/lm/compute.py)."""
    results = {}
    with out_of_memory_reported(walkthrough.settings):
        for key, _ in BUGS:
            if checkpoint is not None:
                checkpoint()
            results[key] = run_bug(walkthrough, key)
    return results


def _fmt(value: float) -> str:
    return format_number(value)


def _error_text(error: Exception) -> str:
    """`TypeName: message`, cut at the first blank line and to MAX_ERROR_CHARS."""
    text = f"{type(error).__name__}: {error}".strip().split("\n\n")[0]
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def _attempt(compute: Callable[[], float]) -> tuple[float | None, str | None]:
    """Run buggy code: its result and no error, or no result and PyTorch's error text."""
    try:
        return compute(), None
    except Exception as error:
        if is_out_of_memory(error):  # not the mistake's doing: the whole computation fails
            raise
        return None, _error_text(error)


def _listed(values: torch.Tensor) -> str:
    numbers = [_fmt(value) for value in values.tolist()[:MAX_LISTED_VALUES]]
    more = f", … ({values.numel()} values)" if values.numel() > MAX_LISTED_VALUES else ""
    return "[" + ", ".join(numbers) + more + "]"


def _unshifted_targets(w: Walkthrough) -> BugResult:
    logits, inputs, targets = w.forward.logits, w.batch.inputs, w.batch.targets
    loss = cross_entropy(logits.flatten(0, 1), inputs.flatten()).item()
    correct_loss = w.loss.loss_pytorch
    return BugResult(
        key="unshifted_targets",
        title=_TITLES["unshifted_targets"],
        code="loss = nn.CrossEntropyLoss()(logits.flatten(0, 1), inputs.flatten())",
        correct_code="loss = nn.CrossEntropyLoss()(logits.flatten(0, 1), targets.flatten())",
        loss=loss,
        correct_loss=correct_loss,
        error=None,
        explanation=(
            f"With the inputs as targets, every position is scored on the token it was just given, "
            f"not on the token that comes next: the loss went from {_fmt(correct_loss)} to {_fmt(loss)}. "
            f"Training on it would teach the model to copy its input, which it can learn to do perfectly "
            f"(a loss near 0) without learning anything about what comes next."
        ),
        details={
            "inputs[0]": str(inputs[0].tolist()),
            "targets[0]": str(targets[0].tolist()),
            "positions whose input equals its target": f"{(inputs == targets).sum().item()} of {inputs.numel()}",
        },
    )


def _softmax_before_ce(w: Walkthrough) -> BugResult:
    logits, targets = w.forward.logits, w.batch.targets
    # softmax treats each position on its own, so it can be applied chunk by chunk (see cross_entropy)
    loss = cross_entropy(logits.flatten(0, 1), targets.flatten(), prepare=lambda chunk: torch.softmax(chunk, -1)).item()
    correct_loss = w.loss.loss_pytorch
    vocab_size = logits.shape[-1]
    uniform_loss = math.log(vocab_size)
    # Inputs in [0, 1] summing to 1: the lowest possible loss is reached when the target gets probability 1.
    lowest_possible = math.log(vocab_size - 1 + math.e) - 1
    return BugResult(
        key="softmax_before_ce",
        title=_TITLES["softmax_before_ce"],
        code="loss = nn.CrossEntropyLoss()(torch.softmax(logits, -1).flatten(0, 1), targets.flatten())",
        correct_code="loss = nn.CrossEntropyLoss()(logits.flatten(0, 1), targets.flatten())",
        loss=loss,
        correct_loss=correct_loss,
        error=None,
        explanation=(
            f"nn.CrossEntropyLoss applies log_softmax itself, so the probabilities are softmaxed a second time. "
            f"Numbers between 0 and 1 look almost equal to softmax, so it spreads nearly evenly over all "
            f"{vocab_size:,} tokens: the loss is {_fmt(loss)}, within {_fmt(abs(loss - uniform_loss))} "
            f"of ln({vocab_size:,}) = {_fmt(uniform_loss)}, instead of {_fmt(correct_loss)}. "
            f"However good the model gets, this loss can never drop below {_fmt(lowest_possible)}."
        ),
        details={
            "buggy loss": _fmt(loss),
            "ln(vocab size)": _fmt(uniform_loss),
            "correct loss": _fmt(correct_loss),
            "lowest loss the bug allows": _fmt(lowest_possible),
        },
    )


def _mean_wrong_dim(w: Walkthrough) -> BugResult:
    target_log_probs = w.target_log_probs.target_log_probs  # (B, T)
    rows, positions = target_log_probs.shape
    per_position = -target_log_probs.mean(dim=0)  # (T,): averaged down the rows
    per_sequence = -target_log_probs.mean(dim=1)  # (B,): averaged along each row
    loss, error = _attempt(lambda: per_position.item())
    correct_loss = w.loss.loss_manual
    if error is None:
        outcome = f"With a single position it still holds one number, so .item() works and gives {_fmt(loss)}."
    else:
        outcome = f"It is not a single number, so .item() fails: {error}."
    return BugResult(
        key="mean_wrong_dim",
        title=_TITLES["mean_wrong_dim"],
        code="loss = -target_log_probs.mean(dim=0)\nloss.item()",
        correct_code="loss = -target_log_probs.mean()\nloss.item()",
        loss=loss,
        correct_loss=correct_loss,
        error=error,
        explanation=(
            f"target_log_probs has shape {format_shape(target_log_probs.shape)}, {counted(rows, 'row')} of "
            f"{counted(positions, 'position')}, "
            f"and mean(dim=0) averages down the rows, leaving {format_shape(per_position.shape)}: one loss per position. "
            f"{outcome} "
            f"The loss is the mean over all {counted(rows * positions, 'position')}, {_fmt(correct_loss)}; "
            f"mean(dim=1) would instead give one loss per sequence, {_listed(per_sequence)}."
        ),
        details={
            "-target_log_probs.mean(dim=0)": f"{format_shape(per_position.shape)} {_listed(per_position)}",
            "-target_log_probs.mean(dim=1)": f"{format_shape(per_sequence.shape)} {_listed(per_sequence)}",
            "-target_log_probs.mean()": f"{format_shape(target_log_probs.mean().shape)} {_fmt(correct_loss)}",
            # Equal to the loss only because every row has the same number of positions.
            "-target_log_probs.mean(dim=0).mean()": _fmt(per_position.mean().item()),
        },
    )


def _forgot_flatten(w: Walkthrough) -> BugResult:
    logits, targets = w.forward.logits, w.batch.targets
    # nn.CrossEntropyLoss is nll_loss(log_softmax(logits, dim=1), targets), and only nll_loss checks the shapes,
    # after log_softmax has copied every logit. nll_loss on the logits themselves (same shape) raises that same
    # error without the copy; only if it passes is the whole call run.
    _, error = _attempt(lambda: F.nll_loss(logits, targets))
    loss = None
    if error is None:  # the shapes happen to fit: compute it for real
        loss, error = _attempt(lambda: nn.CrossEntropyLoss()(logits, targets).item())
    correct_loss = w.loss.loss_pytorch
    logits_flat, targets_flat = logits.flatten(0, 1), targets.flatten()
    if error is None:
        outcome = f"Here the shapes happen to fit, so it silently computed a wrong loss, {_fmt(loss)}."
    else:
        outcome = f"PyTorch refuses: {error}."
    return BugResult(
        key="forgot_flatten",
        title=_TITLES["forgot_flatten"],
        code="loss = nn.CrossEntropyLoss()(logits, targets)",
        correct_code="loss = nn.CrossEntropyLoss()(logits.flatten(0, 1), targets.flatten())",
        loss=loss,
        correct_loss=correct_loss,
        error=error,
        explanation=(
            f"For a 3-D input nn.CrossEntropyLoss takes dimension 1 as the classes, so logits of shape "
            f"{format_shape(logits.shape)} are read as {counted(logits.shape[1], 'class', 'classes')} at "
            f"{counted(logits.shape[2], 'position')}. "
            f"{outcome} Flattening turns the logits into {format_shape(logits_flat.shape)}, one row of scores per "
            f"position, and the targets {format_shape(targets.shape)} into {format_shape(targets_flat.shape)}, "
            f"one correct token id per row, giving the loss {_fmt(correct_loss)}."
        ),
        details={
            "logits": format_shape(logits.shape),
            "targets": format_shape(targets.shape),
            "logits.flatten(0, 1)": format_shape(logits_flat.shape),
            "targets.flatten()": format_shape(targets_flat.shape),
        },
    )


def _log_of_softmax(w: Walkthrough) -> BugResult:
    # The first positions of the batch are enough to show the underflow; all of a big batch would
    # need several (B, T, vocab) copies for one point.
    logits = w.forward.logits.flatten(0, 1)[:LOG_SOFTMAX_POSITIONS]  # (N, vocab)
    extreme = logits * EXTREME_SCALE
    index = w.batch.targets.flatten()[:LOG_SOFTMAX_POSITIONS].unsqueeze(-1)  # (N, 1)
    positions = "" if logits.shape[0] == w.batch.targets.numel() else f" (the batch's first {logits.shape[0]} positions)"
    stable = torch.log_softmax(extreme, dim=-1)
    probas = torch.softmax(extreme, dim=-1)
    del extreme
    naive = torch.log(probas)
    naive_targets = naive.gather(-1, index).squeeze(-1)
    stable_targets = stable.gather(-1, index).squeeze(-1)
    loss = -naive_targets.mean().item()
    correct_loss = -stable_targets.mean().item()
    underflowed = torch.isneginf(naive).sum().item()
    underflowed_targets = torch.isneginf(naive_targets).sum().item()
    nan_entropy_terms = torch.isnan(probas * naive).sum().item()
    worst = stable_targets.flatten().argmin()
    if underflowed_targets:
        outcome = (
            f"{underflowed_targets} of the {naive_targets.numel()} target tokens got -inf, "
            f"so the loss became {_fmt(loss)}, while log_softmax gives {_fmt(correct_loss)} for the same logits."
        )
    else:
        outcome = (
            f"None of the {naive_targets.numel()} target tokens underflowed this time, so both losses are finite "
            f"({_fmt(loss)} and {_fmt(correct_loss)}), but any of those -inf entries could be a target next time."
        )
    return BugResult(
        key="log_of_softmax",
        title=_TITLES["log_of_softmax"],
        code=f"log_probas = torch.log(torch.softmax(logits * {EXTREME_SCALE}, dim=-1))",
        correct_code=f"log_probas = torch.log_softmax(logits * {EXTREME_SCALE}, dim=-1)",
        loss=loss,
        correct_loss=correct_loss,
        error=None,
        explanation=(
            f"Multiplying the logits{positions} by {EXTREME_SCALE} makes them extreme: softmax rounds "
            f"{underflowed:,} of the {naive.numel():,} probabilities to exactly 0 in float32, and log(0) = -inf. "
            f"{outcome} log_softmax never forms those tiny probabilities: it computes x - logsumexp(x), "
            f"which subtracts the largest logit before exponentiating, so every value stays finite."
        ),
        details={
            "-inf in torch.log(torch.softmax(x))": f"{underflowed:,} of {naive.numel():,}",
            "-inf in torch.log_softmax(x)": f"{torch.isneginf(stable).sum().item():,}",
            "-inf among the target log-probs": f"{underflowed_targets} of {naive_targets.numel()}",
            "nan in p * log(p) (0 * -inf)": f"{nan_entropy_terms:,}",
            "least likely target, log(softmax) vs log_softmax": (
                f"{_fmt(naive_targets.flatten()[worst].item())} vs {_fmt(stable_targets.flatten()[worst].item())}"
            ),
        },
    )


_TITLES = dict(BUGS)
_RUNNERS: dict[str, Callable[[Walkthrough], BugResult]] = {
    "unshifted_targets": _unshifted_targets,
    "softmax_before_ce": _softmax_before_ce,
    "mean_wrong_dim": _mean_wrong_dim,
    "forgot_flatten": _forgot_flatten,
    "log_of_softmax": _log_of_softmax,
}
