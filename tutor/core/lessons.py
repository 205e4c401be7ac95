"""Lessons are Markdown files with YAML front matter, read from `lessons/` (or a folder an instructor
names). A broken file becomes a `LessonProblem` naming the file and line; the other lessons still load.
A file over MAX_LESSON_BYTES, or one that is not a regular file, is such a problem, and is not read.

Front matter fields:
    id, title          required
    stage              which part of the walkthrough it shows (see STAGES)
    panes              which panes to show (see PANES), in order
    tensors            names of the tensors the tensor pane lists (see report.TENSOR_NAMES)
    code               the PyTorch code of this step, run for real by the tests; its comments may name
                       live values, e.g. `# {{ model_code }}` (how `model` got its weights)
    checks             predict-then-reveal questions whose answers are live values: a list of
                       mappings with id, question, kind, answer, tolerance, choices, hints, explanation
The body may name live values as {{ name }} or {{ name:.3f }}; they are filled in from this run. A count may
carry its noun, singular and plural, as {{ batch_size:row/rows }}: "1 row", "2 rows". So may a check's
question, hints and explanation, but only the explanation (shown after answering) its own answer.
"""

from __future__ import annotations

import math
import os
import re
import stat
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tutor.core.formatting import safe_to_draw
from tutor.core.report import TENSOR_NAMES, VALUE_NAMES

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it: 10× faster

STAGES = ("overview", "tokens", "forward", "probabilities", "log_probs", "loss", "perplexity", "recap", "bug_lab", "heatmap",
          "training", "generation")
# overfit, train_text and generate are the labs (tutor/core/lab.py): they train and generate on the engine
PANES = ("explanation", "code", "tensors", "tokens", "heatmap", "bug_lab", "overfit", "train_text", "generate")
CHECK_KINDS = ("number", "shape", "choice")
FIELDS = ("id", "title", "stage", "panes", "tensors", "code", "checks")
CHECK_FIELDS = ("id", "question", "kind", "answer", "tolerance", "choices", "hints", "explanation")
# The format after `:` runs to the `}}` and is stripped after matching. No braces inside and no two
# repeats next to each other that could take the same characters: the search never backtracks far, so
# it stays linear in the text (`\s*([^}]*?)\s*` took cubic time on `{{ a:` and a run of spaces).
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::([^{}]*))?\}\}")
PENDING = "…"
NO_LESSON_FILES = "no lesson files (*.md) in this folder"
MAX_LESSON_BYTES = 100_000  # 40 times the longest shipped lesson; a bigger one is refused unread
NOUN = re.compile(r"[A-Za-z]+(?:[ -][A-Za-z]+)*")  # a noun of a placeholder's `row/rows`
MAX_FORMAT_NUMBER = 50  # the widest width or precision a placeholder's number format may ask for
MAX_CODE_CHARS = 10_000  # a lesson's code is a few lines of PyTorch; the longest shipped is 318


def builtin_lessons_dir() -> Path:
    import tutor.lesson_files  # the lessons/ folder, installed as a package (importlib.resources costs 7 ms)

    return Path(tutor.lesson_files.__path__[0])


@dataclass(frozen=True)
class Check:
    id: str
    question: str  # may hold {{ placeholders }}, but not of its own answer
    kind: str  # number, shape or choice
    answer: str  # the name of the live value that is the answer
    tolerance: float = 0.0  # for numbers: relative tolerance, e.g. 0.05 = within 5 %
    choices: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()  # like the question
    explanation: str = ""  # shown after an answer, right or wrong; may hold {{ placeholders }}


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

    @property
    def folder_is_empty(self) -> bool:
        """No lesson file at all, as opposed to lesson files that all have problems."""
        return not self.lessons and any(problem.message == NO_LESSON_FILES for problem in self.problems)

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
    taken_ids: dict[str, Path] = {}
    for path in sorted(folder.glob("*.md")):
        try:
            lesson = parse_lesson(path, number=len(lessons), taken_ids=taken_ids)
        except _Invalid as problem:
            problems.append(LessonProblem(path, problem.line, str(problem)))
            continue
        taken_ids[lesson.id] = path
        lessons.append(lesson)
    if not lessons and not problems:
        problems.append(LessonProblem(folder, None, NO_LESSON_FILES))
    return LessonSet(tuple(lessons), tuple(problems))


