"""`loss-tutor serve` over real SSH on loopback: who gets in, one process on a terminal per session, sizes
passed on, progress per name, and no process left behind however a session ends.

Most sessions run a tiny program (`SHOW_TERMINAL`) instead of the tutor, so that what the server does is
seen directly; the real app runs in one test, through the `loss-tutor serve` command itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pyte
import pytest
from processes import children, descendants, working_folder

from tutor.core.lessons import load_lessons
from tutor.workshop.names import participant_name
from tutor.workshop.options import KeyAuth, NoAuth, PasswordAuth, ServeOptions
from tutor.workshop.pty_session import TAKE_CONTROLLING_TERMINAL, group_members
from tutor.workshop.room_board import RoomBoard, room_notice_path
from tutor.workshop.server import CONNECTED_ELSEWHERE, SERVER_STOPPING, WorkshopServer
from tutor.workshop.throttle import LoginThrottle

PASSWORD = "correct horse battery"
FIRST_DELAY_S = 0.2
GRACE_S = 1.0

# Shows what the server gave it: its terminal's size (again on every SIGWINCH), TERM, whether the terminal
# is its controlling one, COLUMNS/LINES, its progress folder; echoes what is typed; `q` quits with code 3.
# With `child` as its argument it first starts a process in its own group; with `stubborn`, both ignore
# SIGHUP and SIGTERM, and it stays when its terminal goes away.
SHOW_TERMINAL = r"""
import os, signal, subprocess, sys, tty
tty.setraw(0)
def say(text):
    os.write(1, (text + "\r\n").encode())
def show_size(*_):
    columns, rows = os.get_terminal_size(0)
    say(f"size {columns}x{rows}")
stubborn = "stubborn" in sys.argv[1:]
if stubborn:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "child" in sys.argv[1:] or stubborn:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # ignoring what we ignore
    say(f"child {child.pid}")
say(f"term {os.environ.get('TERM')} controlling {os.tcgetpgrp(0) == os.getpgrp()} "
    f"columns-env {'COLUMNS' in os.environ or 'LINES' in os.environ} secret {'SERVER_SECRET' in os.environ}")
say(f"state {os.environ.get('LOSS_TUTOR_STATE_DIR')}")
signal.signal(signal.SIGWINCH, show_size)
show_size()
while data := os.read(0, 100):
    say(f"got {data.decode()}")
    if data == b"q":
        sys.exit(3)
if stubborn:  # the terminal has gone; stay anyway
    import time
    time.sleep(600)
"""


def show_terminal(*args: str):
    def command(options: ServeOptions) -> list[str]:
        return [sys.executable, "-I", "-c", TAKE_CONTROLLING_TERMINAL + SHOW_TERMINAL, *args]

    return command


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def until(condition, timeout: float = 15.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        await asyncio.sleep(0.05)


class Terminal:
    """An SSH client's session with a terminal, and the screen a terminal emulator (pyte) makes of it."""

    def __init__(self, connection: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess, size):
        self.connection = connection
        self.process = process
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.received = b""

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def read_until(self, wanted: str | re.Pattern, timeout: float = 15.0) -> str:
        """The screen once it shows `wanted` (in text received, for what scrolled away)."""
        deadline = time.monotonic() + timeout

        def found() -> bool:
            if isinstance(wanted, re.Pattern):
                return bool(wanted.search(self.text))
            return wanted in self.text or wanted.encode() in self.received

        while not found():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{wanted!r} did not appear; the screen:\n{self.text}\nreceived: {self.received[-600:]!r}"
            try:
                data = await asyncio.wait_for(self.process.stdout.read(65536), remaining)
            except asyncio.TimeoutError:
                continue
            assert data, f"the session ended before {wanted!r} appeared; received: {self.received[-600:]!r}"
            self.received += data
            self.stream.feed(data)
        return self.text

    async def read_to_end(self, timeout: float = 15.0) -> bytes:
        async def rest() -> None:
            while data := await self.process.stdout.read(65536):
                self.received += data
                self.stream.feed(data)

        await asyncio.wait_for(rest(), timeout)
        return self.received

    def type(self, keys: str) -> None:
        self.process.stdin.write(keys.encode())

    def resize(self, columns: int, rows: int, *, emulated: bool = True) -> None:
        if emulated:
            self.screen.resize(rows, columns)
        self.process.change_terminal_size(columns, rows)


