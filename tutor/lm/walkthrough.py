"""The whole loss computation, one stage at a time, each stage computed once and kept.

    text → token ids → input/target windows → logits → probabilities → predictions
         → log p(target) → mean, negated = cross entropy → exp = perplexity

Every number the tutor shows comes from one `Walkthrough`. Stages are small frozen dataclasses so
that a screen, the `--plain` report and the tests all read the same values.

Memory: the logits are one (B, T, vocab) tensor, 411 MB at (8, 256). Nothing else that wide is made
unless asked for: the per-position values (`per_position`) and nn.CrossEntropyLoss are computed a chunk
of positions at a time, and the whole `probas` and `log_probas` tensors, which the book's code makes,
only when something reads them (a lesson's code check, the tests).
"""

from __future__ import annotations

import ctypes
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property

import torch
import torch.nn as nn

from tutor.core.settings import Settings
from tutor.core.windows import check_batch_number, count_batches, count_windows
from tutor.lm.data import batch_window_indices, tokenize, windows_at
from tutor.lm.model import GPTModel
from tutor.lm.tokenizer import decode

TOP_K = 10  # candidates kept per position
# Positions whose vocabulary-wide values are computed together: one chunk's probabilities (6 MB) are the
# only such copy alive besides the logits. Up to this many positions nn.CrossEntropyLoss is the book's single
# call on all flattened logits; beyond, it runs over chunks (its internal log_softmax copies what it is given).
CHUNK_POSITIONS = 32


@dataclass(frozen=True)
class Batch:
    token_count: int  # tokens in the whole text
    window_count: int
    batch_count: int
    batch_index: int
    inputs: torch.Tensor  # (B, T) token ids
    targets: torch.Tensor  # (B, T) the same windows shifted one token to the right
    input_texts: tuple[str, ...]  # each row decoded back to text
    target_texts: tuple[str, ...]


@dataclass(frozen=True)
class Forward:
    logits: torch.Tensor  # (B, T, vocab): one score per vocabulary token, at every position


@dataclass(frozen=True)
class Probabilities:
    """softmax over the last dimension of the logits: each position's probabilities sum to 1."""

    logits: torch.Tensor = field(repr=False)

    @cached_property
    def probas(self) -> torch.Tensor:
        """(B, T, vocab), as the book computes it. As big as the logits: made only when read."""
        return torch.softmax(self.logits, dim=-1)

    def at(self, rows: list[int], positions: list[int], vocab: list[int], *, log: bool = False) -> torch.Tensor:
        """`probas[rows][:, positions][..., vocab]`, or the same of `torch.log(probas)`: softmax (and log) over
        the whole vocabulary, as in the whole tensor, one row's positions at a time."""
        parts = []
        for row in rows:
            probas = torch.softmax(self.logits[row, positions], dim=-1)  # (len(positions), vocab)
            parts.append((probas.log_() if log else probas)[:, vocab])
        return torch.stack(parts)


@dataclass(frozen=True)
class PerPosition:
    """What the report shows at each position, computed from one chunk of positions' probabilities at a time."""

    predicted_ids: torch.Tensor  # (B, T) argmax of each position's probabilities
    target_probs: torch.Tensor  # (B, T): the probability the model gave each correct next token
    target_log_probs: torch.Tensor  # (B, T): its natural log
    target_ranks: torch.Tensor  # (B, T) int32: 1 + how many tokens had a higher probability than the target
    top_probs: torch.Tensor  # (B, T, TOP_K), highest first
    top_ids: torch.Tensor  # (B, T, TOP_K)


@dataclass(frozen=True)
class Predictions:
    predicted_ids: torch.Tensor  # (B, T) argmax of each position's probabilities
    matches: torch.Tensor  # (B, T) bool: did the model predict the target?

    @property
    def accuracy(self) -> float:
        return self.matches.float().mean().item()


@dataclass(frozen=True)
class TargetLogProbs:
    target_probs: torch.Tensor  # (B, T): the probability the model gave each correct next token
    target_log_probs: torch.Tensor  # (B, T): its natural log
    probabilities: Probabilities = field(repr=False)

    @cached_property
    def log_probas(self) -> torch.Tensor:
        """(B, T, vocab), `torch.log(probas)` as in the book. Made only when read."""
        return torch.log(self.probabilities.probas)


@dataclass(frozen=True)
class Loss:
    per_token_loss: torch.Tensor  # (B, T): -log p(target)
    per_sequence_loss: torch.Tensor  # (B,): mean over each row's positions
    avg_log_prob: float
    loss_manual: float  # -mean(target_log_probs)
    loss_pytorch: float  # nn.CrossEntropyLoss on flattened logits and targets
    logits_flat_shape: tuple[int, ...]
    targets_flat_shape: tuple[int, ...]


