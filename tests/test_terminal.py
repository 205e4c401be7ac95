"""The terminal is the learner's: control characters from lesson files, typing, pasting, files and error
messages are drawn as visible text and never sent; SIGTERM and SIGHUP end the app cleanly; the app refuses
to start without a terminal; ctrl+c says in plain words how to quit."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from app_helpers import settle, view
from hypothesis import given
from hypothesis import strategies as st
from processes import children
from textual import events
from textual.widgets import Input, Static, TextArea

from tutor.core.formatting import CONTROL_CHARACTERS, safe_to_draw, visible
from tutor.core.lessons import fill_placeholders, load_lessons
from tutor.core.texts import read_text_file, text_from_string
from tutor.engine.in_process import InProcessEngine
from tutor.ui.widgets.token_table import TokenTable

PROJECT = Path(__file__).resolve().parent.parent
LOSS_TUTOR = Path(sys.executable).with_name("loss-tutor")
SIZE = (160, 50)
# What the payloads hold that the app itself never writes: an OSC (window title), a clear screen, BEL, a C1
# control (CSI) and a bidi override. (The app's own escape sequences set colours and move the cursor.)
DANGEROUS = ("\x1b]", "\x1b[2J", "\x07", "\x9b", "\u202e")


def payload(tag: str) -> str:
    """Retitles the terminal window to `tag`, then clears the screen (twice: 7-bit and C1), then reverses
    the rest of the line."""
    return f"\x1b]0;{tag}\x07\x1b[2J\x9b2J\u202e"


def escaped(tag: str) -> str:
    """The start of `payload(tag)` as drawn in text: `\\x1b]0;TAG\\x07`."""
    return f"\\x1b]0;{tag}\\x07"


def pictured(tag: str) -> str:
    """The start of `payload(tag)` as drawn in the editor, one character for one: `␛]0;TAG␇`."""
    return f"␛]0;{tag}␇"


def in_field(tag: str) -> str:
    """The same in a one-line field, whose text Rich has already stripped of BEL, BS, VT, FF and CR."""
    return f"␛]0;{tag}␛[2J"


def drawn(app) -> tuple[str, str]:
    """What a full repaint of the screen (and the screens under it) is made of: the text of every cell,
    and the bytes the app writes to the terminal for it (as App._display does)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    text = "\n".join("".join(segment.text for strip in line for segment in strip) for line in update.strips)
    return text, update.render_segments(app.console)


def assert_safe(app, *tags: str, shown=escaped) -> str:
    """Nothing dangerous reaches the terminal, and each tag's payload is on screen in its visible form."""
    text, written = drawn(app)
    assert not CONTROL_CHARACTERS.search(text), repr(CONTROL_CHARACTERS.search(text))
    for sequence in DANGEROUS:
        assert sequence not in written, f"{sequence!r} written to the terminal"
    for tag in tags:
        assert shown(tag) in text, f"{shown(tag)} is not on screen"
    return text


# ----- the one function: text from outside, made safe to draw ---------------------------------------------


