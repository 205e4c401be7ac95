"""A `Report` is everything one walkthrough shows, as plain Python values.

It is what crosses from the computing side (which holds torch tensors) to whoever shows it: the
`--plain` and `--json` output and the app, which runs the model in another process. This module
imports no torch, so the app can unpickle a report without it; `report_builder` fills one in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from tutor.formatting import visible

TENSOR_NAMES = (
    "inputs",
    "targets",
    "logits",
    "probas",
    "predicted_ids",
    "log_probas",
    "target_probs",
    "target_log_probs",
    "per_token_loss",
    "per_sequence_loss",
    "logits_flat",
    "targets_flat",
)



@dataclass(frozen=True)
class TensorView:
    name: str
    shape: tuple[int, ...]
    dtype: str
    text: str  # torch's own print of the tensor (threshold=10, edgeitems=3, precision=2)


class Candidate(NamedTuple):
    """One of the model's top guesses at a position. A named tuple, not a dataclass: a (8, 256) report
    holds 20,480 of them, and tuples unpickle in a third of the time, which the interface waits for."""

    token_id: int
    token: str
    prob: float


@dataclass(frozen=True)
class TokenRow:
    """One position of one batch row: what the model saw, what it predicted, what came next."""

    row: int
    position: int
    context: str  # the input text ending at this position (its last few tokens)
    input_id: int
    input_token: str
    predicted_id: int
    predicted_token: str
    target_id: int
    target_token: str
    target_prob: float
    target_log_prob: float
    target_rank: int  # 1 = the model's top choice
    correct: bool
    top: tuple[Candidate, ...]

    @property
    def loss(self) -> float:
        return -self.target_log_prob


@dataclass(frozen=True)
class BugResult:
    """One deliberate mistake of the bug lab, run live: its number or the exact error PyTorch raised."""

    key: str
    title: str
    code: str  # the buggy line(s)
    correct_code: str
    loss: float | None  # what the buggy code computed; None if it raised
    correct_loss: float
    error: str | None  # the exception the buggy code raised, as "TypeName: message"
    explanation: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    settings: dict
    source: str
    token_count: int
    window_count: int
    batch_count: int
    batch_index: int
    vocab_size: int
    inputs: list[list[int]]
    targets: list[list[int]]
    predicted: list[list[int]]
    input_texts: list[str]
    target_texts: list[str]
    target_probs: list[list[float]]
    target_log_probs: list[list[float]]
    per_sequence_loss: list[float]
    avg_log_prob: float
    loss_manual: float
    loss_pytorch: float
    perplexity: float
    uniform_loss: float
    uniform_perplexity: float
    accuracy: float
    logits_shape: tuple[int, ...]
    logits_flat_shape: tuple[int, ...]
    targets_flat_shape: tuple[int, ...]
    tokens: tuple[TokenRow, ...]
    tensors: dict[str, TensorView]
    extras: dict = field(default_factory=dict)  # e.g. the bug lab's results

    @property
    def batch_size(self) -> int:
        return len(self.inputs)

    @property
    def context_length(self) -> int:
        return len(self.inputs[0])

    def row_tokens(self, row: int) -> list[TokenRow]:
        return [token for token in self.tokens if token.row == row]

    def values(self) -> dict[str, object]:
        """The live values lessons may name in `{{ … }}` placeholders and checks."""
        return {
            "batch_size": self.batch_size,
            "context_length": self.context_length,
            "stride": self.settings["stride"],
            "seed": self.settings["seed"],
            "token_count": self.token_count,
            "window_count": self.window_count,
            "batch_count": self.batch_count,
            "batch_index": self.batch_index,
            "vocab_size": self.vocab_size,
            "inputs_shape": tuple(self.tensors["inputs"].shape),
            "logits_shape": self.logits_shape,
            "logits_flat_shape": self.logits_flat_shape,
            "targets_flat_shape": self.targets_flat_shape,
            "correct_count": sum(token.correct for token in self.tokens),
            "position_count": len(self.tokens),
            "accuracy": self.accuracy,
            "first_target_prob": self.tokens[0].target_prob,
            "first_target_log_prob": self.tokens[0].target_log_prob,
            "avg_log_prob": self.avg_log_prob,
            "loss_manual": self.loss_manual,
            "loss_pytorch": self.loss_pytorch,
            "loss_difference": abs(self.loss_manual - self.loss_pytorch),
            "perplexity": self.perplexity,
            "uniform_loss": self.uniform_loss,
            "uniform_perplexity": self.uniform_perplexity,
            "uniform_prob": 1.0 / self.vocab_size,
            "min_sequence_loss": min(self.per_sequence_loss),
            "max_sequence_loss": max(self.per_sequence_loss),
            "first_input_text": self.input_texts[0],
            "first_target_text": self.target_texts[0],
            "loss_vs_uniform": "lower" if self.loss_pytorch < self.uniform_loss else "higher",
            "most_surprising_token": visible(self.most_surprising().target_token),
            "most_surprising_loss": self.most_surprising().loss,
        }

    def most_surprising(self) -> TokenRow:
        return max(self.tokens, key=lambda token: token.loss)

    def to_json_dict(self) -> dict:
        return {
            "settings": self.settings,
            "source": self.source,
            "token_count": self.token_count,
            "window_count": self.window_count,
            "batch_count": self.batch_count,
            "batch_index": self.batch_index,
            "vocab_size": self.vocab_size,
            "inputs": self.inputs,
            "targets": self.targets,
            "predicted": self.predicted,
            "correct": [[token.correct for token in self.row_tokens(row)] for row in range(self.batch_size)],
            "input_texts": self.input_texts,
            "target_texts": self.target_texts,
            "target_probs": self.target_probs,
            "target_log_probs": self.target_log_probs,
            "per_sequence_loss": self.per_sequence_loss,
            "avg_log_prob": self.avg_log_prob,
            "loss_manual": self.loss_manual,
            "loss_pytorch": self.loss_pytorch,
            "perplexity": self.perplexity,
            "uniform_loss": self.uniform_loss,
            "uniform_perplexity": self.uniform_perplexity,
            "accuracy": self.accuracy,
            "logits_shape": list(self.logits_shape),
        }


VALUE_NAMES = frozenset(
    {
        "batch_size", "context_length", "stride", "seed", "token_count", "window_count", "batch_count",
        "batch_index", "vocab_size", "inputs_shape", "logits_shape", "logits_flat_shape", "targets_flat_shape",
        "correct_count", "position_count", "accuracy", "first_target_prob", "first_target_log_prob",
        "avg_log_prob", "loss_manual", "loss_pytorch", "loss_difference", "perplexity", "uniform_loss",
        "uniform_perplexity", "uniform_prob", "min_sequence_loss", "max_sequence_loss", "first_input_text",
        "first_target_text", "loss_vs_uniform", "most_surprising_token", "most_surprising_loss",
    }
)
