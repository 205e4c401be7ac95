"""`loss-tutor serve`: check the options, make or load the host key, listen, show how to join on the instructor's
dashboard (tutor/workshop/dashboard.py; printed, with a plain log, under --headless), and run until the instructor
stops the dashboard, or ctrl+c (SIGINT), SIGTERM or SIGHUP, which end every session before the server exits."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import asyncssh

from tutor.cli import PROG
from tutor.core.formatting import safe_to_draw
from tutor.core.texts import TextError
from tutor.core.workshop_texts import WorkshopTexts
from tutor.engine.shared_supervisor import EngineSupervisor
from tutor.workshop.dashboard_log import ServeLog
from tutor.workshop.host_key import HostKeyError, load_or_create_host_key
from tutor.workshop.options import KeyAuth, NoAuth, PasswordAuth, ServeOptions, parse_serve_options
from tutor.workshop.room_board import RoomBoard, RoomBoardError, room_notice_path
from tutor.workshop.server import WorkshopServer, WorkshopStartError

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ENGINE_START_BUDGET_S = 30.0  # until its socket listens; the model itself loads after that


def run_serve(argv: list[str]) -> int:
    """A bad option raises tutor.cli.UsageError (exit 2); a server that cannot start is one line, exit 1."""
    options = parse_serve_options(argv)
    try:
        options.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        host_key = load_or_create_host_key(options.state_dir)
    except OSError as error:
        return _fail(f"could not use the state folder {options.state_dir}: {error.strerror or error}")
    except HostKeyError as error:
        return _fail(str(error))
    return asyncio.run(_serve(options, host_key))


async def _serve(options: ServeOptions, host_key: asyncssh.SSHKey) -> int:
    """One model for the room: the shared engine starts first (it loads the model while the server starts),
    every session's app computes on it, and it stops with the server."""
    log = ServeLog()
    engine = EngineSupervisor(log=log.write, max_positions=options.max_positions, weight_files=options.weight_files,
                              allow_training=options.allow_training)
    engine.start()
    try:
        return await _serve_with(engine, options, host_key, log)
    finally:
        await asyncio.to_thread(engine.stop)


async def _serve_with(engine: EngineSupervisor, options: ServeOptions, host_key: asyncssh.SSHKey, log: ServeLog) -> int:
    if not await asyncio.to_thread(engine.wait_until_listening, ENGINE_START_BUDGET_S):
        return _fail(engine.refused or f"the shared engine did not start within {ENGINE_START_BUDGET_S:.0f} s")
    board = RoomBoard(room_notice_path(options.state_dir))
    try:
        await asyncio.to_thread(board.clear)  # what participants find there is from this run
    except RoomBoardError as error:
        return _fail(str(error))
    server = WorkshopServer(replace(options, engine_folder=engine.socket_folder), host_key, log=log.write)
    try:
        await server.start()
    except WorkshopStartError as error:
        return _fail(str(error))
    stop = asyncio.Event()
    how_to_join = banner(options, server.port, host_key)
    if wants_dashboard(options):
        from tutor.ui.ending_signals import quit_on_ending_signals
        from tutor.workshop.dashboard import show_dashboard

        quit_on_ending_signals(lambda signum: stop.set())  # and a hung-up terminal is let go of, as the app does
        dashboard_shown = await show_dashboard(server, engine, options, log, how_to_join, stop, board)
    else:
        if not options.headless:
            log.write("no terminal to show the dashboard in: printing this log instead (as --headless does)")
        loop = asyncio.get_running_loop()
        for signum in STOPPING_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        dashboard_shown = False
    if not dashboard_shown:  # or it failed: serving goes on
        print(how_to_join, flush=True)
        await stop.wait()
    log.write(f"stopping: ending {len(server.sessions)} session(s)")
    await server.stop()
    log.write("stopped")
    return 0


def wants_dashboard(options: ServeOptions, streams: tuple[TextIO | None, ...] | None = None) -> bool:
    """The dashboard, unless --headless, or standard input, output or error is not a terminal (a log file, a
    service manager)."""
    if options.headless:
        return False
    streams = (sys.stdin, sys.stdout, sys.stderr) if streams is None else streams
    return all(stream is not None and stream.isatty() for stream in streams)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(options: ServeOptions, port: int, host_key: asyncssh.SSHKey) -> str:
    """What the instructor reads at start: where, how to check the server, how to get in."""
    host = safe_to_draw(options.host or "every address")
    if is_loopback(options.host):
        reach = "only this computer can connect (--host 0.0.0.0 lets the room in)"
        address = options.host
    else:
        reach = "reachable from the network: anyone who can reach this port can try to log in"
        address = "THIS-COMPUTER"
    lines = [
        f"{PROG} workshop server on {host} port {port}: {reach}",
        f"host key fingerprint: {host_key.get_fingerprint()}  (participants' ssh shows it on first connection)",
        models_offered(options),  # before how to get in, which the dashboard's log keeps in view
    ]
    auth = options.auth
    if isinstance(auth, PasswordAuth):
        lines.append(f"password: {auth.password}" if auth.generated else "password: the one you gave")
    elif isinstance(auth, KeyAuth):
        lines.append(f"only the keys in {safe_to_draw(str(auth.authorized_keys))} can log in")
    elif isinstance(auth, NoAuth):
        lines.append("WARNING: --no-auth: anyone who can reach this port gets in, under any name, with no password")
    lines += [
        f"participants type:  ssh -p {port} THEIR-NAME@{address}",
        texts_offered(options.texts_dir),
        f"progress is kept per name in {safe_to_draw(str(options.participants_dir))}",
        "stop with ctrl+c: every session is ended and its progress saved",
    ]
    return "\n".join(lines)


def models_offered(options: ServeOptions) -> str:
    files = ", ".join(safe_to_draw(file.name) for file in options.weight_files)
    models = f"models: untrained, {files}" if files else "models: untrained (--weights FILE adds more)"
    training = "training on texts: on, one at a time" if options.allow_training else "training on texts: off"
    return f"{models} · {training}"


def texts_offered(texts_dir: Path | None, shown: int = 5) -> str:
    """Which files participants can open, so that the instructor sees one that was left out (hidden, a link,
    a subfolder)."""
    if texts_dir is None:
        return "texts: participants type or paste their own (--texts DIR offers the files in DIR)"
    try:
        names = WorkshopTexts(texts_dir).names()
    except TextError as error:
        return f"texts: none offered: {safe_to_draw(str(error))}"
    if not names:
        return (f"texts: none offered: {safe_to_draw(str(texts_dir))} has no plain file directly in it "
                "(hidden files, links and subfolders are left out)")
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"texts participants can open: {safe_to_draw(', '.join(names[:shown]))}{more}"


def _fail(message: str) -> int:
    print(f"{PROG} serve: error: {safe_to_draw(message)}", file=sys.stderr)
    return 1
