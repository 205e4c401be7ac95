"""How fast the tutor's model starts and runs, and how much memory it needs, beside the targets.

    python -m bench [--runs N] [--only SECTION]

Not part of the test suite. It measures the installed package (`make bench` installs it as a user
would: not editable, byte-compiled). Every figure comes from fresh subprocesses (`python -I -c ...`), so
each one starts cold; each is the median of N runs (default 5). All runs use a private temporary
cache directory, never the user's own. This process never imports torch: a child's ru_maxrss
starts from its parent's peak RSS (Linux keeps it across exec), so a big parent would spoil it.

To add a section, write a function `(Bench) -> list[Row]` and add it to SECTIONS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.app_child import BUILD_AND_RECORD_FRAMES
from bench.generation import SPEEDUP, WITH_CACHE_TOKENS_PER_SECOND, measure_generation
from bench.training import measure_training
from bench.training_ui import TEXT_RUN_SECONDS, measure_training_stalls
from bench.weights import FORMATS, measure_weights, write_weight_files

# Targets.
WARM_READY_S = 1.4      # launch to model ready, warm cache
ONE_PROCESS_MB = 800    # peak RSS of one process that loads the model and runs a (2, 8) forward
TWO_PROCESS_RATIO = 1.25  # summed PSS of two processes vs one
PLAIN_RATIO = 1.2       # `python -m tutor --plain` vs a bare script doing the same math
BIG_BATCH_MB = 1300     # peak RSS of `loss-tutor --json` at (8, 256)
BUDGET_MB = 1500        # peak RSS of the largest request the tutor accepts (tutor.core.settings.MEMORY_BUDGET)

FIRST_FRAME_S = 0.30    # launch to the app's first frame
NUMBERS_READY_S = 1.6   # launch to the lesson's live numbers, warm cache
STALL_MS = 50           # longest pause of the app's event loop while loading or computing
CHANGE_MS = 50          # changing lesson or batch row

TEXT_RUN_S = 240        # the text run's default run, whole, on the sample story (issue 12)
OVERFIT_STEP_S = 0.9    # one overfitting step of the default (2, 8) batch, as issue 12 measured it (no target)

# Every child runs isolated (-I): it imports the installed tutor, never one from the current folder
# (`make bench` runs in the source tree), and ignores PYTHON* variables.
PYTHON = [sys.executable, "-I"]
PLAIN_COMMAND = ["-m", "tutor", "--plain"]  # after PYTHON

# A child that loads the model and prints when torch was imported and when the model was ready.
READY_CHILD = """
import time
import torch
imported = time.time()
from tutor.lm.weights import load_tutor_model
load_tutor_model()
print(imported, time.time(), flush=True)
"""

# A child that loads the model, runs a (2, 8) forward and prints its peak RSS in kB.
PEAK_RSS_CHILD = """
import resource
import torch
from tutor.lm.weights import load_tutor_model
model = load_tutor_model()
with torch.no_grad():
    model(torch.zeros(2, 8, dtype=torch.long))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""

# Like PEAK_RSS_CHILD, but then says "ready" and waits until its stdin is closed, so the parent can
# read its memory while it is alive.
WAITING_CHILD = """
import sys
import torch
from tutor.lm.weights import load_tutor_model
model = load_tutor_model()
with torch.no_grad():
    model(torch.zeros(2, 8, dtype=torch.long))
print("ready", flush=True)
sys.stdin.read()
"""

# Times forwards of the given shapes under torch.no_grad() and prints one line per shape:
# "B T calls median_seconds".
FORWARD_CHILD = """
import statistics, sys, time
import torch
from tutor.lm.weights import load_tutor_model
model = load_tutor_model()
for shape, calls in [((2, 8), 20), ((8, 256), int(sys.argv[1]))]:
    idx = torch.randint(0, 50257, shape)
    times = []
    with torch.no_grad():
        model(idx)  # warm-up
        for _ in range(calls):
            start = time.perf_counter()
            model(idx)
            times.append(time.perf_counter() - start)
    print(*shape, calls, statistics.median(times), flush=True)
"""

