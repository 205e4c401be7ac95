"""The committed report the snapshot tests draw is what the real model computes, within rounding.

tests/fixtures/default_report.json holds the sample story's report at the default settings (bug lab included)
as `Report.to_data()`, with the request it answers. It was made by the real model; make it anew (after a
change to the model, the report, the bug lab or the sample story) with

    .venv/bin/python -m pytest -p no:cacheprovider tests/test_report_fixture.py --update-report-fixtures

then run tests/test_snapshots.py and review every picture that changed before `--snapshot-update`.
"""

from __future__ import annotations

import json

import pytest
from app_helpers import CachedEngine
from report_fixture import (
    DEFAULT_REPORT_PATH,
    FixedReportEngine,
    assert_reports_close,
    default_request,
    read_fixture,
    report_differences,
    request_key,
    write_fixture,
)

from tutor.core.protocol import EngineError, Request
from tutor.core.report import Report
from tutor.core.settings import Settings


def test_the_model_still_computes_the_committed_report(update_report_fixtures):
    request = default_request()
    live = CachedEngine().compute(request)
    if update_report_fixtures:
        write_fixture(DEFAULT_REPORT_PATH, request, live)
    key, data = read_fixture(DEFAULT_REPORT_PATH)
    assert key == request_key(request), "the fixture answers another text or settings: make it anew (see above)"
    assert_reports_close(live, data)


def test_the_committed_report_is_strict_json_and_reads_back_exactly():
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    data = json.loads(DEFAULT_REPORT_PATH.read_text(encoding="utf-8"), parse_constant=refuse)["report"]
    report = Report.from_data(data)
    assert report.to_data() == data
    assert len(report.tokens) == 16 and len(report.extras["bug_lab"]) == 5


def test_fixed_report_engine_serves_the_fixture_and_refuses_anything_else():
    engine = FixedReportEngine()
    FixedReportEngine.unexpected.clear()
    report = engine.compute(default_request())
    assert report.to_data() == read_fixture(DEFAULT_REPORT_PATH)[1]
    other = Request(text=default_request().text, settings=Settings(batch_size=3), source=default_request().source)
    with pytest.raises(EngineError, match="no committed report"):
        engine.compute(other)
    assert FixedReportEngine.unexpected == [other]
    FixedReportEngine.unexpected.clear()


# ----- the tolerance lets through what another CPU changes, and nothing more ------------------------------


@pytest.fixture
def data():
    return read_fixture(DEFAULT_REPORT_PATH)[1]


def changed(data, path, change):
    copy = json.loads(json.dumps(data))
    *parents, last = path
    place = copy
    for part in parents:
        place = place[part]
    place[last] = change(place[last])
    return copy


ROUNDING = [
    ("a float, relatively 1e-6", ("loss_pytorch",), lambda value: value * (1 + 1e-6)),
    ("a tiny probability, by 1e-10", ("tokens", 0, "target_prob"), lambda value: value + 1e-10),
    ("a candidate's probability", ("tokens", 3, "top", 0, 2), lambda value: value * (1 - 5e-5)),
    ("a target's rank by one", ("tokens", 2, "target_rank"), lambda value: value + 1),
    ("the last digit of a tensor print", ("tensors", "logits", "text"), lambda text: text.replace("0.10", "0.11", 1)),
    ("a tensor print's padding", ("tensors", "logits", "text"), lambda text: text.replace("[ 0.10", "[0.10", 1)),
    ("a count in the bug lab", ("extras", "bug_lab", "log_of_softmax", "explanation"),
     lambda text: text.replace("804,078", "804,079", 1)),
    ("the last digit of a loss in the bug lab", ("extras", "bug_lab", "softmax_before_ce", "details", "buggy loss"),
     lambda text: f"{float(text) + 1e-4:.4f}"),
]
CHANGES = [
    ("a float, relatively 1e-3", ("loss_pytorch",), lambda value: value * (1 + 1e-3)),
    ("a token id", ("tokens", 0, "predicted_id"), lambda value: value + 1),
    ("a candidate's token", ("tokens", 3, "top", 0, 1), lambda token: token + "x"),
    ("a ✓", ("tokens", 0, "correct"), lambda value: not value),
    ("a target's rank by two", ("tokens", 2, "target_rank"), lambda value: value + 2),
    ("a shape", ("logits_shape", 0), lambda value: value + 1),
    ("a number of a tensor print", ("tensors", "logits", "text"), lambda text: text.replace("0.10", "0.12", 1)),
    ("a tensor print's precision", ("tensors", "logits", "text"), lambda text: text.replace("0.10", "0.101", 1)),
    ("a tensor print's notation", ("tensors", "probas", "text"), lambda text: text.replace("1.86e-05", "0.0000186", 1)),
    ("a loss's precision in the bug lab", ("extras", "bug_lab", "softmax_before_ce", "details", "buggy loss"),
     lambda text: f"{float(text):.3f}"),
    ("a word of a tensor print", ("tensors", "logits", "text"), lambda text: text.replace("tensor", "Tensor", 1)),
    ("a shape in the bug lab", ("extras", "bug_lab", "forgot_flatten", "details", "logits"),
     lambda text: text.replace("8", "9", 1)),
    ("a word in the bug lab", ("extras", "bug_lab", "log_of_softmax", "explanation"),
     lambda text: text.replace("finite", "infinite", 1)),
    ("a finite loss for inf", ("extras", "bug_lab", "log_of_softmax", "loss"), lambda value: 1e30),
]


@pytest.mark.parametrize(("what", "path", "change"), ROUNDING, ids=[case[0] for case in ROUNDING])
def test_rounding_on_another_cpu_passes(data, what, path, change):
    rounded = changed(data, path, change)
    assert rounded != data, f"the test's change did not apply: {what}"
    assert report_differences(rounded, data) == []


@pytest.mark.parametrize(("what", "path", "change"), CHANGES, ids=[case[0] for case in CHANGES])
def test_a_real_change_fails(data, what, path, change):
    different = changed(data, path, change)
    assert different != data, f"the test's change did not apply: {what}"
    assert report_differences(different, data) != []
