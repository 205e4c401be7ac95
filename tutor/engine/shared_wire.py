"""What the room's shared engine (shared_server.py) and its sessions (shared_client.py) say over its Unix
socket, and where that socket may live. Free of torch, like the sessions.

A session sends requests as JSON lines (`Request.to_json`) and numbers them implicitly: the first line on a
connection is request 1, the next request 2, and so on, bad lines included. The engine answers with messages,
each one JSON line naming the request it is about, and for a report a body after it:

    {"request": 3, "queued": 2}              waiting; 1 = computed next
    {"request": 3, "computing": true}        being computed now
    {"request": 3, "status": "ok", "bytes": N, "notices": [...]}   then N bytes: the `Report`, pickled
    {"request": 3, "status": "learner" | "failed" | "timed_out" | "superseded", "message": "...", "notices": [...]}

A session that no longer wants the answer to its request N sends `{"cancel": N}` (a line, so it is counted
too): the engine drops N from the queue, or stops computing it at its next safe point, and answers N
"superseded". It does the same for the request being computed when its session sends a newer one or hangs up.

The instructor's dashboard asks for the engine's queue with a line of its own kind, `{"query": "status"}`
(tutor/engine/shared_status.py), answered with `{"request": 1, "engine": {...}}`.

The engine never unpickles anything. Reports travel pickled because that is measured to be the quicker and
smaller of the two (the sample story, tutor/engine/shared_server.py's docstring has the figures), and a
session unpickles them with `load_report`, which builds nothing but the report's own classes.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
from pathlib import Path

from tutor.core.answers import GenerationProgress, ModelMenu, OverfitProgress
from tutor.core.report import Report
from tutor.core.training import TextRunProgress

ANSWER_TYPES = (Report, ModelMenu, OverfitProgress, GenerationProgress, TextRunProgress)

SOCKET_NAME = "engine.sock"
MAX_HEADER_BYTES = 64_000  # a message line; the longest is an error message with a few notices
MAX_REPORT_BYTES = 64_000_000  # the largest report the limit on positions allows is about 1 MB pickled

STATUSES = frozenset({"ok", "learner", "failed", "timed_out", "superseded"})
_LONGEST_CANCEL_LINE = 64


class UnsafeSocketFolder(ValueError):
    """The socket's folder could be reached by someone else, so neither side uses it."""


def check_private_folder(folder: Path) -> None:
    """Raise `UnsafeSocketFolder` unless `folder` is a real folder (not a link), owned by this user, that
    nobody else may enter (mode 0700): only then is whoever is on the other end of its socket this user."""
    try:
        facts = os.lstat(folder)
    except OSError as error:
        raise UnsafeSocketFolder(f"{folder} cannot be used: {error.strerror}") from None
    if not stat.S_ISDIR(facts.st_mode):
        raise UnsafeSocketFolder(f"{folder} is not a folder")
    if facts.st_uid != os.geteuid():
        raise UnsafeSocketFolder(f"{folder} belongs to another user")
    mode = stat.S_IMODE(facts.st_mode)
    if mode != 0o700:
        raise UnsafeSocketFolder(f"{folder} has mode {mode:04o}; it must be 0700, so that nobody else can enter")


def cancel_line(number: int) -> bytes:
    """The line saying that nobody wants the answer to request `number` any more."""
    return json.dumps({"cancel": number}).encode("ascii") + b"\n"


def cancelled_request(line: bytes) -> int | None:
    """The request `line` cancels, if it is exactly what `cancel_line` writes; None for anything else."""
    if len(line) > _LONGEST_CANCEL_LINE:  # a request is longer; it is not parsed twice
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and set(data) == {"cancel"} and _is_count(data["cancel"]) and data["cancel"] > 0:
        return data["cancel"]
    return None


def message(number: int, **fields: object) -> bytes:
    return json.dumps({"request": number, **fields}, ensure_ascii=False).encode("utf-8") + b"\n"


def read_message(line: bytes) -> dict:
    """A message line as `message` wrote it; `ValueError` for anything else."""
    data = json.loads(line)
    if not isinstance(data, dict) or not _is_count(data.get("request")):
        raise ValueError("a message names the request it is about")
    if "status" in data:
        if data["status"] not in STATUSES or not isinstance(data.get("notices", []), list):
            raise ValueError(f"unknown answer: {data.get('status')!r}")
        if data["status"] == "ok" and not (_is_count(data.get("bytes")) and data["bytes"] <= MAX_REPORT_BYTES):
            raise ValueError("a report's size is missing or too large")
    elif not (data.get("computing") is True or _is_count(data.get("queued"))):
        raise ValueError("a message is an answer, a place in the queue or the start of a computation")
    return data


def dump_report(report: Report) -> bytes:
    return pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)


class _ReportUnpickler(pickle.Unpickler):
    """Builds the report's own data classes, the other answers' (tutor/core/answers.py and what they hold) and
    plain values, and refuses every other class or function, so that bytes which are not an answer cannot make
    it call anything."""

    ALLOWED = {
        "tutor.core.report": frozenset({"Report", "TokenRow", "Candidate", "TensorView", "BugResult", "ModelCard"}),
        "tutor.core.answers": frozenset({"ModelMenu", "ModelOption", "OverfitProgress", "GenerationProgress"}),
        "tutor.core.generation": frozenset({"GenerationStep", "Candidate"}),
        "tutor.core.training": frozenset({"OverfitStepResult", "TextRunProgress", "TextRunPlan"}),
    }

    def find_class(self, module: str, name: str) -> type:
        if name in self.ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"an answer does not hold {module}.{name}")


def load_report(data: bytes) -> Report:
    """The answer `dump_report` wrote (a report, or a job's answer); `ValueError` for anything else."""
    try:
        answer = _ReportUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"not an answer: {error}") from None
    if not isinstance(answer, ANSWER_TYPES):
        raise ValueError(f"not an answer: a {type(answer).__name__}")
    return answer


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