def parse_lesson(path: Path, number: int = 0, taken_ids: dict[str, Path] | None = None) -> Lesson:
    """One lesson file; raises `_Invalid` (message and file line) for the first problem found.
    `taken_ids` maps the ids of lessons already loaded to their files."""
    front, body, body_line = _split_front_matter(_read(path))
    loader = YAML_LOADER(front)
    try:
        node = loader.get_single_node()  # the nodes know their lines
        meta = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise _Invalid(f"front matter is not valid YAML: {reason}", _line(mark) if mark else None) from None
    finally:
        loader.dispose()
    if not isinstance(node, yaml.MappingNode) or not isinstance(meta, dict):
        raise _Invalid("front matter must be a set of `key: value` lines", _line(node.start_mark) if node else 2)
    fields = _Fields(node, FIELDS)
    for key in ("id", "title"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise _Invalid(f"{key!r} is required and must be text", fields.line_of(key))
    lesson_id = safe_to_draw(meta["id"].strip())
    if taken_ids and lesson_id in taken_ids:
        raise _Invalid(f"id {lesson_id!r} is already used by {taken_ids[lesson_id].name}", fields.line_of("id"))
    stage = meta.get("stage", "overview")
    if stage not in STAGES:
        raise _Invalid(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}", fields.line_of("stage"))
    panes = _names(meta.get("panes", ["explanation"]), "panes", PANES, fields)
    if "explanation" not in panes:
        panes = ("explanation", *panes)
    tensors = _names(meta.get("tensors", []), "tensors", TENSOR_NAMES, fields)
    code = meta.get("code", "")
    if not isinstance(code, str):
        raise _Invalid("'code' must be text (use `code: |` and indent the lines)", fields.line_of("code"))
    if code.strip():
        _check_code(code, fields)
    _check_placeholders(body, _line_finder(body, body_line))
    raw_checks = [] if meta.get("checks") is None else meta["checks"]
    if not isinstance(raw_checks, list):
        raise _Invalid("'checks' must be a list of checks, each starting with `- id: …`", fields.line_of("checks"))
    checks: list[Check] = []
    for index, raw in enumerate(raw_checks):
        item = fields.values["checks"].value[index]
        checks.append(_parse_check(raw, item, index + 1, {check.id for check in checks}))
    return Lesson(
        id=lesson_id,
        title=safe_to_draw(meta["title"].strip()),
        number=number,
        path=path,
        stage=stage,
        panes=panes,
        tensors=tensors,
        code=code.strip("\n"),
        body=safe_to_draw(body.strip("\n")),
        checks=tuple(checks),
    )


def _read(path: Path) -> str:
    """The file's text. Only a regular file is read (a FIFO would block), and at most MAX_LESSON_BYTES of it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise _Invalid(f"cannot read: {error.strerror or error}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                raise _Invalid("not a regular file; a lesson must be a plain text file")
            if status.st_size > MAX_LESSON_BYTES:
                raise _Invalid(_too_big(status.st_size))
            data = file.read(MAX_LESSON_BYTES + 1)  # it may have grown since
        except OSError as error:
            raise _Invalid(f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_LESSON_BYTES:
        raise _Invalid(_too_big(len(data)))
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _Invalid(f"not UTF-8 text ({error.reason} at byte {error.start})", line) from None


def _too_big(size: int) -> str:
    return f"the file has {size:,} bytes; a lesson file may have at most {MAX_LESSON_BYTES:,}"


def _split_front_matter(source: str) -> tuple[str, str, int]:
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _Invalid("a lesson must start with a `---` line, then its front matter, then `---`", 1)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise _Invalid("the front matter is never closed: add a `---` line after it", 1)


def _line(mark: yaml.Mark) -> int:
    """The file line of a place in the front matter: +1 for the opening `---`, +1 as marks count from 0."""
    return mark.line + 2


class _Fields:
    """The keys of a YAML mapping node with their file lines and value nodes, to point problems at lines.
    An unknown or repeated key is a problem; `where` starts those messages (e.g. "check 'x': ")."""

    def __init__(self, node: yaml.MappingNode, allowed: tuple[str, ...], where: str = ""):
        self.line = _line(node.start_mark)
        self.lines: dict[str, int] = {}
        self.values: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in allowed:
                raise _Invalid(f"{where}unknown field {name!r}; use one of {', '.join(allowed)}", _line(key.start_mark))
            if name in self.lines:
                raise _Invalid(f"{where}{name!r} is given twice", _line(key.start_mark))
            self.lines[name], self.values[name] = _line(key.start_mark), value

    def line_of(self, key: str) -> int:
        """The line of `key`, or where the mapping starts if it has no such key."""
        return self.lines.get(key, self.line)

    def item_line(self, key: str, index: int) -> int:
        """The line of item `index` of the list under `key` (the key's line if it is not a list)."""
        node = self.values.get(key)
        if isinstance(node, yaml.SequenceNode) and index < len(node.value):
            return _line(node.value[index].start_mark)
        return self.line_of(key)


def _names(value, key: str, allowed: tuple[str, ...], fields: _Fields) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(f"{key!r} must be a list of names", fields.line_of(key))
    for index, item in enumerate(value):
        if item not in allowed:
            message = f"unknown {key[:-1]} {item!r} in {key!r}; use one of {', '.join(allowed)}"
            raise _Invalid(message, fields.item_line(key, index))
    return tuple(value)


def _check_code(code: str, fields: _Fields) -> None:
    """The code must compile, and its {{ placeholders }} name live values. Its size is bounded first, so checking
    a lesson costs little whatever it holds."""
    if len(code) > MAX_CODE_CHARS:
        raise _Invalid(
            f"the code is {len(code):,} characters long; a lesson's code may have at most {MAX_CODE_CHARS:,}",
            fields.line_of("code"),
        )
    try:
        compile(code, "code", "exec")
    except (RecursionError, MemoryError):  # nested deeper than the compiler (or its parser's stack) goes
        raise _Invalid("the code is nested too deeply to compile; split it into simpler statements",
                       fields.line_of("code")) from None
    except (SyntaxError, ValueError) as error:  # ValueError: a null byte
        line, code_line = fields.line_of("code"), getattr(error, "lineno", None)
        if code_line and fields.values["code"].style == "|":  # a literal block: its lines start below the `|`
            line = _line(fields.values["code"].start_mark) + code_line
        reason = getattr(error, "msg", None) or str(error)
        raise _Invalid(f"the code does not parse: {reason} (code line {code_line or 1})", line) from None
    block = fields.values["code"]
    if block.style == "|":  # a literal block: its lines start below the `|`
        line_at = _line_finder(code, _line(block.start_mark) + 1)
    else:
        line_at = lambda offset: fields.line_of("code")  # noqa: E731
    _check_placeholders(code, line_at, "the code: ")


def _noun_forms(spec: str) -> tuple[str, str] | None:
    """The singular and plural noun of a spec such as `row/rows` or `token id/token ids`, or None."""
    singular, slash, plural = spec.partition("/")
    singular, plural = singular.strip(), plural.strip()
    if slash and NOUN.fullmatch(singular) and NOUN.fullmatch(plural):
        return singular, plural
    return None


def _is_format(spec: str) -> bool:
    """Whether `spec` formats a number: an int (`d`) or a float (`.3f`), either will do. Widths and
    precisions over MAX_FORMAT_NUMBER are refused: `.99999999f` alone makes a 100 MB string."""
    if any(len(number) > 3 or int(number) > MAX_FORMAT_NUMBER for number in re.findall(r"[0-9]+", spec)):
        return False
    for sample in (1, 1.5):
        try:
            format(sample, spec)
            return True
        except ValueError:
            pass
    return False


def _spec(match: re.Match) -> str | None:
    """The number format of a placeholder match (`.3f`), or None."""
    spec = match.group(2)
    return spec.strip() if spec is not None else None


def _line_finder(text: str, first_line: int) -> Callable[[int], int]:
    """The file line of an offset in `text`, whose first line is file line `first_line`. The line starts are
    found once, then each offset costs a binary search (counting newlines per offset was quadratic)."""
    line_starts = [match.end() for match in re.finditer("\n", text)]
    return lambda offset: first_line + bisect_right(line_starts, offset)


def _check_placeholders(text: str, line_at, where: str = "", answer: str | None = None) -> None:
    """Every {{ name }} in `text` must name a live value in a valid format, and not `answer` (a check's own)."""
    for match in PLACEHOLDER.finditer(text):
        name, spec, line = match.group(1), _spec(match), line_at(match.start())
        if name not in VALUE_NAMES:
            raise _Invalid(f"{where}unknown live value {{{{ {name} }}}}; known values: {', '.join(sorted(VALUE_NAMES))}", line)
        if spec and not (_noun_forms(spec) or _is_format(spec)):
            raise _Invalid(f"{where}bad number format {spec[:40]!r} in {{{{ {name} }}}}; use e.g. .3f (widths and "
                           f"precisions up to {MAX_FORMAT_NUMBER}), or row/rows for a count and its noun", line)
        if name == answer:
            raise _Invalid(
                f"{where}{{{{ {name} }}}} is this check's answer: showing it gives the answer away "
                "(only the explanation, shown after answering, may use it)", line,
            )


def _parse_check(raw, node: yaml.Node, number: int, taken_ids: set[str]) -> Check:
    if not isinstance(raw, dict) or not isinstance(node, yaml.MappingNode):
        raise _Invalid(f"check {number} must be a set of `key: value` lines", _line(node.start_mark))
    check_id = safe_to_draw(str(raw.get("id") or f"check-{number}").strip())
    where = f"check {check_id!r}: "
    fields = _Fields(node, CHECK_FIELDS, where)
    if check_id in taken_ids:
        raise _Invalid(f"{where}another check of this lesson has the same id; give each its own", fields.line_of("id"))
    for key in ("question", "kind", "answer"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _Invalid(f"{where}{key!r} is required and must be text", fields.line_of(key))
    kind, answer = raw["kind"], raw["answer"]
    if kind not in CHECK_KINDS:
        raise _Invalid(f"{where}kind must be one of {', '.join(CHECK_KINDS)}; got {kind!r}", fields.line_of("kind"))
    if answer not in VALUE_NAMES:
        raise _Invalid(
            f"{where}the answer must name a live value, one of {', '.join(sorted(VALUE_NAMES))}; got {answer!r}",
            fields.line_of("answer"),
        )
    tolerance = raw.get("tolerance", 0.0)
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 <= tolerance < math.inf:
        raise _Invalid(f"{where}tolerance must be a number of 0 or more", fields.line_of("tolerance"))
    choices = raw.get("choices", [])
    if kind == "choice" and (not isinstance(choices, list) or len(choices) < 2):
        raise _Invalid(f"{where}a choice check needs a list of at least two choices", fields.line_of("choices"))
    hints = raw.get("hints", [])
    if isinstance(hints, str):
        hints = [hints]
    if not isinstance(hints, list) or not all(isinstance(hint, str) for hint in hints):
        raise _Invalid(f"{where}hints must be a list of text", fields.line_of("hints"))
    explanation = raw.get("explanation", "")
    if not isinstance(explanation, str):
        raise _Invalid(f"{where}the explanation must be text", fields.line_of("explanation"))
    question_line = fields.line_of("question")
    _check_placeholders(raw["question"], lambda offset: question_line, f"{where}question: ", answer)
    for index, hint in enumerate(hints):
        hint_line = fields.item_line("hints", index)
        _check_placeholders(hint, lambda offset: hint_line, f"{where}hint {index + 1}: ", answer)
    explanation_line = fields.line_of("explanation")
    _check_placeholders(explanation, lambda offset: explanation_line, f"{where}explanation: ")
    return Check(
        id=check_id,
        question=safe_to_draw(raw["question"].strip()),
        kind=kind,
        answer=answer,
        tolerance=float(tolerance),
        choices=tuple(safe_to_draw(str(choice)) for choice in choices),
        hints=tuple(safe_to_draw(hint) for hint in hints),
        explanation=safe_to_draw(explanation.strip()),
    )


def format_value(value: object, spec: str | None = None) -> str:
    """A live value as text; `spec` (e.g. `.3f`) formats a number, or is skipped if it does not fit its type."""
    if spec and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return format(value, spec)
        except ValueError:  # e.g. `:d` for a float: show it the default way
            pass
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return "(" + ", ".join(str(item) for item in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def fill_placeholders(text: str, values: dict[str, object] | None) -> str:
    """Put this run's numbers into `text`; before they are computed each shows as `…`."""

    def replace(match: re.Match) -> str:
        if values is None or match.group(1) not in values:
            return PENDING
        value, spec = values[match.group(1)], _spec(match)
        nouns = _noun_forms(spec) if spec else None
        if nouns is not None:
            is_one = value == 1 and isinstance(value, int) and not isinstance(value, bool)
            return safe_to_draw(f"{format_value(value)} {nouns[0] if is_one else nouns[1]}")
        return safe_to_draw(format_value(value, spec))  # e.g. the learner's text

    return PLACEHOLDER.sub(replace, text)
