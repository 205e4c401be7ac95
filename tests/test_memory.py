"""The report is built from the logits without another tensor as big as them: per-position values a chunk
of positions at a time, the big tensors' prints from the few values a print shows, nn.CrossEntropyLoss over
chunks of positions for a big batch. Each gives the same values as the book's whole-tensor code."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_gpt import tiny_gpt

from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.bug_lab import run_all
from tutor.lm.report_builder import TOP_K, build_report, format_tensor, format_unmade_tensor
from tutor.lm.walkthrough import CHUNK_POSITIONS, Walkthrough, cross_entropy

VOCAB_SIZE = 50257


def tiny_model(seed: int = 0) -> nn.Module:
    """(B, T) token ids to (B, T, vocab) logits, without loading the 124M model."""
    return tiny_gpt(seed, emb_dim=16)


def part(full: torch.Tensor, indices: list[list[int]]) -> torch.Tensor:
    for dim, index in enumerate(indices):
        full = full.index_select(dim, torch.tensor(index, dtype=torch.int64))
    return full


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    shape=st.lists(st.integers(min_value=1, max_value=11), min_size=1, max_size=4).map(tuple),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    scale=st.sampled_from([1e-6, 1e-3, 1.0, 30.0, 1e5, 1e9]),
    kind=st.sampled_from(["normal", "probabilities", "log probabilities", "whole numbers"]),
)
def test_a_tensor_printed_from_its_shown_values_prints_as_the_whole_tensor(shape, seed, scale, kind):
    generator = torch.Generator().manual_seed(seed)
    full = torch.randn(shape, generator=generator) * scale
    if kind == "probabilities":
        full = torch.softmax(full, dim=-1)
    elif kind == "log probabilities":
        full = torch.log_softmax(full, dim=-1)
    elif kind == "whole numbers":
        full = full.round()
    asked = []

    def take(indices):
        asked.append(math.prod(len(index) for index in indices))
        return part(full, indices)

    assert format_unmade_tensor(tuple(shape), take) == format_tensor(full)
    if full.numel() > 10:  # summarised: at most 7 indices along each dimension were made
        assert asked == [math.prod(min(size, 7) for size in shape)]


def test_a_vocabulary_wide_tensor_is_printed_from_49_positions():
    walkthrough = Walkthrough(sample_text(), Settings(batch_size=8, context_length=20, stride=20), model=tiny_model())
    probas = torch.softmax(walkthrough.forward.logits, dim=-1)
    report = build_report(walkthrough)
    assert report.tensors["probas"].text == format_tensor(probas)
    assert report.tensors["log_probas"].text == format_tensor(torch.log(probas))
    assert report.tensors["probas"].shape == report.tensors["log_probas"].shape == (8, 20, VOCAB_SIZE)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(batch_size=3, context_length=5, stride=2, shuffle=True, seed=7, batch_index=1),
        Settings(batch_size=5, context_length=40, stride=3),  # 200 positions: several chunks, the last one short
    ],
    ids=["defaults", "shuffled", "chunks"],
)
def test_per_position_values_are_the_whole_tensors(settings):
    walkthrough = Walkthrough(sample_text(), settings, model=tiny_model())
    targets = walkthrough.batch.targets
    probas = torch.softmax(walkthrough.forward.logits, dim=-1)  # the book's (B, T, vocab) tensors
    log_probas = torch.log(probas)
    index = targets.unsqueeze(-1)
    target_probs = probas.gather(-1, index).squeeze(-1)
    top_probs, top_ids = torch.topk(probas, k=TOP_K, dim=-1)

    values = walkthrough.per_position
    assert torch.equal(values.predicted_ids, torch.argmax(probas, dim=-1))
    assert torch.equal(values.target_probs, target_probs)
    # log runs vectorised on most elements and one by one on a few at the end of each thread's share, which
    # differ between the whole tensor and a chunk: at most in the last bit
    torch.testing.assert_close(values.target_log_probs, log_probas.gather(-1, index).squeeze(-1), rtol=2e-7, atol=0)
    assert torch.equal(values.target_ranks, (probas > target_probs.unsqueeze(-1)).sum(dim=-1, dtype=torch.int32) + 1)
    assert torch.equal(values.top_probs, top_probs)
    assert torch.equal(values.top_ids, top_ids)
    assert torch.equal(walkthrough.predictions.predicted_ids, values.predicted_ids)
    assert walkthrough.target_log_probs.target_probs is values.target_probs


def test_building_the_report_makes_no_vocabulary_wide_tensor():
    """probas and log_probas (each as big as the logits) are made only when read, and the report does not read them."""
    walkthrough = Walkthrough(sample_text(), Settings(batch_size=4, context_length=64, stride=64), model=tiny_model())
    build_report(walkthrough, extras={"bug_lab": run_all(walkthrough)})
    assert "probas" not in vars(walkthrough.probabilities)
    assert "log_probas" not in vars(walkthrough.target_log_probs)
    # read, they are the book's tensors
    torch.testing.assert_close(walkthrough.probabilities.probas, torch.softmax(walkthrough.forward.logits, -1), rtol=0, atol=0)
    assert torch.equal(walkthrough.target_log_probs.log_probas, torch.log(walkthrough.probabilities.probas))


def test_cross_entropy_is_the_single_call_when_small_and_the_same_loss_in_chunks():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3 * CHUNK_POSITIONS + 5, 1000, generator=generator) * 4
    targets = torch.randint(0, 1000, (logits.shape[0],), generator=generator)
    small = slice(0, CHUNK_POSITIONS)
    assert torch.equal(cross_entropy(logits[small], targets[small]), nn.CrossEntropyLoss()(logits[small], targets[small]))
    chunked = cross_entropy(logits, targets)
    assert chunked.dtype == torch.float32 and chunked.shape == ()
    exact = F.cross_entropy(logits.double(), targets).item()
    assert chunked.item() == pytest.approx(exact, rel=1e-6)
    assert chunked.item() == pytest.approx(nn.CrossEntropyLoss()(logits, targets).item(), rel=1e-6)
    softmaxed = cross_entropy(logits, targets, prepare=lambda chunk: torch.softmax(chunk, -1))
    assert softmaxed.item() == pytest.approx(F.cross_entropy(torch.softmax(logits, -1), targets).item(), rel=1e-6)


# The report and the bug lab at (8, 256) after the forward pass, with the address space capped at what
# the process holds then (the logits included) plus HEADROOM: less than another copy of the logits
# (411 MB), which the book's whole-tensor code makes several of.
MEMORY_CHILD = r"""
import resource, sys
import torch, torch.nn as nn
from tutor.lm.bug_lab import run_all
from tutor.lm.report_builder import build_report
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.walkthrough import Walkthrough

from tutor.lm.model import GPT_CONFIG_124M, GPTModel
torch.manual_seed(0)
model = GPTModel({**GPT_CONFIG_124M, "emb_dim": 16, "n_heads": 1, "n_layers": 1}).eval()
walkthrough = Walkthrough(sample_text(), Settings(batch_size=8, context_length=256, stride=256), model=model)
walkthrough.forward
size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[1]), resource.RLIM_INFINITY))
report = build_report(walkthrough, extras={"bug_lab": run_all(walkthrough)})
print(len(report.tokens), report.loss_pytorch)
"""
HEADROOM = 200 * 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_report_of_a_big_batch_needs_less_than_another_copy_of_the_logits():
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(HEADROOM)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    positions, loss = done.stdout.split()
    assert int(positions) == 8 * 256 and math.isfinite(float(loss))