# The bare script for the --plain comparison: the same model, the same first batch of the story
# (batch size 2, context length 8, stride 4: the tutor's defaults), the same cross entropy.
BARE_SCRIPT = """
import sys
import torch
from safetensors.torch import load_file
from tutor.lm.model import GPT_CONFIG_124M
from tutor.lm.tokenizer import encode
from tutor.lm.weights import build_unfilled_model

model = build_unfilled_model(GPT_CONFIG_124M)
model.load_state_dict(load_file(sys.argv[1]), assign=True)
model.eval()

with open(sys.argv[2], encoding="utf-8") as f:
    ids = encode(f.read())
starts = [0, 4]
inputs = torch.tensor([ids[s:s + 8] for s in starts])
targets = torch.tensor([ids[s + 1:s + 9] for s in starts])
with torch.no_grad():
    logits = model(inputs)
loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
print(f"loss {loss.item():.4f}")
"""


# A child that computes one request, as `loss-tutor --json` ("cli") or as the app's computing process does
# (tutor.engine.child.serve, bug lab included: "engine"), and prints its peak RSS in kB. Arguments: mode, text file
# ("-" for the sample story), batch size, context length, stride, shuffle (0/1), batch number ("last" for
# the text's last batch).
COMPUTE_CHILD = """
import io, os, pickle, resource, sys
mode, text_path, batch_size, context_length, stride, shuffle, batch = sys.argv[1:8]
from tutor.lm.data import tokenize
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, read_text_file
from tutor.core.windows import count_batches
loaded = read_text_file(SAMPLE_TEXT_PATH if text_path == "-" else text_path)
if batch == "last":
    batches = count_batches(len(tokenize(loaded.text)), batch_size=int(batch_size), context_length=int(context_length),
                            stride=int(stride))
    batch = str(batches - 1)
if mode == "cli":
    from tutor.cli import main
    sys.stdout = open(os.devnull, "w")
    argv = ["--json", "--text", str(SAMPLE_TEXT_PATH) if text_path == "-" else text_path, "--batch-size", batch_size,
            "--context-length", context_length, "--stride", stride, "--batch", batch] + ["--shuffle"] * (shuffle == "1")
    if main(argv) != 0:
        sys.exit("loss-tutor --json failed")
else:
    from tutor.core.protocol import Request
    from tutor.engine.child import serve
    settings = Settings(batch_size=int(batch_size), context_length=int(context_length), stride=int(stride),
                        shuffle=shuffle == "1", batch_index=int(batch))
    answers = io.BytesIO()
    serve(io.BytesIO(Request(text=loaded.text, settings=settings, source="bench").to_json()), answers)
    status, payload, _notices = pickle.loads(answers.getvalue())
    if status != "ok":
        sys.exit(f"the computing process answered {status}: {payload}")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.__stdout__, flush=True)
"""


def largest_text(path: Path, characters: int) -> Path:
    """`characters` characters that make as many GPT-2 tokens as a text of that length plausibly can
    (CJK, emoji and ASCII mixed at random: about 2 tokens a character), so the most windows at stride 1."""
    import random

    chooser = random.Random(0)
    ranges = [(0x4E00, 0x9FFF), (0x1F300, 0x1F5FF), (0x21, 0x7E)]
    text = "".join(chr(chooser.randint(*chooser.choice(ranges))) for _ in range(characters))
    path.write_text(text, encoding="utf-8")
    return path


