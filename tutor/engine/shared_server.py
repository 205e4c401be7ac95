"""The workshop's one engine: a single process that loads the model once and computes every session's
requests, one at a time with all cores, taking sessions in turn (tutor/engine/fair_queue.py).

It listens on a Unix socket in a folder only this user can enter (it refuses to start otherwise) and speaks
the protocol of tutor/engine/shared_wire.py: JSON request lines in, its place in the queue and then the
answer out. It never unpickles anything. What a session sends, and what happens:
- a request: validated at once (settings over the limit on positions, LOSS_TUTOR_MAX_POSITIONS, are answered
  at once and never queued; `compute_report` checks again), then queued; a newer request from the same
  session replaces its queued one, which is answered "superseded". The one being computed is abandoned:
  nobody wants it, and the room's one engine should not stay busy with it.
- a cancel line (`shared_wire.cancel_line`): the request it names leaves the queue, or is abandoned if it is
  being computed, and is answered "superseded".
- a JSON object that is not a request (a key missing, a value of the wrong type), or a line longer than
  MAX_REQUEST_BYTES: answered "failed", and the connection stays usable.
- a line that is not a JSON object at all (binary, a pickle, malformed JSON): answered "failed", and the
  connection is closed, as its sender does not speak this protocol.
- end of input: the session has gone; its queued request is dropped, its computation abandoned.
- the status query of tutor/engine/shared_status.py (the instructor's dashboard asks it every second): answered
  at once with the queue, by process id (the kernel's SO_PEERCRED for each connection), and the counts.

Reports are sent pickled, not as `Report.to_data()` JSON. Measured on the 2-core build machine (median of
several; encode = on the engine, decode = on the session, which waits for it with its interface running):
    default report (2, 8):   pickle 16.6 kB, 0.5 + 0.5 ms;     JSON 22.3 kB, 1.6 + 2.0 ms
    (8, 256):                pickle 968 kB, 30 + 29 ms;         JSON 1,649 kB, 126 + 136 ms
Sessions unpickle with `shared_wire.load_report`, which builds nothing but the report's own classes.

An abandoned computation stops at its next safe point (`compute_report`'s checkpoint: before each transformer
block and between the later stages, where stopping changes no number and leaves the model as it was), and the
engine takes the next request in the queue. The checkpoint reads a flag that the event loop sets; the loop keeps
reading every connection while the worker thread computes.

A computation that runs past `time_budget` (tutor/engine/process.py) stops the whole process (exit code
EXIT_TIMED_OUT) after telling its session: a thread cannot be stopped, and the supervisor starts another.
The process ends when its parent does (the lifeline of tutor/engine/child.py) and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tutor.core.jobs import TRAINED
from tutor.core.protocol import MAX_REQUEST_BYTES, Request
from tutor.core.settings import max_positions
from tutor.engine.answer_cache import AnswerCache
from tutor.engine.entry import yield_to_interfaces
from tutor.engine.fair_queue import FairQueue
from tutor.engine.process import MODEL_LOAD_BUDGET_S, time_budget
from tutor.engine.shared_status import Computing, EngineStatus, is_status_query, status_answer
from tutor.engine.shared_wire import (
    SOCKET_NAME,
    UnsafeSocketFolder,
    cancelled_request,
    check_private_folder,
    dump_report,
    message,
)

EXIT_REFUSED = 2  # the socket's folder is not private, or the limit on positions is not valid: a restart won't help
EXIT_TIMED_OUT = 4  # a computation (or loading the model) ran past its budget
EXIT_CRASHED = 5  # a fault of its own, logged
ROOM_TRAINED_MODELS = 4  # sessions whose trained model the engine keeps at once: about 2 GB each for the 124M model
LISTEN_BACKLOG = 128  # a whole room connecting at once waits in the kernel, not refused

Checkpoint = Callable[[], None]  # called by a computation at its safe points; raises to stop it there
ComputeFunction = Callable[..., object]  # (request, checkpoint, work): a report, or a job's answer
_PEER_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def listen_in(folder: Path) -> socket.socket:
    """A listening Unix socket at `folder`/SOCKET_NAME, replacing a stale one; `UnsafeSocketFolder` if the
    folder is not this user's alone."""
    check_private_folder(folder)
    path = folder / SOCKET_NAME
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by an engine that died; the folder is ours alone
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listening.bind(str(path))
        os.chmod(path, 0o600)
        listening.listen(LISTEN_BACKLOG)
    except BaseException:
        listening.close()
        raise
    return listening


