"""Lessons are Markdown files with YAML front matter, read from `lessons/` (or a folder an instructor
names). A broken file becomes a `LessonProblem` naming the file and line; the other lessons still load.

Front matter fields:
    id, title          required
    stage              which part of the walkthrough it shows (see STAGES)
    panes              which panes to show (see PANES), in order
    tensors            names of the tensors the tensor pane lists (see report.TENSOR_NAMES)
    code               the PyTorch code of this step, run for real by the tests
    checks             predict-then-reveal questions whose answers are live values
The body may name live values as {{ name }} or {{ name:.3f }}; they are filled in from this run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import yaml

from tutor.report import TENSOR_NAMES, VALUE_NAMES

STAGES = ("overview", "tokens", "forward", "probabilities", "log_probs", "loss", "perplexity", "recap", "bug_lab", "heatmap")
PANES = ("explanation", "code", "tensors", "tokens", "heatmap", "bug_lab")
CHECK_KINDS = ("number", "shape", "choice")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*([^}]*?))?\s*\}\}")
PENDING = "…"


def builtin_lessons_dir() -> Path:
    return Path(str(files("tutor.lesson_files")))


@dataclass(frozen=True)
class Check:
    id: str
    question: str
    kind: str  # number, shape or choice
    answer: str  # the name of the live value that is the answer
    tolerance: float = 0.0  # for numbers: relative tolerance, e.g. 0.05 = within 5 %
    choices: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    explanation: str = ""  # shown after a wrong answer, may hold {{ placeholders }}


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    number: int
    path: Path
    stage: str
    panes: tuple[str, ...]
    tensors: tuple[str, ...]
    code: str
    body: str
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class LessonProblem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path.name}, line {self.line}" if self.line else self.path.name
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LessonSet:
    lessons: tuple[Lesson, ...]
    problems: tuple[LessonProblem, ...] = field(default=())

    def index_of(self, lesson_id: str) -> int | None:
        for index, lesson in enumerate(self.lessons):
            if lesson.id == lesson_id:
                return index
        return None


class _Invalid(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def load_lessons(folder: Path | None = None) -> LessonSet:
    """Every `*.md` lesson in `folder`, ordered by file name; problems are collected, not raised."""
    folder = folder or builtin_lessons_dir()
    lessons: list[Lesson] = []
    problems: list[LessonProblem] = []
    seen_ids: dict[str, Path] = {}
    for path in sorted(folder.glob("*.md")):
        try:
            lesson = parse_lesson(path, number=len(lessons))
            if lesson.id in seen_ids:
                raise _Invalid(f"id {lesson.id!r} is already used by {seen_ids[lesson.id].name}", 1)
        except _Invalid as problem:
            problems.append(LessonProblem(path, problem.line, str(problem)))
            continue
        seen_ids[lesson.id] = path
        lessons.append(lesson)
    if not lessons and not problems:
        problems.append(LessonProblem(folder, None, "no lesson files (*.md) in this folder"))
    return LessonSet(tuple(lessons), tuple(problems))


def parse_lesson(path: Path, number: int = 0) -> Lesson:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _Invalid(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise _Invalid(f"cannot read: {error.strerror or error}") from None
    front, body, body_line = _split_front_matter(source)
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else None  # +1 for the opening ---, +1 as marks count from 0
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise _Invalid(f"front matter is not valid YAML: {reason}", line) from None
    if not isinstance(meta, dict):
        raise _Invalid("front matter must be a set of `key: value` lines", 2)

    def line_of(key: str) -> int | None:
        match = re.search(rf"^\s*-?\s*{re.escape(key)}\s*:", front, re.MULTILINE)
        return front[: match.start()].count("\n") + 2 if match else None

    unknown = set(meta) - {"id", "title", "stage", "panes", "tensors", "code", "checks"}
    if unknown:
        key = sorted(unknown)[0]
        raise _Invalid(f"unknown field {key!r}", line_of(key))
    for key in ("id", "title"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise _Invalid(f"{key!r} is required and must be text", line_of(key) or 2)
    stage = meta.get("stage", "overview")
    if stage not in STAGES:
        raise _Invalid(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}", line_of("stage"))
    panes = _names(meta.get("panes", ["explanation"]), "panes", PANES, line_of("panes"))
    if "explanation" not in panes:
        panes = ("explanation", *panes)
    tensors = _names(meta.get("tensors", []), "tensors", TENSOR_NAMES, line_of("tensors"))
    code = meta.get("code", "")
    if not isinstance(code, str):
        raise _Invalid("'code' must be text (use `code: |` and indent the lines)", line_of("code"))
    if code.strip():
        try:
            compile(code, f"{path.name}:code", "exec")
        except SyntaxError as error:
            raise _Invalid(f"the code does not parse: {error.msg} (code line {error.lineno})", line_of("code")) from None
    _check_placeholders(body, lambda offset: body_line + body[:offset].count("\n"))
    checks = tuple(_parse_check(raw, index, line_of) for index, raw in enumerate(meta.get("checks") or []))
    return Lesson(
        id=meta["id"].strip(),
        title=meta["title"].strip(),
        number=number,
        path=path,
        stage=stage,
        panes=panes,
        tensors=tensors,
        code=code.strip("\n"),
        body=body.strip("\n"),
        checks=checks,
    )


def _split_front_matter(source: str) -> tuple[str, str, int]:
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _Invalid("a lesson must start with a `---` line, then its front matter, then `---`", 1)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise _Invalid("the front matter is never closed: add a `---` line after it", 1)


def _names(value, key: str, allowed: tuple[str, ...], line: int | None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(f"{key!r} must be a list of names", line)
    for item in value:
        if item not in allowed:
            raise _Invalid(f"unknown {key[:-1]} {item!r} in {key!r}; use one of {', '.join(allowed)}", line)
    return tuple(value)


def _check_placeholders(text: str, line_at) -> None:
    for match in PLACEHOLDER.finditer(text):
        name, spec = match.group(1), match.group(2)
        if name not in VALUE_NAMES:
            raise _Invalid(f"unknown live value {{{{ {name} }}}}; known values: {', '.join(sorted(VALUE_NAMES))}", line_at(match.start()))
        if spec:
            try:
                format(1.5, spec)
            except ValueError:
                raise _Invalid(f"bad number format {spec!r} in {{{{ {name}:{spec} }}}}", line_at(match.start())) from None


def _parse_check(raw, index: int, line_of) -> Check:
    line = line_of("question")
    if not isinstance(raw, dict):
        raise _Invalid(f"check {index + 1} must be a set of `key: value` lines", line_of("checks"))
    check_id = str(raw.get("id") or f"check-{index + 1}")
    line = line_of(f"id: {check_id}") or line_of("checks")
    for key in ("question", "kind", "answer"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _Invalid(f"check {check_id!r}: {key!r} is required and must be text", line)
    unknown = set(raw) - {"id", "question", "kind", "answer", "tolerance", "choices", "hints", "explanation"}
    if unknown:
        raise _Invalid(f"check {check_id!r}: unknown field {sorted(unknown)[0]!r}", line)
    kind = raw["kind"]
    if kind not in CHECK_KINDS:
        raise _Invalid(f"check {check_id!r}: kind must be one of {', '.join(CHECK_KINDS)}; got {kind!r}", line)
    if raw["answer"] not in VALUE_NAMES:
        raise _Invalid(
            f"check {check_id!r}: the answer must name a live value, one of {', '.join(sorted(VALUE_NAMES))}; "
            f"got {raw['answer']!r}", line,
        )
    tolerance = raw.get("tolerance", 0.0)
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or tolerance < 0 or math.isnan(tolerance):
        raise _Invalid(f"check {check_id!r}: tolerance must be a number of 0 or more", line)
    choices = raw.get("choices", [])
    if kind == "choice" and (not isinstance(choices, list) or len(choices) < 2):
        raise _Invalid(f"check {check_id!r}: a choice check needs a list of at least two choices", line)
    hints = raw.get("hints", [])
    if isinstance(hints, str):
        hints = [hints]
    if not isinstance(hints, list):
        raise _Invalid(f"check {check_id!r}: hints must be a list of text", line)
    explanation = raw.get("explanation", "")
    _check_placeholders(str(explanation), lambda offset: line)
    for hint in hints:
        _check_placeholders(str(hint), lambda offset: line)
    return Check(
        id=check_id,
        question=raw["question"].strip(),
        kind=kind,
        answer=raw["answer"],
        tolerance=float(tolerance),
        choices=tuple(str(choice) for choice in choices),
        hints=tuple(str(hint) for hint in hints),
        explanation=str(explanation).strip(),
    )


def format_value(value: object, spec: str | None = None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if spec:
            return format(value, spec)
        return f"{value:,.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    if isinstance(value, int):
        return format(value, spec) if spec else f"{value:,}"
    if isinstance(value, tuple):
        return "(" + ", ".join(str(item) for item in value) + ")"
    return str(value)


def fill_placeholders(text: str, values: dict[str, object] | None) -> str:
    """Put this run's numbers into `text`; before they are computed each shows as `…`."""

    def replace(match: re.Match) -> str:
        if values is None or match.group(1) not in values:
            return PENDING
        return format_value(values[match.group(1)], match.group(2))

    return PLACEHOLDER.sub(replace, text)
