"""What an engine answers to jobs other than the report (tutor/core/jobs.py): plain data, free of torch, that a
shared engine's sessions unpickle with an allow-list of these classes (tutor/engine/shared_wire.py)."""

from __future__ import annotations

from dataclasses import dataclass

from tutor.core.report import Report


@dataclass(frozen=True)
class ModelOption:
    """One model a learner may choose: how a request names it, what it is called, and its size."""

    choice: str
    name: str
    kind: str  # "untrained", "trained", or the weights file's format
    parameter_count: int | None  # None: not loaded yet
    config: tuple[tuple[str, object], ...] = ()  # the book's config keys, for the model card


@dataclass(frozen=True)
class ModelMenu:
    """The models an engine offers a session, and whether it may open a weights file the learner names."""

    options: tuple[ModelOption, ...]
    may_open_files: bool
    may_train_on_text: bool
    opened: str | None = None  # the choice of the file just opened (a LoadWeightsJob's answer)
    saved_to: str | None = None  # where the trained model was just written (a SaveTrainedJob's answer)

    def option(self, choice: str) -> ModelOption | None:
        return next((option for option in self.options if option.choice == choice), None)


@dataclass(frozen=True)
class OverfitProgress:
    """The steps just taken on the batch, every step's losses so far, and the report of the trained model."""

    steps: tuple  # tutor.core.training step results, oldest first, of the whole run
    report: Report


@dataclass(frozen=True)
class GenerationProgress:
    """The tokens drawn since the last answer, with what each was drawn from, and the continuation so far."""

    prompt: str
    new_steps: tuple  # tutor.core.generation.GenerationStep, in order
    text: str  # every new token so far, decoded (the prompt not included)
    token_count: int
    finished: bool
    model: str  # the model's name
    seconds: float  # spent computing the tokens so far

    @property
    def tokens_per_second(self) -> float:
        return self.token_count / self.seconds if self.seconds > 0 else 0.0