_models = None  # the room's EngineModels, made by `loading_model`, on the worker thread


def computing_model(request: Request, checkpoint: Checkpoint, work=None):
    """The answer to `request` for the session whose `SessionWork` is `work` (tutor/lm/engine_work.py)."""
    from tutor.lm.engine_work import EngineModels, SessionWork, answer

    global _models
    if _models is None:
        _models = EngineModels(may_open_files=False, max_trained=ROOM_TRAINED_MODELS)
    return answer(request, _models, work if work is not None else SessionWork(), checkpoint=checkpoint)


def forgetting(work) -> None:
    """A session has gone: let go of what it trained."""
    if _models is not None:
        _models.forget(work)


def loading_model(weight_files: dict[str, Path] | None = None, *, allow_training: bool = False) -> None:
    """Load the untrained model and every weights file the room is given (`serve --weights`), once."""
    from tutor.lm.compute import warm_up
    from tutor.lm.engine_work import EngineModels

    global _models
    warm_up()
    _models = EngineModels(weight_files, may_open_files=False, may_train_on_text=allow_training,
                           max_trained=ROOM_TRAINED_MODELS)
    for problem in _models.load_all():
        print(problem, file=sys.stderr)  # the engine's log: a file that is not a model is not offered


@dataclass(frozen=True, eq=False)
class _Job:
    number: int  # the session's count of the lines it has sent, this one included
    request: Request


@dataclass(frozen=True, eq=False)
class _Computing:
    session: _Session
    job: _Job
    began: float


class _Abandoned(BaseException):
    """Raised at a safe point of a computation nobody wants any more. Not an `Exception`, so that no handler
    on the way (the bug lab turns errors into results) takes it for a failure of the computation."""


class _Session:
    """One connection. Messages go out through its own queue, so a session slow to read holds up nobody."""

    def __init__(self, writer: asyncio.StreamWriter, *, owed_notices: bool):
        self.writer = writer
        self.pid = peer_pid(writer)
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.received = 0
        self.announced: tuple[int, int] | None = None  # (request, place) last said
        self.owed_notices = owed_notices  # it waited for the model to load, so it hears what loading said
        self.gone = False
        self.work = None  # its SessionWork (tutor/lm/engine_work.py): what it trained and is generating; made and
        # touched only on the worker thread

    def send(self, *parts: bytes) -> None:
        if not self.gone:
            for part in parts:
                self.outbox.put_nowait(part)

    def finish(self) -> None:
        """Send what is queued, then close."""
        self.outbox.put_nowait(None)

    async def write_all(self) -> None:
        try:
            while (part := await self.outbox.get()) is not None:
                self.writer.write(part)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.gone = True
            self.writer.close()


