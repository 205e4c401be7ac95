"""The whole loss computation, one stage at a time, each stage computed once and kept.

    text → token ids → input/target windows → logits → probabilities → predictions
         → log p(target) → mean, negated = cross entropy → exp = perplexity

Every number the tutor shows comes from one `Walkthrough`. Stages are small frozen dataclasses so
that a screen, the `--plain` report and the tests all read the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import islice

import torch
import torch.nn as nn

from tutor.data import dataloader_from_ids, tokenize
from tutor.model import GPTModel
from tutor.settings import Settings
from tutor.tokenizer import decode


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
    probas: torch.Tensor  # (B, T, vocab), softmax over the last dimension: each row sums to 1


@dataclass(frozen=True)
class Predictions:
    predicted_ids: torch.Tensor  # (B, T) argmax of each position's probabilities
    matches: torch.Tensor  # (B, T) bool: did the model predict the target?

    @property
    def accuracy(self) -> float:
        return self.matches.float().mean().item()


@dataclass(frozen=True)
class TargetLogProbs:
    log_probas: torch.Tensor  # (B, T, vocab)
    target_probs: torch.Tensor  # (B, T): the probability the model gave each correct next token
    target_log_probs: torch.Tensor  # (B, T): its natural log


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
def default_model() -> GPTModel:
    """The tutor's model: seed 42, GPT-2 124M config, eval mode — loaded once per process."""
    from tutor.weights import load_tutor_model

    return load_tutor_model()


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
        s = self.settings
        loader = dataloader_from_ids(
            self.token_ids,
            batch_size=s.batch_size,
            context_length=s.context_length,
            stride=s.stride,
            shuffle=s.shuffle,
            drop_last=True,
            seed=s.seed,
        )
        batch_count = len(loader)
        if s.batch_index >= batch_count:
            raise ValueError(
                f"batch number {s.batch_index} does not exist: this text makes {batch_count} "
                f"batch{'es' if batch_count != 1 else ''} (numbered 0 to {batch_count - 1})"
            )
        inputs, targets = next(islice(iter(loader), s.batch_index, None))
        return Batch(
            token_count=len(self.token_ids),
            window_count=len(loader.dataset),
            batch_count=batch_count,
            batch_index=s.batch_index,
            inputs=inputs,
            targets=targets,
            input_texts=tuple(decode(row.tolist()) for row in inputs),
            target_texts=tuple(decode(row.tolist()) for row in targets),
        )

    @cached_property
    def forward(self) -> Forward:
        with torch.no_grad():
            logits = self.model(self.batch.inputs)  # (B, T, vocab)
        return Forward(logits=logits)

    @cached_property
    def probabilities(self) -> Probabilities:
        return Probabilities(probas=torch.softmax(self.forward.logits, dim=-1))

    @cached_property
    def predictions(self) -> Predictions:
        predicted_ids = torch.argmax(self.probabilities.probas, dim=-1)  # (B, T)
        return Predictions(predicted_ids=predicted_ids, matches=predicted_ids == self.batch.targets)

    @cached_property
    def target_log_probs(self) -> TargetLogProbs:
        log_probas = torch.log(self.probabilities.probas)  # (B, T, vocab)
        index = self.batch.targets.unsqueeze(-1)  # (B, T, 1)
        target_log_probs = torch.gather(log_probas, dim=-1, index=index).squeeze(-1)  # (B, T)
        target_probs = torch.gather(self.probabilities.probas, dim=-1, index=index).squeeze(-1)
        return TargetLogProbs(log_probas=log_probas, target_probs=target_probs, target_log_probs=target_log_probs)

    @cached_property
    def loss(self) -> Loss:
        target_log_probs = self.target_log_probs.target_log_probs
        avg_log_prob = torch.mean(target_log_probs)
        logits_flat = self.forward.logits.flatten(0, 1)  # (B*T, vocab)
        targets_flat = self.batch.targets.flatten()  # (B*T,)
        loss_pytorch = nn.CrossEntropyLoss()(logits_flat, targets_flat)
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

