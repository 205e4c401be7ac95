"""The SSH side of the workshop: who may log in, and one tutor process per terminal session.

Each session with a terminal gets its own process on a pseudo-terminal (`PtySession`), with the
participant's own progress folder; bytes are copied both ways, size changes passed on. A session ends
when the program ends, the client goes away, nothing is typed for the idle timeout, or the server stops;
then its process group is walked down (SIGHUP, SIGTERM, SIGKILL) until nothing of it is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import os
import signal
import socket
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from tutor.workshop.forked_sessions import ForkerUnavailable, SessionForker
from tutor.workshop.names import participant_name
from tutor.workshop.options import KeyAuth, NoAuth, PasswordAuth, ServeOptions, prepared_password
from tutor.workshop.passphrase import passphrase_as_typed
from tutor.workshop.pty_session import READ_CHUNK, PtySession
from tutor.workshop.session_command import (
    SessionCommand,
    app_session_args,
    app_session_command,
    room_environment,
    session_environment,
)
from tutor.workshop.session_entry import ERROR_FILE, INTERNAL_ERROR
from tutor.workshop.throttle import LoginThrottle

GRACE_S = 5.0  # after each of SIGHUP and SIGTERM, before the next signal
LOGIN_TIMEOUT_S = 60.0  # to type the password
KEEPALIVE_INTERVAL_S = 15.0
KEEPALIVE_COUNT_MAX = 4  # a client silent for a minute is gone
DRAIN_S = 1.0  # for the last of a finished program's output to reach the client

SERVER_STOPPING = "The workshop server is stopping. Your progress is saved."
CONNECTED_ELSEWHERE = "You connected again as the same name; this session is closed there. Your progress is saved."


def idle_farewell(idle_timeout_s: float) -> str:
    minutes = idle_timeout_s / 60
    shown = f"{minutes:g} min" if minutes >= 1 else f"{idle_timeout_s:g} s"
    return f"No key pressed for {shown}, so the session has ended. Your progress is saved: connect again to resume."


class WorkshopStartError(Exception):
    """The server could not start listening; the message says why."""


@dataclass
class Session:
    """A participant's session, as the log and the instructor's view see it."""

    number: int
    name: str
    address: str
    connected_at: float = field(default_factory=time.time)
    last_input: float = field(default_factory=time.monotonic)
    pty: PtySession | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    farewell: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future(), init=False)

    def end(self, farewell: str) -> None:
        """End the session from the server's side, telling the participant `farewell`."""
        if not self.farewell.done():
            self.farewell.set_result(farewell)


class _Gate(asyncssh.SSHServer):
    """One per connection: authentication, and the participant's name from the user name."""

    def __init__(self, server: WorkshopServer):
        self._server = server
        self._connection: asyncssh.SSHServerConnection | None = None
        self.address = "?"

    def connection_made(self, connection: asyncssh.SSHServerConnection) -> None:
        self._connection = connection
        self._server._connections.add(connection)
        peer = connection.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self._connection)

    def begin_auth(self, username: str) -> bool:
        self._connection.set_extra_info(participant=participant_name(username), address=self.address)
        return not isinstance(self._server.options.auth, NoAuth)

    def password_auth_supported(self) -> bool:
        return isinstance(self._server.options.auth, PasswordAuth)

    async def validate_password(self, username: str, password: str) -> bool:
        auth = self._server.options.auth
        expected = prepared_password(auth.password)
        if auth.generated:  # words read off a projector: their case and separators do not matter
            expected, password = passphrase_as_typed(expected), passphrase_as_typed(password)
        accepted = await self._server.throttle.attempt(
            self.address,
            lambda: hmac.compare_digest(password.encode("utf-8", "surrogatepass"), expected.encode("utf-8")),
        )
        if not accepted:
            failures = self._server.throttle.failures(self.address)
            self._server.log(f"wrong password for {participant_name(username)} from {self.address} ({failures} in a row)")
        return accepted


