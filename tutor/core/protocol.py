"""What the interface and a computing engine say to each other, free of torch and Textual.

A `Request` is data only (text, settings, a source name) and crosses process boundaries as JSON, never
pickled: an engine never runs what a requester sends it. The errors say why a request got no report.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tutor.core.jobs import UNTRAINED, Job, ReportJob, check_model_choice, job_from_dict
from tutor.core.settings import Settings

if TYPE_CHECKING:
    from tutor.core.report import Report

# A request's line, newline included, is at most this long. The longest text (texts.MAX_TEXT_CHARS, 100,000
# characters) takes at most 1.2 MB of it: JSON writes any character in at most 12 bytes (two \uXXXX escapes).
# Set by `loss-tutor serve` for each participant's app: the folder of the room's shared engine socket.
SHARED_ENGINE_ENV = "LOSS_TUTOR_SHARED_ENGINE"
MAX_REQUEST_BYTES = 2_000_000
REQUEST_KEYS = frozenset({"text", "settings", "source"})
OPTIONAL_KEYS = frozenset({"model", "job"})  # left out when they say the default: the report of the untrained model


@dataclass(frozen=True)
class Request:
    text: str
    settings: Settings
    source: str
    model: str = UNTRAINED  # a model choice (tutor/core/jobs.py)
    job: Job = ReportJob()

    @property
    def is_report(self) -> bool:
        return isinstance(self.job, ReportJob)

    def to_json(self) -> bytes:
        """One line of ASCII JSON, ending in a newline. Every character that is not printable ASCII is escaped,
        so any str comes back exactly: newlines, control characters, and the unpaired surrogates a file name
        that is not UTF-8 is decoded to."""
        data = {"text": self.text, "settings": self.settings.to_dict(), "source": self.source}
        if self.model != UNTRAINED:
            data["model"] = self.model
        if not self.is_report:
            data["job"] = self.job.to_dict()
        return json.dumps(data).encode("ascii") + b"\n"

    @classmethod
    def from_json(cls, line: bytes) -> Request:
        """The request `to_json` wrote; `ValueError`, saying what is wrong, for anything else: too long, not UTF-8
        JSON, a key missing, extra or repeated, a value of the wrong type (true is not a whole number)."""
        if len(line) > MAX_REQUEST_BYTES:
            raise ValueError(f"a request is at most {MAX_REQUEST_BYTES:,} bytes; this one is {len(line):,}")
        try:
            data = json.loads(line.decode("utf-8"), object_pairs_hook=_each_key_once, parse_constant=_no_constant)
        except RecursionError:  # json's own limit on nesting, about a thousand deep
            raise ValueError("a request is nested too deeply to be one") from None
        if not isinstance(data, dict) or not REQUEST_KEYS <= set(data) <= REQUEST_KEYS | OPTIONAL_KEYS:
            raise ValueError("a request is an object with the keys text, settings and source, and maybe model and job")
        text, settings, source = data["text"], data["settings"], data["source"]
        if not isinstance(text, str) or not isinstance(source, str) or not isinstance(settings, dict):
            raise ValueError("a request's text and source are strings and its settings an object")
        model = check_model_choice(data.get("model", UNTRAINED))
        job = job_from_dict(data["job"]) if "job" in data else ReportJob()
        return cls(text=text, settings=_settings_from(settings), source=source, model=model, job=job)


def _each_key_once(pairs: list[tuple[str, object]]) -> dict:
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"a request has each key once; {key} is repeated")
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"a request holds no {name}")


def _settings_from(values: dict) -> Settings:
    """Settings with exactly the fields of `Settings`, each of its default's type: whole numbers that are not
    booleans, and a boolean. Their ranges are the computation's to check: it says what the learner can fix."""
    defaults = Settings().to_dict()
    if set(values) != set(defaults):
        raise ValueError(f"a request's settings have exactly the keys {', '.join(sorted(defaults))}")
    for name, default in defaults.items():
        if type(values[name]) is not type(default):
            kind = "true or false" if isinstance(default, bool) else "a whole number"
            raise ValueError(f"a request's {name} is {kind}, not {values[name]!r}")
    return Settings(**values)


class LearnerError(ValueError):
    """The request cannot be computed for a reason the learner can fix (text too short, no such batch…)."""


class EngineError(RuntimeError):
    """The computation itself failed; the message says what happened."""


class EngineDied(EngineError):
    """The computing process ended while it was needed: killed (the kernel's out-of-memory killer sends
    SIGKILL) or crashed. Another process can be started in its place."""

    def __init__(self, returncode: int | None):
        self.returncode = returncode
        self.how = describe_exit(returncode)
        super().__init__(f"the computing process {self.how}")


class EngineTimedOut(EngineError):
    """A computation took far longer than it should, so its process was stopped."""


class EngineClosed(EngineError):
    """The engine was closed (a cancelled computation, the app quitting) before this request was answered."""


class RequestSuperseded(EngineClosed):
    """A newer request from the same session replaced this one in a shared engine (waiting, or being computed),
    or the session cancelled it; nobody waits for it."""


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words: "was killed by signal 9 (SIGKILL), …" or "exited with code 1"."""
    if returncode is None:
        return "stopped answering"
    if returncode >= 0:
        return f"exited with code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "an unknown signal"
    words = f"was killed by signal {number} ({name})"
    if number == signal.SIGKILL:
        words += ", which often means the machine ran out of memory"
    return words


class Engine(Protocol):
    """Computes reports: `InProcessEngine` and `ProcessEngine` (tutor/engine/)."""

    def compute(self, request: Request) -> Report:
        """The report, or `LearnerError` (the learner can fix it) or `EngineError` (the engine failed)."""
        ...

    @property
    def busy(self) -> bool: ...

    @property
    def exit_code(self) -> int | None:
        """None while the engine can compute; how its process ended once it has died."""
        ...

    def take_notices(self) -> list[str]:
        """What the engine had to say while loading (e.g. a rebuilt weight cache), once."""
        ...

    def close(self) -> None: ...
