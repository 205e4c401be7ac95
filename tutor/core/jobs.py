"""What a request asks an engine to do besides computing the report, and which model it asks with. Plain data,
free of torch: a job crosses to a computing process inside the request's JSON line, checked strictly here.

A request names its model by a *choice*: `UNTRAINED` (the tutor's seed-42 model), `TRAINED` (the one trained in
this session, by overfitting a batch or by the run on the text) or `file_choice(label)` (a weights file the
engine offers under that label: the learner's own, or in a workshop one of the instructor's).

Every job is answered by one answer, so that a shared engine can take sessions in turn between them: training
and generation advance a little per request (the engine keeps their state for the session), and the app asks
again until they are done, or stops asking to pause.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import PurePath
from typing import ClassVar

from tutor.core.formatting import counted, safe_to_draw
from tutor.core.training import MAX_EPOCHS

UNTRAINED = "untrained"
TRAINED = "trained"
FILE_PREFIX = "file:"
MAX_CHOICE_CHARS = 300
MAX_PATH_CHARS = 4096
MAX_PROMPT_CHARS = 10_000

# What one request of a long job may take before it answers with its progress so far, and the most steps or
# tokens one request may ask for: a shared engine serves the next session in between.
SLICE_SECONDS = 1.0
MAX_OVERFIT_STEPS = 50
MAX_NEW_TOKENS = 1000
MAX_TOP_K = 50257
MAX_TEMPERATURE = 10.0


# How an engine says the model a request names is not there (any more): trained in a process that has since been
# replaced, let go to make room, or a file opened in a process that has since been replaced.
MODEL_GONE = ("no model has been trained", "your trained model was let go", "no model called")


def model_is_gone(reason: str) -> bool:
    return reason.startswith(MODEL_GONE)


def untrained_name(seed: int | None) -> str:
    return "untrained" if seed is None else f"untrained (seed {seed})"


# What a model trained in this session was trained on, in its name (the header shortens it: tutor/core/model_choice.py)
TRAINED_HERE, TRAINED_FROM = "trained here: ", ", from "
OVERFIT_WORDS, TEXT_RUN_WORDS = "overfitting one batch", "on the text"


def trained_name(steps: int, trained_on: str, source: str) -> str:
    """The name of a model trained in this session: its steps, what they trained on, the model it started from."""
    return f"{TRAINED_HERE}{counted(steps, 'step')} {trained_on}{TRAINED_FROM}{source}"


def file_choice(label: str) -> str:
    return FILE_PREFIX + label


def weights_label(file: PurePath, taken: Collection[str] = ()) -> str:
    """The name a weights file is offered under: its file name, numbered if another file has it."""
    name = safe_to_draw(file.name) or "weights"
    label, number = name, 2
    while label in taken:
        label, number = f"{name} ({number})", number + 1
    return label


def weights_labels(files: Iterable[PurePath]) -> dict[str, PurePath]:
    labels: dict[str, PurePath] = {}
    for file in files:
        labels[weights_label(file, labels)] = file
    return labels


def file_label(choice: str) -> str | None:
    """The label of a file choice, None for any other choice."""
    return choice[len(FILE_PREFIX):] if choice.startswith(FILE_PREFIX) else None


def check_model_choice(choice: object) -> str:
    if not isinstance(choice, str) or not choice:
        raise ValueError("a request's model is a non-empty string")
    if len(choice) > MAX_CHOICE_CHARS:
        raise ValueError(f"a request's model is at most {MAX_CHOICE_CHARS} characters")
    if choice not in (UNTRAINED, TRAINED) and not (file_label(choice) or ""):
        raise ValueError(f"a request's model is {UNTRAINED!r}, {TRAINED!r} or 'file:' and a file's label")
    return choice


@dataclass(frozen=True)
class Job:
    """A kind of work; each subclass names its `kind` and holds only ints, floats, bools and strings."""

    kind: ClassVar[str] = ""

    def check(self) -> None:
        """Raise `ValueError` if a field is out of range."""

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class ReportJob(Job):
    """The report: every stage of the loss, on the request's batch, with the chosen model."""

    kind: ClassVar[str] = "report"


@dataclass(frozen=True)
class OverfitJob(Job):
    """Train this session's model on the request's batch for `steps` steps with AdamW. `restart` begins again
    from the request's model (the untrained one or a file); otherwise the steps continue the session's run.
    Answered with an `OverfitProgress` holding the report of the trained model."""

    kind: ClassVar[str] = "overfit"
    steps: int = 1
    restart: bool = False

    def check(self) -> None:
        _in_range("overfit steps", self.steps, 1, MAX_OVERFIT_STEPS)


