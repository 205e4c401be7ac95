"""Weights the learner brings: the book's PyTorch files, Hugging Face's GPT-2, or a model the tutor saved.

`read_weights_file` tells the format by the file's first bytes, never by its name:
- a zip archive is a `torch.save` file, read with `torch.load(weights_only=True, mmap=True)`: only tensors and
  plain containers are unpickled, never code, and the tensors stay in the file's pages. It must hold a
  state_dict (names → tensors), or the book's chapter-5 checkpoint, whose "model_state_dict" is taken;
- 8 bytes of header length and a JSON header are safetensors, memory-mapped by `safe_open`;
- anything else (text, an old-style pickle, random bytes, nothing) is refused.

The names may be the book's (`GPTModel`'s state_dict: `tok_emb.weight`, `trf_blocks.0.att.W_query.weight`, …) or
Hugging Face GPT-2's (`wte.weight`, `h.0.attn.c_attn.weight`, …, with or without `transformer.`). GPT-2 keeps its
linear layers as Conv1D, (in, out), so they are transposed, and `c_attn` holds query, key and value side by side,
so it is split. Both are views: a loaded safetensors file costs no memory of its own, and every tutor on the
machine shares its pages. GPT-2's output layer is its token embedding (tied), as in the book's
`load_weights_into_gpt`. Names are checked strictly: only the known causal-mask buffers (the book's
`att.mask`, GPT-2's `attn.bias` and `attn.masked_bias`) may be left over, and they are not used.

The configuration comes from the tensors (vocabulary, context length, width, layers, qkv bias); the number of
heads from the tutor's own metadata, from a Hugging Face `config.json` beside the file (whose every value must
agree with the tensors), or from GPT-2's four sizes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tutor.core.formatting import safe_to_draw
from tutor.core.report import GPT2_SIZES
from tutor.core.small_files import FileTooLarge, read_small_file
from tutor.core.texts import NotARegularFile, open_regular_file
from tutor.lm.model import GPTModel
from tutor.lm.weights import FILE_FORMAT, _file_kind, _is_out_of_memory, _name_of, build_unfilled_model

KIND_BOOK = "book PyTorch state_dict"
KIND_HUGGING_FACE = "Hugging Face GPT-2 safetensors"
KIND_SAVED = "loss-tutor safetensors"
KIND_HUGGING_FACE_PYTORCH = "Hugging Face GPT-2 PyTorch state_dict"  # pytorch_model.bin
KIND_BOOK_SAFETENSORS = "book safetensors"  # the book's names in safetensors, without the tutor's metadata

SAVED_FORMAT = "loss-tutor-saved-weights-1"
GPT2_VOCAB_SIZE = 50257
GPT2_HEADS_BY_WIDTH = {width: heads for width, _layers, heads in GPT2_SIZES}
BOOK_DROP_RATE = 0.1
MAX_CONFIG_JSON_BYTES = 1_000_000
ACCEPTED = ("loss-tutor reads GPT-2 weights saved with torch.save (a state_dict) or as safetensors, "
            "in the book's names or Hugging Face's")
FLOAT_TYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
# GPT-2's activation is GELU's tanh approximation; these are Hugging Face's names for it.
TANH_GELU_NAMES = ("gelu_new", "gelu_pytorch_tanh")


class WeightsFileError(ValueError):
    """One line a learner can act on: which file, what is wrong with it, what the tutor accepts."""


@dataclass(frozen=True)
class LoadedWeights:
    model: GPTModel  # eval mode, requires_grad False, model.seed = None
    config: dict  # the book's keys: vocab_size, context_length, emb_dim, n_heads, n_layers, drop_rate, qkv_bias
    kind: str  # one of the KIND_ names
    label: str  # the file's name, safe to draw
    parameter_count: int  # a tied output layer counted once


@dataclass(frozen=True)
class Declared:
    """Sizes written down beside the tensors (a config.json, the tutor's metadata), in the book's keys."""

    source: str  # "the config.json beside it"
    values: dict[str, int]
    spelled: dict[str, str]  # book key -> the source's own name for it, for messages


@dataclass(frozen=True)
class Interpretation:
    layout: str  # "book" or "hugging face"
    state: dict[str, torch.Tensor]  # the book's names, no buffers, no out_head when tied
    config: dict
    tied: bool


# --------------------------------------------------------------------------------------------- messages


def _drawable(text: str) -> str:
    """Text from a file (its name, its keys, a library's error) as one line that is safe to draw."""
    return safe_to_draw(text.replace("\n", "\\n").replace("\t", "\\t"))


def _listed(names: list[str], shown: int = 3) -> str:
    first = ", ".join(_drawable(name) for name in names[:shown])
    return f"{first}{', …' if len(names) > shown else ''} ({len(names)} in all)"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return _drawable(text[:200] + ("…" if len(text) > 200 else ""))


def _shape(shape) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------------------ the layouts


def book_shapes(config: Mapping, *, tied: bool = False) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of `GPTModel(config)`, by its state_dict name (no buffers); without
    `out_head.weight` when the output layer is the token embedding."""
    vocab, context, width = config["vocab_size"], config["context_length"], config["emb_dim"]
    shapes: dict[str, tuple[int, ...]] = {"tok_emb.weight": (vocab, width), "pos_emb.weight": (context, width)}
    for layer in range(config["n_layers"]):
        block = f"trf_blocks.{layer}."
        for projection in ("W_query", "W_key", "W_value"):
            shapes[f"{block}att.{projection}.weight"] = (width, width)
            if config["qkv_bias"]:
                shapes[f"{block}att.{projection}.bias"] = (width,)
        shapes |= {
            f"{block}att.out_proj.weight": (width, width), f"{block}att.out_proj.bias": (width,),
            f"{block}ff.layers.0.weight": (4 * width, width), f"{block}ff.layers.0.bias": (4 * width,),
            f"{block}ff.layers.2.weight": (width, 4 * width), f"{block}ff.layers.2.bias": (width,),
            f"{block}norm1.scale": (width,), f"{block}norm1.shift": (width,),
            f"{block}norm2.scale": (width,), f"{block}norm2.shift": (width,),
        }
    shapes |= {"final_norm.scale": (width,), "final_norm.shift": (width,)}
    if not tied:
        shapes["out_head.weight"] = (vocab, width)
    return shapes


def hugging_face_shapes(config: Mapping) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of Hugging Face's `GPT2Model` of this size (Conv1D weights are (in, out))."""
    vocab, context, width = config["vocab_size"], config["context_length"], config["emb_dim"]
    shapes: dict[str, tuple[int, ...]] = {"wte.weight": (vocab, width), "wpe.weight": (context, width)}
    for layer in range(config["n_layers"]):
        block = f"h.{layer}."
        shapes[f"{block}attn.c_attn.weight"] = (width, 3 * width)
        if config["qkv_bias"]:
            shapes[f"{block}attn.c_attn.bias"] = (3 * width,)
        shapes |= {
            f"{block}attn.c_proj.weight": (width, width), f"{block}attn.c_proj.bias": (width,),
            f"{block}mlp.c_fc.weight": (width, 4 * width), f"{block}mlp.c_fc.bias": (4 * width,),
            f"{block}mlp.c_proj.weight": (4 * width, width), f"{block}mlp.c_proj.bias": (width,),
            f"{block}ln_1.weight": (width,), f"{block}ln_1.bias": (width,),
            f"{block}ln_2.weight": (width,), f"{block}ln_2.bias": (width,),
        }
    shapes |= {"ln_f.weight": (width,), "ln_f.bias": (width,)}
    return shapes


def count_parameters(config: Mapping, *, tied: bool) -> int:
    """How many numbers `GPTModel(config)` learns, a tied output layer counted once."""
    return sum(math.prod(shape) for shape in book_shapes(config, tied=tied).values())


@dataclass(frozen=True)
class _Layout:
    name: str
    names: str  # for messages: "the book's names"
    token: str
    position: str
    block_prefix: str
    block: re.Pattern
    query_bias: str  # in block 0
    buffers: re.Pattern  # the causal-mask buffers a file may hold, unused


BOOK = _Layout("book", "the book's names", "tok_emb.weight", "pos_emb.weight", "trf_blocks.",
               re.compile(r"trf_blocks\.(\d+)\."),
               "trf_blocks.0.att.W_query.bias", re.compile(r"trf_blocks\.(\d+)\.att\.mask"))
HUGGING_FACE = _Layout("hugging face", "Hugging Face GPT-2's names", "wte.weight", "wpe.weight", "h.",
                       re.compile(r"h\.(\d+)\."), "h.0.attn.c_attn.bias",
                       re.compile(r"h\.(\d+)\.attn\.(?:bias|masked_bias)"))


def _layout_of(tensors: dict[str, torch.Tensor]) -> tuple[_Layout, dict[str, torch.Tensor]]:
    """The layout, and the tensors with Hugging Face's `transformer.` prefix taken off (GPT2LMHeadModel's)."""
    if BOOK.token in tensors:
        return BOOK, tensors
    if f"transformer.{HUGGING_FACE.token}" in tensors:
        tensors = {name.removeprefix("transformer."): tensor for name, tensor in tensors.items()}
    if HUGGING_FACE.token in tensors:
        return HUGGING_FACE, tensors
    raise WeightsFileError(
        f"it has neither tok_emb.weight (the book's names) nor wte.weight (Hugging Face GPT-2's), so it is not a "
        f"GPT-2 model; its names are {_listed(sorted(tensors))}"
    )


def _matrix(tensors: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    tensor = tensors.get(name)
    if tensor is None:
        raise WeightsFileError(f"it has no {name}, which every GPT-2 model has")
    if tensor.dim() != 2 or 0 in tensor.shape:
        raise WeightsFileError(f"{name} has shape {_shape(tensor.shape)}; it should be a table, one row per entry")
    return tensor


def _layer_count(names: list[str], layout: _Layout) -> int:
    layers = sorted({int(match.group(1)) for name in names if (match := layout.block.match(name))})
    if not layers:
        raise WeightsFileError(f"it has no transformer blocks ({layout.block_prefix}0.… in {layout.names})")
    absent = sorted(set(range(layers[-1] + 1)) - set(layers))
    if absent:
        raise WeightsFileError(
            f"its blocks are numbered up to {layers[-1]} but block {absent[0]} is missing "
            f"({len(absent)} missing in all)"
        )
    return len(layers)


def _heads(width: int, declared: Declared | None) -> int:
    if declared is not None and "n_heads" in declared.values:
        heads = declared.values["n_heads"]
        if width % heads:
            raise WeightsFileError(
                f"{declared.source} says {declared.spelled['n_heads']} = {heads}, which does not divide "
                f"its width {width}"
            )
        return heads
    if width in GPT2_HEADS_BY_WIDTH:
        return GPT2_HEADS_BY_WIDTH[width]
    raise WeightsFileError(
        f"its width {width} is none of GPT-2's ({', '.join(map(str, GPT2_HEADS_BY_WIDTH))}), so its number of "
        "heads is unknown: put a config.json with n_head beside it"
    )


def _configuration(tensors: dict[str, torch.Tensor], layout: _Layout, declared: Declared | None,
                   drop_rate: float) -> dict:
    vocab, width = _matrix(tensors, layout.token).shape
    if vocab != GPT2_VOCAB_SIZE:
        raise WeightsFileError(
            f"its vocabulary has {vocab:,} tokens, not GPT-2's {GPT2_VOCAB_SIZE:,}: the tutor's tokenizer is "
            "GPT-2's, so it reads only models of that vocabulary"
        )
    context, position_width = _matrix(tensors, layout.position).shape
    if position_width != width:
        raise WeightsFileError(
            f"{layout.position} is {position_width} wide but {layout.token} is {width} wide; they must agree"
        )
    config = {
        "vocab_size": vocab,
        "context_length": context,
        "emb_dim": width,
        "n_heads": _heads(width, declared),
        "n_layers": _layer_count(sorted(tensors), layout),
        "drop_rate": drop_rate,
        "qkv_bias": layout.query_bias in tensors,
    }
    if declared is not None:
        for key, value in declared.values.items():
            if config[key] != value:
                raise WeightsFileError(
                    f"{declared.source} says {declared.spelled[key]} = {value}, but the weights have "
                    f"{config[key]} ({_WHAT_THE_WEIGHTS_SHOW[key]})"
                )
    return config


_WHAT_THE_WEIGHTS_SHOW = {
    "vocab_size": "rows in the token embedding",
    "context_length": "rows in the position embedding",
    "emb_dim": "the embedding's width",
    "n_layers": "transformer blocks",
    "n_heads": "heads",
}


def _check_names_and_shapes(tensors: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]],
                            layout: _Layout, config: Mapping) -> None:
    missing = sorted(expected.keys() - tensors.keys())
    extra = sorted(tensors.keys() - expected.keys())
    if missing or extra:
        parts = [f"missing {_listed(missing)}"] if missing else []
        parts += [f"unexpected {_listed(extra)}"] if extra else []
        raise WeightsFileError(
            f"its names do not match a GPT-2 model of {config['n_layers']} layers in {layout.names}: "
            + "; ".join(parts)
        )
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise WeightsFileError(
                f"{name} has shape {_shape(tensors[name].shape)}, but a GPT-2 model {config['emb_dim']} wide with "
                f"a context of {config['context_length']} needs {_shape(shape)}"
            )


def _as_float32(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float32 tensors as they are (views of the file); float16, bfloat16 and float64 copied to float32."""
    converted = {}
    for name, tensor in tensors.items():
        if tensor.layout != torch.strided or tensor.dtype not in FLOAT_TYPES:
            raise WeightsFileError(f"{name} is {str(tensor.dtype).removeprefix('torch.')}, not floating-point weights")
        converted[name] = tensor if tensor.dtype == torch.float32 else tensor.to(torch.float32)
    return converted


def _without_buffers(tensors: dict[str, torch.Tensor], layout: _Layout, config: Mapping) -> dict[str, torch.Tensor]:
    """The tensors without the known causal-mask buffers of the model's blocks (the model makes its own)."""
    kept = {}
    for name, tensor in tensors.items():
        match = layout.buffers.fullmatch(name)
        if match is None or int(match.group(1)) >= config["n_layers"]:
            kept[name] = tensor
        elif layout is BOOK and tuple(tensor.shape) != (config["context_length"],) * 2:
            raise WeightsFileError(
                f"{name} has shape {_shape(tensor.shape)}, but the causal mask of a context of "
                f"{config['context_length']} is {_shape((config['context_length'],) * 2)}"
            )
    return kept


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype)


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return False
    return _same_tensor(a, b) or torch.equal(a.to(torch.float32), b.to(torch.float32))


def _book_state_from_hugging_face(tensors: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """Hugging Face GPT-2's tensors under the book's names, all views: Conv1D weights (in, out) transposed to
    Linear's (out, in), and `c_attn` split into query, key and value. `out_head` is left to be tied."""
    width = config["emb_dim"]
    state = {
        "tok_emb.weight": tensors["wte.weight"], "pos_emb.weight": tensors["wpe.weight"],
        "final_norm.scale": tensors["ln_f.weight"], "final_norm.shift": tensors["ln_f.bias"],
    }
    for layer in range(config["n_layers"]):
        gpt2, book = f"h.{layer}.", f"trf_blocks.{layer}."
        projections = ("W_query", "W_key", "W_value")
        for projection, weight in zip(projections, tensors[f"{gpt2}attn.c_attn.weight"].split(width, dim=1)):
            state[f"{book}att.{projection}.weight"] = weight.T
        if config["qkv_bias"]:
            for projection, bias in zip(projections, tensors[f"{gpt2}attn.c_attn.bias"].split(width)):
                state[f"{book}att.{projection}.bias"] = bias
        conv1d = (("att.out_proj", "attn.c_proj"), ("ff.layers.0", "mlp.c_fc"), ("ff.layers.2", "mlp.c_proj"))
        for ours, theirs in conv1d:
            state[f"{book}{ours}.weight"] = tensors[f"{gpt2}{theirs}.weight"].T
            state[f"{book}{ours}.bias"] = tensors[f"{gpt2}{theirs}.bias"]
        for ours, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
            state[f"{book}{ours}.scale"] = tensors[f"{gpt2}{theirs}.weight"]
            state[f"{book}{ours}.shift"] = tensors[f"{gpt2}{theirs}.bias"]
    return state


def interpret_tensors(tensors: Mapping[str, torch.Tensor], *, declared: Declared | None = None,
                      tied_out_head: bool = False, drop_rate: float = BOOK_DROP_RATE) -> Interpretation:
    """A file's tensors, checked and put under the book's names, with the configuration they imply.
    `tied_out_head`: the file leaves out the book's `out_head.weight` because it is the token embedding (the
    tutor's own files say so in their metadata; Hugging Face's always are). WeightsFileError if they are not
    a GPT-2 model."""
    layout, tensors = _layout_of(dict(tensors))
    config = _configuration(tensors, layout, declared, drop_rate)
    tensors = _without_buffers(tensors, layout, config)
    if layout is BOOK:
        _check_names_and_shapes(tensors, book_shapes(config, tied=tied_out_head), layout, config)
        return Interpretation("book", _as_float32(tensors), config, tied_out_head)
    head = tensors.pop("lm_head.weight", None)
    if head is not None and not _same_values(head, tensors[HUGGING_FACE.token]):
        raise WeightsFileError(
            "its lm_head.weight differs from wte.weight; GPT-2's output layer is its token embedding, and the "
            "tutor reads only models where it is"
        )
    _check_names_and_shapes(tensors, hugging_face_shapes(config), layout, config)
    return Interpretation("hugging face", _book_state_from_hugging_face(_as_float32(tensors), config), config, True)


# -------------------------------------------------------------------------------------- what is declared


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_HUGGING_FACE_KEYS = {"n_head": "n_heads", "n_embd": "emb_dim", "n_layer": "n_layers",
                      "n_positions": "context_length", "vocab_size": "vocab_size"}


def _declared_by_config_json(folder: Path) -> Declared | None:
    """The sizes in a Hugging Face `config.json` beside the weights, None if there is none."""
    source = "the config.json beside it"
    try:
        document = read_small_file(folder / "config.json", MAX_CONFIG_JSON_BYTES)
    except FileNotFoundError:
        return None
    except FileTooLarge:
        raise WeightsFileError(
            f"{source} is larger than {MAX_CONFIG_JSON_BYTES:,} bytes: not a model's configuration") from None
    except IsADirectoryError:
        raise WeightsFileError(f"{source} is a directory, not a model's configuration") from None
    except NotARegularFile:
        raise WeightsFileError(f"{source} is not a regular file (a pipe, socket or device)") from None
    except OSError as error:
        raise WeightsFileError(f"{source} cannot be read ({_drawable(error.strerror or str(error))})") from None
    try:
        config = json.loads(document)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WeightsFileError(f"{source} is not JSON") from None
    if not isinstance(config, dict):
        raise WeightsFileError(f"{source} is not a JSON object of settings")
    model_type = config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise WeightsFileError(f"{source} is for a model of type {_drawable(repr(model_type))}, not GPT-2 (\"gpt2\")")
    activation = config.get("activation_function", TANH_GELU_NAMES[0])
    if activation not in TANH_GELU_NAMES:
        raise WeightsFileError(
            f"{source} says activation_function = {_drawable(repr(activation))}; the book's GPT-2 uses GELU's tanh "
            f"approximation ({' or '.join(TANH_GELU_NAMES)})"
        )
    epsilon = config.get("layer_norm_epsilon", 1e-5)
    if not isinstance(epsilon, (int, float)) or not math.isclose(epsilon, 1e-5, rel_tol=1e-6):
        raise WeightsFileError(
            f"{source} says layer_norm_epsilon = {_drawable(repr(epsilon))}; the book's GPT-2 uses 1e-05")
    values, spelled = {}, {}
    for theirs, ours in _HUGGING_FACE_KEYS.items():
        if theirs in config:
            if not _positive_int(config[theirs]):
                raise WeightsFileError(
                    f"{source} says {theirs} = {_drawable(repr(config[theirs]))}, not a positive whole number")
            values[ours], spelled[ours] = config[theirs], theirs
    return Declared(source, values, spelled)


_SAVED_CONFIG_TYPES = {"vocab_size": int, "context_length": int, "emb_dim": int, "n_heads": int, "n_layers": int,
                       "drop_rate": float, "qkv_bias": bool}


def _saved_config(metadata: Mapping[str, str]) -> dict | None:
    """The configuration in the tutor's own metadata (a saved model's or the weight cache's), None if the file has
    none; WeightsFileError if it is there but damaged."""
    if metadata.get("format") not in (SAVED_FORMAT, FILE_FORMAT):  # FILE_FORMAT: the weight cache's
        return None
    try:
        config = json.loads(metadata.get("config", ""))
    except ValueError:
        config = None
    sound = isinstance(config, dict) and config.keys() == _SAVED_CONFIG_TYPES.keys() and all(
        _positive_int(config[key]) if kind is int
        else isinstance(config[key], bool) if kind is bool
        else isinstance(config[key], (int, float)) and not isinstance(config[key], bool) and 0 <= config[key] < 1
        for key, kind in _SAVED_CONFIG_TYPES.items()
    )
    if not sound:
        raise WeightsFileError("its loss-tutor metadata is damaged: the configuration is missing or incomplete")
    return config


# ------------------------------------------------------------------------------------------- the file


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[int]:
    """A descriptor of `path` if it is a regular file (symbolic links followed: Hugging Face's cache is made of
    them). The open never blocks, so a FIFO is refused, not waited on."""
    try:
        file = open_regular_file(path)
    except FileNotFoundError:
        raise WeightsFileError("no such file") from None
    except PermissionError:
        raise WeightsFileError("permission denied: it cannot be read") from None
    except IsADirectoryError:
        raise WeightsFileError("it is a directory: give the weights file inside it (e.g. model.safetensors)") from None
    except NotARegularFile:
        try:
            kind = _file_kind(os.stat(path).st_mode)
        except OSError:
            kind = "not a file"
        raise WeightsFileError(f"it is {kind}, not a regular file: give the weights file itself") from None
    except OSError as error:
        raise WeightsFileError(f"it cannot be opened ({_drawable(error.strerror or str(error))})") from None
    with file:
        yield file.fileno()


def _not_a_model(start: bytes) -> str:
    """Why a file whose first bytes are `start` is not one the tutor reads."""
    if not start:
        return f"it is empty; {ACCEPTED}"
    if start.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the weights themselves: fetch the file with `git lfs pull`"
    if start[0] == 0x80 and len(start) > 1 and 2 <= start[1] <= 5:
        return ("it is an old-style PyTorch file or a Python pickle, which could run code when read, so it is not "
                "opened: if you trust it, load it with torch.load and save the state_dict again with torch.save")
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut off by the end of `start` does not make it binary
        text = start[: error.start].decode("utf-8") if error.reason == "unexpected end of data" else ""
    if text and all(char.isprintable() or char in "\n\r\t" for char in text):
        return f"it is a text file, not a model; {ACCEPTED}"
    return f"it is neither a PyTorch zip archive nor a safetensors file; {ACCEPTED}"


def _looks_like_safetensors(start: bytes, size: int) -> bool:
    if len(start) < 9:
        return False
    header_length = int.from_bytes(start[:8], "little")
    return 2 <= header_length <= size - 8 and start[8:9] == b"{"


def _unpickled_object_name(error: BaseException) -> str | None:
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
    return match.group(1) if match else None


def _read_torch_file(descriptor: int) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(_name_of(descriptor), map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        found = _unpickled_object_name(error)
        what = f"a Python object ({_drawable(found)})" if found else "Python objects"
        raise WeightsFileError(
            f"it holds {what} besides tensors, which the tutor never unpickles (it could run code); save "
            "model.state_dict() with torch.save instead"
        ) from None
    except Exception as error:
        if _is_out_of_memory(error):
            raise
        raise WeightsFileError(
            f"it is a zip archive, but not one torch.save wrote ({_one_line(error)}); {ACCEPTED}"
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("model_state_dict"), dict):
        loaded = loaded["model_state_dict"]  # the book's chapter-5 checkpoint, with the optimizer's state beside it
    if not isinstance(loaded, dict):
        what = "a single tensor" if isinstance(loaded, torch.Tensor) else f"a Python {type(loaded).__name__}"
        raise WeightsFileError(f"it holds {what}, not a state_dict (a dict of names to tensors)")
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise WeightsFileError(
                f"its entry {_drawable(repr(name))} is of type {type(value).__name__}, not a tensor: a state_dict "
                "holds only tensors"
            )
    return dict(loaded)


def _read_safetensors(descriptor: int) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(_name_of(descriptor), framework="pt") as file:
            metadata = file.metadata() or {}
            return {name: file.get_tensor(name) for name in file.keys()}, metadata  # views of the mapped file
    except Exception as error:
        if _is_out_of_memory(error):
            raise
        raise WeightsFileError(f"it begins like safetensors but cannot be read as one ({_one_line(error)})") from None


def _build(interpretation: Interpretation) -> GPTModel:
    """A GPTModel whose parameters are the interpretation's tensors themselves (assign=True: no copy)."""
    model = build_unfilled_model(interpretation.config)
    shared_mask = model.trf_blocks[0].att.mask
    for block in model.trf_blocks:  # every block's causal mask is the same: keep one, not one per block
        block.att.mask = shared_mask
    outcome = model.load_state_dict(interpretation.state, strict=False, assign=True)
    parameters = dict(model.named_parameters())
    left_unloaded = {name for name in outcome.missing_keys if name in parameters}
    if outcome.unexpected_keys or left_unloaded != ({"out_head.weight"} if interpretation.tied else set()):
        raise RuntimeError(f"the checked state does not fit GPTModel: {outcome}")
    if interpretation.tied:
        model.out_head.weight = model.tok_emb.weight
    model.eval()
    model.requires_grad_(False)
    model.seed = None  # not drawn from a seed: the model card says where it came from instead
    return model


def read_weights_file(path: Path) -> LoadedWeights:
    """The GPT-2 model in the file at `path`, in eval mode, its parameters views of the file where the format
    allows. WeightsFileError (one line, naming the file) for anything else."""
    path = Path(path).expanduser()
    label = _drawable(path.name or str(path))
    try:
        with _opened(path) as descriptor:
            start = os.pread(descriptor, 64, 0)
            if start.startswith(b"PK\x03\x04"):
                tensors, metadata, zipped = _read_torch_file(descriptor), {}, True
            elif _looks_like_safetensors(start, os.fstat(descriptor).st_size):
                (tensors, metadata), zipped = _read_safetensors(descriptor), False
            else:
                raise WeightsFileError(_not_a_model(start))
        saved = _saved_config(metadata)
        if saved is not None:
            declared = Declared("its loss-tutor metadata", {key: saved[key] for key in _WHAT_THE_WEIGHTS_SHOW},
                                {key: key for key in _WHAT_THE_WEIGHTS_SHOW})
            interpretation = interpret_tensors(tensors, declared=declared, drop_rate=float(saved["drop_rate"]),
                                               tied_out_head=metadata.get("tied_out_head") == "true")
            if interpretation.config["qkv_bias"] != saved["qkv_bias"]:
                raise WeightsFileError(f"its loss-tutor metadata says qkv_bias = {saved['qkv_bias']}, but the weights "
                                       "disagree")
        else:
            interpretation = interpret_tensors(tensors, declared=_declared_by_config_json(path.parent))
        model = _build(interpretation)
    except WeightsFileError as error:
        raise WeightsFileError(f"{label}: {error}") from None
    except Exception as error:
        if _is_out_of_memory(error):
            raise WeightsFileError(
                f"{label}: there is not enough memory to load it ({_one_line(error)}); close other programs or "
                "choose a smaller model"
            ) from None
        raise
    return LoadedWeights(model=model, config=interpretation.config, kind=_kind(interpretation, zipped, saved),
                         label=label, parameter_count=count_parameters(interpretation.config, tied=interpretation.tied))


def _kind(interpretation: Interpretation, zipped: bool, saved: dict | None) -> str:
    if saved is not None:
        return KIND_SAVED
    if interpretation.layout == "book":
        return KIND_BOOK if zipped else KIND_BOOK_SAFETENSORS
    return KIND_HUGGING_FACE_PYTORCH if zipped else KIND_HUGGING_FACE


# ------------------------------------------------------------------------------------------- saving


def config_of(model: GPTModel) -> dict:
    """The book's configuration of a GPTModel, read from its modules."""
    vocab, width = model.tok_emb.weight.shape
    first = model.trf_blocks[0].att
    return {
        "vocab_size": vocab,
        "context_length": model.pos_emb.weight.shape[0],
        "emb_dim": width,
        "n_heads": first.num_heads,
        "n_layers": len(model.trf_blocks),
        "drop_rate": model.drop_emb.p,
        "qkv_bias": first.W_query.bias is not None,
    }


def _owns_its_storage(tensor: torch.Tensor) -> bool:
    return (tensor.is_contiguous() and tensor.storage_offset() == 0
            and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size())


def save_weights(model: GPTModel, path: Path, *, note: str = "") -> None:
    """Save `model` as safetensors in the book's names with its configuration in the metadata (the causal masks,
    which the model makes itself, are left out; a tied output layer is saved once and marked so). Written to a
    temporary file beside `path`, then renamed over it, so a reader sees the old file or the new one.
    WeightsFileError if it cannot be written."""
    path = Path(path).expanduser()
    config = config_of(model)
    tied = _same_tensor(model.out_head.weight, model.tok_emb.weight)
    state = model.state_dict()
    tensors = {}
    for name in book_shapes(config, tied=tied):
        tensor = state[name].detach()
        # safetensors writes each tensor's whole storage once: a view (the split of Hugging Face's c_attn) or a
        # storage shared with another tensor is copied first.
        tensors[name] = tensor if _owns_its_storage(tensor) else tensor.clone(memory_format=torch.contiguous_format)
    metadata = {"format": SAVED_FORMAT, "config": json.dumps(config, sort_keys=True),
                "tied_out_head": "true" if tied else "false", "note": note, "torch": torch.__version__}
    label = _drawable(path.name)
    try:
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise WeightsFileError(f"{label}: cannot save it there ({_drawable(error.strerror or str(error))})") from None
    os.close(descriptor)
    try:
        save_file(tensors, temp_name, metadata=metadata)
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise WeightsFileError(f"{label}: cannot save it ({_drawable(error.strerror or str(error))})") from None
        if isinstance(error, Exception) and _is_out_of_memory(error):
            raise WeightsFileError(f"{label}: there is not enough memory to save it") from None
        raise