# A child that starts the app as `loss-tutor` does (tutor.cli.build_app: the computing process first,
# then Textual), headless at 120x40, and prints JSON. Times come from the frames the app hands to its
# driver (App._display): a frame is what a terminal would show.
#   first_frame        launch to the first frame
#   numbers_ready      launch to the first frame drawn after the lesson's report arrived
#   *_stall_ms         the longest gap between 5 ms ticks of the event loop: from the first frame to
#                      numbers on screen, and during each recompute
#   lesson/row_ms      a key press to the first frame drawn after its handler finished (the new
#                      lesson or row on screen); *_settled_ms to the end of the last layout pass it
#                      caused (scroll bars and sizes settling), 0.3 s apart so nothing overlaps
#   recompute_*_s      a settings change to its new report
UI_CHILD = """
import json, statistics, sys, time
launched = float(sys.argv[1])
""" + BUILD_AND_RECORD_FRAMES + """
from textual.screen import Screen

layouts, handled = [], []
refresh_layout = Screen._refresh_layout
def recorded_layout(self, *args, **kwargs):
    refresh_layout(self, *args, **kwargs)
    layouts.append(time.time())
Screen._refresh_layout = recorded_layout

def longest_gap(start):
    gaps = [b - a for a, b in zip(ticks, ticks[1:]) if a >= start]
    return max(gaps, default=0.0) * 1000

stamps = {}

async def auto_pilot(pilot):
    from tutor.ui.screens.lesson import LessonScreen
    from tutor.core.settings import Settings
    import asyncio
    arrived = await numbers_on_screen(0.002)
    await asyncio.sleep(0.3)
    stamps["first_frame"] = frames[0] - launched
    stamps["numbers_ready"] = first_after(frames, arrived) - launched
    stamps["loading_stall_ms"] = longest_gap(frames[0])

    shown = LessonScreen.show_lesson
    def recorded_show(self):
        shown(self)
        handled.append(time.time())
    LessonScreen.show_lesson = recorded_show

    async def timed_key(key):
        handled.clear()
        started = time.time()
        await pilot.press(key)
        await asyncio.sleep(0.3)
        done = handled[-1] if handled else started
        return (first_after(frames, done) - started) * 1000, (layouts[-1] - started) * 1000

    changes = [await timed_key(key) for key in ["3", "4", "5", "1", "2", "7", "6", "0", "8", "9", "right", "left"]]
    stamps["lesson_ms"] = statistics.median(first for first, _ in changes)
    stamps["lesson_settled_ms"] = statistics.median(settled for _, settled in changes)
    stamps["lesson_max_ms"] = max(first for first, _ in changes)

    await pilot.press("3")
    app.screen.query_one("#panes").active = "tab-tokens"
    await asyncio.sleep(0.3)
    shown_pane = LessonScreen.show_active_pane
    def recorded_pane(self):
        shown_pane(self)
        handled.append(time.time())
    LessonScreen.show_active_pane = recorded_pane
    rows = [await timed_key(key) for key in ["right_square_bracket", "left_square_bracket"] * 4]
    stamps["row_ms"] = statistics.median(first for first, _ in rows)
    stamps["row_settled_ms"] = statistics.median(settled for _, settled in rows)

    for name, settings in [("recompute_2x8", Settings(batch_size=2, context_length=8, stride=4, batch_index=1)),
                           ("recompute_8x256", Settings(batch_size=8, context_length=256, stride=256))]:
        started = time.time()
        generation = app.recompute(settings=settings)
        while app.session.outcome.generation != generation:
            await asyncio.sleep(0.005)
        stamps[name + "_s"] = time.time() - started
        await asyncio.sleep(0.3)
        stamps[name + "_stall_ms"] = longest_gap(started)
        stamps[name + "_problem"] = app.session.outcome.problem
    app.exit()

app.run(headless=True, auto_pilot=auto_pilot, size=(120, 40))
print(json.dumps(stamps), flush=True)
"""


@dataclass
class Row:
    label: str
    value: str = ""
    target: str = ""
    verdict: str = ""  # "ok", "MISSED", or empty when there is no target