class SharedServer:
    """Serves the sessions that connect to `listening` until `stop` is called, or a computation overruns.
    `compute` and `load` default to the real model; tests give it stand-ins."""

    def __init__(
        self,
        listening: socket.socket,
        *,
        compute: ComputeFunction = computing_model,
        load: Callable[[], None] = loading_model,
        forget: Callable[[object], None] = forgetting,
        time_budget: Callable[[Request], float] = time_budget,
        load_budget_s: float = MODEL_LOAD_BUDGET_S,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._listening = listening
        self._compute = compute
        self._load = load
        self._forget = forget
        self._gone_work: list[object] = []  # SessionWork of sessions that left, let go of on the worker thread
        self._time_budget = time_budget
        self._load_budget_s = load_budget_s
        log_stream: TextIO = sys.stderr  # taken now: loading the model redirects stderr for a while
        self._log = log or (lambda line: print(f"engine: {line}", file=log_stream, flush=True))
        self._queue: FairQueue[_Session, _Job] = FairQueue()
        self._sessions: set[_Session] = set()
        self._loaded = False
        self._startup_error: str | None = None
        self._notices: list[str] = []
        self._exit_code = 0
        self._stopping = asyncio.Event()  # bound to the loop that first waits on it, in `run`
        self._work_waiting = asyncio.Event()
        self._answers = AnswerCache()  # touched only on the worker thread
        self._clock = clock
        self._computing: _Computing | None = None
        self._abandoning = threading.Event()  # set on the event loop, read at the computation's safe points
        self._abandoned_because = ""
        self._last_compute_s: float | None = None
        self._answered = 0
        self._from_cache = 0

    def stop(self) -> None:
        """End `run` (call it on the event loop's thread, or before `run`)."""
        self._stopping.set()

    async def run(self) -> int:
        """Serve until stopped; returns the exit code: 0, EXIT_TIMED_OUT or EXIT_CRASHED."""
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compute")
        server = await asyncio.start_unix_server(self._serve_session, sock=self._listening, limit=MAX_REQUEST_BYTES)
        dispatching = asyncio.create_task(self._dispatch(worker))
        dispatching.add_done_callback(self._dispatching_ended)
        try:
            await self._stopping.wait()
        finally:
            dispatching.cancel()
            server.close()
            for session in list(self._sessions):
                session.finish()
            await asyncio.sleep(0)  # let the writers send what is queued (a timed-out session's answer)
            for session in list(self._sessions):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.writer.drain(), 1.0)
                session.writer.transport.abort()
            worker.shutdown(wait=False, cancel_futures=True)
        return self._exit_code

    def _dispatching_ended(self, dispatching: asyncio.Task) -> None:
        if not dispatching.cancelled() and (error := dispatching.exception()) is not None:
            last = traceback.extract_tb(error.__traceback__)[-1]
            self._log(f"stopping on an unexpected {type(error).__name__}: {error} "
                      f"({Path(last.filename).name}:{last.lineno})")
            self._exit_code = EXIT_CRASHED
        self.stop()

    # ----- the sessions ----------------------------------------------------------------------------------

    async def _serve_session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer, owed_notices=not self._loaded)
        self._sessions.add(session)
        writing = asyncio.create_task(session.write_all())
        try:
            while not session.gone:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break  # end of input; an unfinished last line is no request
                except asyncio.LimitOverrunError:
                    session.received += 1
                    if not await _skip_rest_of_line(reader):
                        break
                    self._fail(session, session.received, f"the request was longer than {MAX_REQUEST_BYTES:,} bytes")
                    continue
                session.received += 1
                if not self._receive(session, session.received, line):
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self._leave(session)
            session.finish()
            await writing

    def _receive(self, session: _Session, number: int, line: bytes) -> bool:
        """Queue the request on `line`, or answer why not. False if the connection is to be closed."""
        if is_status_query(line):
            session.send(status_answer(number, self.status()))
            return True
        if (cancelled := cancelled_request(line)) is not None:
            self._cancel(session, cancelled)
            return True
        try:
            request = Request.from_json(line)
        except ValueError as error:
            self._fail(session, number, f"the request could not be read: {_short(error)}")
            return not _is_garbage(line, error)
        try:
            request.settings.validate()  # the limit on positions, before the request waits in the queue
        except ValueError as error:
            session.send(message(number, status="learner", message=str(error), notices=[]))
            return True
        self._abandon(session, "a newer request replaced it")
        replaced = self._queue.submit(session, _Job(number, request))
        if replaced is not None:
            session.send(message(
                replaced.number, status="superseded", message="a newer request replaced it", notices=[]
            ))
        self._announce_places()
        self._work_waiting.set()
        return True

    def _fail(self, session: _Session, number: int, reason: str) -> None:
        session.send(message(number, status="failed", message=reason, notices=[]))

    def _cancel(self, session: _Session, number: int) -> None:
        """`session` no longer wants the answer to its request `number`."""
        queued = dict(self._queue.waiting()).get(session)
        if queued is not None and queued.number == number:
            self._queue.remove(session)
            session.send(message(number, status="superseded", message="its session cancelled it", notices=[]))
            self._announce_places()
        elif self._computing is not None and self._computing.job.number == number:
            self._abandon(session, "its session cancelled it")

    def _abandon(self, session: _Session, because: str) -> None:
        """Stop computing `session`'s request, if it is the one being computed, at the next safe point."""
        if self._computing is not None and self._computing.session is session and not self._abandoning.is_set():
            self._abandoned_because = because
            self._abandoning.set()

    def _checkpoint(self) -> None:
        """Called by the computation at its safe points, on the worker thread."""
        if self._abandoning.is_set():
            raise _Abandoned

    def _leave(self, session: _Session) -> None:
        session.gone = True
        if session.work is not None:
            self._gone_work.append(session.work)
        self._sessions.discard(session)
        self._abandon(session, "its session has gone")
        if self._queue.remove(session) is not None:
            self._announce_places()

    def _announce_places(self) -> None:
        for place, (session, job) in enumerate(self._queue.waiting(), start=1):
            if session.announced != (job.number, place):
                session.announced = (job.number, place)
                session.send(message(job.number, queued=place))

    def status(self) -> EngineStatus:
        computing = None
        if self._computing is not None:
            computing = Computing(self._computing.session.pid, max(0.0, self._clock() - self._computing.began))
        return EngineStatus(
            loaded=self._loaded,
            waiting=tuple(session.pid for session, _ in self._queue.waiting()),
            computing=computing,
            last_compute_s=self._last_compute_s,
            answered=self._answered,
            from_cache=self._from_cache,
        )

    # ----- computing -------------------------------------------------------------------------------------

    async def _dispatch(self, worker: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(loop.run_in_executor(worker, self._load_model)), self._load_budget_s)
        except TimeoutError:
            self._log(f"loading the model took longer than {self._load_budget_s:.0f} s; stopping")
            self._exit_code = EXIT_TIMED_OUT
            return
        self._loaded = True
        self._log(self._startup_error or f"model loaded in {time.monotonic() - started:.1f} s")
        while True:
            taken = self._queue.take()
            if taken is None:
                self._work_waiting.clear()
                await self._work_waiting.wait()
                continue
            session, job = taken
            self._announce_places()
            session.send(message(job.number, computing=True))
            budget = self._time_budget(job.request)
            began = self._clock()
            self._abandoning.clear()  # the worker is idle: no computation reads it now
            self._computing = _Computing(session, job, began)
            try:
                answered = await asyncio.wait_for(
                    asyncio.shield(loop.run_in_executor(worker, self._answer, job.request, session)), budget
                )
            except TimeoutError:
                settings = job.request.settings
                reason = (
                    f"the computation took longer than {budget:.0f} s, far longer than batch size "
                    f"{settings.batch_size} × context length {settings.context_length} should take, so the "
                    "computing process was stopped; a new one is starting"
                )
                session.send(message(job.number, status="timed_out", message=reason, notices=[]))
                self._log(
                    f"a ({settings.batch_size}, {settings.context_length}) computation ran past {budget:.0f} s; stopping"
                )
                self._exit_code = EXIT_TIMED_OUT
                return
            self._computing = None
            if answered is None:
                session.send(message(job.number, status="superseded", message=self._abandoned_because, notices=[]))
                continue
            fields, body, from_cache = answered
            self._answered += 1
            if from_cache:
                self._from_cache += 1
            else:
                self._last_compute_s = self._clock() - began
            notices = self._notices if session.owed_notices else []
            session.owed_notices = False
            session.send(message(job.number, **fields, notices=notices), body)

    def _load_model(self) -> None:
        said_while_loading = io.StringIO()
        try:
            with contextlib.redirect_stderr(said_while_loading):
                self._load()
        except Exception as error:  # every answer says so
            self._startup_error = f"the model could not be loaded: {type(error).__name__}: {error}"
        self._notices = [line.strip() for line in said_while_loading.getvalue().splitlines() if line.strip()]
        for notice in self._notices:
            self._log(notice)

    def _answer(self, request: Request, session: _Session) -> tuple[dict, bytes, bool] | None:
        """The answer's fields and body, and whether it was answered before, made on the worker thread
        (pickling a big report takes a while); None if the computation was abandoned. Only reports of a model
        that no session changes are kept for others: the same request always gets the same one."""
        if self._startup_error is not None:
            return {"status": "failed", "message": self._startup_error}, b"", False
        key = request.to_json() if request.is_report and request.model != TRAINED else None
        answered_before = self._answers.get(key) if key is not None else None
        if answered_before is not None:
            return *answered_before, True
        while self._gone_work:
            self._forget(self._gone_work.pop())
        if session.work is None:
            from tutor.lm.engine_work import SessionWork

            session.work = SessionWork()
        try:
            report = self._compute(request, self._checkpoint, session.work)
        except _Abandoned:
            return None
        except ValueError as error:
            return {"status": "learner", "message": str(error)}, b"", False
        except MemoryError as error:  # computing's says which batch and what to try (walkthrough.OutOfMemory)
            return {"status": "failed", "message": str(error) or "out of memory"}, b"", False
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{Path(last.filename).name}:{last.lineno}"
            return {"status": "failed", "message": f"{type(error).__name__}: {error} ({where})"}, b"", False
        body = dump_report(report)
        answer = {"status": "ok", "bytes": len(body)}, body
        if key is not None:
            self._answers.put(key, answer)
        return *answer, False


