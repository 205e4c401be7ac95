"""`loss-tutor serve` before anyone connects: its options, the password, the host key, what it prints, the
command line and environment of a session, and that the server imports neither torch nor Textual."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import asyncssh
import pytest

from tutor.cli import build_parser, main
from tutor.core.protocol import SHARED_ENGINE_ENV
from tutor.workshop.command import banner, is_loopback
from tutor.workshop.host_key import HOST_KEY_FILE, HostKeyError, load_or_create_host_key
from tutor.workshop.options import KeyAuth, NoAuth, PasswordAuth, ServeOptions, parse_duration, parse_serve_options
from tutor.workshop.passphrase import PASSPHRASE_WORDS, WORDS
from tutor.workshop.pty_session import PtySession
from tutor.workshop.session_command import DEFAULT_TERM, app_session_command, session_environment

PROJECT = Path(__file__).resolve().parents[1]


def serve_error(capsys, *args: str) -> str:
    """The one line `loss-tutor serve ARGS` prints on stderr, checking it exits with 2 and prints nothing else."""
    assert main(["serve", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    return err.removeprefix("loss-tutor: error: ").strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "must be a port number from 0 to 65535"),
        (["--max-sessions", "0"], "must be a whole number of at least 1; got '0'"),
        (["--idle-timeout", "soon"], "must look like 30m, 90s or 1h (0 for never); got 'soon'"),
        (["--colors", "lots"], "invalid choice: 'lots'"),
        (["--password", "short"], "--password: the password must be at least 8 characters"),
        (["--password", "tab\there ok"], "--password: the password holds characters SSH does not allow"),
        (["--password", "long enough", "--no-auth"], "not allowed with argument --password"),
        (["--max-positions", "5"], "--max-positions must be a whole number from 16"),
        (["--lessons", "/no/such/folder"], "--lessons: no such folder: /no/such/folder"),
        (["--texts", "/no/such/folder"], "--texts: no such folder: /no/such/folder"),
        (["--authorized-keys", "/no/such/file"], "--authorized-keys: no such file: /no/such/file"),
        (["--password-file", "/no/such/file"], "--password-file: could not read /no/such/file: No such file or directory"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(capsys, args, message):
    assert message in serve_error(capsys, *args)


def test_durations():
    assert parse_duration("30m") == 1800 and parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("0") is None and parse_duration("off") is None


def test_the_default_password_is_a_few_fresh_words(tmp_path):
    first = parse_serve_options(["--state-dir", str(tmp_path)]).auth
    second = parse_serve_options(["--state-dir", str(tmp_path)]).auth
    assert first.generated and len(first.password.split()) == PASSPHRASE_WORDS >= 4
    assert set(first.password.split()) <= set(WORDS) and len(set(WORDS)) == len(WORDS) >= 256
    assert first.password != second.password  # 1 in 7 billion that two starts draw the same


def test_password_file_keys_and_no_auth(tmp_path, capsys):
    password_file = tmp_path / "password"
    password_file.write_text("the room password\nnot this line\n")
    assert parse_serve_options(["--password-file", str(password_file)]).auth == PasswordAuth("the room password", False)
    password_file.write_text("\n")
    assert "at least 8 characters" in serve_error(capsys, "--password-file", str(password_file))
    keys = tmp_path / "keys"
    keys.write_text("")
    assert parse_serve_options(["--authorized-keys", str(keys)]).auth == KeyAuth(keys)
    assert parse_serve_options(["--no-auth"]).auth == NoAuth()


def test_the_host_key_is_made_private_once_and_reused(tmp_path):
    key = load_or_create_host_key(tmp_path)
    path = tmp_path / HOST_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_host_key(tmp_path).get_fingerprint() == key.get_fingerprint()
    assert key.get_algorithm() == "ssh-ed25519"

    path.chmod(0o644)
    with pytest.raises(HostKeyError, match=r"can be read by other users \(mode 0644\); make it private with: chmod 600"):
        load_or_create_host_key(tmp_path)
    path.chmod(0o600)
    path.write_text("not a key")
    with pytest.raises(HostKeyError, match="could not be read .*remove it to make a new one"):
        load_or_create_host_key(tmp_path)
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(HostKeyError, match="could not read the host key"):
        load_or_create_host_key(tmp_path)


def test_the_banner_says_who_can_reach_the_server_and_how_to_get_in(tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    options = ServeOptions(state_dir=tmp_path, auth=PasswordAuth("moon otter pencil tulip", generated=True))
    text = banner(options, 2222, key)
    assert "on 127.0.0.1 port 2222: only this computer can connect" in text
    assert f"host key fingerprint: {key.get_fingerprint()}" in text
    assert "password: moon otter pencil tulip" in text
    assert "ssh -p 2222 THEIR-NAME@127.0.0.1" in text

    room = ServeOptions(state_dir=tmp_path, auth=NoAuth(), host="0.0.0.0")
    text = banner(room, 2222, key)
    assert "reachable from the network" in text and "WARNING: --no-auth" in text and "password:" not in text
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("") and not is_loopback("10.0.0.1")
    given = ServeOptions(state_dir=tmp_path, auth=PasswordAuth("instructor secret", generated=False))
    assert "instructor secret" not in banner(given, 2222, key)


def test_the_banner_names_the_texts_participants_can_open_and_says_when_none_are(tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    texts = tmp_path / "texts"
    texts.mkdir()
    plain = ServeOptions(state_dir=tmp_path, auth=NoAuth())
    assert "texts: participants type or paste their own" in banner(plain, 2222, key)
    with_texts = ServeOptions(state_dir=tmp_path, auth=NoAuth(), texts_dir=texts)
    (texts / ".hidden.txt").write_text("x")
    assert "texts: none offered" in banner(with_texts, 2222, key)
    for number in range(7):
        (texts / f"story{number}.txt").write_text("x")
    assert ("texts participants can open: story0.txt, story1.txt, story2.txt, story3.txt, story4.txt and 2 more"
            in banner(with_texts, 2222, key))


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--state-dir", str(tmp_path), "--headless"]) == 1
    out, err = capsys.readouterr()
    assert err == f"loss-tutor serve: error: could not listen on 127.0.0.1 port {port}: Address already in use\n"
    assert out == ""


def test_a_session_environment_has_term_colours_and_progress_but_nothing_else(tmp_path):
    server_env = {"PATH": "/bin", "HOME": "/home/i", "COLUMNS": "80", "LINES": "24", "COLORTERM": "truecolor",
                  "SSH_AUTH_SOCK": "/tmp/agent", "LOSS_TUTOR_CACHE_DIR": "/cache", "TEXTUAL_DRIVER": "x"}
    options = ServeOptions(state_dir=tmp_path, auth=NoAuth(), colors="truecolor")
    env = session_environment(options, tmp_path / "participants" / "ada", "screen-256color", server_env)
    assert env == {
        "PATH": "/bin", "HOME": "/home/i", "LOSS_TUTOR_CACHE_DIR": "/cache", "TERM": "screen-256color",
        "LOSS_TUTOR_STATE_DIR": str(tmp_path / "participants" / "ada"), "TEXTUAL_COLOR_SYSTEM": "truecolor",
        "LOSS_TUTOR_ROOM_NOTICE": str(tmp_path / "room" / "notice.json"),
    }
    plain = ServeOptions(state_dir=tmp_path, auth=NoAuth())
    for odd_term in ("", None, "xterm\x1b]0;owned\x07", "../../bin/sh", "x" * 100):
        env = session_environment(plain, tmp_path, odd_term, server_env)
        assert env["TERM"] == DEFAULT_TERM and "TEXTUAL_COLOR_SYSTEM" not in env


def test_the_clients_locale_is_taken_when_it_is_a_plain_locale_name_and_nothing_else_from_it(tmp_path):
    options = ServeOptions(state_dir=tmp_path, auth=NoAuth())
    client = {"LANG": "C", "LC_CTYPE": "de_DE.UTF-8", "LC_ALL": "x\x1b]0;owned\x07", "PATH": "/evil",
              "LD_PRELOAD": "/tmp/x.so"}
    env = session_environment(options, tmp_path, "xterm", {"LANG": "C.UTF-8", "PATH": "/bin"}, client_env=client)
    assert env["LANG"] == "C" and env["LC_CTYPE"] == "de_DE.UTF-8"  # what the participant's terminal draws
    assert "LC_ALL" not in env and env["PATH"] == "/bin" and "LD_PRELOAD" not in env


async def test_a_session_runs_this_tutor_on_its_own_controlling_terminal(tmp_path):
    decoy = tmp_path / "tutor"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy tutor package was imported')\n")
    options = ServeOptions(state_dir=tmp_path, auth=NoAuth(), lessons_dir=tmp_path / "gone")
    command = app_session_command(options)
    assert command[-2:] == ["--lessons", str(tmp_path / "gone")]
    # the participant's folder is the session's current folder: a `tutor` there must not be imported
    pty = await PtySession.start(command, env=session_environment(options, tmp_path, "xterm"), cwd=tmp_path, size=(80, 24))
    output = b""
    while data := await asyncio.wait_for(pty.read(), 60):
        output += data
    assert await pty.wait() == 2  # the app's own exit code for a bad option
    assert output.decode().strip() == f"loss-tutor: error: --lessons: no such folder: {tmp_path / 'gone'}"
    pty.hang_up()


def test_a_session_runs_the_app_in_workshop_mode_with_the_texts_folder(tmp_path):
    """Workshop mode is what keeps a participant to --texts (tests/test_workshop_mode.py): every session has it."""
    options = ServeOptions(state_dir=tmp_path, auth=NoAuth(), texts_dir=tmp_path / "texts", lessons_dir=tmp_path)
    arguments = app_session_command(options)[-5:]
    assert arguments == ["--workshop", "--texts", str(tmp_path / "texts"), "--lessons", str(tmp_path)]
    args = build_parser().parse_args(arguments)
    assert args.workshop and args.texts == str(tmp_path / "texts") and args.text is None
    assert app_session_command(ServeOptions(state_dir=tmp_path, auth=NoAuth()))[-1] == "--workshop"  # no files


def test_the_server_imports_neither_torch_nor_textual():
    script = (
        "import json, sys\n"
        "import tutor.workshop.command, tutor.workshop.server\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout))
    assert "asyncssh" in modules
    assert not {name for name in modules if name.split(".")[0] in ("torch", "textual")}


def test_max_positions_and_the_rooms_engine_reach_every_session_and_nothing_else(tmp_path):
    before = dict(os.environ)
    options = parse_serve_options(["--max-positions", "512", "--state-dir", str(tmp_path)])
    assert dict(os.environ) == before  # the server's own environment is left alone (tests run it in-process)
    environment = session_environment(replace(options, engine_folder=tmp_path / "engine"), tmp_path, "xterm")
    assert environment["LOSS_TUTOR_MAX_POSITIONS"] == "512"
    assert environment[SHARED_ENGINE_ENV] == str(tmp_path / "engine")


def test_the_room_is_offered_the_instructors_weights_and_training_only_when_allowed(tmp_path, monkeypatch):
    from tutor.cli import UsageError
    from tutor.engine import shared_supervisor

    weights = tmp_path / "gpt2.safetensors"
    weights.write_bytes(b"checked by the engine, not here")
    options = parse_serve_options(["--state-dir", str(tmp_path), "--weights", str(weights), "--allow-training"])
    assert options.weight_files == (weights.absolute(),) and options.allow_training
    assert "gpt2.safetensors" in banner(options, 2222, load_or_create_host_key(tmp_path))
    assert not parse_serve_options(["--state-dir", str(tmp_path)]).allow_training
    with pytest.raises(UsageError, match="no such file"):
        parse_serve_options(["--state-dir", str(tmp_path), "--weights", str(tmp_path / "missing.pth")])

    started = []
    monkeypatch.setattr(shared_supervisor.subprocess, "Popen", lambda command, **_: started.append(command) or 1 / 0)
    supervisor = shared_supervisor.EngineSupervisor(tmp_path, weight_files=options.weight_files, allow_training=True)
    with pytest.raises(ZeroDivisionError):
        supervisor._spawn()
    assert started[0][-3:] == ["--weights", str(weights.absolute()), "--allow-training"]