async def connect(port: int, name: str = "ada", password: str | None = PASSWORD, **options) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1", port, username=name, password=password, known_hosts=None, client_keys=options.pop("client_keys", None),
        agent_path=None, config=None, **options,
    )


async def open_terminal(port: int, name: str = "ada", size=(80, 24), **options) -> Terminal:
    connection = await connect(port, name, **options)
    process = await connection.create_process(term_type="xterm-256color", term_size=size, encoding=None)
    return Terminal(connection, process, size)


def make_options(tmp_path: Path, **changes) -> ServeOptions:
    settings = dict(state_dir=tmp_path / "workshop", auth=PasswordAuth(PASSWORD, generated=False), port=0, idle_timeout_s=None)
    return ServeOptions(**(settings | changes))


@pytest.fixture
async def start_server(tmp_path):
    """Starts servers running `SHOW_TERMINAL` with these arguments and these options; stops them all at the end."""
    servers: list[WorkshopServer] = []
    log: list[str] = []

    async def start(*program_args: str, **changes) -> WorkshopServer:
        server = WorkshopServer(
            make_options(tmp_path, **changes),
            asyncssh.generate_private_key("ssh-ed25519"),
            session_command=show_terminal(*program_args),
            log=log.append,
            grace_s=GRACE_S,
            throttle=LoginThrottle(first_delay_s=FIRST_DELAY_S),
            login_timeout_s=20,
        )
        await server.start()
        servers.append(server)
        return server

    start.log = log
    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(start_server):
    return await start_server()


async def test_with_the_password_a_session_runs_on_its_own_controlling_terminal(start_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVER_SECRET", "the instructor's")
    server = await start_server()
    terminal = await open_terminal(server.port, "ada")
    text = await terminal.read_until("size 80x24")
    assert "term xterm-256color controlling True columns-env False secret False" in text
    assert f"state {tmp_path / 'workshop' / 'participants' / 'ada'}\r\n".encode() in terminal.received
    terminal.type("hi")
    await terminal.read_until("got hi")
    assert [session.name for session in server.sessions.values()] == ["ada"]
    terminal.type("q")
    await terminal.read_to_end()
    assert await terminal.process.wait_closed() is None and terminal.process.exit_status == 3
    terminal.connection.close()
    await until(lambda: not server.sessions, what="the session's end")
    assert "ada left: the tutor ended with exit code 3" in start_server.log


async def test_without_the_password_the_login_is_refused_and_wrong_ones_are_slowed(server):
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server.port, password=None)
    assert server.throttle.failures("127.0.0.1") == 0  # no password given: nothing to slow down
    started = time.monotonic()
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server.port, password="wrong horse battery")
    first = time.monotonic() - started
    assert server.throttle.failures("127.0.0.1") == 1
    assert server.throttle.last_delay_s["127.0.0.1"] == FIRST_DELAY_S
    started = time.monotonic()
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server.port, password="still wrong")
    second = time.monotonic() - started
    assert server.throttle.failures("127.0.0.1") == 2
    assert server.throttle.last_delay_s["127.0.0.1"] == 2 * FIRST_DELAY_S  # doubled
    assert FIRST_DELAY_S <= first < 10 and 2 * FIRST_DELAY_S <= second < 10
    connection = await connect(server.port)  # the right one still works, and forgets the failures
    connection.close()
    assert server.throttle.failures("127.0.0.1") == 0


