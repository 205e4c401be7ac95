"""A continuation of the learner's prompt, as plain data: the settings it was drawn with, and for each new token
the candidates before and after temperature and top-k, the token drawn and what it cost. No torch here; the
computing side is tutor/lm/generation.py.

Token texts are kept raw (a token may hold a control character or half of a UTF-8 character, shown as U+FFFD);
whoever draws them passes them through `tutor.core.formatting.safe_to_draw` or `visible`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tutor.core.jobs import MAX_NEW_TOKENS, MAX_PROMPT_CHARS, MAX_TEMPERATURE, MAX_TOP_K

MAX_SEED = 2**63 - 1
SHOWN_CANDIDATES = 10  # how many of the most likely tokens each step keeps, before and after


@dataclass(frozen=True)
class GenerationSettings:
    """How to continue a prompt: the book's `generate(model, idx, max_new_tokens, context_size, temperature,
    top_k)`, plus the seed of the sampling's own random numbers and whether keys and values are cached."""

    max_new_tokens: int = 50
    temperature: float = 0.0  # 0: always the most likely token (greedy)
    top_k: int | None = None  # None: every token may be drawn
    seed: int = 123
    kv_cache: bool = True

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def check(self) -> None:
        """Raise `ValueError`, saying which setting and its range, for one out of range."""
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(f"new tokens: {self.max_new_tokens} is out of range; it must be 1 to {MAX_NEW_TOKENS:,}")
        if not math.isfinite(self.temperature) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature: {self.temperature} is out of range; it must be 0 to {MAX_TEMPERATURE:g}")
        if self.top_k is not None and not 1 <= self.top_k <= MAX_TOP_K:
            raise ValueError(f"top-k: {self.top_k} is out of range; it must be 1 to {MAX_TOP_K:,}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed: {self.seed} is out of range; it must be 0 to {MAX_SEED:,}")

    def to_json_dict(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "seed": self.seed,
            "kv_cache": self.kv_cache,
        }


def check_prompt(prompt: str) -> None:
    if not prompt.strip():
        raise ValueError("the prompt is empty: give a few words for the model to continue")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is {len(prompt):,} characters; at most {MAX_PROMPT_CHARS:,} are taken")


@dataclass(frozen=True)
class Candidate:
    """One possible next token and its probability."""

    token_id: int
    text: str
    probability: float

    def to_json_dict(self) -> dict:
        return {"token_id": self.token_id, "text": self.text, "probability": self.probability}


@dataclass(frozen=True)
class GenerationStep:
    """One new token.

    `before`: the most likely tokens by the softmax of the model's raw logits (temperature 1, no top-k) — the
    probabilities the loss is computed from. `after`: the most likely tokens of the distribution the token was
    drawn from, after top-k and temperature; only tokens that could be drawn (probability above 0). Greedy
    (temperature 0) draws the most likely token for certain: `after` is that token with probability 1.
    """

    index: int  # 0 for the first new token
    token_id: int
    token_text: str
    before: tuple[Candidate, ...]
    after: tuple[Candidate, ...]
    chosen_probability: float  # of the drawn token, in the distribution it was drawn from
    chosen_raw_probability: float  # of the drawn token, before temperature and top-k
    greedy: bool
    positions_computed: int  # positions the model ran for this token: 1 with the cache, the whole window without
    seconds: float  # computing this step took

    def to_json_dict(self) -> dict:
        return {
            "index": self.index,
            "token_id": self.token_id,
            "text": self.token_text,
            "probability": self.chosen_probability,
            "raw_probability": self.chosen_raw_probability,
            "greedy": self.greedy,
            "positions_computed": self.positions_computed,
            "seconds": self.seconds,
            "before": [candidate.to_json_dict() for candidate in self.before],
            "after": [candidate.to_json_dict() for candidate in self.after],
        }


@dataclass(frozen=True)
class Generation:
    """A whole continuation: `text` is what the new tokens decode to (the prompt not included)."""

    prompt: str
    prompt_ids: tuple[int, ...]
    steps: tuple[GenerationStep, ...]
    text: str
    settings: GenerationSettings
    model: str  # the model's name, as the header shows it
    context_length: int

    @property
    def kv_cache(self) -> bool:
        return self.settings.kv_cache

    @property
    def token_ids(self) -> tuple[int, ...]:
        return tuple(step.token_id for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def tokens_per_second(self) -> float:
        """New tokens per second of computing, the prompt's first pass included."""
        return len(self.steps) / self.seconds if self.seconds > 0 else 0.0

    def to_json_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "prompt_ids": list(self.prompt_ids),
            "model": self.model,
            "context_length": self.context_length,
            "settings": self.settings.to_json_dict(),
            "kv_cache": self.kv_cache,
            "text": self.text,
            "token_ids": list(self.token_ids),
            "tokens_per_second": self.tokens_per_second,
            "seconds": self.seconds,
            "tokens": [step.to_json_dict() for step in self.steps],
        }
