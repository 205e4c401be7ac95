"""The learner's settings and their checks. Free of torch, so a user interface can validate input
before anything heavy is imported."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

from tutor.core.windows import check_batch_number, check_enough_tokens

MODEL_CONTEXT_LENGTH = 256  # GPT_CONFIG_124M["context_length"]; a test keeps the two equal
# The most positions (batch size × context length) one computation may have, e.g. (8, 256). The logits
# alone take 50257 × 4 bytes per position; with the model (650 MB) and PyTorch, the peak at this many stays
# within the budget below with room to spare (`make bench`: "peak RSS, largest request").
HARD_MAX_POSITIONS = 2048
MEMORY_BUDGET = "1.5 GB"
MAX_POSITIONS_ENV = "LOSS_TUTOR_MAX_POSITIONS"  # an instructor's lower limit; so is --max-positions
# torch.Generator.manual_seed accepts exactly this range; outside it fails with "Overflow when unpacking long long"
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1


@dataclass(frozen=True)
class WholeNumberRule:
    """A setting that must be a whole number from `low` to `high` (no upper end if None); `why_high` says
    where the upper end comes from. The one place its reasons are worded, for the form and the checks alike."""

    label: str
    low: int
    high: int | None = None
    why_high: str = ""

    @property
    def allowed(self) -> str:
        if self.high is None:
            return f"{self.low} or more"
        return f"{self.low} to {self.high}" + (f" ({self.why_high})" if self.why_high else "")

    def refusal(self, value: object) -> str | None:
        """Why `value` is refused, or None if it is allowed. A string is what was typed for it."""
        if not _is_whole(value):
            shown = "nothing" if value == "" else repr(value)
            return f"{shown} is not a whole number; {self.label} must be {self.allowed}"
        if value < self.low or (self.high is not None and value > self.high):
            return f"{value} is out of range: {self.label} must be {self.allowed}"
        return None

    def check(self, value: object) -> None:
        if (reason := self.refusal(value)) is not None:
            raise ValueError(reason)


def whole_number_rules(max_context_length: int = MODEL_CONTEXT_LENGTH) -> dict[str, WholeNumberRule]:
    """The rule for each whole-number setting, by field name."""
    return {
        "batch_size": WholeNumberRule("batch size", 1),
        "context_length": WholeNumberRule("context length", 1, max_context_length),
        "stride": WholeNumberRule("stride", 1),
        "seed": WholeNumberRule("seed", SEED_MIN, SEED_MAX, "what PyTorch accepts"),
        "batch_index": WholeNumberRule("batch number", 0),
    }


def check_window_settings(
    *, batch_size: int, context_length: int, stride: int, max_context_length: int = MODEL_CONTEXT_LENGTH
) -> None:
    """Raise `ValueError` with a learner-readable reason for settings no batch can be made from."""
    rules = whole_number_rules(max_context_length)
    rules["context_length"].check(context_length)
    rules["stride"].check(stride)
    rules["batch_size"].check(batch_size)


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
        rules = whole_number_rules(max_context_length)
        rules["batch_index"].check(self.batch_index)
        rules["seed"].check(self.seed)
        if not isinstance(self.shuffle, bool):
            raise ValueError(f"shuffle must be on or off; got {self.shuffle!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Settings:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


class SettingsOrReasons(NamedTuple):
    """What a settings form's fields describe: the settings, or (settings None) why each wrong field is wrong."""

    settings: Settings | None
    reasons: dict[str, str]


def settings_or_reasons(typed: Mapping[str, str], shuffle: bool, token_count: int | None) -> SettingsOrReasons:
    """The settings a form's typed whole numbers (by field name) and shuffle switch describe, or the reasons,
    by field, that they cannot be computed: each field by its rule, then the limit on positions (by the batch
    size), and, if the text's `token_count` is known, whether the text gives a batch (by the context length)
    and that batch (by the batch number). The same checks as `Settings.validate` and the computation make."""
    rules = whole_number_rules()
    numbers: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for name, text in typed.items():
        try:
            value: int | str = int(text.strip())
        except ValueError:
            value = text.strip()
        if (reason := rules[name].refusal(value)) is not None:
            reasons[name] = reason
        else:
            numbers[name] = int(value)
    if reasons:
        return SettingsOrReasons(None, reasons)
    settings = Settings(shuffle=shuffle, **numbers)
    checks: list[tuple[str, Callable[[], None]]] = [
        ("batch_size", lambda: check_positions(settings.batch_size, settings.context_length))
    ]
    if token_count is not None:
        windows = {
            "batch_size": settings.batch_size, "context_length": settings.context_length, "stride": settings.stride
        }
        checks += [
            ("context_length", lambda: check_enough_tokens(token_count, **windows)),
            ("batch_index", lambda: check_batch_number(settings.batch_index, token_count, **windows)),
        ]
    for name, check in checks:
        try:
            check()
        except ValueError as error:
            return SettingsOrReasons(None, {name: str(error)})
    return SettingsOrReasons(settings, {})
