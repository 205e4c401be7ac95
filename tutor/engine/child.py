"""The computing child process: reads requests as JSON lines on stdin, answers with pickled reports on stdout.

Started by `ProcessEngine` (tutor/engine/process.py) through `entry_command` (tutor/engine/entry.py), never
from the folder the tutor was started in. It imports torch and loads the model at once, then answers one request at a time.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import sys
import threading
import traceback
from pathlib import Path
from typing import BinaryIO

from tutor.core.jobs import weights_labels
from tutor.core.protocol import MAX_REQUEST_BYTES, Request
from tutor.engine.entry import yield_to_interfaces
from tutor.lm.compute import warm_up
from tutor.lm.engine_work import EngineModels, SessionWork, answer

EXIT_APP_GONE = 3  # the exit code when the lifeline reads end of file


def serve(requests: BinaryIO, answers: BinaryIO, models: EngineModels | None = None) -> None:
    """Answer JSON requests with pickled `(status, payload, notices)` until input ends. `status` is "ok" (the
    payload is a `Report`), "learner" or "failed" (the payload says why). `notices` are the lines loading the
    model wrote on stderr (a rebuilt weight cache, say), sent once with the first answer: the child's own
    stderr goes nowhere, so that nothing scribbles on the learner's screen. The child serves one learner: one
    `SessionWork` keeps what it trains and generates."""
    models = models or EngineModels()
    work = SessionWork()
    said_while_loading = io.StringIO()
    try:
        with contextlib.redirect_stderr(said_while_loading):
            warm_up()
    except Exception as error:  # reported with every answer
        startup_error = f"the model could not be loaded: {type(error).__name__}: {error}"
    else:
        startup_error = None
    notices = [line.strip() for line in said_while_loading.getvalue().splitlines() if line.strip()]
    while True:
        try:
            line = read_request_line(requests)
        except OSError:
            return
        if not line:
            return
        reply = ("failed", startup_error) if startup_error is not None else answer_to(line, models, work)
        try:
            pickle.dump((*reply, notices), answers, protocol=pickle.HIGHEST_PROTOCOL)
            answers.flush()
        except OSError:  # the app has gone
            return
        notices = []


def read_request_line(requests: BinaryIO) -> bytes:
    """The next line, newline included; empty at the end of input. Of a line longer than MAX_REQUEST_BYTES only
    the start is returned, one byte over the limit; the rest is read and dropped, so that every line gets one
    answer and the next is read from its start."""
    line = requests.readline(MAX_REQUEST_BYTES + 1)
    if len(line) > MAX_REQUEST_BYTES and not line.endswith(b"\n"):
        while (rest := requests.readline(MAX_REQUEST_BYTES)) and not rest.endswith(b"\n"):
            pass
    return line


def answer_to(line: bytes, models: EngineModels, work: SessionWork) -> tuple[str, object]:
    if len(line) > MAX_REQUEST_BYTES:
        return ("failed", f"the request was longer than {MAX_REQUEST_BYTES:,} bytes")
    try:
        request = Request.from_json(line)
    except ValueError as error:
        return ("failed", f"the request could not be read: {error}")
    try:
        return ("ok", answer(request, models, work))
    except ValueError as error:
        return ("learner", str(error))
    except MemoryError as error:  # computing's says which batch and what to try (walkthrough.OutOfMemory)
        return ("failed", str(error) or "out of memory")
    except Exception as error:
        last = traceback.extract_tb(error.__traceback__)[-1]
        return ("failed", f"{type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})")


def exit_when_closed(lifeline: int) -> None:
    """End this process the moment `lifeline` reads end of file. Only the app holds the pipe's write end,
    so that happens as soon as the app exits, however it dies (SIGKILL included), even in the middle of
    a forward pass: torch releases the GIL in its kernels, so this thread gets to run."""
    os.set_inheritable(lifeline, False)

    def wait_for_end_of_file() -> None:
        while True:
            try:
                if os.read(lifeline, 1):
                    continue  # nobody writes to it; a stray byte is not the end
            except OSError:
                pass
            os._exit(EXIT_APP_GONE)

    threading.Thread(target=wait_for_end_of_file, name="lifeline", daemon=True).start()


def main(argv: list[str]) -> None:
    """`--lifeline FD` names the pipe whose end of file means the app has gone; each `--weights FILE` a weights
    file to offer (the learner's `loss-tutor --weights`)."""
    yield_to_interfaces()
    files: list[Path] = []
    while argv:
        option, value, argv = argv[0], argv[1], argv[2:]
        if option == "--lifeline":
            exit_when_closed(int(value))
        elif option == "--weights":
            files.append(Path(value))
    serve(sys.stdin.buffer, sys.stdout.buffer, EngineModels(weights_labels(files)))