@dataclass(frozen=True)
class TextRunJob(Job):
    """The book's training run on the request's text: `restart` begins a new run from the request's model with
    `epochs` epochs; otherwise the session's run goes on for about `seconds`. Answered with a `TextRunProgress`."""

    kind: ClassVar[str] = "text-run"
    restart: bool = False
    epochs: int = 1
    seconds: float = SLICE_SECONDS

    def check(self) -> None:
        _in_range("epochs", self.epochs, 1, MAX_EPOCHS)
        if not math.isfinite(self.seconds) or not 0.05 <= self.seconds <= 10.0:
            raise ValueError("a training slice is 0.05 to 10 seconds")


@dataclass(frozen=True)
class GenerateJob(Job):
    """Continue `prompt`, token by token, with the book's sampling. `restart` begins a new continuation (the
    engine forgets the session's last one); otherwise the session's continuation goes on for about `seconds`.
    Answered with a `GenerationProgress`."""

    kind: ClassVar[str] = "generate"
    restart: bool = False
    prompt: str = ""
    max_new_tokens: int = 50
    temperature: float = 0.0
    top_k: int = 0  # 0: no top-k
    seed: int = 123
    kv_cache: bool = True
    seconds: float = SLICE_SECONDS

    def check(self) -> None:
        if self.restart and not self.prompt.strip():
            raise ValueError("the prompt is empty: type a few words for the model to continue")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(self.prompt):,} characters; at most {MAX_PROMPT_CHARS:,} are taken")
        _in_range("new tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        _in_range("top-k", self.top_k, 0, MAX_TOP_K)
        if not math.isfinite(self.temperature) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"the temperature is 0 to {MAX_TEMPERATURE:g}")
        if not math.isfinite(self.seconds) or not 0.05 <= self.seconds <= 10.0:
            raise ValueError("a generation slice is 0.05 to 10 seconds")


@dataclass(frozen=True)
class ModelsJob(Job):
    """Which models the engine offers this session: answered with a `ModelMenu`. With `get_ready_to_train`, the
    engine first does what its first training step would otherwise make the learner wait for (asked when a
    training lesson is opened)."""

    kind: ClassVar[str] = "models"
    get_ready_to_train: bool = False


@dataclass(frozen=True)
class LoadWeightsJob(Job):
    """Open a weights file and offer it as a model: answered with a `ModelMenu`. Only the learner's own engine
    does this; a workshop's shared engine refuses (participants choose among the instructor's files)."""

    kind: ClassVar[str] = "load-weights"
    path: str = ""

    def check(self) -> None:
        if not self.path.strip():
            raise ValueError("no file named: type the path of a weights file")
        if len(self.path) > MAX_PATH_CHARS or "\x00" in self.path:
            raise ValueError("that is not a file's path")


@dataclass(frozen=True)
class SaveTrainedJob(Job):
    """Save this session's trained model as safetensors at `path` (the learner's own engine only)."""

    kind: ClassVar[str] = "save-trained"
    path: str = ""

    def check(self) -> None:
        LoadWeightsJob.check(self)  # the same rules for a path


JOB_KINDS: dict[str, type[Job]] = {
    cls.kind: cls for cls in (ReportJob, OverfitJob, TextRunJob, GenerateJob, ModelsJob, LoadWeightsJob, SaveTrainedJob)
}


def job_from_dict(data: object) -> Job:
    """The job `Job.to_dict` wrote; `ValueError`, saying what is wrong, for anything else."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or data["kind"] not in JOB_KINDS:
        raise ValueError(f"a request's job is an object whose kind is one of {', '.join(JOB_KINDS)}")
    cls = JOB_KINDS[data["kind"]]
    expected = {field.name: field for field in fields(cls)}
    given = {key: value for key, value in data.items() if key != "kind"}
    if set(given) != set(expected):
        names = ", ".join(sorted(expected)) or "nothing else"
        raise ValueError(f"a {cls.kind} job has exactly the keys kind and {names}")
    for name, value in given.items():
        default = expected[name].default
        if not _same_kind(value, default):
            raise ValueError(f"a {cls.kind} job's {name} is {_kind_words(default)}, not {value!r}")
    job = cls(**{name: float(value) if isinstance(expected[name].default, float) else value
                 for name, value in given.items()})
    job.check()
    return job


def _same_kind(value: object, default: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _kind_words(default: object) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    return "a string"


def _in_range(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what}: {value} is out of range; it must be {low} to {high}")