async def test_a_printed_passphrase_is_taken_whatever_the_case_and_separators_a_given_password_exactly(start_server):
    printed = await start_server(auth=PasswordAuth("horse willow muffin agent", generated=True))
    for typed in ("Horse  Willow muffin-agent ", "HORSE.WILLOW.MUFFIN.AGENT"):
        (await connect(printed.port, password=typed)).close()
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(printed.port, password="horse willow muffin")

    given = await start_server()  # the instructor's own password: compared as it is
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(given.port, password=PASSWORD.upper())


async def test_no_auth_lets_anyone_in_and_authorized_keys_only_those_keys(start_server, tmp_path):
    open_server = await start_server(auth=NoAuth())
    connection = await connect(open_server.port, password=None)
    connection.close()
    await open_server.stop()

    allowed, other = asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519")
    keys_file = tmp_path / "authorized_keys"
    keys_file.write_bytes(allowed.export_public_key())
    key_server = await start_server(auth=KeyAuth(keys_file))
    connection = await connect(key_server.port, password=None, client_keys=[allowed])
    connection.close()
    for key, password in ((other, None), (None, PASSWORD)):
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(key_server.port, password=password, client_keys=[key] if key else None)
    await key_server.stop()


async def test_a_session_without_a_terminal_gets_one_line_and_ends(server):
    connection = await connect(server.port, "Grace")
    result = await asyncio.wait_for(connection.run("ls /", encoding=None), 15)
    connection.close()
    assert result.exit_status == 1
    assert result.stdout.decode().strip() == (
        f"loss-tutor: the workshop's tutor needs a terminal; connect with: ssh -t -p {server.port} grace@127.0.0.1"
    )
    assert not server.sessions and not (server.options.participants_dir / "grace").exists()


async def test_the_session_limit_turns_the_next_one_away_politely(start_server):
    server = await start_server(max_sessions=1)
    first = await open_terminal(server.port, "ada")
    await first.read_until("size 80x24")
    second = await open_terminal(server.port, "bob")
    received = await second.read_to_end()
    assert b"the workshop is full, 1 of 1." in received and second.process.exit_status == 1
    assert [session.name for session in server.sessions.values()] == ["ada"]
    first.connection.close()
    await until(lambda: not server.sessions, what="the first session's end")
    third = await open_terminal(server.port, "bob")
    await third.read_until("size 80x24")
    await server.stop()


async def test_size_changes_reach_the_program(server):
    terminal = await open_terminal(server.port, size=(80, 24))
    await terminal.read_until("size 80x24")
    terminal.resize(100, 30)
    await terminal.read_until("size 100x30")
    terminal.resize(30000, 30000, emulated=False)  # bounded: the app would allocate a screen that large
    await terminal.read_until("size 500x200")
    terminal.connection.close()


def test_names_are_made_safe_and_stay_the_same_for_the_same_person():
    assert participant_name("Ada") == participant_name("ada") == participant_name("ＡＤＡ") == "ada"
    assert participant_name("../../etc/passwd") == "etc-passwd"
    assert participant_name("ada\x1b]0;owned\x07") == "ada-0-owned"
    assert participant_name("josé.garcía") == "josé.garcía"
    assert participant_name("a" * 100) == "a" * 32
    for nothing_usable in ("..", "/", "\x00\x1b", "", "\u202e"):
        name = participant_name(nothing_usable)
        assert re.fullmatch(r"participant-[0-9a-f]{8}", name), name
        assert name == participant_name(nothing_usable)
    assert participant_name("..") != participant_name("/")


async def test_the_progress_folder_is_the_safe_name_inside_the_state_folder(server, tmp_path):
    # (asyncssh refuses a user name with control characters before the server sees it)
    terminal = await open_terminal(server.port, "../../Ada/.ssh")
    await terminal.read_until("size 80x24")
    assert b"your progress is kept under the name ada-.ssh" in terminal.received  # told, as it is not the name typed
    folders = [path.name for path in server.options.participants_dir.iterdir()]
    assert folders == ["ada-.ssh"]
    assert sorted(path.name for path in (tmp_path / "workshop").iterdir()) == ["participants"]
    terminal.connection.close()


