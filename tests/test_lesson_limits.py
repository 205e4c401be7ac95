"""What a lesson file costs to read is bounded: its size, the formats its placeholders ask for, and the
work of finding them, which grows linearly with the file whatever it holds. Nothing here times anything:
the work is counted, or (for the pattern search) a run that used to take days must end at all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tutor.core.lessons as lessons
from tutor.core.lessons import fill_placeholders, load_lessons, parse_lesson

MAX_LESSON_BYTES = 100_000  # the stated limit (tutor.core.lessons.MAX_LESSON_BYTES)

HEAD = "---\nid: big\ntitle: Big\n---\n"  # the body starts on file line 5
LINE = "The loss is {{ loss_manual:.3f }} and the batch has {{ batch_size }} rows.\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def only_problem(folder: Path):
    lesson_set = load_lessons(folder)
    assert not lesson_set.lessons
    assert len(lesson_set.problems) == 1
    return lesson_set.problems[0]


class CountingText(str):
    """A lesson body that counts the characters of every slice taken of it and every search over it."""

    touched = 0

    def __getitem__(self, key):
        part = str.__getitem__(self, key)
        CountingText.touched += len(part)
        return part

    def _search(name):
        def search(self, *args):
            CountingText.touched += len(self)
            return getattr(str, name)(self, *args)

        return search

    count, find, rfind, index, rindex, split, splitlines = map(
        _search, ("count", "find", "rfind", "index", "rindex", "split", "splitlines")
    )


@pytest.mark.parametrize("bad_line", ["first", "middle", "last"])
def test_placeholder_problems_name_their_line_in_a_long_lesson(tmp_path, bad_line):
    lines = [LINE] * (MAX_LESSON_BYTES // len(LINE) - 10)  # about 1,300 lines and 2,600 placeholders
    at = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 1}[bad_line]
    lines[at] = "Then {{ no_such_value }} here.\n"
    write(tmp_path, "00-big.md", HEAD + "".join(lines))
    problem = only_problem(tmp_path)
    assert "unknown live value {{ no_such_value }}" in problem.message
    assert problem.line == 5 + at


def test_finding_the_lines_of_placeholders_copies_no_text_per_placeholder(tmp_path, monkeypatch):
    """The old parser counted the newlines before each placeholder in a fresh copy of the text before it:
    quadratic in the number of placeholders (a 1 MB lesson took 3.4 s, 5 MB about 90 s). Now the line
    starts are found once; the body is never sliced or searched per placeholder."""
    split = lessons._split_front_matter

    def counted(source):
        front, body, body_line = split(source)
        return front, CountingText(body), body_line

    monkeypatch.setattr(lessons, "_split_front_matter", counted)
    CountingText.touched = 0
    body_lines = MAX_LESSON_BYTES // len(LINE) - 10
    path = write(tmp_path, "00-big.md", HEAD + LINE * body_lines)
    lesson = parse_lesson(path)
    body_size = len(LINE) * body_lines
    assert lesson.body.count("{{") == 2 * body_lines
    assert CountingText.touched <= 2 * body_size  # the old parser: about 1,300 × the body


def test_a_lesson_file_over_the_limit_is_refused_by_name_and_limit(tmp_path):
    write(tmp_path, "00-big.md", HEAD + "Words, words, words.\n" * (MAX_LESSON_BYTES // 20))
    size = (tmp_path / "00-big.md").stat().st_size
    assert size > MAX_LESSON_BYTES
    problem = only_problem(tmp_path)
    assert str(problem) == f"00-big.md: the file has {size:,} bytes; a lesson file may have at most 100,000"


def test_a_lesson_file_at_the_limit_loads(tmp_path):
    text = HEAD + "x" * (MAX_LESSON_BYTES - len(HEAD) - 1) + "\n"
    write(tmp_path, "00-full.md", text)
    assert len(text.encode()) == MAX_LESSON_BYTES
    assert [lesson.id for lesson in load_lessons(tmp_path).lessons] == ["big"]


def test_a_fifo_named_like_a_lesson_is_a_problem_not_a_hang(tmp_path):
    write(tmp_path, "00-good.md", "---\nid: good\ntitle: Good\n---\nText.\n")
    fifo = tmp_path / "01-pipe.md"
    os.mkfifo(fifo)
    loaded = threading.Event()

    def unblock_an_old_reader():  # the old code waited for a writer forever: give it one, then fail below
        if not loaded.wait(timeout=10):
            with open(fifo, "wb"):
                pass

    helper = threading.Thread(target=unblock_an_old_reader, daemon=True)
    helper.start()
    try:
        lesson_set = load_lessons(tmp_path)
    finally:
        loaded.set()
        helper.join()
    assert [lesson.id for lesson in lesson_set.lessons] == ["good"]
    assert [str(problem) for problem in lesson_set.problems] == [
        "01-pipe.md: not a regular file; a lesson must be a plain text file"
    ]


@pytest.mark.parametrize("spec", [".99999999f", ">60", "051d", pytest.param("9" * 5000, id="5000-digits")])
def test_a_number_format_asking_for_a_huge_string_is_refused(tmp_path, spec):
    """`format(1.5, ".99999999f")` is a 100 MB string, made again at every redraw of the lesson."""
    write(tmp_path, "00-wide.md", HEAD + f"Loss {{{{ loss_manual:{spec} }}}}.\n")
    problem = only_problem(tmp_path)
    assert problem.line == 5
    assert problem.message.startswith(f"bad number format {spec[:40]!r} in {{{{ loss_manual }}}}")
    assert "widths and precisions up to 50" in problem.message


def test_number_formats_up_to_the_limit_still_work(tmp_path):
    write(tmp_path, "00-ok.md", HEAD + "Loss {{ loss_manual: >50.3f }} and {{ batch_size:05d }}.\n")
    (lesson,) = load_lessons(tmp_path).lessons
    assert fill_placeholders(lesson.body, {"loss_manual": 10.5, "batch_size": 2}) == (
        "Loss " + " " * 44 + "10.500 and 00002."
    )


ADVERSARIAL_BODIES = {
    "an unclosed placeholder, then spaces": "{{ loss_manual:" + " " * 60_000,
    "unclosed placeholders, over and over": "{{ loss_manual:" * 6_000,
    "unclosed, with spaces, over and over": ("{{ a:" + " " * 40) * 2_000,
}

SEARCH_ALL = """
import sys
from pathlib import Path
from tutor.core.lessons import fill_placeholders, load_lessons
folder = Path(sys.argv[1])
lesson_set = load_lessons(folder)
for path in sorted(folder.glob("*.md")):
    fill_placeholders(path.read_text(encoding="utf-8"), {"loss_manual": 1.0})
print(len(lesson_set.lessons), len(lesson_set.problems))
"""


def test_finding_placeholders_takes_linear_time_on_any_text(tmp_path):
    """The old pattern backtracked: `{{ name:` followed by 3,000 spaces took 16 s, 60,000 would take days,
    in loading and again in every redraw. This is not a speed test: the files are read in a child process
    that must end at all; it takes well under a second."""
    for number, body in enumerate(ADVERSARIAL_BODIES.values()):
        write(tmp_path, f"{number:02d}-odd.md", f"---\nid: odd-{number}\ntitle: Odd\n---\n{body}\n")
    result = subprocess.run(
        [sys.executable, "-c", SEARCH_ALL, str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(ADVERSARIAL_BODIES)), "0"]  # no placeholder there: plain text
