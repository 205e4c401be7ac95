"""Weights from a file: the book's .pth, Hugging Face GPT-2 safetensors and the tutor's own files load into a
GPTModel that computes what a reference GPT-2 computes; everything else is refused in one line, and nothing in
a file is ever run."""

from __future__ import annotations

import json
import math
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from tutor.lm import weight_files, weights
from tutor.lm.model import GPTModel
from tutor.lm.weight_files import (
    KIND_BOOK,
    KIND_HUGGING_FACE,
    KIND_HUGGING_FACE_PYTORCH,
    KIND_SAVED,
    WeightsFileError,
    book_shapes,
    count_parameters,
    interpret_tensors,
    read_weights_file,
    save_weights,
)

TINY = {"vocab_size": 50257, "context_length": 16, "emb_dim": 8, "n_heads": 2, "n_layers": 2, "drop_rate": 0.1,
        "qkv_bias": True}
IDS = torch.tensor([[50256, 15496, 11, 995, 0, 383, 3290, 318, 257, 1332, 13, 198, 464, 2068, 7586, 1175]])


def book_model(seed: int = 0, **changes) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel({**TINY, **changes}).eval()


def logits(model: GPTModel, ids: torch.Tensor = IDS) -> torch.Tensor:
    with torch.no_grad():
        return model(ids)


def hugging_face_tensors(seed: int = 0, layers: int = 2, width: int = 8, context: int = 16,
                         vocab: int = 50257) -> dict[str, torch.Tensor]:
    """Random weights in GPT-2's own layout: Conv1D weights are (in, out)."""
    generator = torch.Generator().manual_seed(seed)

    def random(*shape: int, around: float = 0.0) -> torch.Tensor:
        return around + 0.3 * torch.randn(*shape, generator=generator)

    tensors = {"wte.weight": random(vocab, width), "wpe.weight": random(context, width)}
    for layer in range(layers):
        h = f"h.{layer}."
        tensors |= {
            f"{h}ln_1.weight": random(width, around=1.0), f"{h}ln_1.bias": random(width),
            f"{h}attn.c_attn.weight": random(width, 3 * width), f"{h}attn.c_attn.bias": random(3 * width),
            f"{h}attn.c_proj.weight": random(width, width), f"{h}attn.c_proj.bias": random(width),
            f"{h}ln_2.weight": random(width, around=1.0), f"{h}ln_2.bias": random(width),
            f"{h}mlp.c_fc.weight": random(width, 4 * width), f"{h}mlp.c_fc.bias": random(4 * width),
            f"{h}mlp.c_proj.weight": random(4 * width, width), f"{h}mlp.c_proj.bias": random(width),
        }
    tensors |= {"ln_f.weight": random(width, around=1.0), "ln_f.bias": random(width)}
    return tensors


def reference_gpt2_logits(t: dict[str, torch.Tensor], ids: torch.Tensor, heads: int) -> torch.Tensor:
    """GPT-2's forward pass written straight from its own tensors: Conv1D is x @ W + b, GELU's tanh approximation,
    layer norm with eps 1e-5, causal attention, and the output layer is the token embedding."""
    batch, length = ids.shape
    width = t["wte.weight"].shape[1]
    head_size = width // heads
    layers = len({name.split(".")[1] for name in t if name.startswith("h.")})

    def norm(x, name):
        return F.layer_norm(x, (width,), t[f"{name}.weight"], t[f"{name}.bias"], eps=1e-5)

    def conv1d(x, name):
        return x @ t[f"{name}.weight"] + t[f"{name}.bias"]

    def heads_of(x):
        return x.reshape(batch, length, heads, head_size).transpose(1, 2)

    x = t["wte.weight"][ids] + t["wpe.weight"][:length]
    future = torch.ones(length, length, dtype=torch.bool).triu(1)
    for layer in range(layers):
        h = f"h.{layer}."
        query, key, value = map(heads_of, conv1d(norm(x, f"{h}ln_1"), f"{h}attn.c_attn").split(width, dim=-1))
        scores = (query @ key.transpose(-1, -2) / math.sqrt(head_size)).masked_fill(future, float("-inf"))
        mixed = (scores.softmax(dim=-1) @ value).transpose(1, 2).reshape(batch, length, width)
        x = x + conv1d(mixed, f"{h}attn.c_proj")
        x = x + conv1d(F.gelu(conv1d(norm(x, f"{h}ln_2"), f"{h}mlp.c_fc"), approximate="tanh"), f"{h}mlp.c_proj")
    return norm(x, "ln_f") @ t["wte.weight"].T


