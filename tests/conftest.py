"""A fixed environment for every test: no colour overrides, no animation, learner state in a temp dir."""

from __future__ import annotations

import gc
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


@pytest.fixture(autouse=True)
def collectable_heap():
    """Every app freezes the heap it has drawn (see TutorApp._freeze_heap); between tests that would keep
    each finished app, and its reference cycles, alive for the rest of the run."""
    yield
    gc.unfreeze()
    gc.enable()


@pytest.fixture(scope="session")
def default_report_computed():
    """The sample story's report for the default settings, computed once before any app runs, so that
    no app test waits on a forward pass competing with its own event loop for the GIL."""
    from app_helpers import CachedEngine

    from tutor.engine import Request
    from tutor.settings import Settings
    from tutor.texts import SAMPLE_TEXT_PATH, describe, read_text_file

    loaded = read_text_file(SAMPLE_TEXT_PATH)
    CachedEngine().compute(Request(text=loaded.text, settings=Settings(), source=describe(loaded)))


@pytest.fixture
def make_app(default_report_computed):
    """A tutor that computes in this process, reusing reports it has computed before, and never blinks."""
    from app_helpers import CachedEngine

    from tutor.app import TutorApp

    def make(**options) -> TutorApp:
        options.setdefault("engine_factory", CachedEngine)
        options.setdefault("cursor_blink", False)
        return TutorApp(**options)

    return make