def test_safe_to_draw_shows_every_control_character_and_keeps_layout():
    controls = [chr(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(code) not in "\t\n"]
    bidi = list("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
    for char in controls + bidi:
        assert CONTROL_CHARACTERS.fullmatch(char)
        written_out = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
        assert safe_to_draw(f"a{char}b") == f"a{written_out}b"
        assert len(safe_to_draw(f"a{char}b", one_cell=True)) == 3
    assert safe_to_draw("tab\there\nnext line\r\nwindows line") == "tab\there\nnext line\nwindows line"
    assert safe_to_draw(payload("T")) == "\\x1b]0;T\\x07\\x1b[2J\\x9b2J\\u202e"
    assert safe_to_draw(payload("T"), one_cell=True) == "␛]0;T␇␛[2J�2J�"
    text = "naïve café — 日本語 👩‍👩‍👧 ·↵ [b]not markup[/b]"  # printable, joiners too: left alone
    assert safe_to_draw(text) is text
    assert visible("\x07é \x1b") == "\\x07é·\\x1b"  # token text: as before


@given(st.text())
def test_safe_to_draw_leaves_nothing_to_obey(text):
    shown = safe_to_draw(text)
    assert not CONTROL_CHARACTERS.search(shown)
    assert safe_to_draw(shown) == shown
    assert not CONTROL_CHARACTERS.search(safe_to_draw(text, one_cell=True))
    assert len(safe_to_draw(text, one_cell=True)) == len(text)


# ----- lesson files -------------------------------------------------------------------------------------


def yaml_escaped(text: str) -> str:
    """For a double-quoted YAML string: YAML refuses raw control characters in a file."""
    return "".join(f"\\u{ord(char):04x}" if CONTROL_CHARACTERS.match(char) else char for char in text)


@pytest.fixture
def hostile_lessons(tmp_path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "00-hostile.md").write_text(
        f"""---
id: hostile
title: "Title {yaml_escaped(payload('TITLE'))}"
panes: [explanation, code, tokens]
code: "x = 1  # {yaml_escaped(payload('CODE'))}"
checks:
  - id: pick
    question: "Question {yaml_escaped(payload('QUESTION'))}"
    kind: choice
    answer: loss_vs_uniform
    choices: ["lower", "higher", "sideways {yaml_escaped(payload('CHOICE'))}"]
    hints: ["Hint {yaml_escaped(payload('HINT'))}"]
    explanation: "Explanation {yaml_escaped(payload('EXPLAIN'))}"
---
# Body

Raw in the file: {payload('BODY')}

As HTML entities, which the Markdown parser decodes: &#x202e;&rlm;&#x2028;

The learner's text: {{{{ first_input_text }}}}
""",
        encoding="utf-8",
    )
    (folder / f"01-{payload('FILENAME')}.md").write_text("not a lesson\n", encoding="utf-8")
    return folder


def test_lesson_fields_are_safe_to_draw_from_the_loader(hostile_lessons):
    loaded = load_lessons(hostile_lessons)
    (lesson,) = loaded.lessons
    check = lesson.checks[0]
    for field in (lesson.title, lesson.body, check.question, *check.hints, *check.choices, check.explanation):
        assert not CONTROL_CHARACTERS.search(field)
    assert escaped("TITLE") in lesson.title and escaped("BODY") in lesson.body
    assert escaped("EXPLAIN") in check.explanation and escaped("CHOICE") in check.choices[2]
    assert payload("CODE") in lesson.code  # kept as written: the tests run it; the code pane draws it safely
    # a live value holding the learner's text is made safe as it is filled in
    filled = fill_placeholders(lesson.body, {"first_input_text": payload("TYPED")})
    assert escaped("TYPED") in filled and not CONTROL_CHARACTERS.search(filled)
    (problem,) = loaded.problems
    assert payload("FILENAME") in str(problem)  # a file name: made safe where it is drawn


# ----- every place the app draws text from outside --------------------------------------------------------


async def test_lesson_text_title_list_check_code_and_palette_are_drawn_safely(make_app, hostile_lessons):
    app = make_app(lessons_dir=hostile_lessons)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        # the lesson's Markdown, its border title, the header's title, the lesson list, the check's question
        # and choices, the code pane; the lesson file problem (a file name) in its notification and the
        # problem bar
        text = assert_safe(app, "TITLE", "BODY", "QUESTION", "CHOICE", "CODE", "FILENAME")
        assert text.count(escaped("TITLE")) >= 3  # border title, header, lesson list
        assert text.count(escaped("FILENAME")) >= 2
        await pilot.press("h")  # a hint
        await settle(pilot)
        assert_safe(app, "HINT")
        wrong = {"lower": "higher", "higher": "lower"}[app.session.report.values()["loss_vs_uniform"]]
        app.screen.query_one("#check-answer", Input).value = wrong
        await pilot.press("a", "enter")  # a wrong answer: the explanation
        await settle(pilot)
        assert_safe(app, "EXPLAIN")
        await pilot.press("ctrl+p")  # the command palette lists every lesson by title
        await settle(pilot)
        assert_safe(app, "TITLE")


async def test_the_learners_text_a_live_value_the_token_table_and_inspector(make_app, hostile_lessons):
    story = read_text_file(PROJECT / "tutor" / "assets" / "story.txt").text[:400]
    app = make_app(lessons_dir=hostile_lessons, loaded_text=text_from_string(payload("TYPED") + story))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.session.report is not None
        assert_safe(app, "TYPED")  # {{ first_input_text }} in the lesson
        app.screen.query_one("#panes").active = "tab-tokens"
        await settle(pilot)
        assert "\\x1b" in assert_safe(app)  # tokens are written with visible()
        app.screen.query_one(TokenTable).focus()
        await settle(pilot)
        await pilot.press("enter")  # the inspector, on the token table's first row
        await settle(pilot)
        assert type(app.screen).__name__ == "InspectorScreen"
        assert "\\x1b" in assert_safe(app)
        await pilot.press("escape", "e")  # the editor, holding that text
        await settle(pilot)
        assert_safe(app, "TYPED", shown=pictured)
        editor = app.screen.query_one(TextArea)
        assert editor.text.startswith(payload("TYPED"))  # the text itself is kept, for the model
        editor.post_message(events.Paste(f"pasted {payload('PASTED')}\n"))
        await settle(pilot)
        assert_safe(app, "PASTED", shown=pictured)
        assert payload("PASTED") in editor.text


async def test_file_names_in_the_path_field_in_errors_and_in_the_header(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("e", "tab")
        await settle(pilot)
        path_field = app.screen.query_one("#field-path", Input)
        assert path_field.has_focus
        path_field.value = ""
        path_field.post_message(events.Paste(payload("MISSING")))
        await settle(pilot)
        assert_safe(app, "MISSING", shown=in_field)  # the field, as pasted
        await pilot.press("enter")  # no such file: the error names it
        await settle(pilot)
        assert_safe(app, "MISSING")
        story = tmp_path / f"story {payload('NAME')}.txt"
        story.write_text(read_text_file(PROJECT / "tutor" / "assets" / "story.txt").text[:400], encoding="utf-8")
        path_field.value = str(story)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.text_path == str(story)
        assert_safe(app, "NAME")  # the header's subtitle names the file


class FailingEngine(InProcessEngine):
    def compute(self, request):
        raise RuntimeError(f"PyTorch says {payload('TORCH')}")


async def test_engine_errors_in_the_notification_problem_bar_and_panes(make_app):
    app = make_app(engine_factory=FailingEngine)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.session.problem is not None
        app.go_to_lesson(2)  # a lesson with a tensor pane: it says why there are no numbers
        await settle(pilot)
        view(app.screen, "tensors")
        await settle(pilot)
        text = assert_safe(app, "TORCH")
        assert text.count(escaped("TORCH")) >= 3  # the notification, the problem bar, the pane
        app.screen.action_settings()  # a form says why its change was not applied
        await settle(pilot)
        app.screen.query_one("#field-batch_size", Input).value = "3"
        await pilot.press("enter")
        await settle(pilot)
        status = str(app.screen.query_one("#form-status", Static).content)
        assert status.startswith("Not applied: PyTorch says") and escaped("TORCH") in status
        assert_safe(app, "TORCH")


async def test_notifications_and_answer_fields(make_app):
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.notify(f"message {payload('NOTE')}", title=f"title {payload('NOTETITLE')}")
        await settle(pilot)
        assert_safe(app, "NOTE", "NOTETITLE")
        app.go_to_lesson(3)  # a lesson with a check
        await settle(pilot)
        await pilot.press("a")
        answer = app.screen.query_one("#check-answer", Input)
        answer.post_message(events.Paste(payload("ANSWER")))
        await settle(pilot)
        assert_safe(app, "ANSWER", shown=in_field)
        await pilot.press("enter")  # not a number: the feedback quotes it
        await settle(pilot)
        assert_safe(app, "ANSWER")
        app.screen.action_settings()  # the settings form
        await settle(pilot)
        field = app.screen.query_one("#field-batch_size", Input)
        field.value = ""
        field.post_message(events.Paste(payload("SETTING")))
        await settle(pilot)
        assert_safe(app, "SETTING", shown=in_field)


async def test_a_control_character_nobody_made_visible_is_still_never_sent(make_app):
    """The last line of defence: a widget given raw text is drawn without its control characters."""
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await app.screen.mount(Static(f"raw {payload('RAW')} end", id="raw", markup=False))
        await settle(pilot)
        text, written = drawn(app)
        assert "raw ]0;RAW" in text and not CONTROL_CHARACTERS.search(text)
        assert not any(sequence in written for sequence in DANGEROUS)


async def test_ctrl_c_says_in_plain_words_how_to_quit(make_app):
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await settle(pilot)
        text, _ = drawn(app)
        assert "Press q to quit the tutor." in text
        assert "[b]" not in text and "[/b]" not in text
        assert app.is_running
        await pilot.press("question_mark")  # over help, q closes help (there ctrl+c copies): ctrl+q quits
        await settle(pilot)
        app.action_help_quit()
        await settle(pilot)
        text, _ = drawn(app)
        assert "Press ctrl+q to quit the tutor." in text


# ----- no terminal, no app ---------------------------------------------------------------------------


def run_cli(*args: str, timeout: float = 120, **streams) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOSS_TUTOR), *args], cwd=PROJECT, capture_output="stdout" not in streams, text=True, timeout=timeout,
        **streams,
    )