@dataclass(frozen=True)
class Perplexity:
    perplexity: float  # exp(loss): as unsure as a uniform choice among this many tokens
    vocab_size: int
    uniform_loss: float  # ln(vocab_size): the loss of a model that gives every token 1/vocab
    uniform_perplexity: float


@cache
def give_freed_blocks_back() -> None:
    """Make glibc's malloc hand every freed block of 1 MiB or more straight back to the system.

    By default it raises that threshold each time such a block is freed (up to 32 MiB) and keeps later ones in
    its heap: the forward pass's activations, freed before the logits are made, then stay counted in the
    process's memory (about 165 MB at (8, 256)). A C library without `mallopt` is left as it is."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3  # from <malloc.h>
    mallopt(ctypes.c_int(m_mmap_threshold), ctypes.c_int(1 << 20))


@cache
def default_model() -> GPTModel:
    """The tutor's model: seed 42, GPT-2 124M config, eval mode — loaded once per process."""
    from tutor.lm.weights import load_tutor_model

    return load_tutor_model()


def cross_entropy(logits_flat: torch.Tensor, targets_flat: torch.Tensor, prepare=None) -> torch.Tensor:
    """`nn.CrossEntropyLoss()(prepare(logits_flat), targets_flat)`, `prepare` applied row by row (or not at all).

    Up to CHUNK_POSITIONS positions this is exactly that call. Beyond, it is the same loss summed over
    chunks of positions (reduction="sum") and divided by their count: mathematically the same, the float32
    result may differ in its last digit, and no more than one chunk of logits is copied at a time."""
    positions = logits_flat.shape[0]
    prepare = prepare or (lambda chunk: chunk)
    if positions <= CHUNK_POSITIONS:
        return nn.CrossEntropyLoss()(prepare(logits_flat), targets_flat)
    summed = nn.CrossEntropyLoss(reduction="sum")
    total = sum(  # added up in float64, so that the chunks' sums lose nothing more to rounding
        summed(prepare(logits_flat[start : start + CHUNK_POSITIONS]), targets_flat[start : start + CHUNK_POSITIONS])
        .double()
        for start in range(0, positions, CHUNK_POSITIONS)
    )
    return (total / positions).to(logits_flat.dtype)


class OutOfMemory(MemoryError):
    """Computing a batch ran out of memory. The message says which batch, and what to try."""


def is_out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError, or PyTorch's CPU allocator failing (a RuntimeError)."""
    return isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(error)
    )


def _allocation_failed(error: BaseException) -> str:
    tried = re.search(r"tried to allocate (\d+) bytes", str(error))
    if tried:
        size = int(tried.group(1))
        return f"PyTorch could not allocate {size / 2**20:,.1f} MiB"
    return str(error) or "Python could not allocate memory"


@contextmanager
def out_of_memory_reported(settings: Settings):
    """Turn running out of memory inside the block into one `OutOfMemory` with a clear message."""
    try:
        yield
        return
    except OutOfMemory:
        raise
    except (MemoryError, RuntimeError) as error:
        from tutor.lm.weights import ModelOutOfMemory  # imported already: the model loads inside this block

        if not is_out_of_memory(error) or isinstance(error, ModelOutOfMemory):  # the weights' says it all
            raise
        reason = _allocation_failed(error)
    # Raised outside the handler, so it holds no reference to the failed frames and their tensors.
    raise OutOfMemory(
        f"out of memory computing a ({settings.batch_size}, {settings.context_length}) batch: {reason}; "
        "try a smaller batch size or context length"
    )