async def test_connecting_again_as_the_same_name_closes_the_earlier_session(server):
    first = await open_terminal(server.port, "ada")
    await first.read_until("size 80x24")
    assert b"your progress is kept" not in first.received  # the name typed is the name kept
    second = await open_terminal(server.port, "Ada")
    await second.read_until("size 80x24")
    assert CONNECTED_ELSEWHERE.encode() in await first.read_to_end()
    assert [session.name for session in server.sessions.values()] == ["ada"]
    second.connection.close()


@pytest.mark.parametrize("program", ["child", "stubborn"])
async def test_a_dropped_connection_ends_the_whole_process_group(start_server, program):
    server = await start_server(program)
    terminal = await open_terminal(server.port, "ada")
    await terminal.read_until("size 80x24")
    child = int(re.search(r"child (\d+)", terminal.text)[1])
    (session,) = server.sessions.values()
    group = session.pty.group
    assert child in group_members(group) and session.pty.pid in group_members(group)
    terminal.connection.abort()
    await until(lambda: not server.sessions, timeout=3 * GRACE_S + 10, what="the session's end")
    assert group_members(group) == [] and not running(child)
    assert "ada disconnected" in start_server.log
    killed = "ada's tutor did not quit when asked to; it was killed"
    assert (killed in start_server.log) == (program == "stubborn")  # only SIGKILL ends it
    await server.stop()


async def test_a_client_that_will_type_no_more_is_hung_up_on(start_server):
    """End of file from the client (`ssh -tt host < file` after the file): the session ends and the channel
    closes, so the client exits too."""
    server = await start_server("child")
    terminal = await open_terminal(server.port, "ada")
    await terminal.read_until("size 80x24")
    group = next(iter(server.sessions.values())).pty.group
    terminal.process.stdin.write_eof()
    await terminal.read_to_end(timeout=3 * GRACE_S + 10)
    await asyncio.wait_for(terminal.process.wait_closed(), 10)
    assert group_members(group) == [] and not server.sessions


async def test_an_idle_session_is_ended_with_a_word_and_typing_keeps_it(start_server):
    server = await start_server("child", idle_timeout_s=1.5)
    terminal = await open_terminal(server.port, "ada")
    await terminal.read_until("size 80x24")
    group = next(iter(server.sessions.values())).pty.group
    for key in "abcdefgh":  # 2.4 s of typing, never 1.5 s apart
        terminal.type(key)
        await terminal.read_until(f"got {key}")
        await asyncio.sleep(0.3)
    assert server.sessions
    received = await terminal.read_to_end(timeout=3 * GRACE_S + 10)
    assert b"No key pressed for 1.5 s, so the session has ended." in received
    assert terminal.process.exit_status == 0 and group_members(group) == []
    await server.stop()


async def test_stopping_the_server_ends_every_session(start_server):
    server = await start_server("child")
    terminals = [await open_terminal(server.port, name) for name in ("ada", "bob")]
    for terminal in terminals:
        await terminal.read_until("size 80x24")
    groups = [session.pty.group for session in server.sessions.values()]
    children = [int(re.search(r"child (\d+)", terminal.text)[1]) for terminal in terminals]
    await asyncio.wait_for(server.stop(), 3 * GRACE_S + 10)
    for terminal in terminals:
        received = await terminal.read_to_end()
        assert SERVER_STOPPING.encode() in received and terminal.process.exit_status == 0
    assert all(group_members(group) == [] for group in groups)
    assert not any(running(child) for child in children)
    with pytest.raises(OSError):
        await connect(server.port)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


