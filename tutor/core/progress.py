"""Resume where the learner left off: which lesson, which checks, which settings and text.

Error policy: `ProgressStore.load` never raises; an unreadable file (or a FIFO, a directory… in its place)
is set aside and a notice returned. `save`, `update` and `reset` raise only `ProgressError`, whose message
the app can show as it is. Typed text is saved whole: the text form refuses more than `MAX_TEXT_CHARS`.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tutor.core.small_files import read_small_file, write_atomically
from tutor.core.texts import MAX_TEXT_CHARS

FORMAT_VERSION = 2  # what is written; version 1, without `checks_first_try`, is still read
FIELDS_SINCE = {"checks_first_try": 2}  # a field a file of an older version must not have
# JSON takes at most 6 bytes a character (a control character is written \u001b); the rest is small.
MAX_FILE_BYTES = 6 * MAX_TEXT_CHARS + 1_000_000
LOCK_TIMEOUT_SECONDS = 5.0

Scalar = str | int | float | bool | None


class ProgressError(Exception):
    """Progress could not be saved or reset; the message is meant for the learner."""


def state_dir() -> Path:
    if override := os.environ.get("LOSS_TUTOR_STATE_DIR"):
        return Path(override).expanduser()
    xdg_state_home = os.environ.get("XDG_STATE_HOME", "")
    # The XDG spec says relative paths in its variables are invalid and must be ignored.
    if os.path.isabs(xdg_state_home):
        return Path(xdg_state_home) / "loss-tutor"
    return Path.home() / ".local" / "state" / "loss-tutor"


@dataclass(frozen=True)
class Progress:
    """An immutable snapshot; `with_*` methods return updated copies. Invalid values raise ValueError."""

    current_lesson: str | None = None
    lessons_seen: tuple[str, ...] = ()
    # "lessonid:checkid" -> answered correctly
    checks_answered: Mapping[str, bool] = field(default_factory=dict)
    # "lessonid:checkid" -> the first answer was right (none for a check answered before version 2 kept it)
    checks_first_try: Mapping[str, bool] = field(default_factory=dict)
    # batch_size, context_length, stride, seed, shuffle, batch_index, ...
    settings: Mapping[str, Scalar] = field(default_factory=dict)
    text: str | None = None
    text_path: str | None = None

    def __post_init__(self) -> None:
        _require(self.current_lesson is None or isinstance(self.current_lesson, str), "current_lesson", "a string")
        _require(isinstance(self.lessons_seen, (list, tuple)), "lessons_seen", "a list")
        _require(all(isinstance(lesson, str) for lesson in self.lessons_seen), "lessons_seen", "a list of strings")
        _require(isinstance(self.checks_answered, Mapping), "checks_answered", "an object")
        _require(
            all(isinstance(key, str) and isinstance(ok, bool) for key, ok in self.checks_answered.items()),
            "checks_answered",
            "an object of true/false values",
        )
        _require(isinstance(self.checks_first_try, Mapping), "checks_first_try", "an object")
        _require(
            all(isinstance(key, str) and isinstance(ok, bool) for key, ok in self.checks_first_try.items()),
            "checks_first_try",
            "an object of true/false values",
        )
        _require(isinstance(self.settings, Mapping), "settings", "an object")
        _require(
            all(isinstance(key, str) and _is_json_scalar(value) for key, value in self.settings.items()),
            "settings",
            "an object of numbers, strings, booleans or nulls",
        )
        _require(self.text is None or isinstance(self.text, str), "text", "a string")
        _require(self.text_path is None or isinstance(self.text_path, str), "text_path", "a string")
        # Frozen, so normalise through object.__setattr__; copies keep callers' containers from aliasing.
        object.__setattr__(self, "lessons_seen", tuple(dict.fromkeys(self.lessons_seen)))
        object.__setattr__(self, "checks_answered", MappingProxyType(dict(self.checks_answered)))
        object.__setattr__(self, "checks_first_try", MappingProxyType(dict(self.checks_first_try)))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def with_lesson(self, lesson_id: str) -> Progress:
        return replace(self, current_lesson=lesson_id, lessons_seen=(*self.lessons_seen, lesson_id))

    def with_check(self, key: str, correct: bool) -> Progress:
        return replace(self, checks_answered={**self.checks_answered, key: correct})

    def with_first_try(self, key: str, correct: bool) -> Progress:
        """Whether the first answer to check `key` was right; once kept, it stays (a later one is not the first)."""
        if key in self.checks_first_try:
            return self
        return replace(self, checks_first_try={**self.checks_first_try, key: correct})

    def with_settings(self, changes: Mapping[str, Scalar]) -> Progress:
        """Merge `changes` into the stored settings."""
        return replace(self, settings={**self.settings, **changes})

    def with_text(self, text: str | None = None, path: str | None = None) -> Progress:
        """Remember typed text or a file path (replacing both; the text is kept whole)."""
        return replace(self, text=text, text_path=path)

    def to_json(self) -> str:
        data = {
            "version": FORMAT_VERSION,
            "current_lesson": self.current_lesson,
            "lessons_seen": list(self.lessons_seen),
            "checks_answered": dict(self.checks_answered),
            "checks_first_try": dict(self.checks_first_try),
            "settings": dict(self.settings),
            "text": self.text,
            "text_path": self.text_path,
        }
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, document: str) -> Progress:
        """Parse `to_json` output, or an older version's; a version not known, a field unknown to the file's
        version or a wrong type raises ValueError."""
        try:
            data = json.loads(document)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        version = data.pop("version", None)
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
            raise ValueError(f"unsupported version {version!r} (expected {FORMAT_VERSION} or older)")
        known = {f.name for f in fields(cls) if FIELDS_SINCE.get(f.name, 1) <= version}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


class ProgressStore:
    """progress.json in `state_dir()`, shared safely by several tutors of the same user."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "progress.json"
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> tuple[Progress, str | None]:
        """The saved progress (fresh if none) and a notice for the learner, or None if all went well."""
        try:
            return self.read(), None
        except (FileNotFoundError, NotADirectoryError):
            return Progress(), None
        except (OSError, ValueError) as error:
            return Progress(), self._set_aside(_reason(error))

    def save(self, progress: Progress) -> None:
        with self._locked():
            self._write(progress)

    def update(self, change: Callable[[Progress], Progress]) -> Progress:
        """Re-read the latest saved progress, apply `change` and save it, all under the lock."""
        with self._locked():
            progress, _ = self.load()
            progress = change(progress)
            self._write(progress)
            return progress

    def reset(self) -> None:
        if not self.path.exists():
            return
        with self._locked(action="delete your saved progress"):
            try:
                self.path.unlink(missing_ok=True)
            except OSError as error:
                raise ProgressError(f"could not delete your saved progress ({self.path}): {_reason(error)}") from None

    def read(self) -> Progress:
        """The saved progress as it is, read only: OSError (FileNotFoundError if there is none) or ValueError
        if it cannot be read. `load` is what an app starts from."""
        return Progress.from_json(read_small_file(self.path, MAX_FILE_BYTES).decode("utf-8"))

    def _write(self, progress: Progress) -> None:
        try:
            write_atomically(self.path, progress.to_json().encode("utf-8"), durable=True)
        except OSError as error:
            raise ProgressError(f"could not save your progress ({self.path}): {_reason(error)}") from None

    @contextmanager
    def _locked(self, action: str = "save your progress") -> Iterator[None]:
        """Hold an exclusive flock on the lock file (not on progress.json, which os.replace swaps out)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_NONBLOCK: opening a FIFO or a device put in its place must not wait.
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise ProgressError(f"could not {action} ({self.path}): {_reason(error)}") from None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise ProgressError(f"could not {action}: {self.lock_path} is not a regular file; remove it")
            self._wait_for_lock(descriptor, action)
            yield
        finally:
            os.close(descriptor)

    def _wait_for_lock(self, descriptor: int, action: str) -> None:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ProgressError(
                        f"could not {action}: another loss-tutor kept {self.lock_path} locked "
                        f"for {LOCK_TIMEOUT_SECONDS:g} s"
                    ) from None
                time.sleep(0.01)
            except OSError as error:
                raise ProgressError(f"could not {action} ({self.lock_path}): {_reason(error)}") from None

    def _set_aside(self, reason: str) -> str:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        suffix = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{suffix}")
            suffix += 1
        try:
            self.path.rename(target)
        except OSError as error:
            return (
                f"your saved progress could not be read ({reason}); it could not be set aside either "
                f"({_reason(error)}), so it will be overwritten when progress is next saved; starting fresh"
            )
        return f"your saved progress could not be read ({reason}); it was set aside as {target}; starting fresh"


def _require(condition: bool, name: str, expected: str) -> None:
    if not condition:
        raise ValueError(f"{name} must be {expected}")


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
