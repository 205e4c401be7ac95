"""The tutor's model weights: built once from a seed, then loaded from a cache file in milliseconds.

Building `GPTModel(GPT_CONFIG_124M)` runs PyTorch's random initialiser over 162 million numbers, which
takes most of a second. So the first run saves the fresh weights to a safetensors file, and later
runs build the model with the initialiser switched off and point its parameters at the file's
tensors. safetensors memory-maps the file, so several tutors on one machine share the same
physical pages.

The cache directory is `$LOSS_TUTOR_CACHE_DIR` if set (a workshop can point everyone at one shared
directory), else `$XDG_CACHE_HOME/loss-tutor`, else `~/.cache/loss-tutor`.

The file is opened only if it is a regular file (a FIFO put there would block every tutor forever), and
every tensor is checked against a checksum saved with it, so damaged data is rebuilt, never shown as `nan`.
Running out of memory while loading is not damage: the file is left as it is and `ModelOutOfMemory` raised.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode

from tutor.lm.model import GPT_CONFIG_124M, GPTModel

FILE_FORMAT = "loss-tutor-weights-2"  # 2: with a checksum of every tensor

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
    # So is the file format, so that tutors of two versions sharing a cache never rebuild each other's file.
    identity = {"config": cfg, "seed": seed, "torch": torch.__version__, "format": FILE_FORMAT}
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


CHECKSUM_WINDOW_BYTES = 16 * 2**20  # a multiple of 8, so windows split a tensor's bytes between words


def _word_sum(data: np.ndarray) -> int:
    """The sum of `data` (bytes) read as 64-bit little-endian words, the last one padded with zeros.
    numpy sums on one core, which does not wake PyTorch's thread pool."""
    whole_words = len(data) - len(data) % 8
    words = int(data[:whole_words].view("<u8").sum(dtype=np.uint64))
    return words + int.from_bytes(data[whole_words:].tobytes(), "little")


def tensor_checksum(tensor: torch.Tensor) -> str:
    """The tensor's bytes as 64-bit words, summed modulo 2**64, in hex: any one changed word changes it."""
    return f"{_word_sum(tensor.detach().reshape(-1).view(torch.uint8).numpy()) % 2**64:016x}"


def _stored_checksum(descriptor: int, start: int, length: int) -> str:
    """`tensor_checksum` of the `length` bytes at `start` in the open file, read through a moving 16 MB window
    (about 45 ms of CPU for the 124M model's 650 MB). Summing the model's own tensors would leave every page
    of the file resident, the 154 MB of token embeddings that a forward pass hardly reads included."""
    total = 0
    for offset in range(start, start + length, CHECKSUM_WINDOW_BYTES):
        end = min(offset + CHECKSUM_WINDOW_BYTES, start + length)
        mapped_from = offset - offset % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(descriptor, end - mapped_from, offset=mapped_from, access=mmap.ACCESS_READ) as window:
            data = np.frombuffer(window, dtype=np.uint8, count=end - offset, offset=offset - mapped_from)
            total += _word_sum(data)
            del data  # the window cannot close while an array still points into it
    return f"{total % 2**64:016x}"


def _metadata(cfg: dict, seed: int, state: Mapping[str, torch.Tensor] | None = None) -> dict[str, str]:
    metadata = {
        "format": FILE_FORMAT,
        "config": json.dumps(cfg, sort_keys=True),
        "seed": str(seed),
        "torch": torch.__version__,
    }
    if state is not None:
        metadata["checksums"] = json.dumps({name: tensor_checksum(t) for name, t in state.items()}, sort_keys=True)
    return metadata


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
    """The cache file is not a regular file, or does not hold the tensors this config needs."""


class ModelOutOfMemory(MemoryError):
    """Memory ran out while loading or building the weights. Not the cache file's fault: it is left as it is."""


def _is_out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError, ENOMEM from the operating system, or PyTorch's allocator giving up (a RuntimeError
    such as "DefaultCPUAllocator: can't allocate memory" or "unable to mmap … Cannot allocate memory")."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:
        return True
    text = str(error).lower()
    return any(words in text for words in ("cannot allocate memory", "can't allocate memory", "out of memory"))


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    return next((name for is_kind, name in kinds if is_kind(mode)), "a special file")