async def until_redrawn(terminal: Terminal, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not redrawn as expected; the screen:\n" + terminal.text
        with contextlib.suppress(asyncio.TimeoutError):
            data = await asyncio.wait_for(terminal.process.stdout.read(65536), 0.2)
            terminal.received += data
            terminal.stream.feed(data)


def controlling_terminal(pid: int) -> int:
    """The device number of the process's controlling terminal (0: none)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[4])


class ServeCommand:
    """`loss-tutor serve` as an instructor starts it, with what its banner says."""

    def __init__(self, tmp_path: Path, *options: str):
        self.state_dir = tmp_path / "workshop"
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("loss-tutor")), "serve", "--port", "0", "--state-dir",
             str(self.state_dir), "--headless", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        self.banner = ""
        while "stop with ctrl+c" not in self.banner:
            line = self.process.stdout.readline()
            assert line, f"serve ended before printing its banner: {self.process.stderr.read()}"
            self.banner += line
        self.port = int(re.search(r"port (\d+):", self.banner)[1])
        self.password = re.search(r"^password: (.+)$", self.banner, re.M)[1]
        self.fingerprint = re.search(r"host key fingerprint: (\S+)", self.banner)[1]

    def session_group(self) -> int:
        """The one session's process: it runs in its participant's folder (forked or not)."""
        participants = self.state_dir / "participants"
        (leader,) = [pid for pid in descendants(self.process.pid)
                     if (folder := working_folder(pid)) is not None and folder.parent == participants]
        return leader

    def forker(self) -> int:
        (forker,) = [pid for pid in children(self.process.pid) if "tutor.workshop.session_forker" in _command_line(pid)]
        return forker

    def engine(self) -> int:
        (engine,) = [pid for pid in children(self.process.pid) if "tutor.engine.shared_server" in _command_line(pid)]
        return engine

    def kill(self) -> None:
        for leader in descendants(self.process.pid):
            for pid in group_members(leader):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve_command(tmp_path):
    serve = ServeCommand(tmp_path)
    yield serve
    serve.kill()


def _footer(screen: pyte.Screen) -> tuple[int, int] | None:
    """Where the app's footer is drawn: its row, and the column just after its right-aligned "palette"."""
    rows = [row for row, line in enumerate(screen.display) if "Quit" in line and "palette" in line]
    if not rows:
        return None
    return rows[-1], screen.display[rows[-1]].rindex("palette") + len("palette")


async def test_the_tutor_over_ssh_redraws_at_a_new_size_resumes_by_name_and_ends_with_the_server(serve_command):
    serve = serve_command
    assert "password: " in serve.banner and len(serve.password.split()) == 4  # a fresh passphrase, printed
    key_file = serve.state_dir / "ssh_host_ed25519_key"
    assert key_file.stat().st_mode & 0o777 == 0o600

    terminal = await open_terminal(serve.port, "Ada", password=serve.password, size=(80, 24))
    assert terminal.connection.get_server_host_key().get_fingerprint() == serve.fingerprint
    await terminal.read_until("lesson 1 of", timeout=60)
    terminal.type("n")
    await until_redrawn(terminal, lambda: "lesson 2 of" in terminal.text and _footer(terminal.screen))
    row, end = _footer(terminal.screen)
    assert row == 23 and end > 70
    terminal.resize(100, 30)
    await until_redrawn(terminal, lambda: _footer(terminal.screen) == (29, end + 20))

    group = serve.session_group()
    assert group_members(group) == [group]  # the app alone: it computes on the room's one engine
    assert "libtorch" not in Path(f"/proc/{group}/maps").read_text()
    engine = serve.engine()
    assert controlling_terminal(group) != 0  # so the kernel hangs it up when the server closes the terminal
    terminal.connection.close()
    await until(lambda: not group_members(group), timeout=20, what="the session's processes ending")
    progress = json.loads((serve.state_dir / "participants" / "ada" / "progress.json").read_text())
    assert progress["current_lesson"] == load_lessons().lessons[1].id

    again = await open_terminal(serve.port, "ada", password=serve.password, size=(80, 24))
    await again.read_until("lesson 2 of", timeout=60)  # resumed where Ada left
    group = serve.session_group()
    serve.process.send_signal(signal.SIGTERM)
    received = await again.read_to_end(timeout=30)
    assert SERVER_STOPPING.encode() in received
    # the app quit as `q` does, giving the participant's terminal back, before the server said goodbye
    assert received.rfind(b"\x1b[?1049l") > received.rfind(b"\x1b[?1049h") >= 0
    assert received.rfind(SERVER_STOPPING.encode()) > received.rfind(b"\x1b[?1049l")
    assert serve.process.wait(timeout=30) == 0
    assert not group_members(group)
    await until(lambda: not running(engine), timeout=20, what="the room's engine ending with the server")
    log = serve.process.stdout.read()
    assert "ada joined from 127.0.0.1" in log and "ada disconnected" in log and "ada was disconnected by the server" in log


async def test_everything_serve_started_ends_when_serve_is_killed(serve_command):
    """SIGKILL leaves serve no time to clean up: its engine, its session forker and the sessions the forker
    made must each notice on their own (the engine its parent dying, the forker its channel closing, the
    sessions their terminals hanging up)."""
    serve = serve_command
    terminal = await open_terminal(serve.port, "ada", password=serve.password, size=(80, 24))
    await terminal.read_until("loss-tutor · lesson", timeout=60)
    started = [serve.session_group(), serve.forker(), serve.engine()]
    assert serve.session_group() in children(serve.forker())  # forked, not started as a process of its own
    serve.process.kill()
    serve.process.wait()
    await until(lambda: not any(running(pid) for pid in started), timeout=30,
                what="the session, the forker and the engine ending after serve was killed")


async def test_over_ssh_a_participant_is_offered_the_workshops_texts_and_no_way_to_name_a_path(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "fable.txt").write_text("The fox and the grapes. " * 40, encoding="utf-8")
    (tmp_path / "secret.txt").write_text("the server's own file", encoding="utf-8")
    (texts / "shortcut.txt").symlink_to(tmp_path / "secret.txt")
    serve = ServeCommand(tmp_path, "--texts", str(texts))
    try:
        terminal = await open_terminal(serve.port, "ada", password=serve.password, size=(120, 40))
        await terminal.read_until("lesson 1 of", timeout=60)
        terminal.type("e")
        await until_redrawn(terminal, lambda: "fable.txt" in terminal.text)
        assert "Or open a file" in terminal.text
        assert "shortcut.txt" not in terminal.text  # a link out of the folder is not offered
        assert "path to a UTF-8 text file" not in terminal.text  # the standalone form's path field is not there
    finally:
        serve.kill()


async def test_over_ssh_the_instructors_message_and_suggested_lesson_reach_a_participant(tmp_path):
    stale = RoomBoard(room_notice_path(tmp_path / "workshop"))
    stale.send_message("left over from the last workshop")
    serve = ServeCommand(tmp_path)
    try:
        assert not stale.path.exists()  # removed as the server started
        terminal = await open_terminal(serve.port, "ada", password=serve.password, size=(100, 30))
        await terminal.read_until("lesson 1 of", timeout=60)
        board = RoomBoard(stale.path)  # what the dashboard writes with
        board.send_message("Welcome, everyone")
        await terminal.read_until("Welcome, everyone")
        lesson = load_lessons().lessons[2]
        board.suggest_lesson(lesson.id)
        await terminal.read_until("The instructor is on lesson 3")  # lessons counted from 1
        terminal.type("f")
        await until_redrawn(terminal, lambda: "lesson 3 of" in terminal.text)
        assert "left over" not in terminal.text and b"left over" not in terminal.received
    finally:
        serve.kill()
