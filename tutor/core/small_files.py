"""Small files the tutor keeps its state in (progress, the workshop's notices): read with a size limit, from a
regular file only, and written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tutor.core.texts import open_regular_file


class FileTooLarge(ValueError):
    """A file larger than its reader accepts."""


def read_small_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file `path`; FileTooLarge beyond `max_bytes`, OSError as `open_regular_file`."""
    with open_regular_file(path) as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"larger than {max_bytes:,} bytes")
    return data


def write_atomically(path: Path, document: bytes, *, durable: bool = False) -> None:
    """Replace `path` with `document` through a private (0600) temporary file beside it, so that a reader sees
    the old file or the new one, never half of one; `durable` also waits until it is on disk. OSError if it
    could not be written (nothing of it is left behind)."""
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(document)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
