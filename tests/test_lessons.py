"""Loading lesson files: every problem is collected with its file and exact line, and the other lessons
still load; placeholders are checked at load and filled from live values. Uses small files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutor.core.lessons import PENDING, LessonProblem, fill_placeholders, format_value, load_lessons

GOOD = """\
---
id: good
title: A good lesson
---
Batch size {{ batch_size }}.
"""

# A lesson with two checks; the line numbers are in the comments of the tests that use them.
WITH_CHECKS = """\
---
id: checked
title: With checks
stage: forward
panes: [code, tensors]
tensors: [logits]
code: |
  logits = model(inputs)
checks:
  - id: logits-shape
    question: What shape will logits have, with {{ batch_size }} rows?
    kind: shape
    answer: logits_shape
    hints:
      - "One row per window: {{ batch_size }} of them."
      - Then one column per token.
    explanation: It is {{ logits_shape }}.
  - id: right-count
    question: How many right?
    kind: number
    tolerance: 0.5
    answer: correct_count
    explanation: "{{ correct_count:d }} of {{ position_count }}."
---
Some text.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def only_problem(tmp_path: Path, text: str) -> LessonProblem:
    """Load `text` next to a good lesson: the good one must still load, and `text` give exactly one problem."""
    write(tmp_path, "00-good.md", GOOD)
    path = write(tmp_path, "01-broken.md", text)
    lesson_set = load_lessons(tmp_path)
    assert [lesson.id for lesson in lesson_set.lessons] == ["good"]
    assert len(lesson_set.problems) == 1, lesson_set.problems
    problem = lesson_set.problems[0]
    assert problem.path == path
    assert str(problem).startswith(f"01-broken.md, line {problem.line}: " if problem.line else "01-broken.md: ")
    return problem


def check_lesson(*check_lines: str) -> str:
    """A lesson whose front matter starts `checks:` at line 4, so its first check starts at line 5."""
    return "---\nid: c\ntitle: C\nchecks:\n" + "".join(line + "\n" for line in check_lines) + "---\nText.\n"


ONE_CHECK = (
    "  - id: a",                      # 5
    "    question: How big?",         # 6
    "    kind: number",               # 7
    "    answer: vocab_size",         # 8
)


# 1. a good lesson


def test_a_lesson_with_checks_loads_every_field(tmp_path):
    write(tmp_path, "01-checked.md", WITH_CHECKS)
    lesson_set = load_lessons(tmp_path)
    assert lesson_set.problems == ()
    (lesson,) = lesson_set.lessons
    assert (lesson.id, lesson.title, lesson.stage, lesson.number) == ("checked", "With checks", "forward", 0)
    assert lesson.panes == ("explanation", "code", "tensors")
    assert lesson.tensors == ("logits",)
    assert lesson.code == "logits = model(inputs)"
    assert lesson.body == "Some text."
    first, second = lesson.checks
    assert (first.id, first.kind, first.answer) == ("logits-shape", "shape", "logits_shape")
    assert first.question == "What shape will logits have, with {{ batch_size }} rows?"
    assert first.hints == ("One row per window: {{ batch_size }} of them.", "Then one column per token.")
    assert first.explanation == "It is {{ logits_shape }}."  # the explanation may show the answer
    assert (second.id, second.kind, second.tolerance) == ("right-count", "number", 0.5)


def test_lessons_are_numbered_in_file_name_order(tmp_path):
    write(tmp_path, "02-b.md", GOOD.replace("id: good", "id: b"))
    write(tmp_path, "01-a.md", GOOD.replace("id: good", "id: a"))
    lesson_set = load_lessons(tmp_path)
    assert [(lesson.id, lesson.number) for lesson in lesson_set.lessons] == [("a", 0), ("b", 1)]
    assert lesson_set.index_of("b") == 1 and lesson_set.index_of("zzz") is None


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    (tmp_path / "01-bom.md").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert [lesson.id for lesson in load_lessons(tmp_path).lessons] == ["good"]


# 2. whole-file problems, each with its exact line


