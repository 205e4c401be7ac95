"""The tutor's model weights: built once from a seed, then loaded from a cache file in milliseconds.

Building `GPTModel(GPT_CONFIG_124M)` runs PyTorch's random initialiser over 162 million numbers, which
takes most of a second. So the first run saves the fresh weights to a safetensors file, and later
runs build the model with the initialiser switched off and point its parameters at the file's
tensors. safetensors memory-maps the file, so several tutors on one machine share the same
physical pages.

The cache directory is `$LOSS_TUTOR_CACHE_DIR` if set (a workshop can point everyone at one shared
directory), else `$XDG_CACHE_HOME/loss-tutor`, else `~/.cache/loss-tutor`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode

from tutor.model import GPT_CONFIG_124M, GPTModel

FILE_FORMAT = "loss-tutor-weights-1"

Notice = Callable[[str], None]

# PyTorch's random number generator is global: two threads building models at once would interleave
# their draws and both get the wrong weights, so fresh builds take turns.
_build_lock = threading.Lock()


def cache_dir() -> Path:
    """Where cached weights live (see the module docstring)."""
    override = os.environ.get("LOSS_TUTOR_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore a relative path here.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "loss-tutor"


def _cache_key(cfg: dict, seed: int) -> str:
    # torch is part of the key: another version may draw different initial weights from the same seed.
    identity = {"config": cfg, "seed": seed, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def _size_label(cfg: dict) -> str:
    sizes = (cfg["vocab_size"], cfg["emb_dim"], cfg["n_heads"], cfg["n_layers"])
    if sizes == (50257, 768, 12, 12):
        return "124m"
    return f"{cfg['n_layers']}x{cfg['emb_dim']}"


def weights_path(cfg: dict = GPT_CONFIG_124M, seed: int = 42) -> Path:
    """The cache file for this config and seed, e.g. `gpt-124m-seed42-<hash>.safetensors`."""
    return cache_dir() / f"gpt-{_size_label(cfg)}-seed{seed}-{_cache_key(cfg, seed)}.safetensors"


def _print_notice(message: str) -> None:
    print(message, file=sys.stderr)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {text}"


def _metadata(cfg: dict, seed: int) -> dict[str, str]:
    return {
        "format": FILE_FORMAT,
        "config": json.dumps(cfg, sort_keys=True),
        "seed": str(seed),
        "torch": torch.__version__,
    }


def build_fresh_model(cfg: dict = GPT_CONFIG_124M, seed: int = 42) -> GPTModel:
    """`torch.manual_seed(seed); GPTModel(cfg)`, leaving the caller's random state as it was."""
    with _build_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPTModel(cfg)


class _SkipInit(TorchFunctionMode):
    """Turn every `torch.nn.init` function into a no-op that returns its tensor untouched.

    A mode only affects the thread that enters it, so other threads still initialise normally.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init":
            return kwargs["tensor"] if "tensor" in kwargs else args[0]
        return func(*args, **kwargs)


def build_unfilled_model(cfg: dict = GPT_CONFIG_124M) -> GPTModel:
    """A GPTModel whose weights are allocated but never filled, so no random numbers are drawn.

    Costs next to no time or memory: the operating system only hands out a page of memory when it
    is first written, and the big weights never are, because loading replaces the tensors.
    (The "meta" device would do the same, but some meta operations import torch._dynamo,
    which alone takes over a second.)
    """
    with _SkipInit():
        return GPTModel(cfg)


class CacheMismatch(ValueError):
    """The cache file parsed, but does not hold the tensors this config needs."""


def _load_cached(path: Path, cfg: dict, seed: int) -> GPTModel:
    """Build the model's skeleton without initialising it, then attach the file's tensors to it."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        state = {name: f.get_tensor(name) for name in f.keys()}  # views into the memory-mapped file

    expected_metadata = _metadata(cfg, seed)
    for field in ("format", "config", "seed"):
        if metadata.get(field) != expected_metadata[field]:
            raise CacheMismatch(f"its {field} is {metadata.get(field)!r}, expected {expected_metadata[field]!r}")

    model = build_unfilled_model(cfg)
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    if missing or extra:
        raise CacheMismatch(f"missing keys {missing[:3]}, unexpected keys {extra[:3]}")
    for name, want in expected.items():
        got = state[name]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise CacheMismatch(
                f"{name} is {got.dtype} {tuple(got.shape)}, expected {want.dtype} {tuple(want.shape)}"
            )

    # assign=True makes the parameters *be* the file's tensors instead of copying the file into
    # the unfilled ones, which would cost time and a private copy of every weight.
    model.load_state_dict(state, strict=True, assign=True)
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() != state[name].data_ptr():
            raise CacheMismatch(f"{name} was not taken from the file")
    return model


def _save_atomically(model: GPTModel, path: Path, cfg: dict, seed: int) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A rename is atomic, so a reader sees either no file or a complete one, and two tutors saving at the
    same moment each replace the file with an identical, complete copy.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(model.state_dict(), tmp_name, metadata=_metadata(cfg, seed))
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; others sharing the directory must read it
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _ready(model: GPTModel) -> GPTModel:
    model.eval()  # dropout off
    model.requires_grad_(False)
    return model


def load_tutor_model(cfg: dict = GPT_CONFIG_124M, seed: int = 42, *, cache: bool = True,
                     notice: Notice | None = None) -> GPTModel:
    """The model `torch.manual_seed(seed); GPTModel(cfg)` would build, in eval mode.

    Loads it from the cache file when there is a good one; otherwise builds it and saves it there.
    A bad cache file is rebuilt and an unwritable cache directory falls back to the in-memory model;
    either way `notice` (default: print to stderr) gets one line saying what happened.
    The caller's random number generator state is left untouched.
    """
    notice = notice or _print_notice
    if not cache:
        return _ready(build_fresh_model(cfg, seed))

    problems = []
    try:
        path = weights_path(cfg, seed)
    except RuntimeError as error:  # Path.home() fails when there is no home directory
        path = None
        problems.append(f"no cache directory ({_one_line(error)})")

    if path is not None:
        try:
            return _ready(_load_cached(path, cfg, seed))
        except FileNotFoundError:
            pass  # first run: nothing to complain about
        except Exception as error:  # unreadable, truncated, not safetensors, or the wrong tensors
            problems.append(f"the cached weights {path} could not be used ({_one_line(error)}), so they were rebuilt")

    model = build_fresh_model(cfg, seed)
    if path is not None:
        try:
            _save_atomically(model, path, cfg, seed)
        except Exception as error:
            problems.append(f"cannot write {path} ({_one_line(error)}); using weights built in memory")
    if problems:
        notice("loss-tutor: " + "; ".join(problems))
    return _ready(model)
