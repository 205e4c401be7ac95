"""How `loss-tutor serve` holds up under a room: N real SSH clients on loopback, beside the targets.

    python -m bench.workshop [--sessions N] [--spread S] [--typists K] [--typing-seconds T] [--timeout S]
                             [--session-start fork|process]

Not part of the test suite (`make bench-workshop`). It starts `loss-tutor serve --headless --no-auth` on a free
loopback port with a fresh state folder (the model's weights come from the usual cache, built if missing), waits
until the shared engine has loaded the model, then:
1. N participants join, spread evenly over S seconds, each with an 80x24 terminal: it logs in, waits for the app,
   presses `7` and waits until the cross-entropy lesson's (lesson 7's) numbers are on its screen (read with pyte).
2. K of them press a key each second for T seconds (`n` and `p`: lessons 7 and 8 in turn), each timed from the
   key to the frame showing the other lesson; the others stay connected, idle.
3. Every connection is dropped (no goodbye); no session process may be left behind.
4. `serve` is stopped as the instructor does (SIGINT); nothing of it may be left.
Medians and p95s come from all participants (all keys for key → frame). Memory is PSS from
/proc/PID/smaps_rollup of the server, its engine, its session forker and every session process, read once all N
show their numbers and again after the typing. The clients run in this process, on the same CPUs: their own CPU time is shown.
The `diagnosis` rows say where time and memory go: CPU time per session and of the engine, and what one
session's Python and imports cost on their own (the part the session forker shares; `--session-start process`
measures sessions started without it).

Whatever happens (a failure, ctrl+c, SIGTERM), the server is stopped and every process it started is ended;
`serve` also gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import math
import os
import queue
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from bench.__main__ import PYTHON, Row, last_line, print_row, seconds, within
from bench.workshop_client import (
    CROSS_ENTROPY_LESSON,
    Participant,
    SessionEnded,
    any_lesson,
    cross_entropy_number,
    on_lesson,
)
from bench.workshop_processes import Registry, Tree, cpu_s, memory, session_pid, stat
from tutor.workshop.options import SESSION_STARTS

# Targets (issue 10), for 30 sessions on the 2-core box.
ALL_READY_S = 20.0           # first join to all N showing the cross-entropy lesson's numbers, joins spread over 10 s
FIRST_FRAME_P50_S = 0.3      # login to the first frame
FIRST_FRAME_P95_S = 1.0
KEY_FRAME_P95_MS = 150.0     # key to frame over SSH while K sessions press a key each second
TOTAL_PSS_MB = 3.0 * 1024    # server + engine + all sessions
SESSION_PSS_MB = 70.0        # each extra session

SECTION = "workshop"
SERVER_START_BUDGET_S = 60.0   # `serve` to its banner
MODEL_LOAD_BUDGET_S = 180.0    # the engine's "model loaded" line (it builds the weights' cache if missing)
REPRESS_S = 5.0                # a `5` pressed before the app took keys is pressed again
KEY_BUDGET_S = 5.0             # a key with no frame by then counts as one without a frame
LEFTOVER_BUDGET_S = 30.0       # after the drop: the server's ladder is SIGHUP, SIGTERM, SIGKILL, 5 s apart
STOP_BUDGET_S = 30.0           # `serve` after SIGINT
IMPORT_RUNS = 3

# One session's own start, without the server: a fresh Python importing what a participant's process imports
# before its first frame (tutor/workshop/session_entry.py → tutor.cli → the app). Prints seconds spent
# importing, CPU seconds of the whole process, and its PSS and private memory in kB.
IMPORT_CHILD = """
import gc, resource, time
gc.disable()  # as tutor.cli.build_app does until the first frame
started = time.perf_counter()
import tutor.workshop.session_entry, tutor.cli, tutor.engine.shared_client, tutor.ui.app
imported = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
with open("/proc/self/smaps_rollup") as rollup:
    fields = {name: rest.split() for name, rest in (line.split(":", 1) for line in rollup if ":" in line)}
