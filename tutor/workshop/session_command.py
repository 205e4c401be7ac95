"""What runs in a participant's terminal, and with which environment."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tutor.core.protocol import SHARED_ENGINE_ENV
from tutor.core.room_notice import ROOM_NOTICE_ENV
from tutor.core.settings import MAX_POSITIONS_ENV
from tutor.engine.entry import entry_command
from tutor.workshop.options import COLOR_SYSTEMS, ServeOptions
from tutor.workshop.room_board import room_notice_path

SessionCommand = Callable[[ServeOptions], Sequence[str]]

# Taken from the server's own environment; nothing else is. Of what the SSH client sends: TERM and CLIENT_LOCALE.
PASSED_ON = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "XDG_CACHE_HOME", "LOSS_TUTOR_CACHE_DIR", MAX_POSITIONS_ENV,
)
DEFAULT_TERM = "xterm-256color"
_TERM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
CLIENT_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")  # taken from the SSH client when they are plain locale names
_LOCALE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.@-]{0,63}")


def app_session_args(options: ServeOptions) -> list[str]:
    """The tutor's arguments in a session: workshop mode, where the participant opens only the files in --texts."""
    args = ["--workshop"]
    if options.texts_dir is not None:
        args += ["--texts", str(options.texts_dir)]
    if options.lessons_dir is not None:
        args += ["--lessons", str(options.lessons_dir)]
    return args


def app_session_command(options: ServeOptions) -> list[str]:
    """The tutor app as a new process, started path-safely (tutor/engine/entry.py), in a terminal it makes its
    own (tutor/workshop/session_entry.py)."""
    return entry_command("tutor.workshop.session_entry", *app_session_args(options))


def room_environment(options: ServeOptions, server_env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What every session's environment holds, whoever it is for (and so the environment the session forker
    imports the app in): what the server passes on, the room's engine, limit and colours, and where the
    instructor's notices are (tutor/workshop/room_board.py)."""
    env = {name: server_env[name] for name in PASSED_ON if name in server_env}
    env["TERM"] = DEFAULT_TERM
    env[ROOM_NOTICE_ENV] = str(room_notice_path(options.state_dir))
    if options.max_positions is not None:
        env[MAX_POSITIONS_ENV] = str(options.max_positions)
    if options.engine_folder is not None:
        env[SHARED_ENGINE_ENV] = str(options.engine_folder)
    if options.colors is not None:
        env["TEXTUAL_COLOR_SYSTEM"] = COLOR_SYSTEMS[options.colors]
    return env


def session_environment(
    options: ServeOptions, progress_dir: Path, term: str | None, server_env: Mapping[str, str] = os.environ,
    client_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The session's environment: the room's, with TERM from the client (a plain terminal name, or the
    default), the client's locale if it sent one (it says what the participant's terminal can draw: OpenSSH
    sends LANG and LC_* by default) and the participant's own progress folder; never COLUMNS or LINES, which
    would pin the app's size however the window changes."""
    env = room_environment(options, server_env)
    env["TERM"] = term if term and _TERM_NAME.fullmatch(term) else DEFAULT_TERM
    for name in CLIENT_LOCALE:
        value = (client_env or {}).get(name)
        if isinstance(value, str) and _LOCALE_NAME.fullmatch(value):
            env[name] = value
    env["LOSS_TUTOR_STATE_DIR"] = str(progress_dir)
    return env
