"""The first code of a participant's session process (see `session_command.app_session_command`): it makes
the terminal it was started on its controlling terminal, then runs the tutor app there. `run_tutor` is also
what a session forked by tutor/workshop/session_forker.py runs."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from tutor.workshop.pty_session import take_controlling_terminal

INTERNAL_ERROR = 70  # EX_SOFTWARE: the server's log points the instructor to ERROR_FILE
ERROR_FILE = "tutor-error.txt"  # in the participant's folder, the session's working folder


def run_tutor(args: list[str]) -> int:
    """`loss-tutor ARGS` in this process, its exit code. A fault in the tutor itself shows the participant one
    line; its traceback goes to ERROR_FILE, for the instructor."""
    sys.argv = ["loss-tutor", *args]
    try:
        from tutor.cli import main as tutor_main

        code = tutor_main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:  # noqa: BLE001  (whatever it is, the participant gets one line)
        try:
            Path(ERROR_FILE).write_text(traceback.format_exc(), encoding="utf-8")
        except OSError:
            pass
        print(f"loss-tutor: the tutor stopped on an internal error ({type(error).__name__}); "
              "please tell the instructor.", file=sys.stderr)
        code = INTERNAL_ERROR
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def main(argv: list[str]) -> None:
    take_controlling_terminal()
    sys.exit(run_tutor(argv))
