"""What the generation lesson's pane shows, as plain text and data (no Textual): the prompt it starts with, the
settings the learner typed read into a `GenerateJob` (or a line saying which field is wrong), a step's
candidates as the bars draw them, and the lines that say how the generation is going.

Token texts come raw from the engine; every line made here passes them through `visible` or `safe_to_draw`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tutor.core.answers import GenerationProgress
from tutor.core.formatting import counted, safe_to_draw, visible
from tutor.core.generation import GenerationSettings, GenerationStep
from tutor.core.jobs import GenerateJob
from tutor.core.text_chart import Candidate

FALLBACK_PROMPT = "Every effort moves you"  # the book's prompt, for a text with no words
PROMPT_WORDS = 6  # how many of the text's first words the default prompt takes
STREAM_SLICE_SECONDS = 0.25  # each request generates about this long, so the text appears a few tokens at a time
WORD = re.compile(r"\S+")
QUOTED_FIELD_CHARS = 20  # a bad value is quoted in the message up to this many characters


def default_prompt(text: str) -> str:
    """The first words of the learner's text, or the book's prompt if it has none."""
    words = []
    for match in WORD.finditer(text):
        words.append(match.group())
        if len(words) == PROMPT_WORDS:
            break
    return " ".join(words) or FALLBACK_PROMPT  # the text's own characters: the prompt field shows controls visibly


@dataclass(frozen=True)
class GenerationFields:
    """The pane's fields as typed."""

    prompt: str
    new_tokens: str
    temperature: str
    top_k: str
    seed: str
    kv_cache: bool

    @classmethod
    def of(cls, job: GenerateJob, prompt: str) -> GenerationFields:
        """The fields showing `job`'s settings, with `prompt` if the job has none."""
        return cls(job.prompt or prompt, str(job.max_new_tokens), f"{job.temperature:g}", str(job.top_k),
                   str(job.seed), job.kv_cache)


def read_fields(fields: GenerationFields) -> GenerateJob:
    """The job the fields ask for; `ValueError` with one line for the learner (which field, what it takes) if
    one cannot be read or is out of range."""
    job = GenerateJob(
        prompt=fields.prompt,
        max_new_tokens=_whole_number("new tokens", fields.new_tokens),
        temperature=_number("temperature", fields.temperature),
        top_k=_whole_number("top-k", fields.top_k),
        seed=_whole_number("seed", fields.seed),
        kv_cache=fields.kv_cache,
        seconds=STREAM_SLICE_SECONDS,
    )
    replace(job, restart=True).check()
    GenerationSettings(seed=job.seed).check()  # the seed's range is the sampling's
    return job


def _quoted(text: str) -> str:
    text = text.strip()
    shown = text if len(text) <= QUOTED_FIELD_CHARS else text[: QUOTED_FIELD_CHARS - 1] + "…"
    return repr(safe_to_draw(shown, one_cell=True))


def _whole_number(what: str, text: str) -> int:
    try:
        return int(text.strip().replace("_", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"{what}: {_quoted(text) if text.strip() else 'nothing'} is not a whole number") from None


def _number(what: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"{what}: {_quoted(text) if text.strip() else 'nothing'} is not a number") from None


# ----- a step's candidates ----------------------------------------------------------------------------


def step_candidates(step: GenerationStep) -> tuple[Candidate, ...]:
    """The step's most likely tokens by the raw softmax, each with its probability before and after top-k and
    temperature, and the token drawn marked (added last if it was not among them).

    Temperature and top-k keep the tokens' order, so a token among the most likely before that is missing after
    could not be drawn: greedy gives it probability 0, top-k cut it (after: None)."""
    after = {candidate.token_id: candidate.probability for candidate in step.after}
    missing = 0.0 if step.greedy else None
    rows = [
        Candidate(candidate.text, candidate.probability, after.get(candidate.token_id, missing),
                  chosen=candidate.token_id == step.token_id, token_id=candidate.token_id)
        for candidate in step.before
    ]
    if not any(row.chosen for row in rows):
        rows.append(Candidate(step.token_text, step.chosen_raw_probability, step.chosen_probability, chosen=True,
                              token_id=step.token_id))
    return tuple(rows)


def after_title(job: GenerateJob) -> str:
    """What the bars' second column is: the distribution the tokens were drawn from."""
    if job.temperature == 0.0:
        cut = f"top-k {job.top_k}, " if job.top_k else ""
        return f"after: {cut}T 0 = argmax"
    return f"after: top-k {job.top_k}, T {job.temperature:g}" if job.top_k else f"after: T {job.temperature:g}"


BEFORE_TITLE = "before: softmax"


# ----- lines ------------------------------------------------------------------------------------------


def progress_line(progress: GenerationProgress | None, job: GenerateJob, state_words: str,
                  model_in_force: str | None = None) -> str:
    """What the generation is doing, how far it is and how fast: 'running… · 12 of 50 new tokens · …'; the model
    that drew the tokens if it is not the one the lessons use now."""
    parts = [safe_to_draw(state_words)]
    if progress is not None:
        parts.append(f"{progress.token_count:,} of {counted(job.max_new_tokens, 'new token')}")
        parts.append(f"{progress.tokens_per_second:.1f} tokens/s")
        parts.append("KV cache on" if job.kv_cache else "KV cache off")
        if progress.model != model_in_force:
            parts.append(f"drawn by {safe_to_draw(progress.model)}")
    return " · ".join(parts)


def step_line(step: GenerationStep, count: int, *, latest: bool, ascii_only: bool = False) -> str:
    """Which step the bars show, the token drawn, and how many positions the model computed for it."""
    token = visible(step.token_text, ascii_only=ascii_only)
    return (
        f"token {step.index + 1:,} of {count:,}{' (latest)' if latest else ''}: {token} [{step.token_id}] · "
        f"computed {counted(step.positions_computed, 'position')}"
    )
