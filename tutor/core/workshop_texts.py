"""The texts a workshop's participant may open: the files the instructor put in `loss-tutor serve --texts DIR`,
and nothing else on the server (`loss-tutor --workshop`).

Only regular files directly in that folder are offered and opened: not a subfolder, not a symbolic link (it
could point anywhere), not a hidden file, not a name with a path in it or one that cannot be shown as it is.
They are read as every text is (`read_text_file`: FIFOs and devices refused, only the start of a huge file
read), by name in the folder opened once, so a link swapped in after the list was made is refused too.
Without a folder, none is offered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tutor.core.texts import LoadedText, TextError, read_text_file

# The list is read as the text form opens, so it is bounded: a folder of thousands of entries costs a few ms.
MAX_ENTRIES_READ = 5_000
MAX_NAMES_OFFERED = 500


def is_plain_name(name: str) -> bool:
    """A file name alone: no folder in it, nothing that leads out of the folder, not hidden, and shown as it is
    (printable: no control character, line break, bidirectional mark, or byte that is not UTF-8)."""
    return bool(name) and "/" not in name and not name.startswith(".") and name.isprintable()


@dataclass(frozen=True)
class WorkshopTexts:
    folder: Path | None  # absolute; None: the instructor gave no --texts, so no file is offered

    def names(self) -> list[str]:
        """The files a participant may open, sorted: the first MAX_NAMES_OFFERED of those among the folder's
        first MAX_ENTRIES_READ entries. TextError if the folder cannot be read."""
        if self.folder is None:
            return []
        found = []
        try:
            with os.scandir(self.folder) as entries:
                for _, entry in zip(range(MAX_ENTRIES_READ), entries):
                    if is_plain_name(entry.name) and entry.is_file(follow_symlinks=False):
                        found.append(entry.name)
        except OSError as error:
            raise TextError(f"the workshop's texts cannot be listed: {error.strerror or error}") from None
        return sorted(found)[:MAX_NAMES_OFFERED]

    def read(self, name: str) -> LoadedText:
        """The text of the file `name` in the folder; TextError if it is not one a participant may open."""
        if self.folder is None:
            raise TextError("this workshop offers no files; type or paste your text instead")
        if not is_plain_name(name):
            raise TextError(f"{name!r} is not the name of one of this workshop's texts")
        with self._opened_folder() as folder:
            return read_text_file(name, in_folder=folder)

    def path_of(self, name: str) -> str:
        """What the session keeps, and progress saves, for the file `name`: its path."""
        if self.folder is None:
            raise TextError("this workshop offers no files")
        return str(self.folder / name)

    def name_in_folder(self, path: str) -> str | None:
        """The name of the file `path` names, if it is directly in the folder (compared as written: nothing
        on the way is followed), else None."""
        as_path = Path(path)
        if self.folder is None or as_path.parent != self.folder or not is_plain_name(as_path.name):
            return None
        return as_path.name

    def reopen(self, saved_path: str) -> LoadedText:
        """The text of a path saved in progress, if it is one of the workshop's texts; otherwise TextError,
        and nothing is opened."""
        name = self.name_in_folder(saved_path)
        if name is None:
            raise TextError(f"{saved_path} is not one of this workshop's texts")
        return self.read(name)

    @contextmanager
    def _opened_folder(self) -> Iterator[int]:
        assert self.folder is not None
        try:
            descriptor = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise TextError(f"the workshop's texts cannot be opened: {error.strerror or error}") from None
        try:
            yield descriptor
        finally:
            os.close(descriptor)
