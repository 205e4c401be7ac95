"""How long training takes on the 124M model, and how much memory it needs: overfitting the default (2, 8) batch of
the sample story, and the lesson's default run on the sample story (tutor.core.training.TextRunSettings()).

    python -m bench.training [--steps N] [--no-full-run]

`measure_training()` returns the figures as a dict; `python -m bench.training` prints them as JSON. Each part runs in
a fresh child process (`python -I`), so its peak RSS is its own: this process never imports torch. Without a full
run, the text run's total is projected from its first steps and evaluations.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

PYTHON = [sys.executable, "-I"]

# Overfits the default batch for argv[1] steps; prints JSON.
OVERFIT_CHILD = """
import json, resource, statistics, sys, time
import torch
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.training import OverfitRun
from tutor.lm.walkthrough import Walkthrough, default_model

steps = int(sys.argv[1])
model = default_model()
batch = Walkthrough(sample_text(), Settings(), model).batch
started = time.perf_counter()
run = OverfitRun(model, batch.inputs, batch.targets)
copied = time.perf_counter() - started
results = [run.measure()] + [run.step() for _ in range(steps)]
print(json.dumps({
    "batch": list(batch.inputs.shape),
    "copy_and_optimizer_seconds": copied,
    "step_seconds_median": statistics.median(result.seconds for result in results[1:]),
    "step_seconds_min": min(result.seconds for result in results[1:]),
    "first_step_seconds": results[1].seconds,
    "eval_loss": {result.step: result.eval_loss for result in results},
    "train_loss": {result.step: result.train_loss for result in results[1:]},
    "accuracy": {result.step: result.accuracy for result in results},
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

# The default run on the sample story: all of it (argv[1] == "0") or its first argv[1] steps; prints JSON.
TEXT_RUN_CHILD = """
import json, math, resource, statistics, sys, time
import torch
from tutor.core.texts import sample_text
from tutor.core.training import TextRunEvaluation, TextRunSettings, TextRunStep
from tutor.lm.training import TextRun
from tutor.lm.walkthrough import default_model

limit = int(sys.argv[1])
settings = TextRunSettings()
started = time.perf_counter()
run = TextRun(default_model(), sample_text(), settings)
set_up = time.perf_counter() - started
events = []
while not run.finished and (limit == 0 or run.step < limit):
    events += run.run_for(0)
steps = [event for event in events if isinstance(event, TextRunStep)]
evaluations = [event for event in events if isinstance(event, TextRunEvaluation)]
progress, plan = run.progress(), run.plan
step_s = statistics.median(event.seconds for event in steps)
evaluation_s = statistics.median(event.seconds for event in evaluations)
scheduled = len(range(0, plan.total_steps, settings.eval_freq))
all_evaluations = 1 + scheduled + ((plan.total_steps - 1) % settings.eval_freq != 0)
print(json.dumps({
    "settings": settings.to_json_dict(),
    "plan": plan.to_json_dict(),
    "set_up_seconds": set_up,
    "steps_run": progress.step,
    "finished": progress.finished,
    "step_seconds_median": step_s,
    "step_seconds_min": min(event.seconds for event in steps),
    "evaluation_seconds_median": evaluation_s,
    "evaluations": all_evaluations,
    "projected_seconds": plan.total_steps * step_s + all_evaluations * evaluation_s,
    "epoch_seconds": plan.batches_per_epoch * step_s + evaluation_s * plan.batches_per_epoch / settings.eval_freq,
    "seconds": progress.seconds,
    "first_evaluation": progress.train_losses[0][2:] + progress.val_losses[0][2:],
    "last_evaluation": [progress.train_losses[-1][0], progress.train_losses[-1][2], progress.val_losses[-1][2]],
    "lowest_val_loss": min(progress.val_losses, key=lambda point: point[2]),
    "train_losses": progress.train_losses,
    "val_losses": progress.val_losses,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_child(code: str, env: dict, *args: str) -> dict:
    done = subprocess.run([*PYTHON, "-c", code, *args], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"child failed: {lines[-1] if lines else 'no output'}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_training(env: dict | None = None, *, overfit_steps: int = 25, full_run: bool = True,
                     projected_from_steps: int = 20) -> dict:
    """Overfitting the default batch for `overfit_steps` steps, and the default run on the sample story: run whole
    (`full_run`, about 3 to 4 minutes here) or projected from its first `projected_from_steps` steps. `env` is the
    children's environment; by default this one's with a private temporary cache directory (the model is built
    into it first)."""
    scratch = None
    if env is None:
        scratch = tempfile.mkdtemp(prefix="loss-tutor-bench-training-")
        env = dict(os.environ, LOSS_TUTOR_CACHE_DIR=scratch)
    try:
        overfit = run_child(OVERFIT_CHILD, env, str(overfit_steps))
        text_run = run_child(TEXT_RUN_CHILD, env, "0" if full_run else str(projected_from_steps))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"overfit": overfit, "text_run": text_run, "cpu_count": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="overfitting steps (default 25)")
    parser.add_argument("--no-full-run", action="store_true", help="project the text run from its first 20 steps")
    args = parser.parse_args()
    print(json.dumps(measure_training(overfit_steps=args.steps, full_run=not args.no_full_run), indent=2))


if __name__ == "__main__":
    main()
