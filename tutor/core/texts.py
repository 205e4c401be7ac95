"""Where the learner's text comes from: the bundled sample story, a file, or typed text.

Every problem is reported as a `TextError` whose message a learner can act on without a traceback.
One limit, `MAX_TEXT_CHARS`, holds for every text: only that many characters of a file are read (one batch
needs a few thousand tokens at most), typed text longer than that is refused, so saved progress keeps
typed text whole. Files are UTF-8, or UTF-16 or UTF-32 with a byte-order mark. A NUL character anywhere in
what is read (each 64 KB chunk, up to the limit) marks a binary file. Only regular files are opened.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAMPLE_TEXT_PATH = Path(__file__).parent.parent / "assets" / "story.txt"
MAX_TEXT_CHARS = 100_000
CHUNK_BYTES = 64 * 1024
BOM = "\ufeff"
# (mark, codec, name, bytes per code unit). UTF-32's marks come first: UTF-32 LE's begins with UTF-16 LE's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32", 4),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32", 4),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16", 2),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16", 2),
)


class TextError(ValueError):
    """The learner's text cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class LoadedText:
    text: str
    source: str
    truncated: bool
    total_bytes: int
    encoding: str = "UTF-8"


def sample_text() -> str:
    return SAMPLE_TEXT_PATH.read_text(encoding="utf-8")


def read_text_file(
    path: str | os.PathLike[str], *, max_chars: int | None = MAX_TEXT_CHARS, in_folder: int | None = None
) -> LoadedText:
    """Read text from `path`, at most `max_chars` characters (all of it if `max_chars` is None). With
    `in_folder` (an open folder's descriptor), `path` is taken in that folder as it is (no `~`), and a symbolic
    link is refused, not followed."""
    path = Path(path) if in_folder is not None else Path(path).expanduser()
    try:
        with open_regular_file(path, in_folder=in_folder) as file:
            total_bytes = os.fstat(file.fileno()).st_size
            text, truncated, encoding = _read_text(file, path, max_chars)
    except (FileNotFoundError, NotADirectoryError):
        raise TextError(f"no such file: {path}") from None
    except PermissionError:
        raise TextError(f"permission denied: cannot read {path}") from None
    except IsADirectoryError:
        raise TextError(f"{path} is a directory, not a text file") from None
    except NotARegularFile:
        raise TextError(f"{path} is not a regular file (a device, pipe or socket cannot be loaded)") from None
    except SymbolicLink:
        raise TextError(f"{path} is a symbolic link, which is not opened here") from None
    except OSError as error:
        raise TextError(f"cannot read {path}: {error.strerror or error}") from None
    text = text.removeprefix(BOM)
    _check_not_blank(text, path.name, truncated)
    return LoadedText(text=text, source=path.name, truncated=truncated, total_bytes=total_bytes, encoding=encoding)


def text_from_string(text: str, source: str = "typed text") -> LoadedText:
    """Typed (or saved) text, refused if it is longer than `MAX_TEXT_CHARS`: it is never cut."""
    text = text.removeprefix(BOM)
    if len(text) > MAX_TEXT_CHARS:
        raise TextError(
            f"{source} is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,} characters. "
            f"Shorten it, or open it as a file: only its first {MAX_TEXT_CHARS:,} characters are read"
        )
    _check_not_blank(text, source, truncated=False)
    try:
        total_bytes = len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise TextError(
            f"{source} has an unpaired surrogate (U+{ord(text[error.start]):04X}) at character {error.start:,}, "
            "which is not text"
        ) from None
    return LoadedText(text=text, source=source, truncated=False, total_bytes=total_bytes)


def describe(loaded: LoadedText) -> str:
    """One line such as "story.txt · 15,234 characters"."""
    source = loaded.source if loaded.encoding == "UTF-8" else f"{loaded.source} ({loaded.encoding})"
    if loaded.truncated:
        return (
            f"{source} · first {len(loaded.text):,} characters of {_human_size(loaded.total_bytes)} "
            "(the rest is not needed for one batch)"
        )
    count = len(loaded.text)
    return f"{source} · {count:,} character{'' if count == 1 else 's'}"


class NotARegularFile(OSError):
    """A FIFO, socket or device where a file was expected."""


