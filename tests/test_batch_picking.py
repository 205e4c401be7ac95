"""The walkthrough picks the requested batch directly: the same windows, in the same order, as the book's
DataLoader over GPTDatasetV1, without making every window or going through the batches before it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from tutor.core.settings import Settings
from tutor.core.windows import count_windows
from tutor.lm.data import GPTDatasetV1, batch_window_indices, dataloader_from_ids, windows_at
from tutor.lm.walkthrough import Walkthrough


def loader_batches(token_ids, *, batch_size, context_length, stride, shuffle, seed):
    return list(
        dataloader_from_ids(
            token_ids, batch_size=batch_size, context_length=context_length, stride=stride,
            shuffle=shuffle, drop_last=True, seed=seed,
        )
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    token_count=st.integers(min_value=2, max_value=120),
    context_length=st.integers(min_value=1, max_value=12),
    stride=st.integers(min_value=1, max_value=9),
    batch_size=st.integers(min_value=1, max_value=6),
    shuffle=st.booleans(),
    seed=st.one_of(st.integers(min_value=-(2**63), max_value=2**64 - 1), st.integers(min_value=0, max_value=5)),
)
def test_every_batch_is_the_dataloaders(token_count, context_length, stride, batch_size, shuffle, seed):
    token_ids = [(7 * i + 3) % 50257 for i in range(token_count)]
    window_count = count_windows(token_count, context_length, stride)
    if window_count < batch_size:
        return
    expected = loader_batches(
        token_ids, batch_size=batch_size, context_length=context_length, stride=stride, shuffle=shuffle, seed=seed
    )
    assert len(expected) == window_count // batch_size
    for batch_index, (want_inputs, want_targets) in enumerate(expected):
        indices = batch_window_indices(
            window_count, batch_size=batch_size, batch_index=batch_index, shuffle=shuffle, seed=seed
        )
        inputs, targets = windows_at(token_ids, indices, context_length=context_length, stride=stride)
        assert torch.equal(inputs, want_inputs) and inputs.dtype == want_inputs.dtype
        assert torch.equal(targets, want_targets) and targets.dtype == want_targets.dtype


def test_a_batch_past_the_last_is_an_index_error():
    with pytest.raises(IndexError):
        batch_window_indices(10, batch_size=3, batch_index=3, shuffle=False, seed=0)
    with pytest.raises(IndexError):
        batch_window_indices(10, batch_size=3, batch_index=-1, shuffle=True, seed=0)


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_walkthrough_batch_makes_no_dataset_and_matches_the_dataloader(monkeypatch, shuffle):
    text = "Every effort moves you forward, one token at a time, and the next one after that. " * 40
    settings = Settings(batch_size=3, context_length=6, stride=1, shuffle=shuffle, seed=9, batch_index=57)
    walkthrough = Walkthrough(text, settings, model=None)
    token_ids = walkthrough.token_ids
    expected = loader_batches(
        token_ids, batch_size=3, context_length=6, stride=1, shuffle=shuffle, seed=9
    )[settings.batch_index]

    def no_windows(*args, **kwargs):
        raise AssertionError("the walkthrough made the whole dataset")

    monkeypatch.setattr(GPTDatasetV1, "__init__", no_windows)
    monkeypatch.setattr(DataLoader, "__iter__", no_windows)
    batch = walkthrough.batch
    assert torch.equal(batch.inputs, expected[0])
    assert torch.equal(batch.targets, expected[1])
    assert batch.window_count == count_windows(len(token_ids), 6, 1)
    assert batch.batch_count == batch.window_count // 3

