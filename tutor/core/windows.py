"""How many input/target windows and batches a text of so many tokens gives, as the book's sliding window
(chapter 2) makes them, and the checks that a text gives the batch asked for. Free of torch: the settings
form checks a text before anything heavy is imported, and `tutor.lm.data` builds its windows from here."""

from __future__ import annotations

from tutor.core.formatting import counted


def window_starts(token_count: int, context_length: int, stride: int) -> range:
    """Where each window starts: every `stride` tokens, while a token is left after the window to be the
    target of its last position."""
    return range(0, token_count - context_length, stride)


def count_windows(token_count: int, context_length: int, stride: int) -> int:
    return len(window_starts(token_count, context_length, stride))


def count_batches(token_count: int, *, batch_size: int, context_length: int, stride: int) -> int:
    """Full batches only: the loader drops a last batch with fewer than `batch_size` windows."""
    return count_windows(token_count, context_length, stride) // batch_size


def tokens_needed(context_length: int, stride: int, windows: int = 1) -> int:
    """How many tokens a text needs to give `windows` input/target windows."""
    return (windows - 1) * stride + context_length + 1


def check_enough_tokens(
    token_count: int, *, batch_size: int, context_length: int, stride: int, drop_last: bool = True
) -> None:
    """Raise `ValueError` if the text gives no batch: with `drop_last`, a full batch; without, one window."""
    windows_wanted = batch_size if drop_last else 1
    needed = tokens_needed(context_length, stride, windows_wanted)
    if token_count < needed:
        what = "one window" if windows_wanted == 1 else f"a batch of {batch_size} windows"
        raise ValueError(
            f"the text is too short: it has {counted(token_count, 'token')}, and {what} of context length "
            f"{context_length} (stride {stride}) needs at least {needed} — each input needs one more "
            "token after it to be its target"
        )


def check_batch_number(
    batch_index: int, token_count: int, *, batch_size: int, context_length: int, stride: int
) -> None:
    """Raise `ValueError` if the text gives no full batch, or none numbered `batch_index`."""
    check_enough_tokens(token_count, batch_size=batch_size, context_length=context_length, stride=stride)
    batch_count = count_batches(token_count, batch_size=batch_size, context_length=context_length, stride=stride)
    if not 0 <= batch_index < batch_count:
        raise ValueError(
            f"batch number {batch_index} does not exist: this text makes {counted(batch_count, 'batch', 'batches')}"
            f" (numbered 0 to {batch_count - 1:,})"
        )
