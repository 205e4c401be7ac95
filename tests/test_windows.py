"""The window arithmetic in core (no torch) is the book's: as many windows as GPTDatasetV1 makes, as many
batches as its DataLoader gives with drop_last, and the checks that a text gives the batch asked for."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from tutor.core.windows import (
    check_batch_number,
    check_enough_tokens,
    count_batches,
    count_windows,
    tokens_needed,
    window_starts,
)
from tutor.lm.data import GPTDatasetV1


def test_window_starts_is_the_books_range():
    assert list(window_starts(12, 4, 4)) == [0, 4]  # a window at 8 would need a 13th token as target
    assert list(window_starts(13, 4, 4)) == [0, 4, 8]
    assert list(window_starts(30, 4, 3)) == list(range(0, 26, 3))
    assert list(window_starts(4, 4, 1)) == []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    token_count=st.integers(min_value=0, max_value=300),
    context_length=st.integers(min_value=1, max_value=40),
    stride=st.integers(min_value=1, max_value=40),
    batch_size=st.integers(min_value=1, max_value=8),
)
def test_the_counts_are_the_datasets_and_the_loaders(token_count, context_length, stride, batch_size):
    token_ids = list(range(token_count))
    dataset = GPTDatasetV1(token_ids, context_length, stride)
    assert count_windows(token_count, context_length, stride) == len(dataset)
    starts = window_starts(token_count, context_length, stride)
    assert [dataset[i][0][0].item() for i in range(len(dataset))] == list(starts)  # token i is i
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=True)
    windows = {"batch_size": batch_size, "context_length": context_length, "stride": stride}
    assert count_batches(token_count, **windows) == len(loader)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    context_length=st.integers(min_value=1, max_value=40),
    stride=st.integers(min_value=1, max_value=40),
    windows=st.integers(min_value=1, max_value=8),
)
def test_tokens_needed_is_the_fewest_that_give_so_many_windows(context_length, stride, windows):
    needed = tokens_needed(context_length, stride, windows)
    assert len(GPTDatasetV1(list(range(needed)), context_length, stride)) == windows
    assert len(GPTDatasetV1(list(range(needed - 1)), context_length, stride)) == windows - 1


def test_tokens_needed_values():
    assert tokens_needed(8, 4) == 9
    assert tokens_needed(8, 4, 2) == 13
    assert tokens_needed(256, 128, 4) == 641


def test_a_text_too_short_for_one_window_or_a_batch():
    with pytest.raises(ValueError) as caught:
        check_enough_tokens(2, batch_size=1, context_length=8, stride=4, drop_last=False)
    assert str(caught.value) == (
        "the text is too short: it has 2 tokens, and one window of context length 8 (stride 4) needs at least 9 — "
        "each input needs one more token after it to be its target"
    )
    check_enough_tokens(9, batch_size=2, context_length=8, stride=4, drop_last=False)
    with pytest.raises(ValueError, match=r"^the text is too short: it has 12 tokens, and a batch of 2 windows .* 13 "):
        check_enough_tokens(12, batch_size=2, context_length=8, stride=4)
    check_enough_tokens(13, batch_size=2, context_length=8, stride=4)


def test_a_batch_number_the_text_does_not_have():
    windows = {"batch_size": 2, "context_length": 8, "stride": 4}
    check_batch_number(0, 13, **windows)
    check_batch_number(2, 29, **windows)  # 6 windows
    with pytest.raises(ValueError) as caught:
        check_batch_number(3, 29, **windows)
    assert str(caught.value) == "batch number 3 does not exist: this text makes 3 batches (numbered 0 to 2)"
    with pytest.raises(ValueError, match=r"^batch number -1 does not exist: this text makes 1 batch \(numbered 0 to 0\)"):
        check_batch_number(-1, 13, **windows)
    with pytest.raises(ValueError, match=r"^the text is too short"):  # no batch at all: said as such
        check_batch_number(0, 12, **windows)
    with pytest.raises(ValueError, match=r"this text makes 1,248 batches \(numbered 0 to 1,247\)$"):
        check_batch_number(5000, 5000, batch_size=1, context_length=8, stride=4)
