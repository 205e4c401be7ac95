"""The learner's settings and their checks. Free of torch, so a user interface can validate input
before anything heavy is imported."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

MODEL_CONTEXT_LENGTH = 256  # GPT_CONFIG_124M["context_length"]; a test keeps the two equal
# The most positions (batch size × context length) one computation may have, e.g. (8, 256). The logits
# alone take 50257 × 4 bytes per position; with the model (650 MB) and PyTorch, the peak at this many stays
# within the budget below with room to spare (`make bench`: "peak RSS, largest request").
HARD_MAX_POSITIONS = 2048
MEMORY_BUDGET = "1.5 GB"
MAX_POSITIONS_ENV = "LOSS_TUTOR_MAX_POSITIONS"  # an instructor's lower limit; so is --max-positions
# torch.Generator.manual_seed accepts exactly this range; outside it fails with "Overflow when unpacking long long"
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1


def check_window_settings(
    *, batch_size: int, context_length: int, stride: int, max_context_length: int = MODEL_CONTEXT_LENGTH
) -> None:
    """Raise `ValueError` with a learner-readable reason for settings no batch can be made from."""
    if not _is_whole(context_length) or not 1 <= context_length <= max_context_length:
        raise ValueError(
            f"context length must be a whole number from 1 to {max_context_length} "
            f"(the model's context length); got {context_length!r}"
        )
    if not _is_whole(stride) or stride < 1:
        raise ValueError(f"stride must be a whole number of at least 1; got {stride!r}")
    if not _is_whole(batch_size) or batch_size < 1:
        raise ValueError(f"batch size must be a whole number of at least 1; got {batch_size!r}")


def parse_max_positions(value: object, source: str) -> int:
    """An instructor's limit on positions, given as `source` (an option or an environment variable): a whole
    number from the default batch's positions up to HARD_MAX_POSITIONS. It can only lower the limit."""
    lowest = Settings().batch_size * Settings().context_length
    allowed = f"a whole number from {lowest} (the default batch) to {HARD_MAX_POSITIONS:,}"
    try:
        limit = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"{source} must be {allowed}; got {value!r}") from None
    if not _is_whole(limit) or limit < lowest:
        raise ValueError(f"{source} must be {allowed}; got {value!r}")
    if limit > HARD_MAX_POSITIONS:
        raise ValueError(
            f"{source} can only lower the limit on positions (batch size × context length): {limit:,} is above "
            f"{HARD_MAX_POSITIONS:,}, the most the tutor computes within {MEMORY_BUDGET} of memory"
        )
    return limit


def max_positions() -> int:
    """The limit on positions in force: HARD_MAX_POSITIONS, or lower if LOSS_TUTOR_MAX_POSITIONS says so.
    The environment carries it to every process the tutor starts. Raises `ValueError` if it is not valid."""
    value = os.environ.get(MAX_POSITIONS_ENV, "")
    return parse_max_positions(value, MAX_POSITIONS_ENV) if value.strip() else HARD_MAX_POSITIONS


def check_positions(batch_size: int, context_length: int, limit: int | None = None) -> None:
    """Raise `ValueError`, naming the limit, if a batch has more positions than one computation may have."""
    limit = max_positions() if limit is None else limit
    positions = batch_size * context_length
    if positions > limit:
        whose = (
            f"the most the tutor computes within {MEMORY_BUDGET} of memory"
            if limit == HARD_MAX_POSITIONS
            else "as set for this tutor (--max-positions or LOSS_TUTOR_MAX_POSITIONS)"
        )
        raise ValueError(
            f"batch size × context length is {batch_size} × {context_length} = {positions:,} positions, "
            f"over the limit of {limit:,}, {whose}"
        )


def tokens_needed(context_length: int, stride: int, windows: int = 1) -> int:
    """How many tokens a text needs to give `windows` input/target windows."""
    return (windows - 1) * stride + context_length + 1


def count_windows(token_count: int, context_length: int, stride: int) -> int:
    return len(range(0, token_count - context_length, stride))


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Settings:
    """What the learner can change. `seed` seeds the shuffling of windows; the model is always seed 42."""

    batch_size: int = 2
    context_length: int = 8
    stride: int = 4
    seed: int = 123
    shuffle: bool = False
    batch_index: int = 0

    def validate(self, max_context_length: int = MODEL_CONTEXT_LENGTH, max_positions: int | None = None) -> None:
        """Raise `ValueError` with the reason if these settings cannot be computed. `max_positions` defaults to
        the limit in force (`max_positions()`)."""
        check_window_settings(
            batch_size=self.batch_size,
            context_length=self.context_length,
            stride=self.stride,
            max_context_length=max_context_length,
        )
        check_positions(self.batch_size, self.context_length, max_positions)
        if not _is_whole(self.batch_index) or self.batch_index < 0:
            raise ValueError(f"batch number must be a whole number, 0 or more; got {self.batch_index!r}")
        if not _is_whole(self.seed) or not SEED_MIN <= self.seed <= SEED_MAX:
            raise ValueError(
                f"seed must be a whole number from {SEED_MIN} to {SEED_MAX} (what PyTorch accepts); got {self.seed!r}"
            )
        if not isinstance(self.shuffle, bool):
            raise ValueError(f"shuffle must be on or off; got {self.shuffle!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Settings:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})
