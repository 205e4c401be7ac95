"""The book's sliding-window dataset: every window of `context_length` tokens is an input, and the
same window moved one token to the right is its target."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from tutor.core.formatting import counted
from tutor.core.settings import MODEL_CONTEXT_LENGTH, check_window_settings
from tutor.core.windows import check_enough_tokens, window_starts
from tutor.lm.tokenizer import END_OF_TEXT, get_tokenizer


def check_text(raw_text: str) -> None:
    if not raw_text or not raw_text.strip():
        raise ValueError("the text is empty or only whitespace: there is nothing to tokenize")


class GPTDatasetV1(Dataset):
    """Input/target windows over one tokenized text, as in the book's chapter 2."""

    def __init__(self, token_ids: list[int], context_length: int, stride: int):
        self.input_ids: list[torch.Tensor] = []
        self.target_ids: list[torch.Tensor] = []
        for start in window_starts(len(token_ids), context_length, stride):
            self.input_ids.append(torch.tensor(token_ids[start : start + context_length]))
            self.target_ids.append(torch.tensor(token_ids[start + 1 : start + context_length + 1]))

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids[index], self.target_ids[index]


def tokenize(raw_text: str, tokenizer_model_name: str = "gpt2") -> list[int]:
    if tokenizer_model_name != "gpt2":
        raise ValueError(f"only the 'gpt2' tokenizer ships with loss-tutor; got {tokenizer_model_name!r}")
    check_text(raw_text)
    return get_tokenizer().encode(raw_text, allowed_special={END_OF_TEXT})


def create_dataloader(
    raw_text: str,
    tokenizer_model_name: str = "gpt2",
    batch_size: int = 4,
    context_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    seed: int | None = None,
    max_context_length: int = MODEL_CONTEXT_LENGTH,
) -> DataLoader:
    """The book's `create_dataloader_v1`, with checks that explain what is wrong and a seed for shuffling."""
    check_window_settings(
        batch_size=batch_size, context_length=context_length, stride=stride, max_context_length=max_context_length
    )
    return dataloader_from_ids(
        tokenize(raw_text, tokenizer_model_name),
        batch_size=batch_size,
        context_length=context_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
        seed=seed,
    )


def batch_window_indices(window_count: int, *, batch_size: int, batch_index: int, shuffle: bool, seed: int) -> list[int]:
    """The windows batch `batch_index` holds, in the order `dataloader_from_ids(..., drop_last=True)` yields
    them, found without making the windows or the batches before it.

    Unshuffled, batch N is windows N*B to N*B+B-1. Shuffled, the DataLoader's iterator first draws one number
    from the generator (the base seed for its workers), then `RandomSampler` draws one permutation of all
    windows, which `BatchSampler` cuts into batches of B."""
    first = batch_index * batch_size
    if not 0 <= first <= window_count - batch_size:
        raise IndexError(
            f"batch {batch_index} of {counted(batch_size, 'window')} is beyond the {counted(window_count, 'window')}"
        )
    if not shuffle:
        return list(range(first, first + batch_size))
    generator = torch.Generator().manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    return torch.randperm(window_count, generator=generator)[first : first + batch_size].tolist()


def windows_at(token_ids: list[int], indices: list[int], *, context_length: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input and target windows at these indices, stacked as a batch: (len(indices), context_length) each."""
    starts = [index * stride for index in indices]
    inputs = torch.tensor([token_ids[start : start + context_length] for start in starts], dtype=torch.int64)
    targets = torch.tensor([token_ids[start + 1 : start + context_length + 1] for start in starts], dtype=torch.int64)
    return inputs, targets


def dataloader_from_ids(
    token_ids: list[int],
    *,
    batch_size: int,
    context_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
    seed: int | None,
) -> DataLoader:
    """`create_dataloader` for a text that is already tokenized."""
    check_enough_tokens(
        len(token_ids), batch_size=batch_size, context_length=context_length, stride=stride, drop_last=drop_last
    )
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        GPTDatasetV1(token_ids, context_length, stride),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=0,
        generator=generator,
    )
