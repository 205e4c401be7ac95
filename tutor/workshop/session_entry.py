"""The first code of a participant's session process (see `session_command.app_session_command`): it makes
the terminal it was started on its controlling terminal, then runs the tutor app there."""

from __future__ import annotations

import sys

from tutor.workshop.pty_session import take_controlling_terminal


def main(argv: list[str]) -> None:
    take_controlling_terminal()
    from tutor.cli import main as run_tutor

    sys.exit(run_tutor(argv))