@pytest.mark.parametrize(
    "text, line, words",
    [
        pytest.param("# No front matter\n", 1, "must start with a `---`", id="no-front-matter"),
        pytest.param("", 1, "must start with a `---`", id="empty-file"),
        pytest.param("---\nid: x\ntitle: y\nBody.\n", 1, "never closed", id="unclosed"),
        pytest.param("---\nid: x\ntitle: y\n  bad: indent\n---\n", 4, "not valid YAML", id="invalid-yaml"),
        pytest.param("---\nid: x\ntitle: \"y\nstage: z\n---\n", 5, "not valid YAML", id="unclosed-quote"),
        pytest.param("---\n- a\n- b\n---\n", 2, "`key: value` lines", id="a-list"),
        pytest.param("---\n# only a comment\n---\n", 2, "`key: value` lines", id="empty"),
        pytest.param("---\nid: x\ntitle: y\ncolour: red\n---\n", 4, "unknown field 'colour'", id="unknown-field"),
        pytest.param("---\nid: x\ntitle: y\nid: z\n---\n", 4, "'id' is given twice", id="repeated-field"),
        pytest.param("---\ntitle: y\nstage: tokens\n---\n", 2, "'id' is required", id="missing-id"),
        pytest.param("---\nid: x\ntitle: ''\n---\n", 3, "'title' is required", id="empty-title"),
        pytest.param("---\nid: x\ntitle: y\nstage: nowhere\n---\n", 4, "unknown stage 'nowhere'", id="stage"),
        pytest.param(
            "---\nid: x\ntitle: y\npanes:\n  - explanation\n  - nope\n---\n", 6, "unknown pane 'nope'", id="pane",
        ),
        pytest.param("---\nid: x\ntitle: y\ntensors: [inputs, nope]\n---\n", 4, "unknown tensor 'nope'", id="tensor"),
        pytest.param("---\nid: x\ntitle: y\ncode: 3\n---\n", 4, "'code' must be text", id="code-not-text"),
        pytest.param(
            "---\nid: x\ntitle: y\ncode: |\n  a = 1\n  b = (\n---\n", 6, "the code does not parse", id="code-block",
        ),
        pytest.param("---\nid: x\ntitle: y\ncode: 'a = ('\n---\n", 4, "the code does not parse", id="code-inline"),
        pytest.param(
            "---\nid: x\ntitle: y\ncode: |\n  a = 1\n  # {{ nope }}\n---\n", 6,
            "the code: unknown live value {{ nope }}", id="code-block-value",
        ),
        pytest.param(
            "---\nid: x\ntitle: y\ncode: '# {{ nope }}'\n---\n", 4, "the code: unknown live value", id="code-value",
        ),
        pytest.param("---\nid: x\ntitle: y\n---\nOne.\n\nTwo {{ nope }}.\n", 7, "unknown live value", id="body"),
        pytest.param("---\nid: x\ntitle: y\n---\n{{ loss_manual:q }}\n", 5, "bad number format", id="format"),
    ],
)
def test_each_broken_file_gives_one_problem_at_its_line(tmp_path, text, line, words):
    problem = only_problem(tmp_path, text)
    assert problem.line == line
    assert words in problem.message


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tmp_path):
    write(tmp_path, "00-good.md", GOOD)
    (tmp_path / "01-latin1.md").write_bytes("---\nid: x\ntitle: café\n---\n".encode("latin-1"))
    lesson_set = load_lessons(tmp_path)
    assert [lesson.id for lesson in lesson_set.lessons] == ["good"]
    (problem,) = lesson_set.problems
    assert (problem.path.name, problem.line) == ("01-latin1.md", 3)
    assert "not UTF-8" in problem.message


def test_a_second_file_with_the_same_id_is_a_problem_at_its_id_line(tmp_path):
    write(tmp_path, "01-first.md", GOOD)
    write(tmp_path, "02-second.md", "---\ntitle: Again\nid: good\n---\n")
    lesson_set = load_lessons(tmp_path)
    assert [lesson.path.name for lesson in lesson_set.lessons] == ["01-first.md"]
    (problem,) = lesson_set.problems
    assert (problem.path.name, problem.line) == ("02-second.md", 3)
    assert "already used by 01-first.md" in problem.message


