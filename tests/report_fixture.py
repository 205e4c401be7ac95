"""Committed reports (tests/fixtures/*.json) for the tests that draw numbers, and comparing reports within a
tolerance.

A forward pass rounds differently on different CPUs (matmul kernels sum in another order), so the last
digits of its floats differ from one machine to the next. Snapshot tests therefore draw a report made once
by the real model and committed as data (`FixedReportEngine`), and `tests/test_report_fixture.py` checks that
the model still computes it, within `assert_reports_close`'s tolerance.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from functools import lru_cache
from pathlib import Path

from tutor.core.protocol import EngineError, Request
from tutor.core.report import Report
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, describe, read_text_file
from tutor.engine.in_process import InProcessEngine

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT_REPORT_PATH = FIXTURES / "default_report.json"

REL_TOL = 1e-4
ABS_TOL = 1e-6
TARGET_RANK_SLACK = 1  # a rank counts the probabilities above the target's: a near tie may fall either way


def default_request() -> Request:
    """What the app asks for at its first start: the sample story at the default settings."""
    loaded = read_text_file(SAMPLE_TEXT_PATH)
    return Request(text=loaded.text, settings=Settings(), source=describe(loaded))


def request_key(request: Request) -> dict:
    """A request as the fixture stores it: the text by its SHA-256, so the file stays small."""
    return {
        "text_sha256": hashlib.sha256(request.text.encode("utf-8")).hexdigest(),
        "settings": request.settings.to_dict(),
        "source": request.source,
    }


def write_fixture(path: Path, request: Request, report: Report) -> None:
    data = {"request": request_key(request), "report": report.to_data()}
    # never sort_keys: the order of a report's dicts is the order things are shown in (the bug lab's list)
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def read_fixture(path: Path) -> tuple[dict, dict]:
    """(the request key, the report as data) stored in a fixture file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["request"], data["report"]


@lru_cache(maxsize=None)
def load_fixture(path: Path) -> tuple[dict, Report]:
    key, report_data = read_fixture(path)
    return key, Report.from_data(report_data)


class FixedReportEngine(InProcessEngine):
    """Serves committed reports and never runs the model: for snapshot tests, whose pictures must not depend on
    how this CPU rounds. A request with no fixture fails the computation (the app shows the error) and is
    recorded in `unexpected`, which the snapshot tests check after each test."""

    fixture_paths: tuple[Path, ...] = (DEFAULT_REPORT_PATH,)
    unexpected: list[Request] = []

    def compute(self, request: Request) -> Report:
        key = request_key(request)
        for path in self.fixture_paths:
            stored_key, report = load_fixture(path)
            if stored_key == key:
                return report
        FixedReportEngine.unexpected.append(request)
        raise EngineError(
            f"FixedReportEngine has no committed report for {request.source!r} at {request.settings}; "
            f"add one to tests/fixtures/ (see tests/test_report_fixture.py)"
        )


# ----- comparing a live report with a committed one -------------------------------------------------

# A number as torch's print and format_number write it: -1,234.5678, 2.96e-05, 412,345, 7.
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _last_place(number: str) -> float:
    """One unit in the last printed digit of a number with a fraction or an exponent (0 for a whole number:
    counts and shapes are compared with the relative tolerance alone)."""
    mantissa, _, exponent = number.lower().partition("e")
    if "." not in mantissa and not exponent:
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _form(number: str) -> tuple[int | None, bool]:
    """How a number is written: its count of decimals (None without a point), and whether it has an exponent."""
    mantissa, _, exponent = number.lower().partition("e")
    return (len(mantissa.partition(".")[2]) if "." in mantissa else None), bool(exponent)


def _numbers_close(actual: str, expected: str) -> bool:
    a, b = float(actual.replace(",", "")), float(expected.replace(",", ""))
    slack = max(_last_place(actual), _last_place(expected))  # a digit printed from a rounded value may flip
    return abs(a - b) <= slack + max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


def _split_numbers(text: str) -> tuple[list[str], list[str]]:
    """The numbers in a text, and the text between them."""
    return _NUMBER.findall(text), _NUMBER.split(text)


def _text_problem(actual: str, expected: str, *, ignore_spacing: bool) -> str | None:
    actual_numbers, actual_words = _split_numbers(actual)
    expected_numbers, expected_words = _split_numbers(expected)
    if ignore_spacing:  # torch pads a print's columns to its widest number, which a flipped digit can change
        actual_words = ["".join(word.split()) for word in actual_words]
        expected_words = ["".join(word.split()) for word in expected_words]
    if actual_words != expected_words:
        return "the text around the numbers differs"
    for a, b in zip(actual_numbers, expected_numbers):
        if _form(a) != _form(b):  # another precision or notation is a change, not rounding
            return f"{a} is written otherwise than {b}"
        if not _numbers_close(a, b):
            return f"{a} is not close to {b}"
    return None


def _is_number_text(path: tuple) -> bool:
    """Texts that print live numbers: torch's prints of the tensors and the bug lab's texts."""
    if len(path) == 3 and path[0] == "tensors" and path[2] == "text":
        return True
    return len(path) >= 4 and path[:2] == ("extras", "bug_lab") and path[3] in ("explanation", "error", "details")


def report_differences(actual, expected, path: tuple = ()) -> list[str]:
    """Where two reports' data (`Report.to_data()`) differ beyond what rounding on another CPU explains: ints,
    strings and token ids exactly; floats within REL_TOL (ABS_TOL near 0); a target's rank within
    TARGET_RANK_SLACK; the printed tensors and the bug lab's texts number by number, each written the same way
    (decimals, exponent) and within one unit of its last printed digit plus the tolerance, and the words
    between the numbers exactly (a tensor print's spacing aside)."""
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".") or "report"
    if isinstance(expected, dict) and isinstance(actual, dict):
        if list(actual) != list(expected):  # in the same order too: it is the order they are shown in
            return [f"{where}: keys {list(actual)} instead of {list(expected)}"]
        return [problem for key in expected for problem in report_differences(actual[key], expected[key], (*path, key))]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return [f"{where}: {len(actual)} items instead of {len(expected)}"]
        return [
            problem
            for index, (a, b) in enumerate(zip(actual, expected))
            for problem in report_differences(a, b, (*path, index))
        ]
    if type(actual) is float and type(expected) is float:
        close = math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        return [] if close else [f"{where}: {actual!r} is not close to {expected!r}"]
    if type(actual) is int and type(expected) is int and path[-1:] == ("target_rank",):
        close = abs(actual - expected) <= TARGET_RANK_SLACK
        return [] if close else [f"{where}: rank {actual} instead of {expected}"]
    if type(actual) is str and type(expected) is str and _is_number_text(path):
        problem = _text_problem(actual, expected, ignore_spacing=path[0] == "tensors")
        return [] if problem is None else [f"{where}: {problem}:\n  {actual!r}\n  {expected!r}"]
    if type(actual) is not type(expected) or actual != expected:
        return [f"{where}: {actual!r} instead of {expected!r}"]
    return []


def assert_reports_close(actual: Report | dict, expected: Report | dict) -> None:
    """`report_differences` as an assertion; reports or their `to_data()`."""
    actual_data = actual.to_data() if isinstance(actual, Report) else actual
    expected_data = expected.to_data() if isinstance(expected, Report) else expected
    problems = report_differences(actual_data, expected_data)
    assert not problems, f"{len(problems)} difference(s):\n" + "\n".join(problems[:20])
