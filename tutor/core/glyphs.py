"""Whether the terminal can show more than ASCII, and the tutor's symbols written in ASCII where it cannot.

A locale whose codeset is not UTF-8 (`LC_ALL=C`, common on bare servers) means a terminal that may show
UTF-8 box drawing and symbols as garbage. `terminal_is_ascii` is the one place that decides it; `to_ascii`
rewrites the tutor's own texts (lessons, help, the plain report) keeping their meaning (`→` as `->`, `≥` as
`>=`); `ascii_cells` is the last resort for what is already laid out, one ASCII character per cell.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import replace

from tutor.core.lessons import LessonSet

LOCALE_VARIABLES = ("LC_ALL", "LC_CTYPE", "LANG")  # the first one set decides, as in POSIX
UTF8_CODESETS = {"utf8"}

# The tutor's symbols in ASCII, keeping their meaning; the width may change, so only for text not yet laid out.
ASCII_WORDS = {
    " · ": " - ",  # a separator between two parts of a line
    "·": "_",  # a space inside a token
    "↵": "\\n",
    "⇥": "\\t",
    "␍": "\\r",
    "→": "->",
    "←": "<-",
    "⇒": "=>",
    "↑": "up",
    "↓": "down",
    "…": "...",
    "—": "--",
    "–": "-",
    "−": "-",
    "×": "x",
    "≈": "~",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "✓": "+",
    "✗": "x",
    "▶": ">",
    "◀": "<",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "Σ": "sum",
    "•": "*",
}

# One ASCII character per cell, for what is already laid out (Textual's own borders, scrollbars, checkboxes).
ONE_CELL = {
    "·": "_", "↵": "$", "⇥": ">", "→": ">", "←": "<", "⇒": ">", "↑": "^", "↓": "v", "…": ".", "—": "-", "–": "-",
    "−": "-", "×": "x", "≈": "~", "≥": ">", "≤": "<", "✓": "+", "✔": "+", "✗": "x", "✘": "x", "▶": ">", "▸": ">",
    "◀": "<", "◂": "<", "▲": "^", "▼": "v", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*", "●": "*", "○": "o",
    "▐": "[", "▌": "]", "█": "#", "⏎": "<", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5",
}
BOX_HORIZONTAL = set("─━═╌╍┄┅┈┉╴╶╸╺╼╾")
BOX_VERTICAL = set("│┃║╎╏┆┇┊┋╵╷╹╻╽╿")


def codeset_is_utf8(locale_name: str) -> bool:
    """`en_GB.UTF-8`, `C.utf8` and `de_DE.UTF-8@euro` are UTF-8; `C`, `POSIX` and `en_US.ISO-8859-1` are not."""
    codeset = locale_name.partition(".")[2].partition("@")[0]
    return codeset.replace("-", "").replace("_", "").lower() in UTF8_CODESETS


def terminal_is_ascii(environ: Mapping[str, str] | None = None, encoding: str | None = None) -> bool:
    """True when the locale (or the output's encoding) says the terminal takes ASCII only. Python switches
    to UTF-8 by itself under the C locale, so the encoding alone does not tell: the locale variables do."""
    environ = os.environ if environ is None else environ
    encoding = (sys.stdout.encoding if sys.stdout is not None else None) if encoding is None else encoding
    if encoding and not codeset_is_utf8("." + encoding):
        return True
    locale_name = next((environ[name] for name in LOCALE_VARIABLES if environ.get(name)), "C")
    return not codeset_is_utf8(locale_name)


def to_ascii(text: str) -> str:
    """The tutor's text in ASCII with the same meaning; anything else that is not ASCII becomes `?`."""
    if text.isascii():
        return text
    for symbol, word in ASCII_WORDS.items():
        text = text.replace(symbol, word)
    return "".join(char if char.isascii() else _fallback(char) for char in text)


def _fallback(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return decomposed or ONE_CELL.get(char) or "?"


def ascii_cells(text: str) -> str:
    """`text` as it is laid out, each cell drawn with an ASCII character: a wide character (two cells) as
    two, a combining mark (none) as nothing. Borders keep their shape (`+`, `-`, `|`)."""
    if text.isascii():
        return text
    return "".join(char if char.isascii() else _cell(char) for char in text.replace(" · ", " - "))


def _cell(char: str) -> str:
    if char in ONE_CELL:
        return ONE_CELL[char]
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return ""
    if char in BOX_HORIZONTAL:
        return "-"
    if char in BOX_VERTICAL:
        return "|"
    code = ord(char)
    if 0x2500 <= code <= 0x257F:  # the other box drawing characters: corners, tees and crosses
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements: scrollbar ends and partial bars
        return " "
    if code in (0x2002, 0x2003, 0x2009, 0x00A0):
        return " "
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(decomposed) == 1:
        return decomposed
    return "??" if unicodedata.east_asian_width(char) in ("W", "F") else "?"


def lessons_in_ascii(lessons: LessonSet) -> LessonSet:
    """The lessons' words in ASCII: titles, texts, questions, hints and explanations. A check's choices and
    answers stay as written, since the learner's answers are compared with them."""
    return replace(
        lessons,
        lessons=tuple(
            replace(
                lesson,
                title=to_ascii(lesson.title),
                body=to_ascii(lesson.body),
                checks=tuple(
                    replace(
                        check,
                        question=to_ascii(check.question),
                        hints=tuple(to_ascii(hint) for hint in check.hints),
                        explanation=to_ascii(check.explanation),
                    )
                    for check in lesson.checks
                ),
            )
            for lesson in lessons.lessons
        ),
    )