class WorkshopServer:
    def __init__(
        self,
        options: ServeOptions,
        host_key: asyncssh.SSHKey,
        *,
        session_command: SessionCommand | None = None,
        log: Callable[[str], None] = print,
        grace_s: float = GRACE_S,
        throttle: LoginThrottle | None = None,
        login_timeout_s: float = LOGIN_TIMEOUT_S,
    ):
        self.options = options
        self.host_key = host_key
        self.log = log
        self.grace_s = grace_s
        self.throttle = throttle or LoginThrottle()
        self.sessions: dict[int, Session] = {}
        # A program of the caller's own runs as a new process; the tutor is forked unless the options say not to.
        self._session_command = session_command or app_session_command
        self.forker = (
            SessionForker(room_environment(options), log=log)
            if session_command is None and options.session_start == "fork" else None
        )
        self._login_timeout_s = login_timeout_s
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._numbers = itertools.count(1)
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int:
        return self._acceptor.get_port()

    async def start(self) -> None:
        auth = self.options.auth
        try:
            authorized_keys = asyncssh.read_authorized_keys(str(auth.authorized_keys)) if isinstance(auth, KeyAuth) else None
        except (OSError, ValueError, asyncssh.KeyImportError) as error:
            raise WorkshopStartError(f"--authorized-keys: could not read {auth.authorized_keys}: {error}") from None
        try:
            self.options.participants_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise WorkshopStartError(f"could not make {self.options.participants_dir}: {error.strerror or error}") from None
        try:
            self._acceptor = await asyncssh.listen(
                self.options.host,
                self.options.port,
                server_factory=lambda: _Gate(self),
                server_host_keys=[self.host_key],
                process_factory=self._run_session,
                authorized_client_keys=authorized_keys,
                encoding=None,
                line_editor=False,
                allow_pty=True,
                agent_forwarding=False,
                x11_forwarding=False,
                kbdint_auth=False,
                gss_host=None,
                login_timeout=self._login_timeout_s,
                keepalive_interval=KEEPALIVE_INTERVAL_S,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
            )
        except OSError as error:  # asyncio words it "error while attempting to bind on address ...: ..."
            if isinstance(error, socket.gaierror) or not error.errno or error.errno < 0:
                reason = error.strerror or str(error)
            else:
                reason = os.strerror(error.errno)
            raise WorkshopStartError(f"could not listen on {self.options.host} port {self.options.port}: {reason}") from None
        if self.forker is not None:
            try:
                await self.forker.start()
            except ForkerUnavailable as error:
                self.log(f"{error}; sessions start as their own processes")

    async def stop(self) -> None:
        """Stop taking connections, end every session (their programs save and quit), close every connection.
        Stopping again waits for the first stop to finish."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        if self._acceptor is not None:
            self._acceptor.close()
        sessions = list(self.sessions.values())
        for session in sessions:
            session.end(SERVER_STOPPING)
        await asyncio.gather(*(session.finished.wait() for session in sessions))
        for connection in list(self._connections):
            connection.close()
        if self._acceptor is not None:
            await self._acceptor.wait_closed()
        if self.forker is not None:
            await self.forker.stop()
        self._stopped.set()

    async def _run_session(self, process: asyncssh.SSHServerProcess) -> None:
        name = process.get_extra_info("participant") or participant_name(process.get_extra_info("username") or "")
        address = process.get_extra_info("address") or "?"
        if process.term_type is None:
            host = (process.get_extra_info("sockname") or ("HOST",))[0]
            _say(process, f"loss-tutor: the workshop's tutor needs a terminal; connect with: "
                          f"ssh -t -p {self.port} {name}@{host}")
            _exit(process, 1)
            return
        if self._stopping:
            _say(process, SERVER_STOPPING)
            _exit(process, 1)
            return
        await self._take_over(name)
        if len(self.sessions) >= self.options.max_sessions:
            count = self.options.max_sessions
            _say(process, f"Sorry, the workshop is full, {count} of {count}. Please try again in a moment.")
            _exit(process, 1)
            self.log(f"{name} from {address} turned away: the workshop is full ({count} of {count})")
            return
        session = Session(next(self._numbers), name, address)
        self.sessions[session.number] = session
        self.log(f"{name} joined from {address} ({len(self.sessions)} of {self.options.max_sessions} sessions)")
        typed = unicodedata.normalize("NFKC", process.get_extra_info("username") or "").casefold()
        if name != typed:
            _say(process, f"loss-tutor: your progress is kept under the name {name} (letters, digits and - _ . "
                          f"only): connect as {name} to resume it.")
        reason = "left"
        try:
            reason = await self._serve(process, session)
        finally:
            del self.sessions[session.number]
            session.finished.set()
            self.log(f"{name} {reason}")

    async def _take_over(self, name: str) -> None:
        """One session per name: an earlier one (a laptop that went to sleep, a second window) is ended, its
        progress saved, before the new one reads it."""
        earlier = [session for session in self.sessions.values() if session.name == name]
        for session in earlier:
            session.end(CONNECTED_ELSEWHERE)
        if earlier:
            waiting = [asyncio.ensure_future(session.finished.wait()) for session in earlier]
            await asyncio.wait(waiting, timeout=3 * self.grace_s + DRAIN_S)
            for task in waiting:
                task.cancel()

    async def _serve(self, process: asyncssh.SSHServerProcess, session: Session) -> str:
        progress_dir = self.options.participants_dir / session.name
        try:
            progress_dir.mkdir(mode=0o700, exist_ok=True)
            env = session_environment(self.options, progress_dir, process.term_type, client_env=_client_env(process))
            pty = await self._start_program(env, progress_dir, process.term_size[:2])
        except OSError as error:
            _say(process, f"loss-tutor: the tutor could not start here ({error.strerror or error}); please tell the instructor.")
            _exit(process, 1)
            return f"could not start: {error.strerror or error}"
        session.pty = pty
        output = asyncio.create_task(_copy_output(pty, process))
        typing = asyncio.create_task(_copy_input(process, pty, session))
        exited = asyncio.create_task(pty.wait())
        idle = asyncio.create_task(self._idle(session))
        ending = session.farewell
        try:
            await asyncio.wait({exited, typing, idle, ending}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done():
                await self._end(pty, session)  # whatever it left behind
                await _finish(output)
                status = _exit_status(exited.result())
                _exit(process, status)
                if status == INTERNAL_ERROR:
                    return f"left: the tutor stopped on an internal error (its traceback: {progress_dir / ERROR_FILE})"
                return "quit the tutor" if status == 0 else f"left: the tutor ended with exit code {status}"
            if typing.done():  # the connection was lost, or the client will type nothing more (end of file)
                output.cancel()
                pty.hang_up()
                await self._end(pty, session)
                _exit(process, 0)
                return "disconnected"
            farewell = ending.result() if ending.done() else idle_farewell(self.options.idle_timeout_s)
            await self._end(pty, session)  # the program restores the participant's terminal as it quits
            await _finish(output)
            _say(process, farewell, after_output=True)
            _exit(process, 0)
            return "was disconnected by the server" if ending.done() else "was disconnected: idle"
        finally:
            for task in (output, typing, exited, idle):
                task.cancel()
            pty.hang_up()
            await self._end(pty, session)  # nothing left: returns at once

    async def _start_program(self, env: dict[str, str], folder: Path, size: tuple[int, int]) -> PtySession:
        if self.forker is not None:
            try:
                return await self.forker.start_session(app_session_args(self.options), env=env, cwd=folder, size=size)
            except ForkerUnavailable:
                pass  # said in the log once, when it stopped being available
        return await PtySession.start(self._session_command(self.options), env=env, cwd=folder, size=size)

    async def _end(self, pty: PtySession, session: Session) -> None:
        if await pty.end(self.grace_s) == signal.SIGKILL:
            self.log(f"{session.name}'s tutor did not quit when asked to; it was killed")

    async def _idle(self, session: Session) -> None:
        """Returns once nothing has been typed for the idle timeout (never, without one)."""
        timeout = self.options.idle_timeout_s
        if timeout is None:
            await asyncio.Future()
        while (remaining := session.last_input + timeout - time.monotonic()) > 0:
            await asyncio.sleep(remaining)


async def _copy_output(pty: PtySession, process: asyncssh.SSHServerProcess) -> None:
    """The program's output to the client, at the pace the client takes it."""
    try:
        while data := await pty.read():
            process.stdout.write(data)
            await process.stdout.drain()
    except (OSError, asyncssh.Error):  # the client has gone; reading its side notices too
        pass