@dataclass
class Bench:
    """What the sections share: the number of runs and a scratch directory with a warm cache."""

    runs: int
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loss-tutor-bench-")))
    _warm: Path | None = field(default=None, init=False)

    def env(self, cache: Path) -> dict:
        return dict(os.environ, LOSS_TUTOR_CACHE_DIR=str(cache))

    @property
    def warm_cache(self) -> Path:
        """A cache directory that already holds the 124M weights (built on first use)."""
        if self._warm is None:
            warm = self.scratch / "warm"
            warm.mkdir()
            run_child(READY_CHILD, self.env(warm))
            self._warm = warm
        return self._warm

    def fresh_cache(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="cold-", dir=self.scratch))

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def run_child(code: str, env: dict, *args: str) -> str:
    """Run `code` in a fresh Python and return its stdout; raise with its stderr if it fails."""
    done = subprocess.run([*PYTHON, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {last_line(done.stderr)}")
    return done.stdout


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def within(value: float, limit: float) -> str:
    return "ok" if value <= limit else "MISSED"


def at_least(value: float, limit: float) -> str:
    return "ok" if value >= limit else "MISSED"


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def megabytes(kilobytes: float) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


# --- sections ---------------------------------------------------------------------------------


def bench_ready(bench: Bench) -> list[Row]:
    """Launch to model ready, with an empty cache directory and with a warm one."""
    def launch(cache: Path) -> tuple[float, float]:
        started = time.time()
        imported, ready = map(float, run_child(READY_CHILD, bench.env(cache)).split())
        return imported - started, ready - started

    warm = bench.warm_cache
    cold_runs, warm_runs = [], []
    for _ in range(bench.runs):
        cold = bench.fresh_cache()
        cold_runs.append(launch(cold))
        shutil.rmtree(cold)  # 650 MB each
        warm_runs.append(launch(warm))
    imported = statistics.median([imported for imported, _ in warm_runs])
    cold_ready = statistics.median([ready for _, ready in cold_runs])
    warm_ready = statistics.median([ready for _, ready in warm_runs])
    return [
        Row("import torch, from launch", seconds(imported)),
        Row("model ready, cold cache (builds and saves)", seconds(cold_ready)),
        Row("model ready, warm cache", seconds(warm_ready), f"≤ {WARM_READY_S:.2f} s", within(warm_ready, WARM_READY_S)),
    ]


def bench_forward(bench: Bench) -> list[Row]:
    """Forward latency under torch.no_grad(), model from the warm cache, in one child process."""
    lines = run_child(FORWARD_CHILD, bench.env(bench.warm_cache), str(max(bench.runs, 3))).splitlines()
    rows = []
    for line in lines:
        b, t, calls, latency = line.split()
        rows.append(Row(f"forward ({b}, {t}), median of {calls}", f"{float(latency) * 1000:,.1f} ms"))
    return rows


def bench_peak_rss(bench: Bench) -> list[Row]:
    """Peak RSS of one process that loads the model from the warm cache and runs a (2, 8) forward."""
    env = bench.env(bench.warm_cache)
    peak = statistics.median([float(run_child(PEAK_RSS_CHILD, env)) for _ in range(bench.runs)])
    return [Row("peak RSS, one process", megabytes(peak), f"≤ {ONE_PROCESS_MB} MB", within(peak / 1024, ONE_PROCESS_MB))]


def bench_compute_memory(bench: Bench) -> list[Row]:
    """Peak RSS of computing one request in a fresh process: `loss-tutor --json` at (2, 8) and (8, 256) on the
    sample story, and the largest request the tutor accepts (HARD_MAX_POSITIONS positions at the model's whole
    context, on the longest text it reads, stride 1, shuffled, its last batch) as --json and as the app's
    computing process, which runs the bug lab too."""
    from tutor.core.settings import HARD_MAX_POSITIONS, MEMORY_BUDGET, MODEL_CONTEXT_LENGTH
    from tutor.core.texts import MAX_TEXT_CHARS

    env = bench.env(bench.warm_cache)
    text = largest_text(bench.scratch / "largest.txt", MAX_TEXT_CHARS)
    rows_at_most = str(HARD_MAX_POSITIONS // MODEL_CONTEXT_LENGTH)
    largest = [str(text), rows_at_most, str(MODEL_CONTEXT_LENGTH), "1", "1", "last"]

    def peak(*args: str) -> float:
        return statistics.median([float(run_child(COMPUTE_CHILD, env, *args)) for _ in range(bench.runs)])

    small, big = peak("cli", "-", "2", "8", "4", "0", "0"), peak("cli", "-", "8", "256", "256", "0", "0")
    largest_cli, largest_engine = peak("cli", *largest), peak("engine", *largest)
    budget = f"≤ {BUDGET_MB} MB ({MEMORY_BUDGET})"
    return [
        Row("peak RSS, --json (2, 8)", megabytes(small)),
        Row("peak RSS, --json (8, 256)", megabytes(big), f"≤ {BIG_BATCH_MB} MB", within(big / 1024, BIG_BATCH_MB)),
        Row(f"largest request: {MAX_TEXT_CHARS // 1000}k chars, stride 1, last", f"({rows_at_most}, {MODEL_CONTEXT_LENGTH})"),
        Row("peak RSS, largest request, --json", megabytes(largest_cli), budget, within(largest_cli / 1024, BUDGET_MB)),
        Row("peak RSS, largest request, computing process", megabytes(largest_engine), budget,
            within(largest_engine / 1024, BUDGET_MB)),
    ]


def memory_kb(pid: int) -> dict[str, int]:
    """The Rss and Pss lines of /proc/<pid>/smaps_rollup, in kB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {name: int(fields[name].split()[0]) for name in ("Rss", "Pss")}


def live_memory(bench: Bench, count: int) -> tuple[int, int]:
    """Start `count` waiting children at once; return their summed (RSS, PSS) in kB while all are alive."""
    env = bench.env(bench.warm_cache)
    children = [
        subprocess.Popen([*PYTHON, "-c", WAITING_CHILD], env=env, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(count)
    ]
    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"child failed: {last_line(child.stderr.read())}")
        figures = [memory_kb(child.pid) for child in children]
        return sum(f["Rss"] for f in figures), sum(f["Pss"] for f in figures)
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=60)
            child.stdout.close()
            child.stderr.close()


def bench_shared_memory(bench: Bench) -> list[Row]:
    """Summed PSS of two processes using the model at once, against the RSS of one alone.

    Each child loads from the warm cache and runs a (2, 8) forward, so the weights it uses are
    paged in, then waits. PSS splits each shared page between the processes that map it. "One" is
    RSS rather than PSS: a lone process's PSS shrinks whenever unrelated processes happen to map
    the same torch libraries.
    """
    if not Path("/proc/self/smaps_rollup").exists():
        return [Row("PSS", verdict="skipped: /proc/<pid>/smaps_rollup is not available")]
    one = statistics.median([live_memory(bench, 1)[0] for _ in range(bench.runs)])
    two = statistics.median([live_memory(bench, 2)[1] for _ in range(bench.runs)])
    limit = TWO_PROCESS_RATIO * one
    return [
        Row("RSS, one process alone", megabytes(one)),
        Row("PSS, two processes together", megabytes(two), f"≤ {TWO_PROCESS_RATIO} × one = {megabytes(limit)}",
            within(two, limit)),
    ]


def bench_plain_vs_bare(runs: int, bench: Bench | None = None) -> list[Row]:
    """`python -m tutor --plain`, launch to exit, against a bare script doing the same math."""
    owned = bench is None
    bench = bench or Bench(runs)
    try:
        try:
            from tutor.core.texts import SAMPLE_TEXT_PATH
        except ImportError as error:
            return [Row("--plain vs bare script", verdict=f"skipped: no sample story: {error}")]

        env = bench.env(bench.warm_cache)
        plain = [*PYTHON, *PLAIN_COMMAND]
        (weights,) = bench.warm_cache.glob("*.safetensors")
        bare = [*PYTHON, "-c", BARE_SCRIPT, str(weights), str(SAMPLE_TEXT_PATH)]

        def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            return time.perf_counter() - start, done

        _, first = timed(plain)
        if first.returncode != 0:
            return [Row("--plain vs bare script", verdict=f"skipped: tutor --plain exited {first.returncode}: "
                                                            f"{last_line(first.stderr)}")]
        _, bare_first = timed(bare)
        if bare_first.returncode != 0:
            return [Row("--plain vs bare script", verdict=f"skipped: the bare script failed: "
                                                            f"{last_line(bare_first.stderr)}")]
        plain_times, bare_times = [], []
        for _ in range(runs):
            plain_times.append(timed(plain)[0])
            bare_times.append(timed(bare)[0])
        plain_s, bare_s = statistics.median(plain_times), statistics.median(bare_times)
        bare_loss = bare_first.stdout.split()[-1]
        same = "same loss" if bare_loss in first.stdout else f"bare loss {bare_loss} not found in --plain output"
        limit = PLAIN_RATIO * bare_s
        return [
            Row(f"bare script, launch to exit ({same})", seconds(bare_s)),
            Row("tutor --plain, launch to exit", seconds(plain_s), f"≤ {PLAIN_RATIO} × bare = {seconds(limit)}",
                within(plain_s, limit)),
        ]
    finally:
        if owned:
            bench.close()


def bench_app(bench: Bench) -> list[Row]:
    """The app, headless: first frame, live numbers, event-loop stalls, lesson/row changes, recomputes."""
    import json

    runs = []
    for run in range(bench.runs):
        env = bench.env(bench.warm_cache)
        env["LOSS_TUTOR_STATE_DIR"] = str(bench.scratch / f"state-{run}")  # each launch a new learner
        launched = time.time()
        runs.append(json.loads(last_line(run_child(UI_CHILD, env, repr(launched)))))

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    def worst(key: str) -> float:
        return max(run[key] for run in runs)

    def stall_row(label: str, key: str) -> Row:
        return Row(label, f"{worst(key):,.0f} ms", f"≤ {STALL_MS} ms", within(worst(key), STALL_MS))

    def change_row(label: str, key: str) -> Row:
        return Row(label, f"{median(key):,.1f} ms", f"≤ {CHANGE_MS} ms", within(median(key), CHANGE_MS))

    first, ready = median("first_frame"), median("numbers_ready")
    problems = {run[key] for run in runs for key in ("recompute_2x8_problem", "recompute_8x256_problem")} - {None}
    return [
        Row("app: first frame, from launch", seconds(first), f"≤ {FIRST_FRAME_S:.2f} s", within(first, FIRST_FRAME_S)),
        Row("app: lesson numbers on screen, warm cache", seconds(ready), f"≤ {NUMBERS_READY_S:.2f} s",
            within(ready, NUMBERS_READY_S)),
        stall_row("app: longest stall, launch to numbers (worst)", "loading_stall_ms"),
        stall_row("app: longest stall, (2, 8) recompute (worst)", "recompute_2x8_stall_ms"),
        stall_row("app: longest stall, (8, 256) recompute (worst)", "recompute_8x256_stall_ms"),
        change_row("app: change lesson, key to frame", "lesson_ms"),
        Row("app: change lesson, slowest of 12 (median run)", f"{median('lesson_max_ms'):,.1f} ms"),
        Row("app: change lesson, key to layout settled", f"{median('lesson_settled_ms'):,.1f} ms"),
        change_row("app: change batch row, key to frame", "row_ms"),
        Row("app: change batch row, key to layout settled", f"{median('row_settled_ms'):,.1f} ms"),
        Row("app: recompute after a change, (2, 8)", seconds(median("recompute_2x8_s"))),
        Row("app: recompute after a change, (8, 256)", seconds(median("recompute_8x256_s")),
            verdict=f"failed: {problems}" if problems else ""),
    ]


# Parses lessons of 100 kB (the most a lesson file may have), 1 MB and 5 MB, two placeholders a line, and
# prints "bytes placeholders median_seconds" for each. The two big ones are over the limit (raised here) to
# show that parsing grows linearly: it was quadratic in the placeholders (1 MB took 3.4 s, 5 MB 90 s).
LESSON_CHILD = """
import pathlib, statistics, sys, tempfile, time
import tutor.core.lessons as lessons
line = "The loss is {{ loss_manual:.3f }} and the batch has {{ batch_size }} rows.\\n"
path = pathlib.Path(tempfile.mkdtemp()) / "big.md"
for size in (100_000, 1_000_000, 5_000_000):
    path.write_text("---\\nid: big\\ntitle: Big\\n---\\n" + line * (size // len(line) - 1), encoding="utf-8")
    lessons.MAX_LESSON_BYTES = max(lessons.MAX_LESSON_BYTES, size)
    times = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        lesson = lessons.parse_lesson(path)
        times.append(time.perf_counter() - start)
    print(size, lesson.body.count("{{"), statistics.median(times), flush=True)
path.unlink()
"""

# The app's interface alone (no computing process), at 120x40 in a pseudo-terminal, with its text editor
# open (`e`): the bench writes text to the terminal as keys, as a paste arrives without bracketed paste.
PASTE_CHILD = """
from tutor.core.protocol import EngineError
from tutor.ui.app import TutorApp

class NoEngine:  # the Engine protocol (tutor/core/protocol.py), computing nothing
    busy = False
    exit_code = None
    def compute(self, request):
        raise EngineError("no computing in this measurement")
    def take_notices(self):
        return []
    def close(self):
        pass

TutorApp(engine_factory=NoEngine, resume=False).run()
"""
PASTE_BYTES = 200_000


def bench_lessons(bench: Bench) -> list[Row]:
    """Parsing a lesson file, at the size limit (0.1 MB) and, the limit raised, far over it."""
    rows = []
    for line in run_child(LESSON_CHILD, bench.env(bench.scratch), str(bench.runs)).splitlines():
        size, placeholders, latency = line.split()
        rows.append(Row(f"lesson parse, {int(size) / 1e6:g} MB, {int(placeholders):,} placeholders",
                        f"{float(latency) * 1000:,.0f} ms"))
    return rows


def paste_peak_rss(bench: Bench) -> tuple[int, int]:
    """The interface's RSS before and its peak after PASTE_BYTES arrive as keys (kB). Read from /proc
    while it still works through them: the peak is when all are read and waiting."""
    import pty
    import select
    import signal
    import struct
    import termios
    import threading
    from fcntl import ioctl

    pid, terminal = pty.fork()
    if pid == 0:  # the child: the app, in the pseudo-terminal
        os.environ.update(TERM="xterm-256color", LOSS_TUTOR_STATE_DIR=str(bench.scratch / "state"))
        os.execv(PYTHON[0], [*PYTHON, "-c", PASTE_CHILD])
    ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    done = threading.Event()

    def read_the_screen() -> None:  # a terminal reads what the app draws, or the app blocks
        while not done.is_set():
            if select.select([terminal], [], [], 0.2)[0]:
                try:
                    os.read(terminal, 65536)
                except OSError:
                    return

    def rss(field_name: str) -> int:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field_name))

    reader = threading.Thread(target=read_the_screen, daemon=True)
    reader.start()
    try:
        time.sleep(4)  # started and drawn
        os.write(terminal, b"e")
        time.sleep(2)
        before = rss("VmRSS:")
        line = b"The quick brown fox jumps over the lazy dog, again and again.\r"
        text = (line * (PASTE_BYTES // len(line) + 1))[:PASTE_BYTES]
        for start in range(0, len(text), 4096):
            os.write(terminal, text[start:start + 4096])
        time.sleep(10)
        return before, rss("VmHWM:")
    finally:
        done.set()
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        reader.join()
        os.close(terminal)


def bench_paste(bench: Bench) -> list[Row]:
    """A 200 kB paste typed key by key into the text editor: the interface's peak RSS."""
    runs = [paste_peak_rss(bench) for _ in range(bench.runs)]
    before = statistics.median(run[0] for run in runs)
    peak = statistics.median(run[1] for run in runs)
    return [Row(f"app: {PASTE_BYTES // 1000} kB typed as keys, interface RSS", f"{megabytes(before)} → {megabytes(peak)}")]


def bench_training(bench: Bench) -> list[Row]:
    """Training the 124M model from the warm cache, each part in its own child (bench/training.py): overfitting the
    default (2, 8) batch of the sample story for 25 steps, and the text run's default run on it, whole. Run once,
    whatever --runs says: the step times are medians of the run's own steps, and the whole run takes minutes."""
    figures = measure_training(bench.env(bench.warm_cache))
    overfit, run = figures["overfit"], figures["text_run"]
    settings, plan = run["settings"], run["plan"]
    last_step = max(overfit["eval_loss"], key=int)
    total = run["set_up_seconds"] + run["seconds"]
    (first_train, first_val), (last_at, last_train, last_val) = run["first_evaluation"], run["last_evaluation"]
    window = f"({settings['batch_size']}, {settings['context_length']})"
    return [
        Row(f"overfit {tuple(overfit['batch'])}: step, median of {last_step}", seconds(overfit["step_seconds_median"]),
            f"issue measured ~{OVERFIT_STEP_S} s"),
        Row(f"overfit: eval loss, step 0 → {last_step}",
            f"{overfit['eval_loss']['0']:.2f} → {overfit['eval_loss'][last_step]:.3f}"),
        Row("overfit: peak RSS", megabytes(overfit["peak_rss_mb"] * 1024)),
        Row(f"text run {window}: step, median", seconds(run["step_seconds_median"])),
        Row(f"text run: evaluation ({settings['eval_iter']} + {settings['eval_iter']} batches)",
            seconds(run["evaluation_seconds_median"])),
        Row(f"text run: whole, {settings['epochs']} epochs = {plan['total_steps']} steps", seconds(total),
            f"≤ {TEXT_RUN_S} s", within(total, TEXT_RUN_S) if run["finished"] else "failed: did not finish"),
        Row("text run: train / val loss, first evaluation", f"{first_train:.2f} / {first_val:.2f}"),
        Row(f"text run: train / val loss, step {last_at}", f"{last_train:.2f} / {last_val:.2f}"),
        Row("text run: peak RSS", megabytes(run["peak_rss_mb"] * 1024)),
    ]


def bench_generation(bench: Bench) -> list[Row]:
    """Generating 200 tokens at temperature 0 with the untrained 124M model, with the KV cache and without
    (bench/generation.py): new tokens per second, the median of --runs runs of each."""
    figures = measure_generation(runs=bench.runs, env=bench.env(bench.warm_cache))
    cached, uncached = figures["with_cache_tokens_per_second"], figures["without_cache_tokens_per_second"]
    new_tokens = figures["new_tokens"]
    return [
        Row(f"generate {new_tokens} tokens, KV cache", f"{cached:.1f} tok/s",
            f"≥ {WITH_CACHE_TOKENS_PER_SECOND:g} tok/s", at_least(cached, WITH_CACHE_TOKENS_PER_SECOND)),
        Row(f"generate {new_tokens} tokens, no cache", f"{uncached:.1f} tok/s"),
        Row("generate: KV cache speed-up", f"{figures['speedup']:.1f}×", f"≥ {SPEEDUP:g}×",
            at_least(figures["speedup"], SPEEDUP)),
        Row("generate: same tokens with and without", "yes" if figures["same_tokens"] else "no", "the same",
            "ok" if figures["same_tokens"] else "MISSED"),
    ]


def bench_weights(bench: Bench) -> list[Row]:
    """A 124M weights file (GPT-2's configuration) in each format the tutor reads (bench/weights.py): written into
    the scratch folder, then loaded with read_weights_file in fresh children. Load time, and peak RSS once loaded
    and after a (2, 8) forward, which reads every weight."""
    folder = bench.scratch / "weight-files"
    folder.mkdir()
    try:
        env = bench.env(bench.scratch)
        figures = measure_weights(write_weight_files(folder, env), env, bench.runs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # about 1.8 GB
    rows = []
    for name in FORMATS:
        file = figures[name]
        rows += [
            Row(f"load {name} ({file['file_mb']:,.0f} MB)", seconds(file["seconds"])),
            Row(f"peak RSS, {name}, loaded", megabytes(file["peak_mb_loaded"] * 1024)),
            Row(f"peak RSS, {name}, + forward", megabytes(file["peak_mb_forward"] * 1024)),
        ]
    return rows


def bench_ui_training(bench: Bench) -> list[Row]:
    """The app, headless, with its computing process and the 124M model (bench/training_ui.py): the longest stall of
    its event loop while the text run trains for 20 s, and while it overfits the batch (25 steps). The worst of
    --runs launches."""
    runs = []
    for run in range(bench.runs):
        env = bench.env(bench.warm_cache)
        env["LOSS_TUTOR_STATE_DIR"] = str(bench.scratch / f"training-state-{run}")  # each launch a new learner
        runs.append(measure_training_stalls(env))
    rows = []
    for key, name in (("text_run", f"text run ({TEXT_RUN_SECONDS:g} s)"), ("overfit", "overfitting")):
        worst = max(run[key]["stall_ms"] for run in runs)
        problems = {run[key]["problem"] for run in runs} - {None}
        first = [run[key]["first_progress_s"] for run in runs]
        steps = statistics.median(run[key]["steps"] for run in runs)
        rows += [
            Row(f"app: longest stall, {name} (worst)", f"{worst:,.0f} ms", f"≤ {STALL_MS} ms",
                f"failed: {problems}" if problems else within(worst, STALL_MS)),
            Row(f"app: {name}, start to first progress",
                seconds(statistics.median(first)) if None not in first else "none"),
            Row(f"app: {name}, steps done", f"{steps:g}"),
        ]
    return rows


SECTIONS: list[tuple[str, Callable[[Bench], list[Row]]]] = [
    ("ready", bench_ready),
    ("forward", bench_forward),
    ("rss", bench_peak_rss),
    ("pss", bench_shared_memory),
    ("compute", bench_compute_memory),
    ("plain", lambda bench: bench_plain_vs_bare(bench.runs, bench)),
    ("app", bench_app),
    ("lessons", bench_lessons),
    ("paste", bench_paste),
    ("training", bench_training),
    ("generation", bench_generation),
    ("weights", bench_weights),
    ("ui-training", bench_ui_training),
]


def print_row(section: str, row: Row) -> None:
    print(f"{section:<11} {row.label:<46} {row.value:>10}  {row.target:<26} {row.verdict}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is shown (default 5)")
    parser.add_argument("--only", choices=[name for name, _ in SECTIONS], help="run only this section")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    bench = Bench(args.runs)
    # The children start in the scratch directory, so they import the installed package (as `make bench`
    # installs it: not editable, byte-compiled), not the source tree beside them.
    os.chdir(bench.scratch)
    print(f"median of {args.runs} runs · {os.cpu_count()} CPUs · python {sys.version.split()[0]}")
    print_row("section", Row("figure", "value", "target", "verdict"))
    try:
        for name, section in SECTIONS:
            if args.only and name != args.only:
                continue
            try:
                rows = section(bench)
            except Exception as error:  # one broken section should not hide the others
                rows = [Row("", verdict=f"skipped: {type(error).__name__}: {error}")]
            for row in rows:
                print_row(name, row)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