def peer_pid(writer: asyncio.StreamWriter) -> int | None:
    """The process id of whoever connected (Linux's SO_PEERCRED: the process that called connect)."""
    sock = writer.get_extra_info("socket")
    try:
        pid, _uid, _gid = _PEER_CREDENTIALS.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER_CREDENTIALS.size)
        )
    except (OSError, AttributeError, struct.error):  # not a Unix socket, or not Linux
        return None
    return pid if pid > 0 else None


async def _skip_rest_of_line(reader: asyncio.StreamReader) -> bool:
    """Read past the end of an over-long line. False if input ends first."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return True
        except asyncio.LimitOverrunError as overrun:
            await reader.read(max(overrun.consumed, 1))
        except asyncio.IncompleteReadError:
            return False


def _is_garbage(line: bytes, error: ValueError) -> bool:
    """Not this protocol at all: not a JSON object (every request is one; a pickle never starts like one), or
    not JSON, or not UTF-8. Whoever sent it is not a session, and nothing after it can be trusted to line up."""
    return not line.lstrip().startswith(b"{") or isinstance(error, (json.JSONDecodeError, UnicodeDecodeError))


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def main(argv: list[str]) -> None:
    """`--socket-folder DIR [--lifeline FD]`; started by tutor/engine/shared_supervisor.py."""
    parser = argparse.ArgumentParser(prog="shared engine")
    parser.add_argument("--socket-folder", type=Path, required=True)
    parser.add_argument("--lifeline", type=int)
    parser.add_argument("--weights", type=Path, action="append", default=[])
    parser.add_argument("--allow-training", action="store_true")
    options = parser.parse_args(argv)
    yield_to_interfaces()
    try:
        max_positions()  # a bad LOSS_TUTOR_MAX_POSITIONS would fail every request: say so once, now
        listening = listen_in(options.socket_folder)
    except (UnsafeSocketFolder, ValueError, OSError) as error:
        print(f"engine: cannot start: {error}", file=sys.stderr, flush=True)
        os._exit(EXIT_REFUSED)
    if options.lifeline is not None:
        from tutor.engine.child import exit_when_closed  # imports torch: sessions wait in the socket's backlog

        exit_when_closed(options.lifeline)
    from tutor.core.jobs import weights_labels

    load = functools.partial(loading_model, weights_labels(options.weights), allow_training=options.allow_training)
    server = SharedServer(listening, load=load)

    async def serve() -> int:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.stop)
        return await server.run()

    code = asyncio.run(serve())
    with contextlib.suppress(OSError):
        (options.socket_folder / SOCKET_NAME).unlink()
    sys.stderr.flush()
    os._exit(code)  # a computation still running on the worker thread is abandoned, not waited for