kb = lambda name: int(fields[name][0])
print(imported, usage.ru_utime + usage.ru_stime, kb("Pss"), kb("Private_Clean") + kb("Private_Dirty"), flush=True)
"""

# What the engine does for each participant who joins: one report for the default settings on the sample story
# (compute_report, bug lab included), after the model is loaded and warm. Prints the median seconds of N runs
# and the CPU seconds each took on average (torch computes on every core).
COMPUTE_CHILD = """
import statistics, sys, time
from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, read_text_file
from tutor.lm.compute import compute_report, warm_up
warm_up()
request = Request(text=read_text_file(SAMPLE_TEXT_PATH).text, settings=Settings(), source="bench")
compute_report(request)
times = []
cpu_started = time.process_time()
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    compute_report(request)
    times.append(time.perf_counter() - started)
print(statistics.median(times), (time.process_time() - cpu_started) / len(times), flush=True)
"""
COMPUTE_RUNS = 5


# --- figures -----------------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def mb(kilobytes: float) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def ms(value_s: float) -> str:
    return f"{value_s * 1000:,.0f} ms"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def show(row: Row) -> None:
    print_row(SECTION, row)


# --- the server --------------------------------------------------------------------------------------------


def _end_with_this_process() -> None:
    """In `serve`'s child, before exec: SIGTERM when this benchmark dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """`loss-tutor serve --headless --no-auth` on a free loopback port; its log is read on a thread (a full
    pipe would stop its event loop) and kept."""

    def __init__(self, state_dir: Path, sessions: int, session_start: str):
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*PYTHON, "-m", "tutor", "serve", "--headless", "--no-auth", "--port", "0", "--state-dir", str(state_dir),
             "--max-sessions", str(max(sessions, 40)), "--session-start", session_start],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # the terminal's ctrl+c reaches this benchmark, which stops serve in order
            preexec_fn=_end_with_this_process,
        )
        self.pid = self.process.pid
        self.log: list[str] = []
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._drain, name="serve-log", daemon=True).start()
        self._seen = 0

    def _drain(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, pattern: str, budget_s: float) -> re.Match:
        """The first log line (from the start) matching `pattern`; RuntimeError if none comes in time."""
        compiled = re.compile(pattern)
        for line in self.log:
            if found := compiled.search(line):
                return found
        deadline = time.monotonic() + budget_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"serve ended (exit code {self.process.wait()}) before {pattern!r}: "
                                   f"{last_line(chr(10).join(self.log))}")
            self.log.append(line)
            if found := compiled.search(line):
                return found
        raise RuntimeError(f"serve did not log {pattern!r} within {budget_s:g} s")

    def take_log(self) -> None:
        """Move what the server has logged so far into `log`."""
        with contextlib.suppress(queue.Empty):
            while (line := self._lines.get_nowait()) is not None:
                self.log.append(line)

    def stop(self, budget_s: float = STOP_BUDGET_S) -> tuple[int | None, float]:
        """SIGINT, as the instructor's ctrl+c; SIGKILL if it has not ended within the budget. Its exit code
        (None: it had to be killed) and how long it took."""
        started = time.monotonic()
        if self.process.poll() is not None:
            return self.process.returncode, 0.0
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        try:
            code: int | None = self.process.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self.take_log()
        return code, time.monotonic() - started


# --- one moment of the server's processes ------------------------------------------------------------------


@dataclass
class Snapshot:
    server_pss_kb: int
    engine_pss_kb: int
    forker_pss_kb: int
    others_pss_kb: int
    session_pss_kb: list[int]
    session_private_kb: list[int]
    session_rss_kb: list[int]
    session_cpu_s: list[float]
    processes_per_session: list[int]
    engine_cpu_s: float
    server_cpu_s: float

    @property
    def total_pss_kb(self) -> int:
        return (self.server_pss_kb + self.engine_pss_kb + self.forker_pss_kb + self.others_pss_kb
                + sum(self.session_pss_kb))


def snapshot(server_pid: int, registry: Registry) -> Snapshot:
    tree = Tree.read(server_pid)
    registry.record(tree)

    def pss(pids: list[int]) -> int:
        return sum(found.pss_kb for pid in pids if (found := memory(pid)) is not None)

    def cpu(pids: list[int]) -> float:
        return sum(found.cpu_s for pid in pids if (found := stat(pid)) is not None)

    groups = list(tree.sessions.values())
    per_group = [[memory(pid) for pid in members] for members in groups]
    return Snapshot(
        server_pss_kb=pss([server_pid]),
        engine_pss_kb=pss(tree.engines),
        forker_pss_kb=pss(tree.forkers),
        others_pss_kb=pss(tree.others),
        session_pss_kb=[sum(m.pss_kb for m in group if m) for group in per_group],
        session_private_kb=[sum(m.private_kb for m in group if m) for group in per_group],
        session_rss_kb=[sum(m.rss_kb for m in group if m) for group in per_group],
        session_cpu_s=[cpu(members) for members in groups],
        processes_per_session=[len(members) for members in groups],
        engine_cpu_s=cpu(tree.engines),
        server_cpu_s=cpu([server_pid]),
    )


async def keep_recording(server_pid: int, registry: Registry, every_s: float = 1.0) -> None:
    """Record the server's processes while participants join, so that every session's pid is known."""
    while True:
        await asyncio.to_thread(lambda: registry.record(Tree.read(server_pid)))
        await asyncio.sleep(every_s)


# --- the participants --------------------------------------------------------------------------------------


async def reach_the_cross_entropy_lesson(participant: Participant, port: int, server_pid: int) -> None:
    participant.stage = "logging in"
    await participant.log_in(port)
    participant.session_pid = await asyncio.to_thread(session_pid, server_pid, participant.name)
    if (cpu := cpu_s(participant.session_pid)) is not None:
        participant.cpu_at["first frame"] = cpu  # a little after it: finding the process takes a moment
    participant.stage = "waiting for the app's lesson title"
    participant.title_shown = await participant.expect(any_lesson)
    chunks_at_title = participant.chunks

    def numbers_shown(lines: list[str]) -> bool:
        participant.number = cross_entropy_number(lines)
        return participant.number is not None

    participant.stage = "waiting for the cross-entropy lesson's numbers"
    shown = participant.expect(numbers_shown)
    while participant.numbers_shown is None:
        participant.press(str(CROSS_ENTROPY_LESSON))
        with contextlib.suppress(asyncio.TimeoutError):
            participant.numbers_shown = await asyncio.wait_for(asyncio.shield(shown), REPRESS_S)
        if participant.numbers_shown is None and on_lesson(CROSS_ENTROPY_LESSON)(participant.lines):  # there, waiting: no need to press again
            participant.numbers_shown = await shown
    participant.updates_while_waiting = participant.chunks - chunks_at_title
    participant.bytes_to_numbers = participant.received_bytes
    if (cpu := cpu_s(participant.session_pid)) is not None:
        participant.cpu_at["numbers"] = cpu


async def join(participant: Participant, port: int, server_pid: int, at: float, budget_s: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    try:
        await asyncio.wait_for(reach_the_cross_entropy_lesson(participant, port, server_pid), budget_s)
    except asyncio.TimeoutError:
        participant.failure = f"nothing after {budget_s:g} s {participant.stage}"
    except (OSError, asyncssh.Error, SessionEnded) as error:
        participant.failure = f"{participant.stage}: {type(error).__name__}: {error}"


async def keep_typing(participant: Participant, offset_s: float, keys: int) -> None:
    """A key each second: from the cross-entropy lesson `n` (to the next), from there `p` (back), each timed to its
    frame."""
    next_key = time.monotonic() + offset_s
    for _ in range(keys):
        await asyncio.sleep(max(0.0, next_key - time.monotonic()))
        next_key += 1.0
        here = on_lesson(CROSS_ENTROPY_LESSON)(participant.lines)
        target, key = (CROSS_ENTROPY_LESSON + 1, "n") if here else (CROSS_ENTROPY_LESSON, "p")
        arrived = participant.expect(on_lesson(target))
        pressed = participant.press(key)
        try:
            participant.key_latencies_s.append(await asyncio.wait_for(arrived, KEY_BUDGET_S) - pressed)
        except asyncio.TimeoutError:
            participant.keys_without_frame += 1
        except SessionEnded:
            participant.failure = participant.failure or "the session ended while typing"
            return


# --- the run -----------------------------------------------------------------------------------------------


@dataclass
class Options:
    sessions: int
    spread_s: float
    typists: int
    typing_s: int
    budget_s: float


async def drive(server: Server, port: int, options: Options, registry: Registry) -> None:
    participants = [Participant(f"p{number:02d}") for number in range(1, options.sessions + 1)]
    recorder = asyncio.create_task(keep_recording(server.pid, registry))
    try:
        await run_phases(server, port, options, registry, participants)
    finally:
        recorder.cancel()
        for participant in participants:
            participant.drop()


async def run_phases(server: Server, port: int, options: Options, registry: Registry,
                     participants: list[Participant]) -> None:
    before = await asyncio.to_thread(snapshot, server.pid, registry)
    own_before = own_cpu_s()
    ready, all_ready_s = await joining(port, server.pid, options, participants)
    own_joining = own_cpu_s() - own_before
    at_ready = await asyncio.to_thread(snapshot, server.pid, registry)

    typists = ready[:options.typists]
    record_cpu(ready, "typing started")
    own_before = own_cpu_s()
    typing_started = time.monotonic()
    await typing(typists, options.typing_s)
    typing_s = time.monotonic() - typing_started
    own_typing = own_cpu_s() - own_before
    record_cpu(ready, "typing ended")
    after_typing = await asyncio.to_thread(snapshot, server.pid, registry)

    for row in memory_rows(at_ready, after_typing):
        show(row)
    for row in cpu_rows(before, at_ready, all_ready_s, own_joining, ready):
        show(row)
    idle = [p for p in ready if p not in typists]
    if typists and options.typing_s:
        engine_share = (after_typing.engine_cpu_s - at_ready.engine_cpu_s) / typing_s
        for row in typing_cpu_rows(idle, typists, typing_s, own_typing, engine_share):
            show(row)
    await dropping(server, registry, participants)


async def joining(port: int, server_pid: int, options: Options,
                  participants: list[Participant]) -> tuple[list[Participant], float]:
    """Phase 1: everyone joins, spread evenly, and goes to the cross-entropy lesson. Those who got there, and the seconds from
    the first join until the last of them did."""
    count = len(participants)
    first_join = time.monotonic() + 0.2
    step = options.spread_s / (count - 1) if count > 1 else 0.0
    await asyncio.gather(*(join(participant, port, server_pid, first_join + index * step, options.budget_s)
                           for index, participant in enumerate(participants)))
    ready = [p for p in participants if p.numbers_shown is not None]
    failed = [p for p in participants if p.numbers_shown is None]
    show(Row("participants with the cross-entropy numbers", f"{len(ready)} of {count}", f"all {count}", within(len(failed), 0)))
    for participant in failed[:5]:
        show(Row(f"  {participant.name} failed", verdict=participant.failure or "?"))
    if not ready:
        raise RuntimeError("no participant reached the cross-entropy lesson's numbers")
    all_ready_s = max(p.numbers_shown for p in ready) - first_join
    shown_numbers = sorted({p.number for p in ready})
    show(Row("  its average log-probability shown", ", ".join(shown_numbers),
             verdict="" if len(shown_numbers) == 1 else "DIFFERENT"))
    show(Row(f"first join to all {count} showing numbers", seconds(all_ready_s), f"≤ {ALL_READY_S:.0f} s",
             within(all_ready_s, ALL_READY_S) if not failed else "MISSED"))
    to_numbers = [p.numbers_shown - p.join_started for p in ready]
    show(Row("  join to own numbers, p50 / p95", f"{seconds(statistics.median(to_numbers))} / "
             f"{seconds(p95(to_numbers))}"))
    logins = [p.logged_in - p.join_started for p in participants if p.logged_in is not None]
    show(Row("  login (connect + key exchange), p50", ms(statistics.median(logins))))
    show(Row("  first frame to the app's lesson title, p50",
             seconds(statistics.median(p.title_shown - p.first_frame for p in ready))))
    show(Row("  lesson title to the cross-entropy numbers, p50",
             seconds(statistics.median(p.numbers_shown - p.title_shown for p in ready))))
    first_frames = [p.first_frame - p.logged_in for p in participants if p.first_frame is not None]
    p50, high = statistics.median(first_frames), p95(first_frames)
    show(Row("first frame after login, p50", seconds(p50), f"≤ {FIRST_FRAME_P50_S:.2f} s",
             within(p50, FIRST_FRAME_P50_S)))
    show(Row("first frame after login, p95", seconds(high), f"≤ {FIRST_FRAME_P95_S:.2f} s",
             within(high, FIRST_FRAME_P95_S)))
    return ready, all_ready_s


async def typing(typists: list[Participant], keys: int) -> None:
    """Phase 2: each typist presses a key a second, their keys spread over each second."""
    await asyncio.gather(*(keep_typing(participant, index / len(typists), keys)
                           for index, participant in enumerate(typists)))
    latencies = [latency for p in typists for latency in p.key_latencies_s]
    lost = sum(p.keys_without_frame for p in typists)
    label = f"key to frame over SSH, {len(typists)} typing"
    if latencies:
        high = p95(latencies)
        show(Row(f"{label}, p50", ms(statistics.median(latencies))))
        show(Row(f"{label}, p95", ms(high), f"≤ {KEY_FRAME_P95_MS:.0f} ms", within(high * 1000, KEY_FRAME_P95_MS)))
        show(Row("  slowest key to frame", ms(max(latencies))))
    show(Row(f"  keys with no frame within {KEY_BUDGET_S:g} s", f"{lost} of {lost + len(latencies)}", "none",
             within(lost, 0)))


def memory_rows(at_ready: Snapshot, after_typing: Snapshot) -> list[Row]:
    """PSS at the larger of the two moments, split by process."""
    largest = max((at_ready, after_typing), key=lambda moment: moment.total_pss_kb)
    sessions = len(largest.session_pss_kb)
    rows = [
        Row(f"PSS total: serve + engine + {sessions} sessions", mb(largest.total_pss_kb),
            f"≤ {TOTAL_PSS_MB / 1024:.1f} GB = {TOTAL_PSS_MB:,.0f} MB", within(largest.total_pss_kb / 1024, TOTAL_PSS_MB)),
        Row("  all on the cross-entropy lesson / after typing", f"{mb(at_ready.total_pss_kb)} / {mb(after_typing.total_pss_kb)}"),
        Row("  serve (SSH server, ptys)", mb(largest.server_pss_kb)),
        Row("  shared engine", mb(largest.engine_pss_kb)),
    ]
    if largest.forker_pss_kb:
        rows.append(Row("  session forker (the warm parent)", mb(largest.forker_pss_kb)))
    if largest.others_pss_kb:
        rows.append(Row("  other processes of serve", mb(largest.others_pss_kb)))
    rows.append(Row(f"  all {sessions} sessions", mb(sum(largest.session_pss_kb))))
    if sessions:
        per_session = sum(largest.session_pss_kb) / sessions
        rows += [
            Row("PSS per session (mean)", mb(per_session), f"≤ {SESSION_PSS_MB:.0f} MB",
                within(per_session / 1024, SESSION_PSS_MB)),
            Row("  private (USS) per session, median", mb(statistics.median(largest.session_private_kb))),
            Row("  RSS per session, median", mb(statistics.median(largest.session_rss_kb))),
            Row("  processes per session", ", ".join(str(n) for n in sorted(set(largest.processes_per_session)))),
        ]
    return rows


def record_cpu(participants: list[Participant], moment: str) -> None:
    for participant in participants:
        if (cpu := cpu_s(participant.session_pid)) is not None:
            participant.cpu_at[moment] = cpu


def median_of(values: list[float], show_value) -> str:
    return show_value(statistics.median(values)) if values else "n/a"


def cpu_rows(before: Snapshot, at_ready: Snapshot, all_ready_s: float, own_joining: float,
             ready: list[Participant]) -> list[Row]:
    """Where the CPU time went from the first join until all showed their numbers, against what there was."""
    if not at_ready.session_cpu_s:
        return []
    cores = os.cpu_count() or 1
    engine_cpu = at_ready.engine_cpu_s - before.engine_cpu_s
    until_frame = [p.cpu_at["first frame"] for p in ready if "first frame" in p.cpu_at]
    waiting = [p.cpu_at["numbers"] - p.cpu_at["first frame"] for p in ready
               if {"first frame", "numbers"} <= p.cpu_at.keys()]
    return [
        Row("diagnosis: CPU per session, start to numbers", seconds(statistics.median(at_ready.session_cpu_s))),
        Row("  of which until its first frame (about)", median_of(until_frame, seconds)),
        Row("  of which first frame to numbers", median_of(waiting, seconds)),
        Row("  screen updates while waiting, per session", median_of([p.updates_while_waiting for p in ready],
                                                                      lambda value: f"{value:.0f}")),
        Row("  bytes to a session, login to numbers", median_of([p.bytes_to_numbers for p in ready],
                                                                 lambda value: f"{value / 1024:,.0f} kB")),
        Row(f"  CPU, all {len(at_ready.session_cpu_s)} sessions, until all ready", seconds(sum(at_ready.session_cpu_s))),
        Row("  CPU, engine, until all ready", seconds(engine_cpu)),
        Row(f"  CPU, engine, per report ({len(ready)} reports)", ms(engine_cpu / len(ready))),
        Row("  CPU, serve (SSH, ptys), until all ready", seconds(at_ready.server_cpu_s - before.server_cpu_s)),
        Row("  CPU, this benchmark's clients (ssh, pyte)", seconds(own_joining)),
        Row(f"  CPU there was: {cores} CPUs × {all_ready_s:.1f} s", seconds(cores * all_ready_s)),
    ]


def typing_cpu_rows(idle: list[Participant], typists: list[Participant], typing_s: float, own_typing: float,
                    engine_share: float) -> list[Row]:
    """What a session costs while its participant reads, and while they press a key a second; the engine with
    nothing to compute."""
    def share(participants: list[Participant]) -> list[float]:
        return [(p.cpu_at["typing ended"] - p.cpu_at["typing started"]) / typing_s for p in participants
                if {"typing started", "typing ended"} <= p.cpu_at.keys()]

    def percent(value: float) -> str:
        return f"{value * 100:.1f} %"

    return [
        Row("diagnosis: CPU of a session typing, of one CPU", median_of(share(typists), percent)),
        Row("  CPU of an idle session, of one CPU", median_of(share(idle), percent)),
        Row("  CPU of the engine, nothing to compute", percent(engine_share)),
        Row("  CPU, this benchmark's clients while typing", seconds(own_typing)),
    ]


async def dropping(server: Server, registry: Registry, participants: list[Participant]) -> None:
    """Phase 3: every connection dropped at once; no session process may stay."""
    registry.record(await asyncio.to_thread(Tree.read, server.pid))
    dropped = time.monotonic()
    for participant in participants:
        participant.drop()
    while (left := await asyncio.to_thread(registry.sessions_left)) and time.monotonic() - dropped < LEFTOVER_BUDGET_S:
        await asyncio.sleep(0.2)
    gone_s = time.monotonic() - dropped
    show(Row("session processes left after dropping all", f"{len(left)}", "none", within(len(left), 0)))
    show(Row(f"  checked: {len(registry.session_pids)} pids in {len(registry.session_groups)} session groups",
             f"gone in {gone_s:.1f} s" if not left else f"left: {left[:8]}"))


def measure_imports(runs: int) -> list[Row]:
    """One session's Python and imports, cold, with nothing else running."""
    figures = []
    for _ in range(runs):
        launched = time.perf_counter()
        done = subprocess.run([*PYTHON, "-c", IMPORT_CHILD], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return [Row("diagnosis: one session's imports", verdict=f"skipped: {last_line(done.stderr)}")]
        imported, cpu, pss, private = (float(value) for value in done.stdout.split())
        figures.append((time.perf_counter() - launched, imported, cpu, pss, private))

    def median(column: int) -> float:
        return statistics.median(figure[column] for figure in figures)

    return [
        Row("diagnosis: one session's Python + imports, cold", seconds(median(0))),
        Row("  of which imports (Textual, the app)", seconds(median(1))),
        Row("  CPU of that process", seconds(median(2))),
        Row("  its PSS / private memory after imports", f"{mb(median(3))} / {mb(median(4))}"),
    ]


def measure_compute(runs: int, sessions: int) -> list[Row]:
    """One participant's report, computed alone with a warm model: what the engine does `sessions` times in a row."""
    done = subprocess.run([*PYTHON, "-c", COMPUTE_CHILD, str(runs)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return [Row("diagnosis: one default report", verdict=f"skipped: {last_line(done.stderr)}")]
    each, cpu = (float(value) for value in done.stdout.split())
    return [
        Row("diagnosis: one default report, warm, alone", ms(each)),
        Row("  its CPU time", ms(cpu)),
        Row(f"  × {sessions} sessions, one after another", seconds(each * sessions)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workshop", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="participants (default 30)")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which they join (default 10)")
    parser.add_argument("--typists", type=int, default=10, help="how many of them press a key each second (default 10)")
    parser.add_argument("--typing-seconds", type=int, default=30, help="for how long (default 30)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a participant may take to reach the cross-entropy lesson's numbers (default 120)")
    parser.add_argument("--session-start", choices=SESSION_STARTS, default=SESSION_STARTS[0],
                        help="how serve starts each participant's tutor (default: forked from a warm parent)")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.typists < 0 or args.typing_seconds < 0 or args.spread < 0 or args.timeout <= 0:
        parser.error("--sessions must be at least 1; --typists, --typing-seconds and --spread not negative; "
                     "--timeout positive")
    if not Path("/proc/self/smaps_rollup").exists():
        parser.error("this benchmark reads /proc/PID/smaps_rollup (Linux 4.14 or later)")
    options = Options(args.sessions, args.spread, min(args.typists, args.sessions), args.typing_seconds, args.timeout)

    # SIGTERM and SIGHUP end the run as ctrl+c does: through the clean-up below.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))

    print(f"{options.sessions} sessions joining over {options.spread_s:g} s · {options.typists} typing for "
          f"{options.typing_s} s · sessions started by {args.session_start} · {os.cpu_count()} CPUs · load average {load_average()} · python "
          f"{sys.version.split()[0]}", flush=True)
    print_row("section", Row("figure", "value", "target", "verdict"))
    scratch = Path(tempfile.mkdtemp(prefix="loss-tutor-bench-workshop-"))
    os.chdir(scratch)  # the children import the installed tutor, never the source tree (see bench/__main__.py)
    server: Server | None = None
    registry = Registry()
    try:
        for row in measure_imports(IMPORT_RUNS) + measure_compute(COMPUTE_RUNS, options.sessions):
            show(row)
        server = Server(scratch / "workshop", options.sessions, args.session_start)
        port = int(server.wait_for(r"port (\d+):", SERVER_START_BUDGET_S)[1])
        show(Row("serve: start to listening", seconds(time.monotonic() - server.started)))
        loaded = server.wait_for(r"model loaded in ([\d.]+) s", MODEL_LOAD_BUDGET_S)
        show(Row("  engine: model loaded (its own figure)", f"{loaded[1]} s"))
        asyncio.run(drive(server, port, options, registry))

        registry.record(Tree.read(server.pid))
        code, took = server.stop()
        stayed = sorted({pid for pid in registry.processes if registry.alive(pid)} | set(registry.sessions_left()))
        show(Row("serve stopped by SIGINT (ctrl+c)", f"{took:.1f} s", "exit code 0",
                 "ok" if code == 0 else f"MISSED: {'killed' if code is None else f'exit code {code}'}"))
        show(Row("  its processes left after it stopped", str(len(stayed)), "none", within(len(stayed), 0)))
        print(f"load average at the end: {load_average()}", flush=True)
        return 0
    except KeyboardInterrupt:
        print("interrupted: stopping the server and its processes", file=sys.stderr)
        return 130
    except (RuntimeError, OSError) as error:
        show(Row("", verdict=f"stopped: {type(error).__name__}: {error}"))
        if server is not None:
            server.take_log()
            for line in server.log[-15:]:
                print(f"  serve: {line}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        killed = registry.kill_leftovers()
        if killed:
            print(f"clean-up: killed {len(killed)} process(es) left behind: {killed}", file=sys.stderr)
        os.chdir("/")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