class SymbolicLink(OSError):
    """A symbolic link where only a file itself may be opened."""


def open_regular_file(path: Path, *, in_folder: int | None = None) -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file (IsADirectoryError for a directory,
    NotARegularFile for anything else). Opening never blocks: without O_NONBLOCK a FIFO would wait for a
    writer forever. The check is made on the opened file, so nothing can be swapped in between. With
    `in_folder` (an open folder's descriptor), a relative `path` is opened in that folder, and SymbolicLink is
    raised if its last part is a symbolic link."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if in_folder is not None else 0)
    try:
        descriptor = os.open(path, flags, dir_fd=in_folder)
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket
            raise NotARegularFile(errno.ENXIO, "not a regular file", str(path)) from None
        if error.errno == errno.ELOOP and in_folder is not None:  # O_NOFOLLOW met a symbolic link
            raise SymbolicLink(errno.ELOOP, "a symbolic link", str(path)) from None
        raise
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        raise NotARegularFile(errno.EINVAL, "not a regular file", str(path))
    return open(descriptor, "rb")


def _encoding_of(start: bytes) -> tuple[str, str, int, int]:
    """(codec, name, byte-order mark length, bytes per code unit) for a file that begins with `start`."""
    for mark, codec, name, unit in BYTE_ORDER_MARKS:
        if start.startswith(mark):
            return codec, name, len(mark), unit
    return "utf-8", "UTF-8", 0, 1  # a UTF-8 byte-order mark is decoded, then dropped


def _read_text(file: BinaryIO, path: Path, max_chars: int | None) -> tuple[str, bool, str]:
    """Decode chunk by chunk, stopping once `max_chars` characters are in hand: (text, more follows, encoding)."""
    chunk = file.read(CHUNK_BYTES)
    codec, name, bytes_fed, unit = _encoding_of(chunk)
    chunk = chunk[bytes_fed:]
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    pieces: list[str] = []
    chars = 0
    while True:
        _refuse_nul(chunk, unit, bytes_fed, path)
        piece = _decode(decoder, chunk, bytes_fed, path, name)
        bytes_fed += len(chunk)
        pieces.append(piece)
        chars += len(piece)
        if not chunk:
            return "".join(pieces), False, name
        if max_chars is not None and chars >= max_chars:
            text = "".join(pieces)
            more_follows = chars > max_chars or decoder.getstate()[0] != b"" or file.read(1) != b""
            return text[:max_chars], more_follows, name
        chunk = file.read(CHUNK_BYTES)


def _refuse_nul(chunk: bytes, unit: int, bytes_fed: int, path: Path) -> None:
    """A NUL character is a zero code unit: a zero byte in UTF-8, two or four at a unit boundary otherwise.
    Chunks start at unit boundaries (64 KB and the byte-order mark are whole units)."""
    zero = bytes(unit)
    index = chunk.find(zero)
    while index != -1 and index % unit:
        index = chunk.find(zero, index + 1)
    if index == -1:
        return
    hint = ""
    start = chunk[:64] if unit == 1 and bytes_fed == 0 else b""
    even_bytes_zero, odd_bytes_zero = not any(start[0::2]), not any(start[1::2])
    if len(start) >= 4 and even_bytes_zero != odd_bytes_zero:
        hint = " (UTF-16 text without a byte-order mark looks like this: save it as UTF-8)"
    raise TextError(
        f"{path} contains a NUL character at byte offset {bytes_fed + index}, so it looks like a binary file, "
        f"not text{hint}"
    )


def _decode(decoder: codecs.IncrementalDecoder, chunk: bytes, bytes_fed: int, path: Path, name: str) -> str:
    pending = len(decoder.getstate()[0])
    try:
        return decoder.decode(chunk, final=not chunk)
    except UnicodeDecodeError as error:
        # error.start counts from the bytes still pending from the previous chunk.
        offset = bytes_fed - pending + error.start
        if name == "UTF-8":
            problem = f"invalid byte 0x{error.object[error.start]:02x}"
        else:
            problem = error.reason
        raise TextError(
            f"{path} is not {name} text ({problem} at byte offset {offset}); save it as UTF-8 and try again"
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
