"""Fills a `Report` from a `Walkthrough`: every number was computed there; this only gathers and formats."""

from __future__ import annotations

import math
import threading
from typing import Callable

import torch

from tutor.core.jobs import UNTRAINED, untrained_name
from tutor.core.report import TENSOR_NAMES, Candidate, ModelCard, Report, TensorView, TokenRow
from tutor.lm.model import GPTModel
from tutor.lm.tokenizer import decode, token_text
from tutor.lm.walkthrough import TOP_K, Walkthrough, out_of_memory_reported  # noqa: F401 (TOP_K: the report's)

CONTEXT_TOKENS_SHOWN = 12
PRINT_OPTIONS = {"threshold": 10, "edgeitems": 3, "precision": 2}
_print_options_lock = threading.Lock()  # torch's print options are global to the process


def format_tensor(tensor: torch.Tensor, *, summarise: bool = False) -> str:
    """The tensor as `print(tensor)` shows it with threshold=10, edgeitems=3, precision=2.
    `summarise=True` prints it summarised ("...") whatever its size."""
    options = {**PRINT_OPTIONS, "threshold": 0} if summarise else PRINT_OPTIONS
    with _print_options_lock, torch._tensor_str.printoptions(**options):
        return str(tensor)


def summary_indices(size: int) -> list[int]:
    """The indices along one dimension that a summarised print reads (edgeitems at each end), and one from
    the middle when the dimension is longer than both ends together, so that it still is and still gets "..."."""
    edge = PRINT_OPTIONS["edgeitems"]
    if size <= 2 * edge:
        return list(range(size))
    return [*range(edge), size // 2, *range(size - edge, size)]


def format_unmade_tensor(shape: tuple[int, ...], take: Callable[[list[list[int]]], torch.Tensor]) -> str:
    """`format_tensor(full)` for a tensor too big to make whole. `take(indices)` makes the part of it at
    those indices along each dimension (`full[numpy.ix_(*indices)]`). A summarised print reads only the
    edge items of each dimension, so the part holds every value the print shows, and printed summarised
    it gives the same text; a tensor small enough to be printed whole is made whole."""
    if math.prod(shape) <= PRINT_OPTIONS["threshold"]:
        return format_tensor(take([list(range(size)) for size in shape]))
    return format_tensor(take([summary_indices(size) for size in shape]), summarise=True)


def _context_text(inputs: torch.Tensor, row: int, position: int) -> str:
    start = max(0, position + 1 - CONTEXT_TOKENS_SHOWN)
    text = decode(inputs[row, start : position + 1].tolist())
    return ("…" if start > 0 else "") + text


def _view(name: str, tensor: torch.Tensor) -> TensorView:
    return TensorView(name=name, shape=tuple(tensor.shape), dtype=str(tensor.dtype), text=format_tensor(tensor))


def _unmade_view(name: str, shape: tuple[int, ...], dtype: torch.dtype, take) -> TensorView:
    return TensorView(name=name, shape=shape, dtype=str(dtype), text=format_unmade_tensor(shape, take))


def _vocabulary_wide_views(walkthrough: Walkthrough) -> dict[str, TensorView]:
    """The `probas` and `log_probas` views, each as big as the logits, from the positions their print shows."""
    probabilities = walkthrough.probabilities
    shape, dtype = tuple(walkthrough.forward.logits.shape), walkthrough.forward.logits.dtype  # softmax keeps both

    def probas(indices: list[list[int]]) -> torch.Tensor:
        return probabilities.at(*indices)

    def log_probas(indices: list[list[int]]) -> torch.Tensor:
        return probabilities.at(*indices, log=True)

    return {
        "probas": _unmade_view("probas", shape, dtype, probas),
        "log_probas": _unmade_view("log_probas", shape, dtype, log_probas),
    }


def model_card(model: GPTModel) -> ModelCard:
    """The model's configuration as its modules have it, its size, seed and mode."""
    first_block = model.trf_blocks[0]
    return ModelCard(
        vocab_size=model.tok_emb.num_embeddings,
        context_length=model.pos_emb.num_embeddings,
        emb_dim=model.tok_emb.embedding_dim,
        n_heads=first_block.att.num_heads,
        n_layers=len(model.trf_blocks),
        drop_rate=float(model.drop_emb.p),
        qkv_bias=first_block.att.W_query.bias is not None,
        parameter_count=sum(parameter.numel() for parameter in model.parameters()),
        seed=getattr(model, "seed", None),
        training=model.training,
        choice=getattr(model, "choice", UNTRAINED),
        name=getattr(model, "display_name", untrained_name(getattr(model, "seed", None))),
    )


def build_report(walkthrough: Walkthrough, source: str = "sample story", extras: dict | None = None) -> Report:
    with out_of_memory_reported(walkthrough.settings):
        return _build_report(walkthrough, source, extras)


def _build_report(walkthrough: Walkthrough, source: str, extras: dict | None) -> Report:
    batch = walkthrough.batch
    logits = walkthrough.forward.logits
    per_position = walkthrough.per_position
    predicted = walkthrough.predictions.predicted_ids
    log_stage = walkthrough.target_log_probs
    loss = walkthrough.loss
    perplexity = walkthrough.perplexity

    inputs, targets, predicted_ids = batch.inputs.tolist(), batch.targets.tolist(), predicted.tolist()
    matches = walkthrough.predictions.matches.tolist()
    target_probs, target_log_probs = log_stage.target_probs.tolist(), log_stage.target_log_probs.tolist()
    ranks, top_ids, top_probs = per_position.target_ranks.tolist(), per_position.top_ids.tolist(), per_position.top_probs.tolist()
    tokens = []
    for row in range(len(inputs)):
        for position in range(len(inputs[row])):
            tokens.append(
                TokenRow(
                    row=row,
                    position=position,
                    context=_context_text(batch.inputs, row, position),
                    input_id=inputs[row][position],
                    input_token=token_text(inputs[row][position]),
                    predicted_id=predicted_ids[row][position],
                    predicted_token=token_text(predicted_ids[row][position]),
                    target_id=targets[row][position],
                    target_token=token_text(targets[row][position]),
                    target_prob=target_probs[row][position],
                    target_log_prob=target_log_probs[row][position],
                    target_rank=ranks[row][position],
                    correct=matches[row][position],
                    top=tuple(
                        Candidate(token_id, token_text(token_id), prob)
                        for token_id, prob in zip(top_ids[row][position], top_probs[row][position])
                    ),
                )
            )

    tensors = {
        "inputs": batch.inputs,
        "targets": batch.targets,
        "logits": logits,
        "predicted_ids": predicted,
        "target_probs": log_stage.target_probs,
        "target_log_probs": log_stage.target_log_probs,
        "per_token_loss": loss.per_token_loss,
        "per_sequence_loss": loss.per_sequence_loss,
        "logits_flat": logits.flatten(0, 1),
        "targets_flat": batch.targets.flatten(),
    }
    views = {name: _view(name, tensor) for name, tensor in tensors.items()}
    views.update(_vocabulary_wide_views(walkthrough))
    return Report(
        settings=walkthrough.settings.to_dict(),
        source=source,
        character_count=len(walkthrough.text),
        token_count=batch.token_count,
        window_count=batch.window_count,
        batch_count=batch.batch_count,
        batch_index=batch.batch_index,
        vocab_size=perplexity.vocab_size,
        inputs=inputs,
        targets=targets,
        predicted=predicted_ids,
        input_texts=list(batch.input_texts),
        target_texts=list(batch.target_texts),
        target_probs=target_probs,
        target_log_probs=target_log_probs,
        per_sequence_loss=loss.per_sequence_loss.tolist(),
        avg_log_prob=loss.avg_log_prob,
        loss_manual=loss.loss_manual,
        loss_pytorch=loss.loss_pytorch,
        perplexity=perplexity.perplexity,
        uniform_loss=perplexity.uniform_loss,
        uniform_perplexity=perplexity.uniform_perplexity,
        accuracy=walkthrough.predictions.accuracy,
        logits_shape=tuple(logits.shape),
        logits_flat_shape=loss.logits_flat_shape,
        targets_flat_shape=loss.targets_flat_shape,
        tokens=tuple(tokens),
        tensors={name: views[name] for name in TENSOR_NAMES},
        model=model_card(walkthrough.model),
        extras=extras or {},
    )