async def _copy_input(process: asyncssh.SSHServerProcess, pty: PtySession, session: Session) -> None:
    """The client's keys to the program, and its size changes; returns when the client has gone."""
    while True:
        try:
            data = await process.stdin.read(READ_CHUNK)
        except asyncssh.TerminalSizeChanged as change:
            pty.resize(change.width, change.height)
            continue
        except (asyncssh.BreakReceived, asyncssh.SignalReceived):
            continue  # a client does not get to signal the server's processes
        except (OSError, asyncssh.Error):
            return
        if not data:
            return
        session.last_input = time.monotonic()
        with contextlib.suppress(OSError):  # the program has closed its terminal: it is ending
            await pty.write(data)


async def _finish(output: asyncio.Task) -> None:
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(output), DRAIN_S)


def _exit_status(returncode: int | None) -> int:
    if returncode is None:  # ended while the session forker was down: how is not known
        return 255
    return 128 + -returncode if returncode < 0 else min(returncode, 255)


def _client_env(process: asyncssh.SSHServerProcess) -> dict[str, str]:
    """What the client set, decoded; names or values that are not text are left out."""
    decoded = {}
    for name, value in dict(process.env or {}).items():
        with contextlib.suppress(UnicodeDecodeError, AttributeError):
            name = name.decode() if isinstance(name, bytes) else name
            value = value.decode() if isinstance(value, bytes) else value
            decoded[name] = value
    return decoded


def _say(process: asyncssh.SSHServerProcess, line: str, *, after_output: bool = False) -> None:
    """One line to the participant; on a line of its own after the program's output."""
    text = ("\r\n" if after_output else "") + line + "\r\n"
    with contextlib.suppress(OSError, asyncssh.Error):
        process.stdout.write(text.encode())


def _exit(process: asyncssh.SSHServerProcess, status: int) -> None:
    with contextlib.suppress(OSError, asyncssh.Error):
        process.exit(status)

