"""How fast the tutor's 124M model generates, with the KV cache and without, beside the targets.

    python -m bench.generation [--runs N]

The issue's measure: the untrained 124M model (tutor.lm.walkthrough.default_model()), the prompt "Every effort
moves you", 200 new tokens, temperature 0. Each figure is new tokens per second of computing, the prompt's first
pass included (tutor.core.generation.Generation.tokens_per_second), the median of N runs, measured in a fresh
Python (`python -I`) so that this process never imports torch. The child first draws a few tokens to warm up
(the weights are memory-mapped: the first pass reads them in).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

PROMPT = "Every effort moves you"
NEW_TOKENS = 200
WITH_CACHE_TOKENS_PER_SECOND = 35.0  # target
SPEEDUP = 3.0  # target: with the cache at least this many times as fast as without

# Arguments: prompt, new tokens, runs. Prints one JSON object.
GENERATION_CHILD = """
import json, statistics, sys
import torch
from tutor.core.generation import GenerationSettings
from tutor.lm.generation import generate
from tutor.lm.walkthrough import default_model

prompt, new_tokens, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = default_model()
generate(model, prompt, GenerationSettings(max_new_tokens=8), model_name="warm-up")
figures, texts = {}, {}
for kv_cache in (True, False):
    settings = GenerationSettings(max_new_tokens=new_tokens, temperature=0.0, kv_cache=kv_cache)
    speeds = []
    for _ in range(runs):
        generation = generate(model, prompt, settings, model_name="untrained")
        speeds.append(generation.tokens_per_second)
        texts[kv_cache] = generation.token_ids
    figures[kv_cache] = statistics.median(speeds)
print(json.dumps({
    "threads": torch.get_num_threads(),
    "with_cache": figures[True],
    "without_cache": figures[False],
    "same_tokens": texts[True] == texts[False],
}))
"""


def measure_generation(*, runs: int = 1, env: dict | None = None, timeout: float = 1800) -> dict:
    """Tokens per second with and without the KV cache, and whether both drew the same tokens. `env` is the
    child's environment (say, with LOSS_TUTOR_CACHE_DIR set); the default is this process's."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", GENERATION_CHILD, PROMPT, str(NEW_TOKENS), str(runs)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(f"generation child failed: {lines[-1] if lines else done.returncode}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    with_cache, without_cache = child["with_cache"], child["without_cache"]
    speedup = with_cache / without_cache if without_cache > 0 else float("inf")
    return {
        "prompt": PROMPT,
        "new_tokens": NEW_TOKENS,
        "runs": runs,
        "threads": child["threads"],
        "with_cache_tokens_per_second": with_cache,
        "without_cache_tokens_per_second": without_cache,
        "speedup": speedup,
        "same_tokens": child["same_tokens"],
        "with_cache_target": WITH_CACHE_TOKENS_PER_SECOND,
        "speedup_target": SPEEDUP,
        "met": with_cache >= WITH_CACHE_TOKENS_PER_SECOND and speedup >= SPEEDUP and child["same_tokens"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generation", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each kind; the median is shown (default 1)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    figures = measure_generation(runs=args.runs)
    print(f"generation, 124M, {NEW_TOKENS} new tokens, temperature 0, {figures['threads']} threads")
    print(f"  with the KV cache    {figures['with_cache_tokens_per_second']:6.1f} tokens/s   "
          f"target >= {WITH_CACHE_TOKENS_PER_SECOND:g}")
    print(f"  without it           {figures['without_cache_tokens_per_second']:6.1f} tokens/s")
    print(f"  speed-up             {figures['speedup']:6.1f}x          target >= {SPEEDUP:g}x")
    print(f"  same tokens          {'yes' if figures['same_tokens'] else 'NO'}")
    print("  " + ("ok" if figures["met"] else "MISSED"))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
