"""A fixed environment for every test: no colour overrides, no animation, learner state in a temp dir."""

from __future__ import annotations

import os

import pytest
import textual.constants


@pytest.fixture(autouse=True)
def fixed_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        # TEXTUAL_SNAPSHOT_* is pytest-textual-snapshot's own bookkeeping, not a Textual setting
        if name == "NO_COLOR" or (name.startswith("TEXTUAL_") and not name.startswith("TEXTUAL_SNAPSHOT")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("LOSS_TUTOR_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def make_app():
    """A tutor that computes in this process (the model is loaded once per test run) and never blinks."""
    from tutor.app import TutorApp
    from tutor.engine import InProcessEngine

    def make(**options) -> TutorApp:
        options.setdefault("engine_factory", InProcessEngine)
        options.setdefault("cursor_blink", False)
        return TutorApp(**options)

    return make
