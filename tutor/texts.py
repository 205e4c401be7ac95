"""Where the learner's text comes from: the bundled sample story, a file, or typed text.

Every problem is reported as a `TextError` whose message a learner can act on without a traceback.
Only the first `max_chars` characters of a file are read: one batch needs a few thousand tokens at most.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAMPLE_TEXT_PATH = Path(__file__).parent / "assets" / "story.txt"
DEFAULT_MAX_CHARS = 200_000
CHUNK_BYTES = 64 * 1024
BOM = "\ufeff"


class TextError(ValueError):
    """The learner's text cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class LoadedText:
    text: str
    source: str
    truncated: bool
    total_bytes: int


def sample_text() -> str:
    return SAMPLE_TEXT_PATH.read_text(encoding="utf-8")


def read_text_file(path: str | os.PathLike[str], *, max_chars: int | None = DEFAULT_MAX_CHARS) -> LoadedText:
    """Read UTF-8 text from `path`, at most `max_chars` characters (all of it if `max_chars` is None)."""
    path = Path(path).expanduser()
    total_bytes = _regular_file_size(path)
    try:
        with path.open("rb") as file:
            text, truncated = _read_utf8(file, path, max_chars)
    except PermissionError:
        raise TextError(f"permission denied: cannot read {path}") from None
    except OSError as error:
        raise TextError(f"cannot read {path}: {error.strerror or error}") from None
    text = text.removeprefix(BOM)
    _check_not_blank(text, path.name, truncated)
    return LoadedText(text=text, source=path.name, truncated=truncated, total_bytes=total_bytes)


def text_from_string(text: str, source: str = "typed text") -> LoadedText:
    text = text.removeprefix(BOM)
    _check_not_blank(text, source, truncated=False)
    return LoadedText(text=text, source=source, truncated=False, total_bytes=len(text.encode("utf-8")))


def describe(loaded: LoadedText) -> str:
    """One line such as "story.txt · 15,234 characters"."""
    if loaded.truncated:
        return (
            f"{loaded.source} · first {len(loaded.text):,} characters of {_human_size(loaded.total_bytes)} "
            "(the rest is not needed for one batch)"
        )
    count = len(loaded.text)
    return f"{loaded.source} · {count:,} character{'' if count == 1 else 's'}"


def _regular_file_size(path: Path) -> int:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise TextError(f"no such file: {path}") from None
    except PermissionError:
        raise TextError(f"permission denied: cannot read {path}") from None
    except OSError as error:
        raise TextError(f"cannot read {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise TextError(f"{path} is a directory, not a text file")
    if not stat.S_ISREG(info.st_mode):
        raise TextError(f"{path} is not a regular file (a device, pipe or socket cannot be loaded)")
    return info.st_size


def _read_utf8(file: BinaryIO, path: Path, max_chars: int | None) -> tuple[str, bool]:
    """Decode chunk by chunk, stopping once `max_chars` characters are in hand."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    pieces: list[str] = []
    chars = 0
    bytes_fed = 0
    first_chunk = True
    while max_chars is None or chars < max_chars:
        chunk = file.read(CHUNK_BYTES)
        if first_chunk and b"\0" in chunk:
            raise TextError(f"{path} looks like a binary file (it contains NUL bytes), not text")
        first_chunk = False
        piece = _decode(decoder, chunk, bytes_fed, path)
        bytes_fed += len(chunk)
        pieces.append(piece)
        chars += len(piece)
        if not chunk:
            return "".join(pieces), False
    text = "".join(pieces)
    more_follows = chars > max_chars or decoder.getstate()[0] != b"" or file.read(1) != b""
    return text[:max_chars], more_follows


def _decode(decoder: codecs.IncrementalDecoder, chunk: bytes, bytes_fed: int, path: Path) -> str:
    pending = len(decoder.getstate()[0])
    try:
        return decoder.decode(chunk, final=not chunk)
    except UnicodeDecodeError as error:
        # error.start counts from the bytes still pending from the previous chunk.
        offset = bytes_fed - pending + error.start
        bad_byte = error.object[error.start]
        raise TextError(
            f"{path} is not UTF-8 text (invalid byte 0x{bad_byte:02x} at byte offset {offset}); "
            "save it as UTF-8 and try again"
        ) from None


def _check_not_blank(text: str, source: str, truncated: bool) -> None:
    if not text:
        raise TextError(f"{source} is empty")
    if not text.strip():
        where = f"the first {len(text):,} characters of {source} contain" if truncated else f"{source} contains"
        raise TextError(f"{where} only whitespace")


def _human_size(total_bytes: int) -> str:
    if total_bytes < 1000:
        return f"{total_bytes} bytes"
    size = float(total_bytes)
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000:
            break
    return f"{size:.1f} {unit}"
