"""The engines and the session's bookkeeping of attempts.

`ProcessEngine` is exercised in a separate Python process, so that "the app never imports torch" can be
checked in a process that has not imported it for its own reasons (as this test process has)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from report_fixture import assert_reports_close

from tutor.core.protocol import LearnerError, Request
from tutor.core.session import Outcome, Session
from tutor.core.settings import Settings
from tutor.core.texts import sample_text, text_from_string
from tutor.engine.in_process import InProcessEngine

SHORT_TEXT = "Hello there"
ROOT = Path(__file__).resolve().parent.parent

CHILD_SCRIPT = textwrap.dedent(
    """
    import json, os, pickle, sys

    from tutor.core.protocol import LearnerError, Request

    from tutor.engine.process import ProcessEngine
    from tutor.core.settings import Settings
    from tutor.core.texts import sample_text

    if __name__ == "__main__":
        out = sys.argv[1]
        engine = ProcessEngine()
        child = engine._process
        report = engine.compute(Request(text=sample_text(), settings=Settings(), source="story.txt"))
        try:
            engine.compute(Request(text=%(short)r, settings=Settings(), source="typed text"))
        except LearnerError as error:
            learner_error = str(error)
        else:
            learner_error = None
        facts = {
            "parent_pid": os.getpid(),
            "child_pid": child.pid,
            "child_alive_while_open": child.poll() is None,
            "torch_in_parent": "torch" in sys.modules,
            "learner_error": learner_error,
        }
        engine.close()
        facts["child_alive_after_close"] = child.poll() is None
        facts["child_exitcode"] = child.returncode
        facts["child_gone"] = not os.path.exists(f"/proc/{child.pid}")
        facts["torch_in_parent_at_end"] = "torch" in sys.modules
        with open(out + ".report", "wb") as file:
            pickle.dump(report, file)
        with open(out, "w") as file:
            json.dump(facts, file)
    """
) % {"short": SHORT_TEXT}


@pytest.fixture(scope="module")
def process_engine_run(tmp_path_factory):
    """Run ProcessEngine once in a fresh Python: its facts, and the report it computed."""
    folder = tmp_path_factory.mktemp("process-engine")
    script = folder / "use_process_engine.py"
    script.write_text(CHILD_SCRIPT, encoding="utf-8")
    out = folder / "facts.json"
    result = subprocess.run(
        [sys.executable, str(script), str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(out.read_text())
    with open(str(out) + ".report", "rb") as file:
        report = pickle.load(file)
    return facts, report


def test_process_engine_report_equals_the_in_process_one(process_engine_run):
    facts, report = process_engine_run
    expected = InProcessEngine().compute(Request(text=sample_text(), settings=Settings(), source="story.txt"))
    # a forward pass in another process: the same report, floats within rounding
    assert_reports_close(report, expected)
    assert report.loss_pytorch == pytest.approx(expected.loss_pytorch, rel=1e-6)


def test_process_engine_computes_in_a_child_and_the_parent_never_imports_torch(process_engine_run):
    facts, _ = process_engine_run
    assert facts["child_pid"] != facts["parent_pid"]
    assert facts["child_alive_while_open"] is True
    assert facts["torch_in_parent"] is False
    assert facts["torch_in_parent_at_end"] is False


def test_process_engine_child_is_gone_after_close(process_engine_run):
    facts, _ = process_engine_run
    assert facts["child_alive_after_close"] is False
    assert facts["child_exitcode"] is not None
    assert facts["child_gone"]


def test_learner_error_has_the_same_message_from_both_engines(process_engine_run):
    facts, _ = process_engine_run
    request = Request(text=SHORT_TEXT, settings=Settings(), source="typed text")
    with pytest.raises(LearnerError) as raised:
        InProcessEngine().compute(request)
    message = str(raised.value)
    assert message.startswith("the text is too short: it has 2 tokens")
    assert facts["learner_error"] == message


def test_in_process_engine_raises_learner_error_for_a_missing_batch():
    request = Request(text=sample_text(), settings=Settings(batch_index=10_000), source="story.txt")
    with pytest.raises(LearnerError, match="batch number 10000 does not exist"):
        InProcessEngine().compute(request)


# ----- the session: only the latest attempt counts ----------------------------------------------------------


def fake_report(batch_size: int):
    return SimpleNamespace(batch_size=batch_size)


def test_session_applies_an_attempt_only_when_it_succeeds():
    first_text, new_text = text_from_string("first text"), text_from_string("second text")
    session = Session(text=first_text, settings=Settings())
    attempt = session.begin(text=new_text, settings=Settings(batch_size=3), text_path="/tmp/second.txt")
    assert attempt.generation == 1 and session.busy
    assert session.text is first_text and session.settings == Settings()  # not yet
    assert attempt.request() == Request(text="second text", settings=Settings(batch_size=3), source="typed text · 11 characters")

    report = fake_report(3)
    assert session.succeed(1, report) is True
    assert not session.busy
    assert (session.text, session.settings, session.text_path) == (new_text, Settings(batch_size=3), "/tmp/second.txt")
    assert session.report is report and session.outcome == Outcome(1, None)


def test_session_ignores_a_late_answer_to_an_old_generation():
    session = Session(text=text_from_string("some text"), settings=Settings())
    old = session.begin(settings=Settings(batch_size=5))
    new = session.begin(settings=Settings(batch_size=3))
    assert (old.generation, new.generation) == (1, 2)

    assert session.succeed(old.generation, fake_report(5)) is False  # late: ignored
    assert session.report is None and session.settings == Settings() and session.busy
    assert session.fail(old.generation, "too late") is False
    assert session.problem is None and session.busy

    newest = fake_report(3)
    assert session.succeed(new.generation, newest) is True
    assert session.report is newest and session.settings == Settings(batch_size=3)
    assert session.succeed(new.generation, fake_report(9)) is False  # answered twice: the second is ignored
    assert session.report is newest


def test_session_failure_keeps_the_last_good_report():
    session = Session(text=text_from_string("some text"), settings=Settings())
    session.begin()
    good = fake_report(4)
    session.succeed(1, good)
    session.row = 3

    attempt = session.begin(settings=Settings(batch_size=7))
    assert session.fail(attempt.generation, "no such batch") is True
    assert session.report is good and session.settings == Settings()
    assert session.problem == "no such batch" and session.outcome == Outcome(2, "no such batch")
    assert not session.busy

    session.begin(settings=Settings(batch_size=2))
    assert session.succeed(3, fake_report(2)) is True
    assert session.problem is None
    assert session.row == 1  # the row shown is kept within the new batch


def test_an_answer_is_unpickled_with_the_collector_paused_and_then_restored(monkeypatch):
    import gc
    import os
    import pickle

    from tutor.engine import process as engine

    seen = []
    real_load = pickle.load
    monkeypatch.setattr(engine.pickle, "load", lambda stream: seen.append(gc.isenabled()) or real_load(stream))
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb") as writer:
        for collecting in (True, False):
            (gc.enable if collecting else gc.disable)()
            try:
                writer.write(pickle.dumps(("ok", [1, 2, 3])))
                writer.flush()
                assert engine._load_without_collecting(reader) == ("ok", [1, 2, 3])
                assert gc.isenabled() == collecting  # as it was before
            finally:
                gc.enable()
    assert seen == [False, False]
