"""A fixed environment for every test: learner state in a temp dir, and rendering that is the same every time
(no colour or Textual setting from the environment, no animation, no cursor blink)."""

from __future__ import annotations

import gc

import pytest

from tutor.ui.deterministic import deterministic_rendering


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "textual_defaults: run with Textual's defaults and the environment as found, "
        "not inside deterministic_rendering()",
    )


@pytest.fixture(autouse=True)
def fixed_environment(request, monkeypatch, tmp_path):
    monkeypatch.setenv("LOSS_TUTOR_STATE_DIR", str(tmp_path / "state"))
    if request.node.get_closest_marker("textual_defaults"):
        yield
        return
    with deterministic_rendering():
        yield


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

    from tutor.core.protocol import Request
    from tutor.core.settings import Settings
    from tutor.core.texts import SAMPLE_TEXT_PATH, describe, read_text_file

    loaded = read_text_file(SAMPLE_TEXT_PATH)
    CachedEngine().compute(Request(text=loaded.text, settings=Settings(), source=describe(loaded)))


def _app_maker(engine_factory):
    from tutor.ui.app import TutorApp

    def make(**options) -> TutorApp:
        options.setdefault("engine_factory", engine_factory)
        return TutorApp(**options)

    return make


@pytest.fixture
def make_app(default_report_computed):
    """A tutor that computes in this process, reusing reports it has computed before."""
    from app_helpers import CachedEngine

    return _app_maker(CachedEngine)


@pytest.fixture
def make_fixed_app():
    """A tutor that draws the committed reports of tests/fixtures/ and never runs the model: its pictures are
    the same on every CPU. It fails any request it has no fixture for (see `FixedReportEngine`)."""
    from report_fixture import FixedReportEngine

    FixedReportEngine.unexpected.clear()
    yield _app_maker(FixedReportEngine)
    assert not FixedReportEngine.unexpected, f"requests with no committed report: {FixedReportEngine.unexpected}"


def pytest_addoption(parser):
    parser.addoption(
        "--update-report-fixtures",
        action="store_true",
        help="write tests/fixtures/*.json anew from the real model (see tests/test_report_fixture.py)",
    )


@pytest.fixture
def update_report_fixtures(request) -> bool:
    return request.config.getoption("--update-report-fixtures")
