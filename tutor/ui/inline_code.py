"""Markdown's inline code (`probas`) in short texts drawn as Rich `Text`: the backticks go, the code is styled."""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

INLINE_CODE = re.compile(r"`([^`\n]+)`")


def with_inline_code(source: str, code_style: Style | str, style: Style | str = "") -> Text:
    """`source` as Text in `style`, each `code` span drawn without its backticks in `code_style` on top."""
    text = Text(style=style)
    end = 0
    for match in INLINE_CODE.finditer(source):
        text.append(source[end : match.start()])
        text.append(match.group(1), code_style)
        end = match.end()
    text.append(source[end:])
    return text
