"""How shapes, numbers and tokens are written out — shared by the plain report and the app. No torch here."""

from __future__ import annotations

import re

VISIBLE_WHITESPACE = {" ": "·", "\n": "↵", "\t": "⇥", "\r": "␍"}
ASCII_WHITESPACE = {" ": "_", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

# What must never reach the terminal as it is: the C0 controls but tab and newline (escape sequences, bell,
# carriage return), DEL, the C1 controls, the bidirectional marks, embeddings, overrides and isolates (they
# reorder what follows them on the terminal's line) and the line and paragraph separators (Python splits
# lines at them, a terminal does not).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def format_shape(shape) -> str:
    return f"torch.Size({list(shape)})"


def escaped(char: str) -> str:
    """One character written as in a Python string: `\\x1b`, `\\u202e`."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _picture(char: str) -> str:
    """One character shown in one cell: the Unicode control pictures (␛ ␇ ␡), or � where there is none."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def safe_to_draw(text: str, *, one_cell: bool = False) -> str:
    """Text from outside the program (a lesson file, the learner's typing or file, a file name, an error
    message) made safe to draw: each of the CONTROL_CHARACTERS is written out as visible text (`\\x1b`), so the
    terminal shows it instead of obeying it. Tabs and newlines stay, and `\\r\\n` becomes a newline.
    `one_cell` shows each as one character instead (␛, ␡, or �), for a text field that counts characters."""
    if not CONTROL_CHARACTERS.search(text):
        return text
    if one_cell:
        return CONTROL_CHARACTERS.sub(lambda match: _picture(match.group()), text)
    return CONTROL_CHARACTERS.sub(lambda match: escaped(match.group()), text.replace("\r\n", "\n"))


def ellipsis(*, ascii_only: bool = False) -> str:
    """What stands for the part of a text cut off."""
    return "..." if ascii_only else "…"


def visible(text: str, *, ascii_only: bool = False) -> str:
    """Token text with spaces, newlines and tabs made visible (· ↵ ⇥) and other unprintable characters escaped.
    `ascii_only` (a terminal that shows ASCII only): `_`, `\\n`, `\\t`, and every other non-ASCII character escaped."""
    whitespace = ASCII_WHITESPACE if ascii_only else VISIBLE_WHITESPACE
    out = []
    for char in text:
        if char in whitespace:
            out.append(whitespace[char])
        elif char.isprintable() and (char.isascii() or not ascii_only):
            out.append(char)
        else:
            out.append(escaped(char))
    return "".join(out)


def format_number(value: float, digits: int = 4) -> str:
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{digits}f}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun, singular for exactly one: "1 token", "2 tokens", "1,024 batches"."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"
