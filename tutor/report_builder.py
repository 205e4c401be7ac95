"""Fills a `Report` from a `Walkthrough`: every number was computed there; this only gathers and formats."""

from __future__ import annotations

import threading

import torch

from tutor.report import Candidate, Report, TensorView, TokenRow
from tutor.tokenizer import decode, token_text
from tutor.walkthrough import Walkthrough

TOP_K = 10
CONTEXT_TOKENS_SHOWN = 12
PRINT_OPTIONS = {"threshold": 10, "edgeitems": 3, "precision": 2}
_print_options_lock = threading.Lock()  # torch's print options are global to the process


def format_tensor(tensor: torch.Tensor) -> str:
    """The tensor as `print(tensor)` shows it with threshold=10, edgeitems=3, precision=2."""
    with _print_options_lock, torch._tensor_str.printoptions(**PRINT_OPTIONS):
        return str(tensor)


def _context_text(inputs: torch.Tensor, row: int, position: int) -> str:
    start = max(0, position + 1 - CONTEXT_TOKENS_SHOWN)
    text = decode(inputs[row, start : position + 1].tolist())
    return ("…" if start > 0 else "") + text


def _view(name: str, tensor: torch.Tensor) -> TensorView:
    return TensorView(name=name, shape=tuple(tensor.shape), dtype=str(tensor.dtype), text=format_tensor(tensor))


def build_report(walkthrough: Walkthrough, source: str = "sample story", extras: dict | None = None) -> Report:
    batch = walkthrough.batch
    logits = walkthrough.forward.logits
    probas = walkthrough.probabilities.probas
    predicted = walkthrough.predictions.predicted_ids
    matches = walkthrough.predictions.matches
    log_stage = walkthrough.target_log_probs
    loss = walkthrough.loss
    perplexity = walkthrough.perplexity

    top_probs, top_ids = torch.topk(probas, k=TOP_K, dim=-1)  # (B, T, k)
    # rank 1 = nothing had a higher probability than the target
    target_ranks = (probas > log_stage.target_probs.unsqueeze(-1)).sum(dim=-1, dtype=torch.int32) + 1  # (B, T)

    tokens = []
    for row in range(batch.inputs.shape[0]):
        for position in range(batch.inputs.shape[1]):
            tokens.append(
                TokenRow(
                    row=row,
                    position=position,
                    context=_context_text(batch.inputs, row, position),
                    input_id=int(batch.inputs[row, position]),
                    input_token=token_text(int(batch.inputs[row, position])),
                    predicted_id=int(predicted[row, position]),
                    predicted_token=token_text(int(predicted[row, position])),
                    target_id=int(batch.targets[row, position]),
                    target_token=token_text(int(batch.targets[row, position])),
                    target_prob=float(log_stage.target_probs[row, position]),
                    target_log_prob=float(log_stage.target_log_probs[row, position]),
                    target_rank=int(target_ranks[row, position]),
                    correct=bool(matches[row, position]),
                    top=tuple(
                        Candidate(int(token_id), token_text(int(token_id)), float(prob))
                        for token_id, prob in zip(top_ids[row, position], top_probs[row, position])
                    ),
                )
            )

    tensors = {
        "inputs": batch.inputs,
        "targets": batch.targets,
        "logits": logits,
        "probas": probas,
        "predicted_ids": predicted,
        "log_probas": log_stage.log_probas,
        "target_probs": log_stage.target_probs,
        "target_log_probs": log_stage.target_log_probs,
        "per_token_loss": loss.per_token_loss,
        "per_sequence_loss": loss.per_sequence_loss,
        "logits_flat": logits.flatten(0, 1),
        "targets_flat": batch.targets.flatten(),
    }
    return Report(
        settings=walkthrough.settings.to_dict(),
        source=source,
        token_count=batch.token_count,
        window_count=batch.window_count,
        batch_count=batch.batch_count,
        batch_index=batch.batch_index,
        vocab_size=perplexity.vocab_size,
        inputs=batch.inputs.tolist(),
        targets=batch.targets.tolist(),
        predicted=predicted.tolist(),
        input_texts=list(batch.input_texts),
        target_texts=list(batch.target_texts),
        target_probs=log_stage.target_probs.tolist(),
        target_log_probs=log_stage.target_log_probs.tolist(),
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
        tensors={name: _view(name, tensor) for name, tensor in tensors.items()},
        extras=extras or {},
    )