@contextlib.contextmanager
def _regular_file(path: Path) -> Iterator[int]:
    """A descriptor of `path` opened for reading, if it is a regular file. The open never blocks
    (O_NONBLOCK: a FIFO would wait for a writer forever) and never follows a symbolic link (O_NOFOLLOW:
    the cache directory may be shared with others)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CacheMismatch("it is a symbolic link, not a regular file") from None
        raise
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise CacheMismatch(f"it is {_file_kind(mode)}, not a regular file")
        yield descriptor
    finally:
        os.close(descriptor)


def _name_of(descriptor: int) -> str:
    """A file name for an open descriptor, for safetensors, which opens files by name. It names the file that
    was opened, even if another has been renamed over its path since."""
    by_descriptor = Path("/proc/self/fd")
    return str((by_descriptor if by_descriptor.is_dir() else Path("/dev/fd")) / str(descriptor))


def _tensor_ranges(descriptor: int) -> dict[str, tuple[int, int]]:
    """Where each tensor's bytes are in a safetensors file (8 bytes of header length, a JSON header, the data)
    as (start, length). Only called once safetensors has read the same file, so the header is sound."""
    header_length = int.from_bytes(os.pread(descriptor, 8, 0), "little")
    header = json.loads(os.pread(descriptor, header_length, 8))
    data_start = 8 + header_length
    return {
        name: (data_start + begin, end - begin)
        for name, entry in header.items()
        if name != "__metadata__"
        for begin, end in [entry["data_offsets"]]
    }


def _check_checksums(metadata: Mapping[str, str], descriptor: int) -> None:
    try:
        saved = json.loads(metadata.get("checksums", ""))
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise CacheMismatch("it has no readable checksums")
    for name, (start, length) in _tensor_ranges(descriptor).items():
        if saved.get(name) != _stored_checksum(descriptor, start, length):
            raise CacheMismatch(f"the data of {name} does not match its checksum (the file is damaged)")


def _load_cached(path: Path, cfg: dict, seed: int) -> GPTModel:
    """Build the model's skeleton without initialising it, then attach the file's tensors to it."""
    with _regular_file(path) as descriptor:
        with safe_open(_name_of(descriptor), framework="pt") as f:
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
        _check_checksums(metadata, descriptor)

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
        state = model.state_dict()
        save_file(state, tmp_name, metadata=_metadata(cfg, seed, state))
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; others sharing the directory must read it
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _ready(model: GPTModel, seed: int) -> GPTModel:
    model.eval()  # dropout off
    model.requires_grad_(False)
    model.seed = seed  # what its weights were drawn with, for the report's model card (not in the state_dict)
    return model


def load_tutor_model(cfg: dict = GPT_CONFIG_124M, seed: int = 42, *, cache: bool = True,
                     notice: Notice | None = None) -> GPTModel:
    """The model `torch.manual_seed(seed); GPTModel(cfg)` would build, in eval mode.

    Loads it from the cache file when there is a good one; otherwise builds it and saves it there.
    A bad cache file is rebuilt and an unwritable cache directory falls back to the in-memory model;
    either way `notice` (default: print to stderr) gets one line saying what happened.
    Running out of memory raises `ModelOutOfMemory`, with a good cache file left untouched.
    The caller's random number generator state is left untouched.
    """
    notice = notice or _print_notice
    if not cache:
        return _ready(build_fresh_model(cfg, seed), seed)

    problems = []
    try:
        path = weights_path(cfg, seed)
    except RuntimeError as error:  # Path.home() fails when there is no home directory
        path = None
        problems.append(f"no cache directory ({_one_line(error)})")

    if path is not None:
        try:
            return _ready(_load_cached(path, cfg, seed), seed)
        except FileNotFoundError:
            pass  # first run: nothing to complain about
        except Exception as error:  # unreadable, truncated, not safetensors, damaged, or the wrong tensors
            if _is_out_of_memory(error):
                raise ModelOutOfMemory(
                    f"out of memory loading the model weights from {path} ({_one_line(error)}); "
                    "the file was left as it is"
                ) from None
            problems.append(f"the cached weights {path} could not be used ({_one_line(error)}), so they were rebuilt")

    try:
        model = build_fresh_model(cfg, seed)
    except Exception as error:
        if _is_out_of_memory(error):
            raise ModelOutOfMemory(f"out of memory building the model weights ({_one_line(error)})") from None
        raise
    if path is not None:
        try:
            _save_atomically(model, path, cfg, seed)
        except Exception as error:
            problems.append(f"cannot write {path} ({_one_line(error)}); using weights built in memory")
    if problems:
        notice("loss-tutor: " + "; ".join(problems))
    return _ready(model, seed)
