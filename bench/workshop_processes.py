"""What the workshop benchmark reads about `loss-tutor serve`'s processes, from /proc: which processes make up
the server, its engine and each participant's session; their memory (smaps_rollup) and CPU time; whether any
is still running; and ending whatever is left (only processes recorded here, checked by their start time, so a
reused process number is never signalled)."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

ENGINE_MODULE = "tutor.engine.shared_server"  # in the shared engine's command line (tutor/engine/shared_supervisor.py)
FORKER_MODULE = "tutor.workshop.session_forker"  # in the session forker's (tutor/workshop/forked_sessions.py)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    state: str
    parent: int
    group: int
    cpu_s: float  # user + system
    started: int  # in clock ticks after boot: with the pid, names one process for good


def stat(pid: int) -> Stat | None:
    """/proc/<pid>/stat, or None once the process is gone (a zombie counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return Stat(fields[0], int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
                int(fields[19]))


def all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def descendants(root: int) -> list[int]:
    """Every running process below `root`, children first."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        if (info := stat(pid)) is not None:
            children.setdefault(info.parent, []).append(pid)
    found, frontier = [], [root]
    while frontier:
        below = [child for pid in frontier for child in children.get(pid, [])]
        found += below
        frontier = below
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def session_pid(server: int, name: str) -> int | None:
    """The process of participant `name`'s session: the one below the server that runs in their progress folder
    (tutor/workshop/server.py starts it there)."""
    for pid in descendants(server):
        with contextlib.suppress(OSError):
            folder = Path(os.readlink(f"/proc/{pid}/cwd"))
            if folder.name == name and folder.parent.name == "participants":
                return pid
    return None


def cpu_s(pid: int | None) -> float | None:
    found = stat(pid) if pid is not None else None
    return found.cpu_s if found is not None else None


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    pss_kb: int
    private_kb: int  # USS: pages no other process maps; what ending this process would free


def memory(pid: int) -> Memory | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            fields = {name: int(rest.split()[0]) for name, rest in (line.split(":", 1) for line in rollup if ":" in line)
                      if rest.split() and rest.split()[0].isdigit()}
    except OSError:
        return None
    return Memory(fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"])


@dataclass
class Tree:
    """`loss-tutor serve` at one moment: its own process, the engine, the session forker, and each session's
    process group."""

    server: int
    engines: list[int] = field(default_factory=list)
    forkers: list[int] = field(default_factory=list)
    sessions: dict[int, list[int]] = field(default_factory=dict)  # process group → its processes
    others: list[int] = field(default_factory=list)  # in the server's own group: neither engine nor session

    @classmethod
    def read(cls, server: int) -> Tree:
        tree = cls(server)
        own = stat(server)
        for pid in descendants(server):
            if (info := stat(pid)) is None:
                continue
            command = command_line(pid)
            if ENGINE_MODULE in command:
                tree.engines.append(pid)
            elif FORKER_MODULE in command and info.parent == server:  # a group of its own, yet no one's session;
                tree.forkers.append(pid)  # the sessions it forks keep its command line, a level below
            elif own is not None and info.group == own.group:
                tree.others.append(pid)
            else:  # each session leads a process group of its own (tutor/workshop/pty_session.py)
                tree.sessions.setdefault(info.group, []).append(pid)
        return tree

    def pids(self) -> list[int]:
        sessions = (pid for members in self.sessions.values() for pid in members)
        return [self.server, *self.engines, *self.forkers, *self.others, *sessions]


class Registry:
    """Every process of the server seen so far, to check at the end and to end if need be."""

    def __init__(self) -> None:
        self.processes: dict[int, int] = {}  # pid → its start time
        self.session_groups: set[int] = set()
        self.session_pids: set[int] = set()

    def record(self, tree: Tree) -> None:
        for pid in tree.pids():
            if (info := stat(pid)) is not None:
                self.processes.setdefault(pid, info.started)
        for group, members in tree.sessions.items():
            self.session_groups.add(group)
            self.session_pids.update(members)

    def alive(self, pid: int) -> bool:
        info = stat(pid)
        return info is not None and info.started == self.processes.get(pid, info.started)

    def sessions_left(self) -> list[int]:
        """Session processes still running: those recorded, and any other member of a recorded session's group."""
        left = {pid for pid in self.session_pids if self.alive(pid)}
        left.update(pid for pid in all_pids() if (info := stat(pid)) is not None and info.group in self.session_groups)
        return sorted(left)

    def kill_leftovers(self) -> list[int]:
        """SIGKILL whatever recorded process is still running (and the rest of its session group)."""
        killed = []
        for pid in [pid for pid in self.processes if self.alive(pid)] + self.sessions_left():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        return sorted(set(killed))
