"""How shapes, numbers and tokens are written out — shared by the plain report and the app. No torch here."""

from __future__ import annotations

VISIBLE_WHITESPACE = {" ": "·", "\n": "↵", "\t": "⇥", "\r": "␍"}


def format_shape(shape) -> str:
    return f"torch.Size({list(shape)})"


def visible(text: str) -> str:
    """Token text with spaces, newlines and tabs made visible (· ↵ ⇥) and other control characters escaped."""
    out = []
    for char in text:
        if char in VISIBLE_WHITESPACE:
            out.append(VISIBLE_WHITESPACE[char])
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
    return "".join(out)


def format_number(value: float, digits: int = 4) -> str:
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{digits}f}"
