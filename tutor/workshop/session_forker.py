"""The warm parent of the workshop's sessions: a process that has already imported the tutor app and Textual,
and forks one child per participant, so that a session starts drawing at once instead of importing for a
second or more while the rest of the room does the same. The children share the parent's imported modules
(copy on write; the heap is frozen before the first fork, so the garbage collector does not write to those
pages and make them private).

It is started by `SessionForker` (tutor/workshop/forked_sessions.py) with one end of a socket pair as its
only channel (`--channel FD`); nothing else can reach it. Messages are JSON, one per datagram:
- to it: {"id": n, "args": [...], "env": {...}, "cwd": "..."} with the session's terminal attached
  (SCM_RIGHTS). It forks a child that leads a new session on that terminal, with exactly that environment,
  in that folder, and runs `tutor.cli.main(args)` there.
- from it: {"ready": pid} once warm; {"id": n, "pid": child} or {"id": n, "error": why}; {"exited": child,
  "code": exit code (negative: the signal)} when a child has ended and been reaped.
End of file on the channel (the server has gone, however it ended) ends it; its children do not depend on it.
"""

from __future__ import annotations

import gc
import io
import json
import os
import selectors
import signal
import socket
import sys

from tutor.workshop.pty_session import take_controlling_terminal
from tutor.workshop.session_entry import run_tutor

MAX_MESSAGE_BYTES = 1 << 20
STANDARD_FDS = (0, 1, 2)


def warm_up() -> None:
    """Import what a session's app imports before its first frame, then move every object made so far out of
    the garbage collector's way."""
    import textual.drivers.linux_driver  # noqa: F401  (imported by App.run, not at import)

    import tutor.cli  # noqa: F401
    import tutor.engine.shared_client  # noqa: F401
    import tutor.ui.app  # noqa: F401

    gc.collect()
    gc.freeze()


def decode_request(data: bytes) -> tuple[int, list[str], dict[str, str], str]:
    """The id, arguments, environment and folder of a request; ValueError if it is not one."""
    message = json.loads(data.decode("ascii"))
    if not isinstance(message, dict):
        raise ValueError("not an object")
    number, args, env, cwd = (message.get(key) for key in ("id", "args", "env", "cwd"))
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValueError("id is not a number")
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise ValueError("args is not a list of strings")
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError("env is not an object of strings")
    if not isinstance(cwd, str):
        raise ValueError("cwd is not a string")
    return number, args, env, cwd


def encode(message: dict) -> bytes:
    return json.dumps(message, ensure_ascii=True).encode("ascii")


class Forker:
    def __init__(self, channel: socket.socket):
        self.channel = channel
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)
        self.selector = selectors.DefaultSelector()

    def run(self) -> None:
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wakeup_write)
        self.selector.register(self.channel, selectors.EVENT_READ)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ)
        self.send({"ready": os.getpid()})
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.channel:
                    if not self.receive():
                        return
                else:
                    self.reap()

    def send(self, message: dict) -> None:
        self.channel.sendall(encode(message))

    def receive(self) -> bool:
        """Handle one request; False once the server has gone."""
        try:
            data, fds, _, _ = socket.recv_fds(self.channel, MAX_MESSAGE_BYTES, 1)
        except InterruptedError:
            return True
        if not data:
            return False
        try:
            number, args, env, cwd = decode_request(data)
        except (ValueError, UnicodeDecodeError) as error:
            for fd in fds:
                os.close(fd)
            self.send({"id": -1, "error": f"the request could not be read: {error}"})
            return True
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self.send({"id": number, "error": "the request came without its terminal"})
            return True
        terminal = fds[0]
        try:
            child = self.fork(terminal, args, env, cwd)
        except OSError as error:
            self.send({"id": number, "error": f"could not start the session: {error.strerror or error}"})
        else:
            self.send({"id": number, "pid": child})
        finally:
            os.close(terminal)
        return True

    def fork(self, terminal: int, args: list[str], env: dict[str, str], cwd: str) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            os._exit(self.become_session(terminal, args, env, cwd))
        return child

    def become_session(self, terminal: int, args: list[str], env: dict[str, str], cwd: str) -> int:
        """In the child: shed the parent's channel and signal handling, take the terminal, run the app."""
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.selector.close()
            self.channel.close()
            os.close(self.wakeup_read)
            os.close(self.wakeup_write)
            os.setsid()
            for fd in STANDARD_FDS:
                os.dup2(terminal, fd)
            os.close(terminal)
            take_controlling_terminal()
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            reopen_standard_streams()
        except BaseException:
            return 70  # EX_SOFTWARE: nothing of the terminal may be usable to say why
        return run_tutor(args)

    def reap(self) -> None:
        with_nothing_to_read = (BlockingIOError, InterruptedError)
        try:
            while os.read(self.wakeup_read, 512):
                pass
        except with_nothing_to_read:
            pass
        while True:
            try:
                child, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if child == 0:
                return
            self.send({"exited": child, "code": os.waitstatus_to_exitcode(status)})


def reopen_standard_streams() -> None:
    """New standard streams on file descriptors 0 to 2, now the terminal, with the parent's encodings: the
    parent's were made for where its own output went (not a terminal, so not line-buffered)."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        old = getattr(sys, f"__{name}__")
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
        stream = io.TextIOWrapper(
            buffered,
            encoding=old.encoding if old is not None else "utf-8",
            errors=old.errors if old is not None else "strict",
            line_buffering=fd != 0,
        )
        setattr(sys, f"__{name}__", stream)
        setattr(sys, name, stream)


def main(argv: list[str]) -> None:
    """`--channel FD`: the socket to the server."""
    if len(argv) != 2 or argv[0] != "--channel" or not argv[1].isdigit():
        sys.exit("usage: session_forker --channel FD")
    channel = socket.socket(fileno=int(argv[1]))
    os.set_inheritable(channel.fileno(), False)
    warm_up()
    Forker(channel).run()
