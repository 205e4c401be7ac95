"""Signals that end the app: SIGTERM, SIGHUP (the terminal went away, e.g. a dropped SSH connection) and
SIGINT. Left to themselves they kill the process on the spot: the terminal stays in the alternate screen
with mouse reporting on, and nothing is saved. Here each one makes the app quit as `q` does."""

from __future__ import annotations

import asyncio
import os
import signal
import termios
from collections.abc import Callable

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
TERMINAL_FD = 2  # where Textual draws


def quit_on_ending_signals(quit: Callable[[int], None]) -> None:
    """From now on the first ending signal calls `quit(signum)` in the running event loop; later ones are
    ignored while it quits."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int, frame) -> None:  # run by Python between two bytecodes of the main thread
        if received:
            return
        received.append(signum)
        if signum == signal.SIGHUP and _terminal_hung_up():
            _detach_from_terminal()
        try:
            loop.call_soon_threadsafe(quit, signum)
        except RuntimeError:  # the event loop has closed: the app has already ended
            pass

    for signum in ENDING_SIGNALS:
        signal.signal(signum, on_signal)


def _terminal_hung_up() -> bool:
    try:
        termios.tcgetattr(TERMINAL_FD)
    except (termios.error, OSError):
        return True
    return False


def _detach_from_terminal() -> None:
    """A hung-up terminal reads as empty and fails every write: one failed write stops Textual's output
    thread, and the writes queued behind it would then block the way out. So stdin, stdout and stderr become
    /dev/null, and the SIGCONT the kernel sends after the hang-up no longer makes Textual set up its screen
    again."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