class Walkthrough:
    """The loss computation for one text and one set of settings."""

    def __init__(self, text: str, settings: Settings | None = None, model: GPTModel | None = None):
        self.text = text
        self.settings = settings or Settings()
        self.settings.validate()
        self._model = model

    @property
    def model(self) -> GPTModel:
        if self._model is None:
            self._model = default_model()
        return self._model

    @cached_property
    def token_ids(self) -> list[int]:
        return tokenize(self.text)

    @cached_property
    def batch(self) -> Batch:
        """The batch a DataLoader over the book's GPTDatasetV1 (drop_last, the seed's generator) would give
        as number `batch_index`, picked directly: no other window or batch is made."""
        s, token_ids = self.settings, self.token_ids
        windows = {"batch_size": s.batch_size, "context_length": s.context_length, "stride": s.stride}
        check_batch_number(s.batch_index, len(token_ids), **windows)
        window_count = count_windows(len(token_ids), s.context_length, s.stride)
        batch_count = count_batches(len(token_ids), **windows)
        indices = batch_window_indices(
            window_count, batch_size=s.batch_size, batch_index=s.batch_index, shuffle=s.shuffle, seed=s.seed
        )
        inputs, targets = windows_at(token_ids, indices, context_length=s.context_length, stride=s.stride)
        return Batch(
            token_count=len(token_ids),
            window_count=window_count,
            batch_count=batch_count,
            batch_index=s.batch_index,
            inputs=inputs,
            targets=targets,
            input_texts=tuple(decode(row.tolist()) for row in inputs),
            target_texts=tuple(decode(row.tolist()) for row in targets),
        )

    @cached_property
    def forward(self) -> Forward:
        give_freed_blocks_back()
        with torch.no_grad():
            logits = self.model(self.batch.inputs)  # (B, T, vocab)
        return Forward(logits=logits)

    @cached_property
    def probabilities(self) -> Probabilities:
        return Probabilities(logits=self.forward.logits)

    @cached_property
    def per_position(self) -> PerPosition:
        """Computed CHUNK_POSITIONS positions at a time: softmax treats each position on its own, so the values are
        the ones the whole (B, T, vocab) `probas` would give, with a chunk's probabilities the only copy alive."""
        logits_flat, targets_flat = self.forward.logits.flatten(0, 1), self.batch.targets.flatten()
        columns = []
        for start in range(0, len(targets_flat), CHUNK_POSITIONS):
            probas = torch.softmax(logits_flat[start : start + CHUNK_POSITIONS], dim=-1)  # (chunk, vocab)
            index = targets_flat[start : start + CHUNK_POSITIONS].unsqueeze(-1)  # (chunk, 1)
            target_probs = probas.gather(-1, index).squeeze(-1)
            ranks = (probas > target_probs.unsqueeze(-1)).sum(dim=-1, dtype=torch.int32) + 1
            top_probs, top_ids = torch.topk(probas, k=TOP_K, dim=-1)
            predicted = torch.argmax(probas, dim=-1)
            # log(probas), then gather, as the book does; in place, as these probabilities are not needed again
            target_log_probs = probas.log_().gather(-1, index).squeeze(-1)
            columns.append((predicted, target_probs, target_log_probs, ranks, top_probs, top_ids))
            del probas
        shape = self.batch.targets.shape
        predicted, target_probs, target_log_probs, ranks, top_probs, top_ids = (
            torch.cat(column).view(*shape, *column[0].shape[1:]) for column in zip(*columns)
        )
        return PerPosition(
            predicted_ids=predicted,
            target_probs=target_probs,
            target_log_probs=target_log_probs,
            target_ranks=ranks,
            top_probs=top_probs,
            top_ids=top_ids,
        )

    @cached_property
    def predictions(self) -> Predictions:
        predicted_ids = self.per_position.predicted_ids
        return Predictions(predicted_ids=predicted_ids, matches=predicted_ids == self.batch.targets)

    @cached_property
    def target_log_probs(self) -> TargetLogProbs:
        return TargetLogProbs(
            target_probs=self.per_position.target_probs,
            target_log_probs=self.per_position.target_log_probs,
            probabilities=self.probabilities,
        )

    @cached_property
    def loss(self) -> Loss:
        target_log_probs = self.target_log_probs.target_log_probs
        avg_log_prob = torch.mean(target_log_probs)
        logits_flat = self.forward.logits.flatten(0, 1)  # (B*T, vocab)
        targets_flat = self.batch.targets.flatten()  # (B*T,)
        loss_pytorch = cross_entropy(logits_flat, targets_flat)
        return Loss(
            per_token_loss=-target_log_probs,
            per_sequence_loss=-target_log_probs.mean(dim=1),
            avg_log_prob=avg_log_prob.item(),
            loss_manual=(-avg_log_prob).item(),
            loss_pytorch=loss_pytorch.item(),
            logits_flat_shape=tuple(logits_flat.shape),
            targets_flat_shape=tuple(targets_flat.shape),
        )

    @cached_property
    def perplexity(self) -> Perplexity:
        vocab_size = self.forward.logits.shape[-1]
        return Perplexity(
            perplexity=math.exp(self.loss.loss_pytorch),
            vocab_size=vocab_size,
            uniform_loss=math.log(vocab_size),
            uniform_perplexity=float(vocab_size),
        )