def write_config_json(folder: Path, **settings) -> None:
    config = {"model_type": "gpt2", "n_head": 2, "n_embd": 8, "n_layer": 2, "n_positions": 16, "vocab_size": 50257,
              "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05}
    (folder / "config.json").write_text(json.dumps({**config, **settings}))


def refusal(path: Path) -> str:
    from deadline import within

    with within(20, f"reading {path.name}"), pytest.raises(WeightsFileError) as caught:
        read_weights_file(path)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    return message


def save_pth(tmp_path: Path, state, name: str = "model.pth") -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


# ------------------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("container", ["safetensors", "pytorch"])
@pytest.mark.parametrize("prefix, head, buffers", [("", False, False), ("transformer.", True, True)])
def test_hugging_face_gpt2_gives_the_reference_logits(tmp_path, container, prefix, head, buffers):
    tensors = hugging_face_tensors()
    stored = {prefix + name: tensor for name, tensor in tensors.items()}
    if buffers:  # the causal-mask buffers older transformers saved
        for layer in range(2):
            stored[f"{prefix}h.{layer}.attn.bias"] = torch.ones(1, 1, 16, 16).tril()
            stored[f"{prefix}h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    if head:
        stored["lm_head.weight"] = tensors["wte.weight"].clone()
    if container == "safetensors":
        path = tmp_path / "model.safetensors"
        save_file(stored, path, metadata={"format": "pt"})
    else:
        path = save_pth(tmp_path, stored, "pytorch_model.bin")
    write_config_json(tmp_path)

    loaded = read_weights_file(path)

    assert loaded.kind == (KIND_HUGGING_FACE if container == "safetensors" else KIND_HUGGING_FACE_PYTORCH)
    assert loaded.config == TINY
    assert loaded.label == path.name
    torch.testing.assert_close(logits(loaded.model), reference_gpt2_logits(tensors, IDS, heads=2),
                               rtol=0, atol=1e-5)


def test_hugging_face_output_layer_is_the_token_embedding_counted_once(tmp_path):
    save_file(hugging_face_tensors(), tmp_path / "model.safetensors")
    write_config_json(tmp_path)
    loaded = read_weights_file(tmp_path / "model.safetensors")
    assert loaded.model.out_head.weight is loaded.model.tok_emb.weight
    assert loaded.parameter_count == sum(p.numel() for p in loaded.model.parameters())
    assert loaded.parameter_count == count_parameters(TINY, tied=False) - 50257 * 8


def test_the_model_is_ready_to_use(tmp_path):
    save_file(hugging_face_tensors(), tmp_path / "model.safetensors")
    write_config_json(tmp_path)
    model = read_weights_file(tmp_path / "model.safetensors").model
    assert not model.training and model.seed is None
    assert not any(p.requires_grad for p in model.parameters())


def mapped_file_inode(tensor: torch.Tensor) -> int | None:
    """The inode of the file mapped at the tensor's data, from /proc/self/maps; None if it is not a file's."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(part, 16) for part in fields[0].split("-"))
        if start <= address < end:
            return int(fields[4]) or None
    return None


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.parametrize("layout", ["hugging face safetensors", "book pth"])
def test_the_weights_are_the_files_pages_not_a_copy(tmp_path, layout):
    if layout == "book pth":
        path = save_pth(tmp_path, book_model().state_dict())
    else:
        path = tmp_path / "model.safetensors"
        save_file(hugging_face_tensors(), path)
    write_config_json(tmp_path)
    model = read_weights_file(path).model
    inode = os.stat(path).st_ino
    for name, parameter in model.named_parameters():
        assert mapped_file_inode(parameter) == inode, name


def test_the_books_state_dict_loads_with_the_same_logits(tmp_path):
    model = book_model()
    path = save_pth(tmp_path, model.state_dict(), "gpt2-small-124M.pth")
    write_config_json(tmp_path)
    loaded = read_weights_file(path)
    assert loaded.kind == KIND_BOOK
    assert loaded.config == TINY
    assert loaded.parameter_count == sum(p.numel() for p in model.parameters())
    torch.testing.assert_close(logits(loaded.model), logits(model), rtol=0, atol=0)


def test_a_state_dict_without_the_mask_buffers_loads_too(tmp_path):
    model = book_model(qkv_bias=False)
    state = {name: tensor for name, tensor in model.state_dict().items() if not name.endswith(".att.mask")}
    write_config_json(tmp_path)
    loaded = read_weights_file(save_pth(tmp_path, state))
    assert loaded.config == {**TINY, "qkv_bias": False}
    torch.testing.assert_close(logits(loaded.model), logits(model), rtol=0, atol=0)


def test_the_chapter_5_checkpoint_gives_its_model(tmp_path):
    model = book_model()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0004, weight_decay=0.1)
    F.cross_entropy(model(IDS[:, :-1]).flatten(0, 1), IDS[0, 1:]).backward()
    optimizer.step()
    path = save_pth(tmp_path, {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
                    "model_and_optimizer.pth")
    write_config_json(tmp_path)
    loaded = read_weights_file(path)
    torch.testing.assert_close(logits(loaded.model), logits(model.eval()), rtol=0, atol=0)


def test_half_precision_weights_are_read_as_float32(tmp_path):
    tensors = {name: tensor.half() for name, tensor in hugging_face_tensors().items()}
    save_file(tensors, tmp_path / "model.safetensors")
    write_config_json(tmp_path)
    model = read_weights_file(tmp_path / "model.safetensors").model
    assert model.tok_emb.weight.dtype == torch.float32
    reference = reference_gpt2_logits({name: t.float() for name, t in tensors.items()}, IDS, heads=2)
    torch.testing.assert_close(logits(model), reference, rtol=0, atol=1e-5)


def test_a_symbolic_link_is_followed_as_in_hugging_faces_cache(tmp_path):
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshot"
    blobs.mkdir()
    snapshot.mkdir()
    save_file(hugging_face_tensors(), blobs / "1234abcd")
    (snapshot / "model.safetensors").symlink_to(blobs / "1234abcd")
    write_config_json(snapshot)
    assert read_weights_file(snapshot / "model.safetensors").kind == KIND_HUGGING_FACE


# ------------------------------------------------------------------------------------------ sizes


GPT2_SIZES = [  # (width, layers, heads, parameters): OpenAI's four GPT-2 models, output layer tied
    (768, 12, 12, 124_439_808),
    (1024, 24, 16, 354_823_168),
    (1280, 36, 20, 774_030_080),
    (1600, 48, 25, 1_557_611_200),
]


def shape_only(shape: tuple[int, ...]) -> torch.Tensor:
    """A float32 tensor of this shape that takes no memory (every element is one number)."""
    return torch.zeros((), dtype=torch.float32).expand(shape)


@pytest.mark.parametrize("width, layers, heads, parameters", GPT2_SIZES)
def test_the_four_gpt2_sizes_are_recognised(width, layers, heads, parameters):
    shapes = {"wte.weight": (50257, width), "wpe.weight": (1024, width), "ln_f.weight": (width,), "ln_f.bias": (width,)}
    for layer in range(layers):
        for name, shape in {"ln_1.weight": (width,), "ln_1.bias": (width,), "ln_2.weight": (width,),
                            "ln_2.bias": (width,), "attn.c_attn.weight": (width, 3 * width),
                            "attn.c_attn.bias": (3 * width,), "attn.c_proj.weight": (width, width),
                            "attn.c_proj.bias": (width,), "mlp.c_fc.weight": (width, 4 * width),
                            "mlp.c_fc.bias": (4 * width,), "mlp.c_proj.weight": (4 * width, width),
                            "mlp.c_proj.bias": (width,), "attn.bias": (1, 1, 1024, 1024)}.items():
            shapes[f"h.{layer}.{name}"] = shape
    interpretation = interpret_tensors({name: shape_only(shape) for name, shape in shapes.items()})
    assert interpretation.config == {"vocab_size": 50257, "context_length": 1024, "emb_dim": width, "n_heads": heads,
                                     "n_layers": layers, "drop_rate": 0.1, "qkv_bias": True}
    assert interpretation.tied
    assert count_parameters(interpretation.config, tied=True) == parameters
    assert {name: tuple(t.shape) for name, t in interpretation.state.items()} == book_shapes(
        interpretation.config, tied=True)


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_the_shape_table_is_the_models(qkv_bias):
    state = GPTModel({**TINY, "qkv_bias": qkv_bias}).state_dict()
    assert book_shapes({**TINY, "qkv_bias": qkv_bias}) == {
        name: tuple(tensor.shape) for name, tensor in state.items() if not name.endswith(".att.mask")}


# ------------------------------------------------------------------------------------------ saving


@pytest.mark.parametrize("source", ["book", "hugging face"])
def test_a_saved_model_reopens_with_the_same_logits(tmp_path, source):
    if source == "book":
        model = book_model(qkv_bias=False, n_heads=4)  # heads no width implies: the metadata must carry them
        parameters = sum(p.numel() for p in model.parameters())
    else:
        save_file(hugging_face_tensors(), tmp_path / "model.safetensors")
        write_config_json(tmp_path)
        loaded = read_weights_file(tmp_path / "model.safetensors")
        model, parameters = loaded.model, loaded.parameter_count
    saved = tmp_path / "saved" / "mine.safetensors"
    saved.parent.mkdir()

    save_weights(model, saved, note="trained 3 steps")

    assert os.listdir(saved.parent) == ["mine.safetensors"]
    again = read_weights_file(saved)
    assert again.kind == KIND_SAVED
    assert again.config == weight_files.config_of(model)
    assert again.parameter_count == parameters
    theirs, ours = again.model.state_dict(), model.state_dict()
    assert all(torch.equal(theirs[name], ours[name]) for name in ours)
    # The same numbers, but a Hugging Face model's transposed views and the saved contiguous copies take
    # different paths through the matrix multiply, which may round apart in the last place.
    torch.testing.assert_close(logits(again.model), logits(model), rtol=0, atol=1e-5)
    assert (again.model.out_head.weight is again.model.tok_emb.weight) == (source == "hugging face")


def test_saving_over_the_file_a_model_was_loaded_from_leaves_that_model_whole(tmp_path):
    path = tmp_path / "mine.safetensors"
    save_weights(book_model(seed=1), path)
    first = read_weights_file(path).model
    before = logits(first)
    save_weights(book_model(seed=2), path)
    torch.testing.assert_close(logits(first), before, rtol=0, atol=0)
    torch.testing.assert_close(logits(read_weights_file(path).model), logits(book_model(seed=2)), rtol=0, atol=0)


def test_damaged_metadata_of_a_saved_file_is_refused(tmp_path):
    path = tmp_path / "mine.safetensors"
    save_weights(book_model(), path)
    tensors = load_file(path)
    save_file(tensors, path, metadata={"format": weight_files.SAVED_FORMAT, "config": "{}"})
    assert "metadata is damaged" in refusal(path)


def test_saved_metadata_that_disagrees_with_the_tensors_is_refused(tmp_path):
    path = tmp_path / "mine.safetensors"
    save_weights(book_model(), path)
    tensors = load_file(path)
    save_file(tensors, path, metadata={"format": weight_files.SAVED_FORMAT,
                                       "config": json.dumps({**TINY, "n_layers": 3})})
    assert "n_layers = 3" in refusal(path)


def test_saving_where_there_is_no_folder_is_one_line(tmp_path):
    with pytest.raises(WeightsFileError, match=r"^mine\.safetensors: cannot save it"):
        save_weights(book_model(), tmp_path / "absent" / "mine.safetensors")


def test_the_tutors_weight_cache_file_reads_as_its_own(tmp_path):
    model = book_model(qkv_bias=False, n_heads=4)
    path = tmp_path / "cache.safetensors"
    weights._save_atomically(model, path, {**TINY, "qkv_bias": False, "n_heads": 4}, seed=0)
    loaded = read_weights_file(path)
    assert loaded.kind == KIND_SAVED and loaded.config["n_heads"] == 4
    torch.testing.assert_close(logits(loaded.model), logits(model), rtol=0, atol=0)


# ------------------------------------------------------------------------------------------ refusals


def _write_marker(path: str) -> None:
    Path(path).write_text("this ran")


class RunsCodeWhenUnpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return _write_marker, (str(self.marker),)


def test_a_pickled_object_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "marker"
    state = {**book_model().state_dict(), "surprise": RunsCodeWhenUnpickled(marker)}
    path = save_pth(tmp_path, state)
    message = refusal(path)
    assert "Python object" in message and "_write_marker" in message
    assert not marker.exists()
    torch.load(path, weights_only=False)  # what the tutor must never do: it runs the file's code
    assert marker.exists()


@pytest.mark.parametrize("content, reason", [
    ([torch.zeros(2)], "holds a Python list, not a state_dict"),
    (torch.zeros(2), "holds a single tensor, not a state_dict"),
    ({"tok_emb.weight": torch.zeros(2), "steps": 3}, "its entry 'steps' is of type int, not a tensor"),
    ({"model_state_dict": "no"}, "its entry 'model_state_dict' is of type str, not a tensor"),
])
def test_a_torch_file_that_is_not_a_state_dict_is_refused(tmp_path, content, reason):
    assert reason in refusal(save_pth(tmp_path, content))


def test_a_missing_key_is_named(tmp_path):
    state = book_model().state_dict()
    del state["trf_blocks.1.norm2.shift"]
    write_config_json(tmp_path)
    assert "missing trf_blocks.1.norm2.shift (1 in all)" in refusal(save_pth(tmp_path, state))


def test_extra_keys_are_named_and_counted(tmp_path):
    state = book_model().state_dict()
    for number in range(5):
        state[f"extra.{number}"] = torch.zeros(1)
    write_config_json(tmp_path)
    assert "unexpected extra.0, extra.1, extra.2, … (5 in all)" in refusal(save_pth(tmp_path, state))


def test_a_hugging_face_key_that_is_not_a_known_buffer_is_refused(tmp_path):
    tensors = {**hugging_face_tensors(), "h.0.attn.rotary": torch.zeros(4)}
    save_file(tensors, tmp_path / "model.safetensors")
    write_config_json(tmp_path)
    assert "unexpected h.0.attn.rotary (1 in all)" in refusal(tmp_path / "model.safetensors")


def test_a_wrong_shape_is_named(tmp_path):
    state = book_model().state_dict()
    state["trf_blocks.0.ff.layers.0.weight"] = torch.zeros(31, 8)
    write_config_json(tmp_path)
    assert "trf_blocks.0.ff.layers.0.weight has shape (31, 8)" in refusal(save_pth(tmp_path, state))


def test_a_wrong_mask_shape_is_refused(tmp_path):
    state = book_model().state_dict()
    state["trf_blocks.0.att.mask"] = torch.zeros(4, 4)
    write_config_json(tmp_path)
    assert "trf_blocks.0.att.mask has shape (4, 4)" in refusal(save_pth(tmp_path, state))


def test_a_gap_in_the_blocks_is_refused(tmp_path):
    state = {name.replace("trf_blocks.1.", "trf_blocks.2."): t for name, t in book_model().state_dict().items()}
    write_config_json(tmp_path, n_layer=3)
    assert "block 1 is missing" in refusal(save_pth(tmp_path, state))


def test_an_output_layer_that_is_not_the_token_embedding_is_refused(tmp_path):
    tensors = {**hugging_face_tensors(), "lm_head.weight": torch.zeros(50257, 8)}
    save_file(tensors, tmp_path / "model.safetensors")
    write_config_json(tmp_path)
    assert "lm_head.weight differs from wte.weight" in refusal(tmp_path / "model.safetensors")


@pytest.mark.parametrize("layout", ["book", "hugging face"])
def test_another_vocabulary_is_refused(tmp_path, layout):
    if layout == "book":
        path = save_pth(tmp_path, book_model(vocab_size=50304).state_dict())
    else:
        path = tmp_path / "model.safetensors"
        save_file(hugging_face_tensors(vocab=50304), path)
    write_config_json(tmp_path, vocab_size=50304)
    assert "50,304 tokens, not GPT-2's 50,257" in refusal(path)


def test_integer_weights_are_refused(tmp_path):
    state = book_model().state_dict()
    state["final_norm.scale"] = torch.ones(8, dtype=torch.int64)
    write_config_json(tmp_path)
    assert "final_norm.scale is int64" in refusal(save_pth(tmp_path, state))


def test_names_of_no_gpt2_are_refused(tmp_path):
    save_file({"encoder.weight": torch.zeros(2, 2)}, tmp_path / "model.safetensors")
    assert "neither tok_emb.weight" in refusal(tmp_path / "model.safetensors")


# ---------------------------------------------------------------------------------------- config.json


def hugging_face_file(tmp_path: Path) -> Path:
    save_file(hugging_face_tensors(), tmp_path / "model.safetensors")
    return tmp_path / "model.safetensors"


def test_without_config_json_an_unknown_width_asks_for_one(tmp_path):
    assert "put a config.json with n_head beside it" in refusal(hugging_face_file(tmp_path))


@pytest.mark.parametrize("settings, reason", [
    ({"n_embd": 16}, "says n_embd = 16, but the weights have 8"),
    ({"n_layer": 3}, "says n_layer = 3, but the weights have 2"),
    ({"n_positions": 1024}, "says n_positions = 1024, but the weights have 16"),
    ({"n_head": 3}, "n_head = 3, which does not divide its width 8"),
    ({"n_head": "2"}, "n_head = '2', not a positive whole number"),
    ({"model_type": "llama"}, "model of type 'llama'"),
    ({"activation_function": "relu"}, "activation_function = 'relu'"),
    ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon = 1e-06"),
])
def test_a_config_json_that_disagrees_is_refused(tmp_path, settings, reason):
    path = hugging_face_file(tmp_path)
    write_config_json(tmp_path, **settings)
    message = refusal(path)
    assert message.startswith("model.safetensors: the config.json beside it")
    assert reason in message


def test_a_config_json_that_is_not_json_is_refused(tmp_path):
    path = hugging_face_file(tmp_path)
    (tmp_path / "config.json").write_text("n_head: 2")
    assert "config.json beside it is not JSON" in refusal(path)


def test_a_config_json_that_is_a_fifo_is_not_waited_on(tmp_path):
    path = hugging_face_file(tmp_path)
    os.mkfifo(tmp_path / "config.json")
    assert "config.json beside it is not a regular file" in refusal(path)


# ---------------------------------------------------------------------------------------- not a model


def legacy_pickle(path: Path) -> None:
    torch.save(book_model().state_dict(), path, _use_new_zipfile_serialization=False)


def plain_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")


def truncated_safetensors(path: Path) -> None:
    save_file({"wte.weight": torch.zeros(50257, 8)}, path)
    os.truncate(path, os.path.getsize(path) // 2)


@pytest.mark.parametrize("make, reason", [
    (lambda path: path.write_text("The verdict was in.\n"), "it is a text file, not a model"),
    (lambda path: path.write_bytes(b""), "it is empty"),
    (lambda path: path.write_bytes(bytes(range(7, 200))), "neither a PyTorch zip archive nor a safetensors file"),
    (lambda path: path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 5\n"),
     "Git LFS pointer"),
    (legacy_pickle, "old-style PyTorch file or a Python pickle"),
    (lambda path: path.write_bytes(pickle.dumps({"a": 1})), "old-style PyTorch file or a Python pickle"),
    (plain_zip, "zip archive, but not one torch.save wrote"),
    (truncated_safetensors, "begins like safetensors but cannot be read"),
])
def test_a_file_that_is_not_a_model_is_refused(tmp_path, make, reason):
    path = tmp_path / "weights.pth"
    make(path)
    message = refusal(path)
    assert message.startswith("weights.pth: ") and reason in message


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "gpt2").mkdir()
    assert refusal(tmp_path / "gpt2").startswith("gpt2: it is a directory")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "model.pth")
    assert "model.pth: it is a FIFO (named pipe), not a regular file" in refusal(tmp_path / "model.pth")


def test_a_missing_file_is_one_line(tmp_path):
    assert refusal(tmp_path / "gone.pth") == "gone.pth: no such file"


def test_a_file_name_is_drawn_safely(tmp_path):
    path = tmp_path / "evil\x1b[31m.pth"
    path.write_text("text")
    assert refusal(path).startswith("evil\\x1b[31m.pth: ")


def test_running_out_of_memory_is_one_line(tmp_path, monkeypatch):
    def no_memory(config):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")

    monkeypatch.setattr(weight_files, "build_unfilled_model", no_memory)
    write_config_json(tmp_path)
    assert "not enough memory to load it" in refusal(save_pth(tmp_path, book_model().state_dict()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x10\x00\x00\x00\x00\x00\x00\x00{"]),
       rest=st.binary(max_size=200))
def test_any_bytes_are_a_model_or_one_line(tmp_path, start, rest):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(start + rest)
    refusal(path)

