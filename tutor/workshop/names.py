"""A participant's name: the SSH user name they typed, made safe to be a folder name and to be printed."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_NAME_CHARS = 32
_ALLOWED_MARKS = "-_."
_RUNS_OF_DASHES = re.compile(r"-{2,}")


def participant_name(user_name: str) -> str:
    """The same name for the same person every time (case and Unicode forms folded), made only of letters,
    digits, '-', '_' and '.' (never leading or trailing), at most MAX_NAME_CHARS long. A name with nothing
    usable in it (`../..`, control characters only) becomes `participant-` and a hash of it: still the
    same on every reconnect."""
    folded = unicodedata.normalize("NFKC", user_name).casefold()
    kept = "".join(char if char.isalnum() or char in _ALLOWED_MARKS else "-" for char in folded)
    name = _RUNS_OF_DASHES.sub("-", kept).strip(_ALLOWED_MARKS)
    name = name[:MAX_NAME_CHARS].rstrip(_ALLOWED_MARKS)
    if name:
        return name
    digest = hashlib.sha256(user_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"participant-{digest}"
