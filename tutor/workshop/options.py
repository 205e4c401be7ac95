"""`loss-tutor serve`'s options: parsed and checked before anything starts (a bad one is one line on
stderr and exit code 2, as for `loss-tutor` itself)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from asyncssh.saslprep import SASLPrepError, saslprep

from tutor.cli import PROG, UsageError, weights_file
from tutor.core.progress import state_dir
from tutor.core.settings import MAX_POSITIONS_ENV, max_positions, parse_max_positions
from tutor.core.texts import open_regular_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2222
DEFAULT_MAX_SESSIONS = 40
DEFAULT_IDLE_TIMEOUT = "30m"
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_FILE_BYTES = 4096
# What --colors tells Textual to assume, as $TEXTUAL_COLOR_SYSTEM: SSH does not forward COLORTERM, so a
# truecolor terminal looks like a 256-colour one unless the instructor says otherwise.
COLOR_SYSTEMS = {"16": "standard", "256": "256", "truecolor": "truecolor"}
# How each session's process comes to be (tutor/workshop/forked_sessions.py): forked from a warm parent that
# has imported the app, or a new Python process that imports it all itself (slower; kept to compare).
SESSION_STARTS = ("fork", "process")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh])")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class PasswordAuth:
    password: str
    generated: bool  # made up at this start, so it is printed


@dataclass(frozen=True)
class KeyAuth:
    authorized_keys: Path


@dataclass(frozen=True)
class NoAuth:
    pass


Auth = PasswordAuth | KeyAuth | NoAuth


@dataclass(frozen=True)
class ServeOptions:
    state_dir: Path
    auth: Auth
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_sessions: int = DEFAULT_MAX_SESSIONS
    idle_timeout_s: float | None = 30 * 60  # None: never
    lessons_dir: Path | None = None
    texts_dir: Path | None = None
    colors: str | None = None  # a key of COLOR_SYSTEMS; None lets Textual go by TERM
    headless: bool = False
    max_positions: int | None = None  # the room's limit on positions, if lower than the server's own
    engine_folder: Path | None = None  # the room's shared engine socket folder, once it is started
    session_start: str = "fork"  # one of SESSION_STARTS
    weight_files: tuple[Path, ...] = ()  # models offered to the room besides the untrained one (`--weights`)
    allow_training: bool = False  # participants may run the full training on the text, one run at a time

    @property
    def participants_dir(self) -> Path:
        return self.state_dir / "participants"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage block
        raise UsageError(message)


def parse_duration(value: str) -> float | None:
    """`30m`, `90s`, `1.5h` in seconds; `0` (or `off`) for never."""
    text = value.strip().lower()
    if text in ("0", "off", "never"):
        return None
    match = _DURATION.fullmatch(text)
    if not match or float(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"must look like 30m, 90s or 1h (0 for never); got {value!r}")
    return float(match[1]) * _SECONDS_PER_UNIT[match[2]]


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: any free one); got {value!r}")
    return int(value)


def _at_least_one(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1; got {value!r}")
    return int(value)


def build_serve_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} serve",
        description="Run a workshop: participants connect with `ssh -p PORT NAME@HOST`, any name, and the tutor "
        "appears; each name's progress is kept, so reconnecting resumes.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: only this "
                        "computer; 0.0.0.0 lets the room in)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--password", metavar="WORDS", help="the password participants type (default: a fresh one of "
                      "a few words, printed at start); other users of this computer can see it in the process list")
    auth.add_argument("--password-file", metavar="F", help="read the password from the first line of this file")
    auth.add_argument("--authorized-keys", metavar="F", help="let in only the SSH keys in this authorized_keys file")
    auth.add_argument("--no-auth", action="store_true", help="let anyone who can reach the port in, without a password")
    parser.add_argument("--max-sessions", type=_at_least_one, default=DEFAULT_MAX_SESSIONS, metavar="N",
                        help=f"sessions at once (default {DEFAULT_MAX_SESSIONS})")
    parser.add_argument("--idle-timeout", type=parse_duration, default=parse_duration(DEFAULT_IDLE_TIMEOUT),
                        metavar="T", help=f"end a session after this long without a key: 30m, 90s, 1h; 0 for never "
                        f"(default {DEFAULT_IDLE_TIMEOUT})")
    parser.add_argument("--max-positions", type=int, metavar="N", help="refuse batches with more than N positions "
                        f"(batch size × context length) in every session; as ${MAX_POSITIONS_ENV} does")
    parser.add_argument("--lessons", metavar="DIR", help="read lessons from this folder instead of the built-in ones")
    parser.add_argument("--texts", metavar="DIR", help="the only folder whose files participants can open")
    parser.add_argument("--state-dir", metavar="DIR", help="where the host key and each participant's progress are kept "
                        f"(default {state_dir() / 'workshop'})")
    parser.add_argument("--colors", choices=list(COLOR_SYSTEMS), help="colours participants' terminals show "
                        "(default: as their TERM says; SSH does not pass on truecolor support)")
    parser.add_argument("--weights", metavar="FILE", action="append", default=[],
                        help="offer the room the model in FILE (book .pth, Hugging Face GPT-2 .safetensors, or one this "
                        "tutor saved), loaded once and shared; repeat for several")
    parser.add_argument("--allow-training", action="store_true",
                        help="let participants run the full training on their text (minutes of the room's CPU; one run "
                        "at a time); overfitting a batch and generating are always allowed")
    parser.add_argument("--headless", action="store_true", help="print a plain log instead of the dashboard")
    parser.add_argument("--session-start", choices=SESSION_STARTS, default="fork", help="fork: each session from a "
                        "parent that has the app loaded (fast, shares memory; the default); process: each a new "
                        "Python process")
    return parser


def parse_serve_options(argv: list[str]) -> ServeOptions:
    args = build_serve_parser().parse_args(argv)
    return ServeOptions(
        max_positions=_position_limit(args.max_positions),
        state_dir=Path(args.state_dir).expanduser() if args.state_dir else state_dir() / "workshop",
        auth=_auth(args),
        host=args.host,
        port=args.port,
        max_sessions=args.max_sessions,
        idle_timeout_s=args.idle_timeout,
        lessons_dir=_folder(args.lessons, "--lessons"),
        texts_dir=_folder(args.texts, "--texts"),
        colors=args.colors,
        headless=args.headless,
        session_start=args.session_start,
        weight_files=tuple(weights_file(name) for name in args.weights),  # the engine reads them
        allow_training=args.allow_training,
    )


def _position_limit(limit: int | None) -> int | None:
    """--max-positions checked (and $LOSS_TUTOR_MAX_POSITIONS, which the engine and every session inherit
    otherwise); the engine and every session are started with it."""
    try:
        max_positions()
        return parse_max_positions(limit, "--max-positions") if limit is not None else None
    except ValueError as error:
        raise UsageError(str(error)) from None


def _auth(args: argparse.Namespace) -> Auth:
    if args.no_auth:
        return NoAuth()
    if args.authorized_keys:
        path = Path(args.authorized_keys).expanduser()
        if not path.is_file():
            raise UsageError(f"--authorized-keys: no such file: {path}")
        return KeyAuth(path)
    if args.password_file:
        return PasswordAuth(_password_from_file(Path(args.password_file).expanduser()), generated=False)
    if args.password is not None:
        return PasswordAuth(_checked_password(args.password, "--password"), generated=False)
    from tutor.workshop.passphrase import fresh_passphrase

    return PasswordAuth(fresh_passphrase(), generated=True)


def _password_from_file(path: Path) -> str:
    try:
        with open_regular_file(path) as file:
            data = file.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as error:
        raise UsageError(f"--password-file: could not read {path}: {error.strerror or error}") from None
    if len(data) > MAX_PASSWORD_FILE_BYTES:
        raise UsageError(f"--password-file: {path} is larger than {MAX_PASSWORD_FILE_BYTES} bytes; "
                         "the password is its first line")
    try:
        first_line = data.decode("utf-8").splitlines()[0] if data.strip() else ""
    except UnicodeDecodeError:
        raise UsageError(f"--password-file: {path} is not UTF-8 text") from None
    return _checked_password(first_line, "--password-file")


def _checked_password(password: str, option: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"{option}: the password must be at least {MIN_PASSWORD_CHARS} characters")
    try:
        saslprep(password)  # what the server compares (see `prepared_password`)
    except SASLPrepError:
        raise UsageError(f"{option}: the password holds characters SSH does not allow (control characters, "
                         "unassigned ones, mixed writing directions)") from None
    return password


def prepared_password(password: str) -> str:
    """The password as SSH servers compare it: normalised by SASLprep (RFC 4013), as asyncssh does to what
    the client sends."""
    return saslprep(password)


def _folder(value: str | None, option: str) -> Path | None:
    if value is None:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"{option}: no such folder: {folder}")
    return folder