def test_an_empty_folder_is_one_problem(tmp_path):
    lesson_set = load_lessons(tmp_path)
    assert lesson_set.lessons == ()
    (problem,) = lesson_set.problems
    assert problem.path == tmp_path and problem.line is None
    assert "no lesson files" in problem.message


def test_a_folder_of_only_broken_files_lists_just_their_problems(tmp_path):
    write(tmp_path, "01-a.md", "no front matter\n")
    write(tmp_path, "02-b.md", "---\nid: b\n---\n")
    lesson_set = load_lessons(tmp_path)
    assert lesson_set.lessons == ()
    assert [(problem.path.name, problem.line) for problem in lesson_set.problems] == [("01-a.md", 1), ("02-b.md", 2)]


# 3. problems inside checks, each at its exact line


@pytest.mark.parametrize(
    "check_lines, line, words",
    [
        pytest.param(("  hello",), 4, "'checks' must be a list", id="checks-text"),
        pytest.param(("  answer: vocab_size",), 4, "'checks' must be a list", id="checks-mapping"),
        pytest.param(("  - just words",), 5, "check 1 must be a set of `key: value` lines", id="check-text"),
        pytest.param((*ONE_CHECK, "  - [a, b]"), 9, "check 2 must be a set", id="second-check-list"),
        pytest.param(ONE_CHECK[:3], 5, "check 'a': 'answer' is required", id="missing-answer"),
        pytest.param(
            (*ONE_CHECK, "  - id: b", "    kind: number", "    answer: seed"), 9, "check 'b': 'question' is required",
            id="missing-question-in-second-check",
        ),
        pytest.param(
            (*ONE_CHECK[:2], "    kind: guess", ONE_CHECK[3]), 7, "check 'a': kind must be one of", id="kind",
        ),
        pytest.param((*ONE_CHECK[:3], "    answer: nope"), 8, "the answer must name a live value", id="answer"),
        pytest.param((*ONE_CHECK, "    colour: red"), 9, "check 'a': unknown field 'colour'", id="unknown-field"),
        pytest.param((*ONE_CHECK, "    kind: shape"), 9, "check 'a': 'kind' is given twice", id="repeated-field"),
        pytest.param((*ONE_CHECK, "    tolerance: -1"), 9, "tolerance must be a number of 0 or more", id="tolerance"),
        pytest.param(
            (*ONE_CHECK[:2], "    kind: choice", "    answer: loss_vs_uniform", "    choices: [lower]"),
            9, "at least two choices", id="one-choice",
        ),
        pytest.param((*ONE_CHECK, "    hints: 3"), 9, "hints must be a list of text", id="hints-not-text"),
        pytest.param((*ONE_CHECK, "    explanation: [a]"), 9, "explanation must be text", id="explanation-list"),
        pytest.param(
            (*ONE_CHECK, "  - id: a", "    question: Again?", "    kind: number", "    answer: seed"),
            9, "check 'a': another check of this lesson has the same id", id="repeated-id",
        ),
    ],
)
def test_each_broken_check_gives_one_problem_at_its_line(tmp_path, check_lines, line, words):
    problem = only_problem(tmp_path, check_lesson(*check_lines))
    assert problem.line == line
    assert words in problem.message


def test_a_repeated_id_is_found_on_a_line_that_is_not_the_first_of_its_check(tmp_path):
    problem = only_problem(
        tmp_path,
        check_lesson(
            *ONE_CHECK,
            "  - question: Again?",  # 9
            "    kind: number",      # 10
            "    id: a",             # 11
            "    answer: seed",      # 12
        ),
    )
    assert problem.line == 11


# 4. placeholders in checks


