"""How long a 124M weights file takes to load, and how much memory it needs, in each format the tutor reads.

    python -m bench.weights [--runs N]

`write_weight_files(folder, env)` writes GPT-2 124M (GPT-2's own configuration: context 1024, qkv bias; weights
drawn by tutor.lm.weights.build_fresh_model) three ways, as a learner would bring it:
- the book's: `torch.save(model.state_dict())` (causal masks and an untied output layer included, as in the book's
  gpt2-small-124M.pth);
- Hugging Face's: `model.safetensors` with a `config.json` beside it, in GPT-2's names and Conv1D layout (the book's
  mapping in tutor/lm/weight_files.py inverted; its output layer is the token embedding, and the file holds the
  `h.N.attn.bias` masks, as the real one does);
- the tutor's own: `save_weights`.
`measure_weights(files, env, runs)` loads each in a fresh Python (`python -I`, so this process never imports torch)
with `read_weights_file` and reports the median load time and peak RSS, loaded and after a (2, 8) forward (which
reads every weight). The files were just written, so they are in the page cache: a second load, not a cold disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON = [sys.executable, "-I"]

BOOK, HUGGING_FACE, SAVED = "book .pth", "Hugging Face safetensors", "loss-tutor safetensors"
FORMATS = (BOOK, HUGGING_FACE, SAVED)
EXPECTED_KINDS = {  # what read_weights_file must call each file (tutor/lm/weight_files.py's KIND_ names)
    BOOK: "book PyTorch state_dict",
    HUGGING_FACE: "Hugging Face GPT-2 safetensors",
    SAVED: "loss-tutor safetensors",
}

# Writes the three files into the folder argv[1]; prints JSON: format -> path.
WRITE_CHILD = """
import json, sys
from pathlib import Path
import torch
from safetensors.torch import save_file
from tutor.lm.weight_files import save_weights
from tutor.lm.weights import build_fresh_model

GPT2_124M = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12, "n_layers": 12,
             "drop_rate": 0.1, "qkv_bias": True}
folder = Path(sys.argv[1])
model = build_fresh_model(GPT2_124M)
state = model.state_dict()

book = folder / "gpt2-small-124M.pth"
torch.save(state, book)

def conv1d(weight):  # Linear's (out, in) as GPT-2's Conv1D (in, out)
    return weight.T.contiguous()

hugging_face = {"wte.weight": state["tok_emb.weight"], "wpe.weight": state["pos_emb.weight"],
                "ln_f.weight": state["final_norm.scale"], "ln_f.bias": state["final_norm.shift"]}
context = GPT2_124M["context_length"]
mask = torch.tril(torch.ones(context, context)).view(1, 1, context, context)
for layer in range(GPT2_124M["n_layers"]):
    gpt2, book_block = f"h.{layer}.", f"trf_blocks.{layer}."
    projections = [f"{book_block}att.{name}" for name in ("W_query", "W_key", "W_value")]
    hugging_face[f"{gpt2}attn.c_attn.weight"] = torch.cat([conv1d(state[f"{name}.weight"]) for name in projections], 1)
    hugging_face[f"{gpt2}attn.c_attn.bias"] = torch.cat([state[f"{name}.bias"] for name in projections])
    for ours, theirs in (("att.out_proj", "attn.c_proj"), ("ff.layers.0", "mlp.c_fc"), ("ff.layers.2", "mlp.c_proj")):
        hugging_face[f"{gpt2}{theirs}.weight"] = conv1d(state[f"{book_block}{ours}.weight"])
        hugging_face[f"{gpt2}{theirs}.bias"] = state[f"{book_block}{ours}.bias"].clone()
    for ours, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
        hugging_face[f"{gpt2}{theirs}.weight"] = state[f"{book_block}{ours}.scale"].clone()
        hugging_face[f"{gpt2}{theirs}.bias"] = state[f"{book_block}{ours}.shift"].clone()
    hugging_face[f"{gpt2}attn.bias"] = mask.clone()
hugging_face_folder = folder / "gpt2"
hugging_face_folder.mkdir()
save_file(hugging_face, hugging_face_folder / "model.safetensors", metadata={"format": "pt"})
(hugging_face_folder / "config.json").write_text(json.dumps({
    "model_type": "gpt2", "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05,
    "n_ctx": context, "n_positions": context, "n_embd": 768, "n_head": 12, "n_layer": 12, "vocab_size": 50257,
}), encoding="utf-8")

saved = folder / "saved-124M.safetensors"
save_weights(model, saved, note="bench")
print(json.dumps({"book .pth": str(book), "Hugging Face safetensors": str(hugging_face_folder / "model.safetensors"),
                  "loss-tutor safetensors": str(saved)}))
"""

# Loads the file argv[1]; prints JSON.
LOAD_CHILD = """
import json, resource, sys, time
from pathlib import Path
import torch
from tutor.lm.weight_files import read_weights_file

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()
started = time.perf_counter()
loaded = read_weights_file(Path(sys.argv[1]))
seconds = time.perf_counter() - started
after_load = peak_mb()
with torch.no_grad():
    loaded.model(torch.zeros(2, 8, dtype=torch.long))
print(json.dumps({"kind": loaded.kind, "parameters": loaded.parameter_count, "config": loaded.config,
                  "seconds": seconds, "peak_mb_before": before, "peak_mb_loaded": after_load,
                  "peak_mb_forward": peak_mb()}))
"""


def run_child(code: str, env: dict | None, *args: str) -> dict:
    done = subprocess.run([*PYTHON, "-c", code, *args], env=env, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"child failed: {lines[-1] if lines else 'no output'}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_weight_files(folder: Path, env: dict | None = None) -> dict[str, Path]:
    """The 124M files in each format, written into `folder` (empty): format name -> path."""
    return {name: Path(path) for name, path in run_child(WRITE_CHILD, env, str(folder)).items()}


def measure_weights(files: dict[str, Path], env: dict | None = None, runs: int = 1) -> dict[str, dict]:
    """For each format: its file's size, kind and parameter count, and the median of `runs` fresh loads (seconds,
    peak RSS in MB before loading, once loaded, after a (2, 8) forward). RuntimeError if a file is read as another
    kind than its format's."""
    figures = {}
    for name, path in files.items():
        loads = [run_child(LOAD_CHILD, env, str(path)) for _ in range(runs)]
        kind = loads[0]["kind"]
        if kind != EXPECTED_KINDS[name]:
            raise RuntimeError(f"{path.name} was read as {kind!r}, not {EXPECTED_KINDS[name]!r}")
        figures[name] = {
            "file_mb": path.stat().st_size / 2**20,
            "kind": kind,
            "parameters": loads[0]["parameters"],
            **{key: statistics.median(load[key] for load in loads)
               for key in ("seconds", "peak_mb_before", "peak_mb_loaded", "peak_mb_forward")},
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.weights", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="loads of each file; the median is shown (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    folder = Path(tempfile.mkdtemp(prefix="loss-tutor-bench-weights-"))
    try:
        env = dict(os.environ, LOSS_TUTOR_CACHE_DIR=str(folder / "cache"))
        print(json.dumps(measure_weights(write_weight_files(folder, env), env, args.runs), indent=2))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
