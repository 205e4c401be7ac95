"""Whether the app stays responsive while its model trains: the longest pause of its event loop during the text run
and during overfitting.

    python -m bench.training_ui [--seconds S]

The app starts as `loss-tutor` does (tutor.cli.build_app: the real computing process, the real 124M model),
headless at 120x40, in a fresh Python (`python -I`). Once the first lesson's numbers are on screen it shows the
"train-text" lesson and starts the text run (`app.labs.start("text-run")`), lets it run for S seconds (default 20)
and pauses it; then it shows the "overfit" lesson and overfits the batch to the lab's target steps (25; at most
90 s). A stall is the longest gap between 5 ms ticks of the event loop, from a lab's start to its end; "first
progress" is from the start to the first frame drawn after the lab's first answer arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench.app_child import BUILD_AND_RECORD_FRAMES

PYTHON = [sys.executable, "-I"]
TEXT_RUN_SECONDS = 20.0
OVERFIT_MOST_SECONDS = 90.0

# Arguments: the text run's seconds, overfitting's most seconds. Prints one JSON object.
TRAINING_UI_CHILD = """
import json, sys, time
text_run_seconds, overfit_most_seconds = float(sys.argv[1]), float(sys.argv[2])
""" + BUILD_AND_RECORD_FRAMES + """
def longest_gap(start, end):
    gaps = [b - a for a, b in zip(ticks, ticks[1:]) if start <= a < end]
    return max(gaps, default=0.0) * 1000

def steps_done(answer):
    if answer is None:
        return 0
    steps = getattr(answer, "steps", None)  # OverfitProgress
    return steps[-1].step if steps else getattr(answer, "step", 0)  # TextRunProgress

figures = {}

async def auto_pilot(pilot):
    import asyncio
    await numbers_on_screen(0.01)
    lesson_ids = [lesson.id for lesson in app.lessons.lessons]

    async def run_lab(kind, lesson_id, most_seconds):
        app.go_to_lesson(lesson_ids.index(lesson_id))
        await asyncio.sleep(1.0)  # the lesson drawn and settled
        lab = app.labs.labs[kind]
        started = time.time()
        app.labs.start(kind)
        first_answer = None
        while (lab.running or lab.waiting) and time.time() - started < most_seconds:
            if first_answer is None and lab.latest is not None:
                first_answer = time.time()
            await asyncio.sleep(0.005)
        ended = time.time()
        app.labs.pause(kind)
        while lab.waiting:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        return {
            "stall_ms": longest_gap(started, ended),
            "seconds": ended - started,
            "first_progress_s": first_after(frames, first_answer) - started if first_answer else None,
            "frames": sum(started <= frame < ended for frame in frames),
            "steps": steps_done(lab.latest),
            "problem": lab.problem,
        }

    figures["text_run"] = await run_lab("text-run", "train-text", text_run_seconds)
    figures["overfit"] = await run_lab("overfit", "overfit", overfit_most_seconds)
    app.exit()

app.run(headless=True, auto_pilot=auto_pilot, size=(120, 40))
print(json.dumps(figures), flush=True)
"""


def measure_training_stalls(env: dict, *, text_run_seconds: float = TEXT_RUN_SECONDS,
                            overfit_most_seconds: float = OVERFIT_MOST_SECONDS) -> dict:
    """One launch of the app: {"text_run": {...}, "overfit": {...}}, each with stall_ms, seconds, first_progress_s,
    frames, steps and problem (None unless the lab stopped on one). `env` should hold a warm LOSS_TUTOR_CACHE_DIR and
    a fresh LOSS_TUTOR_STATE_DIR."""
    done = subprocess.run([*PYTHON, "-c", TRAINING_UI_CHILD, str(text_run_seconds), str(overfit_most_seconds)],
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"child failed: {lines[-1] if lines else 'no output'}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.training_ui", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=TEXT_RUN_SECONDS,
                        help=f"how long the text run runs (default {TEXT_RUN_SECONDS:g})")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="loss-tutor-bench-training-ui-")
    try:
        env = dict(os.environ, LOSS_TUTOR_CACHE_DIR=os.path.join(scratch, "cache"),
                   LOSS_TUTOR_STATE_DIR=os.path.join(scratch, "state"))
        os.chdir(scratch)  # the child imports the installed package, not a source tree in the current folder
        started = time.time()
        figures = measure_training_stalls(env, text_run_seconds=args.seconds)
        print(json.dumps({**figures, "wall_seconds": time.time() - started}, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