@pytest.mark.parametrize(
    "extra, line, words",
    [
        pytest.param(
            ("    hints:", "      - Think.", "      - 'About {{ nope }}.'"), 11, "check 'a': hint 2: unknown live value",
            id="hint-unknown",
        ),
        pytest.param(
            ("    hints: ['There are {{ vocab_size }}.']",), 9, "hint 1: {{ vocab_size }} is this check's answer",
            id="hint-gives-answer",
        ),
        pytest.param(("    explanation: '{{ nope }}'",), 9, "explanation: unknown live value", id="explanation-unknown"),
        pytest.param(
            ("    explanation: '{{ vocab_size:q }}'",), 9, "bad number format 'q'", id="explanation-format",
        ),
    ],
)
def test_placeholders_in_hints_and_explanations_are_checked_at_their_line(tmp_path, extra, line, words):
    problem = only_problem(tmp_path, check_lesson(*ONE_CHECK, *extra))
    assert problem.line == line
    assert words in problem.message


@pytest.mark.parametrize(
    "question, words",
    [
        pytest.param("With {{ nope }} tokens?", "question: unknown live value {{ nope }}", id="unknown"),
        pytest.param("Is it {{ batch_size:q }}?", "bad number format 'q'", id="format"),
        pytest.param("Is it {{ vocab_size:, }}?", "{{ vocab_size }} is this check's answer", id="own-answer"),
    ],
)
def test_placeholders_in_a_question_are_checked_at_load(tmp_path, question, words):
    lines = (ONE_CHECK[0], f"    question: '{question}'", *ONE_CHECK[2:])
    problem = only_problem(tmp_path, check_lesson(*lines))
    assert problem.line == 6
    assert words in problem.message


def test_a_question_and_hints_may_name_other_values_and_the_explanation_the_answer(tmp_path):
    lines = (
        ONE_CHECK[0],
        "    question: 'With {{ batch_size }} rows, how big?'",
        *ONE_CHECK[2:],
        "    hints: ['Rows: {{ batch_size:d }}']",
        "    explanation: 'It is {{ vocab_size:, }}.'",
    )
    write(tmp_path, "01-c.md", check_lesson(*lines))
    lesson_set = load_lessons(tmp_path)
    assert lesson_set.problems == ()
    (check,) = lesson_set.lessons[0].checks
    assert fill_placeholders(check.question, {"batch_size": 2}) == "With 2 rows, how big?"


# 5. number formats


def test_int_formats_are_accepted_and_fall_back_when_the_value_is_a_float(tmp_path):
    write(tmp_path, "01-a.md", "---\nid: a\ntitle: A\n---\n{{ correct_count:d }} right, {{ loss_manual:.2f }}.\n")
    (lesson,) = load_lessons(tmp_path).lessons
    assert fill_placeholders(lesson.body, {"correct_count": 3, "loss_manual": 10.8123}) == "3 right, 10.81."
    # `:d` does not fit a float: the default formatting, not an error
    assert fill_placeholders(lesson.body, {"correct_count": 2.5, "loss_manual": 10.8123}) == "2.5000 right, 10.81."


@pytest.mark.parametrize(
    "value, spec, shown",
    [
        (3, "d", "3"),
        (3, ".2f", "3.00"),
        (50257, None, "50,257"),
        (50257, ",", "50,257"),
        (2.5, "d", "2.5000"),
        (10.81234, None, "10.8123"),
        (0.0001234, None, "1.234e-04"),
        (0.0, None, "0.0000"),
        ("lower", ".2f", "lower"),
        (True, None, "yes"),
        ((2, 8, 50257), None, "(2, 8, 50257)"),
        ((16,), None, "(16,)"),
        ((16,), ".2f", "(16,)"),
        ((), None, "()"),
    ],
)
def test_format_value(value, spec, shown):
    assert format_value(value, spec) == shown


def test_placeholders_show_pending_until_the_values_exist():
    text = "{{ batch_size }} and {{ logits_shape }} and {{ loss_manual:.1f }}"
    assert fill_placeholders(text, None) == f"{PENDING} and {PENDING} and {PENDING}"
    assert fill_placeholders(text, {"batch_size": 2}) == f"2 and {PENDING} and {PENDING}"
    values = {"batch_size": 2, "logits_shape": (2, 4, 50257), "loss_manual": 10.84}
    assert fill_placeholders(text, values) == "2 and (2, 4, 50257) and 10.8"
