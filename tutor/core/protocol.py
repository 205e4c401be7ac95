"""What the interface and a computing engine say to each other, free of torch and Textual.

A `Request` is data only (text, settings, a source name) and crosses process boundaries as JSON, never
pickled: an engine never runs what a requester sends it. The errors say why a request got no report.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tutor.core.settings import Settings

if TYPE_CHECKING:
    from tutor.core.report import Report

MAX_REQUEST_BYTES = 2_000_000  # a 100,000-character text escaped as JSON stays well within this


@dataclass(frozen=True)
class Request:
    text: str
    settings: Settings
    source: str

    def to_json(self) -> bytes:
        """One line of JSON, ending in a newline."""
        data = {"text": self.text, "settings": self.settings.to_dict(), "source": self.source}
        return json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n"

    @classmethod
    def from_json(cls, line: bytes) -> Request:
        """The request `to_json` wrote; `ValueError` for anything else (wrong keys, wrong types, too long)."""
        if len(line) > MAX_REQUEST_BYTES:
            raise ValueError(f"a request is at most {MAX_REQUEST_BYTES:,} bytes")
        data = json.loads(line)
        if not isinstance(data, dict) or set(data) != {"text", "settings", "source"}:
            raise ValueError("a request has exactly the keys text, settings and source")
        text, settings, source = data["text"], data["settings"], data["source"]
        if not isinstance(text, str) or not isinstance(source, str) or not isinstance(settings, dict):
            raise ValueError("a request's text and source are strings and its settings an object")
        expected = set(Settings().to_dict())
        if set(settings) != expected:
            raise ValueError(f"a request's settings have exactly the keys {', '.join(sorted(expected))}")
        return cls(text=text, settings=Settings.from_dict(settings), source=source)


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
