"""Rendering that comes out the same every time, for `loss-tutor screenshots` and the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def _changes_rendering(variable: str) -> bool:
    # TEXTUAL_SNAPSHOT_* is pytest-textual-snapshot's own bookkeeping, not a Textual setting
    return variable == "NO_COLOR" or (variable.startswith("TEXTUAL_") and not variable.startswith("TEXTUAL_SNAPSHOT"))


@contextmanager
def deterministic_rendering() -> Iterator[None]:
    """Inside, two renders of the same screen are the same: no colour or Textual setting taken from the
    environment, no animations, and every Input and TextArea made inside starts with its cursor not blinking.
    Everything is put back as it was on exit."""
    removed = {variable: os.environ.pop(variable) for variable in list(os.environ) if _changes_rendering(variable)}
    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    # Imported only now: textual reads its TEXTUAL_* settings once, at import (the screenshots command
    # imports it here first; a test run has imported it before).
    import textual.constants
    from textual.widgets import Input, TextArea

    animations = textual.constants.TEXTUAL_ANIMATIONS
    textual.constants.TEXTUAL_ANIMATIONS = "none"  # each App reads it from here
    # Each widget's cursor_blink starts from its reactive's default (subclasses share it); no public setting
    # reaches every Input and TextArea an app makes.
    blink_settings = [vars(widget)["cursor_blink"] for widget in (Input, TextArea)]
    blink_defaults = [setting._default for setting in blink_settings]
    for setting in blink_settings:
        setting._default = False
    try:
        yield
    finally:
        for setting, default in zip(blink_settings, blink_defaults):
            setting._default = default
        textual.constants.TEXTUAL_ANIMATIONS = animations
        os.environ.pop("TEXTUAL_ANIMATIONS", None)
        os.environ.update(removed)