def no_terminal(stream: str) -> str:
    return f"loss-tutor: error: the app needs a terminal, and {stream} is not one; --plain or --json print text instead"


def test_no_terminal_on_stdin_is_one_line_and_exit_2(tmp_path):
    result = run_cli(stdin=subprocess.DEVNULL, timeout=30)  # it used to spin forever
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [no_terminal("standard input")]


def test_a_bad_option_naming_a_file_is_one_safe_line():
    result = run_cli("--plain", "--text", f"missing {payload('OPTION')}", stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"loss-tutor: error: no such file: missing {safe_to_draw(payload('OPTION'))}\n"


@pytest.mark.parametrize("redirected", ["stdout", "stderr"])
def test_output_in_a_file_is_one_line_and_exit_2(tmp_path, redirected):
    """stdin is a terminal; stdout (or stderr, where Textual draws) is a file: nothing is drawn into it."""
    controller, terminal = pty.openpty()
    output = tmp_path / "out.txt"
    try:
        with output.open("w") as file:
            streams = {"stdout": terminal, "stderr": terminal, redirected: file}
            process = subprocess.run(
                [str(LOSS_TUTOR)], cwd=PROJECT, stdin=terminal, timeout=30, env=_env(tmp_path), **streams
            )
        assert process.returncode == 2
        written = output.read_text()
        if redirected == "stdout":
            assert written == ""
            said = _read_available(controller).decode()
        else:
            said = written
        name = {"stdout": "standard output", "stderr": "standard error"}[redirected]
        assert said.strip() == no_terminal(name)
    finally:
        os.close(controller)
        os.close(terminal)


def test_plain_and_screenshots_need_no_terminal(tmp_path):
    """(--json is printed by the same function as --plain.) The file's name is printed, made safe."""
    story = tmp_path / f"story {payload('PLAIN')}.txt"
    story.write_text(read_text_file(PROJECT / "tutor" / "assets" / "story.txt").text[:400], encoding="utf-8")
    plain = run_cli("--plain", "--text", str(story), stdin=subprocess.DEVNULL)
    assert plain.returncode == 0, plain.stderr
    assert "nn.CrossEntropyLoss" in plain.stdout
    assert f"text: story {escaped('PLAIN')}" in plain.stdout
    assert not CONTROL_CHARACTERS.search(plain.stdout.replace("\n", ""))
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    lesson = (PROJECT / "lessons" / "00-overview.md").read_text(encoding="utf-8")
    (lessons / "00-overview.md").write_text(lesson, encoding="utf-8")
    shots = run_cli("screenshots", str(tmp_path / "shots"), "--lessons", str(lessons), stdin=subprocess.DEVNULL)
    assert shots.returncode == 0, shots.stderr
    assert [path.name for path in (tmp_path / "shots").iterdir()] == ["00-overview.svg"]


# ----- SIGTERM and SIGHUP end the app cleanly -------------------------------------------------------------

RESTORED = {
    "left the alternate screen": b"\x1b[?1049l",
    "mouse reporting off": b"\x1b[?1000l",
    "all-motion mouse reporting off": b"\x1b[?1003l",
    "SGR mouse reporting off": b"\x1b[?1006l",
    "cursor shown": b"\x1b[?25h",
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TEXTUAL_")}
    return env | {
        "LOSS_TUTOR_STATE_DIR": str(tmp_path / "state"),
        "LOSS_TUTOR_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "TERM": "xterm-256color",
    }


def _read_available(fd: int, wait: float = 0.2) -> bytes:
    data = b""
    while select.select([fd], [], [], wait)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side has closed
            break
        if not chunk:
            break
        data += chunk
    return data


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class TutorInTerminal:
    """`loss-tutor` in a pseudo-terminal of 100x30, as a learner starts it."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its terminal is the pty
            try:
                import fcntl

                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
                os.chdir(tmp_path)
                os.execve(str(LOSS_TUTOR), ["loss-tutor"], _env(tmp_path))
            finally:
                os._exit(127)
        self.output = b""
        self.ended = False

    def read_until(self, wanted: bytes, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while wanted not in self.output and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.output += chunk
        return wanted in self.output

    def wait(self, timeout: float = 30) -> int | None:
        """The exit code, reading what it writes meanwhile; None if it did not end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_until(b"\x00never", timeout=0.1)
            exit_code = self.poll()
            if exit_code is not None:
                return exit_code
        return None

    def poll(self) -> int | None:
        done, status = os.waitpid(self.pid, os.WNOHANG)
        if not done:
            return None
        self.ended = True
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        if not self.ended:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.ended = True


@pytest.fixture
def tutor_in_terminal(tmp_path):
    tutor = TutorInTerminal(tmp_path)
    yield tutor
    tutor.kill()
    try:
        os.close(tutor.fd)
    except OSError:
        pass


def _first_frame_then_next_lesson(tutor: TutorInTerminal) -> list[int]:
    assert tutor.read_until(b"\x1b[?1049h") and tutor.read_until(b"lesson 1 of"), tutor.output[-2000:]
    os.write(tutor.fd, b"n")
    assert tutor.read_until(b"lesson 2 of"), tutor.output[-2000:]
    engine = children(tutor.pid)
    assert engine, "the engine process is running"
    return engine


def _saved_lesson(tmp_path: Path) -> str | None:
    return json.loads((tmp_path / "state" / "progress.json").read_text())["current_lesson"]


def _second_lesson() -> str:
    return load_lessons().lessons[1].id


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_ends_the_app_cleanly(tutor_in_terminal, tmp_path, signum):
    tutor = tutor_in_terminal
    engine = _first_frame_then_next_lesson(tutor)
    before = len(tutor.output)
    os.kill(tutor.pid, signum)
    exit_code = tutor.wait()
    assert exit_code == 128 + signum, f"ended with {exit_code}"
    after = tutor.output[before:]
    for what, sequence in RESTORED.items():
        assert sequence in after, f"not restored: {what}"
    assert after.rfind(b"\x1b[?1049l") > after.rfind(b"\x1b[?1049h")
    assert not [pid for pid in engine if _running(pid)], "the engine outlived the app"
    assert _saved_lesson(tmp_path) == _second_lesson()


def test_a_dropped_connection_ends_the_app(tutor_in_terminal, tmp_path):
    """The terminal itself goes away (SIGHUP, then SIGCONT; reads end, writes fail): the app still ends,
    at once and with its engine, instead of hanging in its output thread."""
    tutor = tutor_in_terminal
    engine = _first_frame_then_next_lesson(tutor)
    os.close(tutor.fd)
    deadline = time.monotonic() + 30
    while (exit_code := tutor.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_code == 128 + signal.SIGHUP, f"ended with {exit_code}"
    assert not [pid for pid in engine if _running(pid)], "the engine outlived the app"
    assert _saved_lesson(tmp_path) == _second_lesson()
