"""Building a report: torch's own print of each tensor, the context shown per position, print options kept."""

import pytest
import torch

from tutor.core.report import TENSOR_NAMES
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.report_builder import CONTEXT_TOKENS_SHOWN, PRINT_OPTIONS, build_report, format_tensor
from tutor.lm.tokenizer import decode
from tutor.lm.walkthrough import Walkthrough, default_model


def print_options() -> dict:
    opts = torch._tensor_str.PRINT_OPTS
    return {name: getattr(opts, name) for name in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


def printed(tensor: torch.Tensor) -> str:
    """str(tensor) under threshold=10, edgeitems=3, precision=2, other options left at their defaults."""
    saved = print_options()
    torch.set_printoptions(threshold=10, edgeitems=3, precision=2)
    try:
        return str(tensor)
    finally:
        torch.set_printoptions(**saved)


@pytest.fixture(scope="module")
def walk():
    return Walkthrough(sample_text(), Settings(context_length=14, stride=14), model=default_model())


@pytest.fixture(scope="module")
def report(walk):
    return build_report(walk, source="story.txt")


def test_print_options_are_the_books():
    assert PRINT_OPTIONS == {"threshold": 10, "edgeitems": 3, "precision": 2}


def walkthrough_tensors(walk):
    logits = walk.forward.logits
    return {
        "inputs": walk.batch.inputs,
        "targets": walk.batch.targets,
        "logits": logits,
        "probas": walk.probabilities.probas,
        "predicted_ids": walk.predictions.predicted_ids,
        "log_probas": walk.target_log_probs.log_probas,
        "target_probs": walk.target_log_probs.target_probs,
        "target_log_probs": walk.target_log_probs.target_log_probs,
        "per_token_loss": walk.loss.per_token_loss,
        "per_sequence_loss": walk.loss.per_sequence_loss,
        "logits_flat": logits.flatten(0, 1),
        "targets_flat": walk.batch.targets.flatten(),
    }


def test_tensor_views(walk, report):
    tensors = walkthrough_tensors(walk)
    assert set(tensors) == set(TENSOR_NAMES) == set(report.tensors)
    expected_shapes = {
        "inputs": (2, 14), "targets": (2, 14), "logits": (2, 14, 50257), "probas": (2, 14, 50257),
        "predicted_ids": (2, 14), "log_probas": (2, 14, 50257), "target_probs": (2, 14),
        "target_log_probs": (2, 14), "per_token_loss": (2, 14), "per_sequence_loss": (2,),
        "logits_flat": (28, 50257), "targets_flat": (28,),
    }
    int_names = {"inputs", "targets", "predicted_ids", "targets_flat"}
    for name, tensor in tensors.items():
        view = report.tensors[name]
        assert view.shape == expected_shapes[name], name
        assert view.dtype == ("torch.int64" if name in int_names else "torch.float32"), name
        assert view.text == printed(tensor), name
    assert "..." in report.tensors["logits"].text  # summarised, threshold=10
    assert "..." not in report.tensors["per_sequence_loss"].text
    assert report.tensors["per_sequence_loss"].text == "tensor([{:.2f}, {:.2f}])".format(*walk.loss.per_sequence_loss.tolist())


def test_print_options_are_restored(walk):
    saved = print_options()
    torch.set_printoptions(precision=7, threshold=500, edgeitems=5, linewidth=120)
    try:
        changed = print_options()
        text = format_tensor(torch.tensor([1.23456789, 2.0]))
        assert text == "tensor([1.23, 2.00])"
        assert print_options() == changed
        build_report(walk)
        assert print_options() == changed
        assert str(torch.tensor([1.23456789])) == "tensor([1.2345679])"
    finally:
        torch.set_printoptions(**saved)


def test_context_is_the_last_tokens_of_the_input(walk, report):
    inputs = walk.batch.inputs
    for token in report.tokens:
        row = inputs[token.row].tolist()
        if token.position < CONTEXT_TOKENS_SHOWN:
            assert token.context == decode(row[: token.position + 1])
        else:
            start = token.position + 1 - CONTEXT_TOKENS_SHOWN
            assert token.context == "…" + decode(row[start : token.position + 1])
    assert any(token.context.startswith("…") for token in report.tokens)


def test_token_texts(report):
    for token in report.tokens:
        assert token.input_token == decode([token.input_id])
        assert token.target_token == decode([token.target_id])
        assert token.predicted_token == decode([token.predicted_id])
        assert all(c.token == decode([c.token_id]) for c in token.top)
