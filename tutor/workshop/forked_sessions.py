"""The server's side of the session forker (tutor/workshop/session_forker.py): start it, hand it a terminal
and get back a running session, hear when each session ends, and start it again if it dies.

If it cannot be started (or dies again at once), sessions start as plain processes instead
(`PtySession.start`); they only take longer to draw. Sessions forked by one that later died go on running;
their end is then seen through a pidfd, without an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tutor.engine.entry import entry_command
from tutor.workshop.pty_session import PtySession, open_terminal
from tutor.workshop.session_forker import MAX_MESSAGE_BYTES, encode

MODULE = "tutor.workshop.session_forker"
READY_BUDGET_S = 60.0  # importing Textual and the app, on a loaded machine
SPAWN_BUDGET_S = 10.0
STOP_BUDGET_S = 5.0
RESTART_AFTER_S = 30.0  # one that dies sooner than this after starting is not started again


class ForkerUnavailable(Exception):
    """The session forker is not running; the message says why."""


class SessionForker:
    """`start` it once; `start_session` for every participant; `stop` at the end."""

    def __init__(
        self, environment: Mapping[str, str], *, log: Callable[[str], None] = print, restart_after_s: float = RESTART_AFTER_S
    ):
        self._environment = dict(environment)
        self._log = log
        self._restart_after_s = restart_after_s
        self._process: subprocess.Popen | None = None
        self._channel: socket.socket | None = None
        self._listening: asyncio.Task | None = None
        self._started_at = 0.0
        self._given_up = False
        self._starting: asyncio.Task | None = None
        self._numbers = itertools.count(1)
        self._spawning: dict[int, asyncio.Future] = {}
        self._children: dict[int, tuple[asyncio.Future, int | None]] = {}  # pid → its exit, its pidfd
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._channel is not None else None

    async def start(self) -> None:
        """Start it and wait until it is warm; ForkerUnavailable if it does not get there."""
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._start())
        try:
            await asyncio.shield(self._starting)
        except ForkerUnavailable:
            self._given_up = True
            raise

    async def start_session(
        self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path, size: tuple[int, int]
    ) -> PtySession:
        """`loss-tutor ARGS` forked on a new terminal of `size`; ForkerUnavailable (nothing started) if the
        forker is not running and could not be started again, OSError if it could not fork."""
        if self._channel is None:
            await self._start_again()
        controller, terminal = open_terminal(size)
        number = next(self._numbers)
        spawned = asyncio.get_running_loop().create_future()
        self._spawning[number] = spawned
        try:
            message = encode({"id": number, "args": list(args), "env": dict(env), "cwd": str(cwd)})
            try:
                socket.send_fds(self._channel, [message], [terminal])
            except OSError as error:
                raise ForkerUnavailable(f"the session forker could not be reached: {error.strerror or error}") from None
            finally:
                os.close(terminal)
            try:
                pid, exited = await asyncio.wait_for(spawned, SPAWN_BUDGET_S)
            except asyncio.TimeoutError:
                raise ForkerUnavailable(f"the session forker did not answer within {SPAWN_BUDGET_S:g} s") from None
        except BaseException:
            os.close(controller)  # a child forked all the same finds its terminal hung up, and ends
            raise
        finally:
            self._spawning.pop(number, None)
        return PtySession.on(controller, pid, exited)

    async def stop(self) -> None:
        """End the forker (its sessions are the server's to end); returns once it has gone."""
        self._stopping = True
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        self._close_channel()
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(BaseException):
                await self._listening
        await self._end_process()
        for pid in list(self._children):
            self._child_ended(pid, None)

    async def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                entry_command(MODULE, "--channel", str(theirs.fileno())),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=self._environment,
                cwd="/",
                start_new_session=True,  # the instructor's ctrl+c is the server's to handle
            )
        except OSError as error:
            ours.close()
            raise ForkerUnavailable(f"the session forker could not be started: {error.strerror or error}") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        self._process, self._started_at = process, time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(loop.sock_recv(ours, MAX_MESSAGE_BYTES), READY_BUDGET_S)
            ready = json.loads(first) if first else None
        except (asyncio.TimeoutError, OSError, ValueError):
            ready = None
        if not isinstance(ready, dict) or ready.get("ready") != process.pid:
            ours.close()
            await self._end_process()
            raise ForkerUnavailable(f"the session forker did not start ({_ended_how(process)})")
        self._channel = ours
        self._listening = asyncio.ensure_future(self._listen(ours))

    async def _start_again(self) -> None:
        if self._stopping:
            raise ForkerUnavailable("the server is stopping")
        if self._given_up:
            raise ForkerUnavailable("the session forker is not running")
        if self._starting is None or self._starting.done():
            if time.monotonic() - self._started_at < self._restart_after_s:
                self._given_up = True
                self._log(f"the session forker died less than {self._restart_after_s:g} s after it started; "
                          "sessions start as their own processes from now on")
                raise ForkerUnavailable("the session forker is not running")
            self.restarts += 1
            self._log("starting the session forker again")
        await self.start()

    async def _listen(self, channel: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(channel, MAX_MESSAGE_BYTES):
                self._handle(json.loads(data))
        except (OSError, ValueError):
            pass
        if self._channel is channel:  # it died (or spoke nonsense): not stopped by us
            self._close_channel()
            await self._end_process()
            self._log(f"the session forker ended ({_ended_how(self._process)}); running sessions go on")
            self._forker_gone()

    def _handle(self, message: object) -> None:
        if not isinstance(message, dict):
            return
        if "exited" in message:
            self._child_ended(message["exited"], message.get("code"))
            return
        spawned = self._spawning.get(message.get("id"))
        if spawned is None or spawned.done():
            return
        if isinstance(pid := message.get("pid"), int):
            spawned.set_result((pid, self._watch(pid)))  # watched now, before a message saying it ended is read
        else:
            spawned.set_exception(OSError(str(message.get("error", "the session forker said no"))))

    def _watch(self, pid: int) -> asyncio.Future:
        exited = asyncio.get_running_loop().create_future()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # already gone (and reaped): its "exited" message is on its way
            pidfd = None
        self._children[pid] = (exited, pidfd)
        return exited

    def _forker_gone(self) -> None:
        """Its children go on as orphans: see them end through their pidfds."""
        for spawned in self._spawning.values():
            if not spawned.done():
                spawned.set_exception(ForkerUnavailable("the session forker ended"))
        loop = asyncio.get_running_loop()
        for pid, (_, pidfd) in list(self._children.items()):
            if pidfd is None:
                self._child_ended(pid, None)
            else:
                loop.add_reader(pidfd, self._child_ended, pid, None)

    def _child_ended(self, pid: object, code: object) -> None:
        entry = self._children.pop(pid, None) if isinstance(pid, int) else None
        if entry is None:
            return
        exited, pidfd = entry
        if pidfd is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(pidfd)
            os.close(pidfd)
        if not exited.done():
            exited.set_result(code if isinstance(code, int) and not isinstance(code, bool) else None)

    def _close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    async def _end_process(self) -> None:
        """Closing the channel ends it; SIGKILL if it does not go within STOP_BUDGET_S."""
        process = self._process
        if process is None:
            return
        deadline = time.monotonic() + STOP_BUDGET_S
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)


def _ended_how(process: subprocess.Popen | None) -> str:
    code = process.poll() if process is not None else None
    if code is None:
        return "it did not answer"
    return f"exit code {code}" if code >= 0 else f"signal {-code}"
