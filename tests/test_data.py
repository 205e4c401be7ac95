"""The sliding-window dataset and data loader, and every check that explains a bad argument."""

import re

import pytest
import torch

from tutor.core.texts import sample_text
from tutor.lm.data import GPTDatasetV1, create_dataloader, tokenize
from tutor.lm.tokenizer import encode

# 11 sentences of plain English: enough tokens for the small settings below
TEXT = (
    "Every effort moves you forward. The cat sat on the mat. It was a bright cold day in April. "
    "The clocks were striking thirteen. Call me Ishmael. Some years ago, never mind how long precisely, "
    "having little or no money in my purse, I thought I would sail about a little."
)


@pytest.fixture(scope="module")
def ids():
    return encode(TEXT)


@pytest.mark.parametrize(("context_length", "stride"), [(4, 1), (4, 3), (8, 8), (5, 7)])
def test_dataset_windows_and_shifted_targets(ids, context_length, stride):
    dataset = GPTDatasetV1(ids, context_length, stride)
    starts = list(range(0, len(ids) - context_length, stride))
    assert len(dataset) == len(starts) > 0
    for index, start in enumerate(starts):
        inputs, targets = dataset[index]
        assert inputs.tolist() == ids[start : start + context_length]
        assert targets.tolist() == ids[start + 1 : start + context_length + 1]
        assert inputs[1:].tolist() == targets[:-1].tolist()  # the target is the input moved one token on


def test_loader_batches_in_order_without_shuffle(ids):
    loader = create_dataloader(TEXT, batch_size=3, context_length=5, stride=2, shuffle=False)
    starts = list(range(0, len(ids) - 5, 2))
    seen = []
    for inputs, targets in loader:
        assert inputs.shape == targets.shape == (3, 5)
        assert inputs.dtype == targets.dtype == torch.int64
        assert torch.equal(inputs[:, 1:], targets[:, :-1])
        seen.extend(inputs.tolist())
    assert seen == [ids[s : s + 5] for s in starts[: len(starts) // 3 * 3]]


def test_shuffle_with_a_seed_is_reproducible_and_differs_from_unshuffled():
    def first(**kwargs):
        inputs, targets = next(iter(create_dataloader(TEXT, batch_size=4, context_length=4, stride=1, **kwargs)))
        return inputs

    one = first(shuffle=True, seed=5)
    two = first(shuffle=True, seed=5)
    plain = first(shuffle=False)
    assert torch.equal(one, two)
    assert not torch.equal(one, plain)
    assert not torch.equal(one, first(shuffle=True, seed=6))


def test_drop_last(ids):
    windows = len(range(0, len(ids) - 4, 3))
    assert windows % 3 != 0, "pick settings whose window count is not a multiple of the batch size"
    dropped = create_dataloader(TEXT, batch_size=3, context_length=4, stride=3, shuffle=False, drop_last=True)
    kept = create_dataloader(TEXT, batch_size=3, context_length=4, stride=3, shuffle=False, drop_last=False)
    assert len(dropped) == windows // 3
    assert all(inputs.shape[0] == 3 for inputs, _ in dropped)
    assert len(kept) == windows // 3 + 1
    batches = list(kept)
    assert batches[-1][0].shape == (windows % 3, 4)
    assert sum(inputs.shape[0] for inputs, _ in batches) == windows


def test_default_arguments_are_the_books():
    loader = create_dataloader(sample_text(), shuffle=False)
    inputs, targets = next(iter(loader))
    assert inputs.shape == (4, 256)
    assert loader.dataset[1][0].tolist() == tokenize(sample_text())[128 : 128 + 256]


def _error(**kwargs) -> str:
    arguments = {"raw_text": TEXT, "batch_size": 2, "context_length": 4, "stride": 2, **kwargs}
    with pytest.raises(ValueError) as caught:
        create_dataloader(**arguments)
    return str(caught.value)


@pytest.mark.parametrize("context_length", [0, 257, -1])
def test_bad_context_length(context_length):
    assert _error(context_length=context_length) == f"{context_length} is out of range: context length must be 1 to 256"


def test_bad_stride():
    assert _error(stride=0) == "0 is out of range: stride must be 1 or more"


def test_bad_batch_size():
    assert _error(batch_size=0) == "0 is out of range: batch size must be 1 or more"


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_or_whitespace_text(text):
    assert "nothing to tokenize" in _error(raw_text=text)


def test_text_too_short_for_one_window():
    assert len(encode("Hello world")) == 2
    message = _error(raw_text="Hello world", batch_size=1, context_length=8, stride=4)
    assert re.search(r"\bhas 2 tokens\b", message)
    assert re.search(r"\bneeds at least 9\b", message)  # 8 inputs + 1 more token as the last target
    assert "one window" in message


def test_text_too_short_for_a_batch():
    # 2 windows of 4 need 7 tokens with stride 2; keeping partial batches needs only one window (5 tokens)
    six = "one two three four five six"
    assert len(encode(six)) == 6
    message = _error(raw_text=six, batch_size=2, context_length=4, stride=2)
    assert re.search(r"\bhas 6 tokens\b", message)
    assert re.search(r"\bneeds at least 7\b", message)
    loader = create_dataloader(six, batch_size=2, context_length=4, stride=2, shuffle=False, drop_last=False)
    assert len(loader.dataset) == 1


def test_unknown_tokenizer():
    message = _error(tokenizer_model_name="cl100k_base")
    assert "'gpt2'" in message
    assert "'cl100k_base'" in message
