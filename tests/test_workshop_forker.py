"""The session forker (tutor/workshop/session_forker.py, forked_sessions.py): sessions forked from a warm parent
run the tutor on their own terminal, with exactly the environment and folder they were given and nothing of the
parent's channel; their ends are reported; a forker that dies is replaced, and its sessions go on."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from processes import children

from tutor.workshop import forked_sessions
from tutor.workshop.forked_sessions import ForkerUnavailable, SessionForker
from tutor.workshop.pty_session import PtySession, group_members
from tutor.workshop.session_entry import ERROR_FILE, INTERNAL_ERROR, run_tutor

ROOM = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TERM": "xterm-256color"}
GRACE_S = 2.0


async def output_of(session: PtySession) -> bytes:
    received = b""
    while data := await asyncio.wait_for(session.read(), 30):
        received += data
    return received


async def until(condition, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


COLOR_256 = (b"\x1b[38;5;", b"\x1b[48;5;")


@pytest.fixture
async def forker():
    logged: list[str] = []
    forker = SessionForker(ROOM, log=logged.append, restart_after_s=0)
    forker.logged = logged
    await forker.start()
    yield forker
    await forker.stop()


async def test_a_forked_session_runs_the_tutor_and_its_exit_code_comes_back(forker, tmp_path):
    session = await forker.start_session(["--help"], env=ROOM, cwd=tmp_path, size=(100, 30))
    assert b"usage: loss-tutor" in await output_of(session)
    assert await session.wait() == 0

    refused = await forker.start_session(["--no-such-option"], env=ROOM, cwd=tmp_path, size=(80, 24))
    assert b"unrecognized arguments: --no-such-option" in await output_of(refused)
    assert await refused.wait() == 2


async def test_a_forked_app_has_its_own_terminal_environment_and_folder_and_none_of_the_forkers_channel(
    forker, tmp_path
):
    env = {**ROOM, "TERM": "vt100", "LOSS_TUTOR_STATE_DIR": str(tmp_path), "LOSS_TUTOR_SHARED_ENGINE": str(tmp_path)}
    session = await forker.start_session(["--workshop"], env=env, cwd=tmp_path, size=(80, 24))
    received = b""
    while b"lesson 1 of" not in received:  # the app is up and drawing
        received += await asyncio.wait_for(session.read(), 30)
    assert session.pid in children(forker.pid)
    # /proc/PID/environ keeps the forker's exec-time block, so the environment is checked by its effects:
    # TERM=vt100 draws in 16 colours where the room's xterm-256color would use 256…
    assert not any(code in received for code in COLOR_256)
    assert Path(os.readlink(f"/proc/{session.pid}/cwd")) == tmp_path
    fields = Path(f"/proc/{session.pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(fields[3]) == session.pid  # it leads its own session…
    assert int(fields[4]) != 0  # …on its terminal, its controlling one: hanging up ends it
    assert not socket_inodes(session.pid) & socket_inodes(forker.pid)
    session.hang_up()
    assert await asyncio.wait_for(session.wait(), 30) == -signal.SIGHUP or not group_members(session.group)
    await until(lambda: not group_members(session.group), "the app ending on hang-up")
    assert (tmp_path / "progress.json").is_file()  # …and its progress went to the state folder it was given

    room = await forker.start_session(["--workshop"], env={**env, "TERM": "xterm-256color"}, cwd=tmp_path,
                                      size=(80, 24))
    received = b""
    while not any(code in received for code in COLOR_256):
        received += await asyncio.wait_for(room.read(), 30)
    await room.end(GRACE_S)


async def test_a_forker_that_dies_is_replaced_and_its_sessions_go_on(forker, tmp_path):
    env = {**ROOM, "LOSS_TUTOR_STATE_DIR": str(tmp_path), "LOSS_TUTOR_SHARED_ENGINE": str(tmp_path)}
    running = await forker.start_session(["--workshop"], env=env, cwd=tmp_path, size=(80, 24))
    first_forker = forker.pid
    os.kill(first_forker, signal.SIGKILL)
    await until(lambda: forker.pid is None, "the server noticing the forker's end")
    assert group_members(running.group) == [running.pid]  # the session goes on without it
    assert any("session forker ended" in line for line in forker.logged)

    again = await forker.start_session(["--help"], env=ROOM, cwd=tmp_path, size=(80, 24))
    assert forker.pid not in (None, first_forker) and forker.restarts == 1
    assert b"usage: loss-tutor" in await output_of(again)
    assert await again.wait() == 0

    await running.end(GRACE_S)  # its end is still seen, through its pidfd, though no one can say its exit code
    assert await asyncio.wait_for(running.wait(), 10) is None
    assert not group_members(running.group)


async def test_a_forker_that_keeps_dying_is_given_up_and_says_so(tmp_path):
    logged: list[str] = []
    forker = SessionForker(ROOM, log=logged.append, restart_after_s=3600)
    await forker.start()
    try:
        os.kill(forker.pid, signal.SIGKILL)
        await until(lambda: forker.pid is None, "the server noticing the forker's end")
        with pytest.raises(ForkerUnavailable):
            await forker.start_session(["--help"], env=ROOM, cwd=tmp_path, size=(80, 24))
        assert any("sessions start as their own processes" in line for line in logged)
    finally:
        await forker.stop()


async def test_a_forker_that_cannot_start_is_unavailable(monkeypatch):
    monkeypatch.setattr(forked_sessions, "MODULE", "tutor.workshop.no_such_module")  # the interpreter exits at once
    forker = SessionForker(ROOM, log=lambda line: None)
    with pytest.raises(ForkerUnavailable, match=r"did not start \(exit code 1\)"):
        await forker.start()
    await forker.stop()


def test_a_fault_in_the_tutor_shows_the_participant_one_line_and_keeps_the_traceback(tmp_path, monkeypatch, capsys):
    import tutor.cli

    def broken(args):
        raise RuntimeError("a bug, with a secret path /srv/x")

    monkeypatch.setattr(tutor.cli, "main", broken)
    monkeypatch.chdir(tmp_path)
    assert run_tutor(["--workshop"]) == INTERNAL_ERROR
    captured = capsys.readouterr()
    assert captured.err == ("loss-tutor: the tutor stopped on an internal error (RuntimeError); "
                            "please tell the instructor.\n")
    assert "Traceback" in (tmp_path / ERROR_FILE).read_text() and "/srv/x" in (tmp_path / ERROR_FILE).read_text()
