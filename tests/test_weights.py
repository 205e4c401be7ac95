"""The weight cache: built once, then loaded without the initialiser, bit-identical, and self-repairing."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tutor.lm import weights
from tutor.lm.model import GPT_CONFIG_124M
from tutor.lm.weights import build_fresh_model, cache_dir, load_tutor_model, weights_path

SMALL = {"vocab_size": 100, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 2,
         "drop_rate": 0.1, "qkv_bias": False}
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def notices():
    return []


def logits(model, cfg=SMALL):
    """Compared with torch.testing.assert_close, not torch.equal: two models' forward passes (a loaded one
    and a fresh one) may round apart on some CPUs; where the bits matter, the state dicts are compared."""
    idx = torch.arange(2 * cfg["context_length"]).reshape(2, -1) % cfg["vocab_size"]
    with torch.no_grad():
        return model(idx)


def fresh_logits(cfg=SMALL, seed=42):
    return logits(build_fresh_model(cfg, seed).eval(), cfg)


def forbid_initialisation(monkeypatch):
    """Make seeding or randomly filling any tensor fail, so only a no-initialiser load can succeed."""
    def refuse(*args, **kwargs):
        raise AssertionError("the initialiser ran")

    monkeypatch.setattr(torch, "manual_seed", refuse)
    monkeypatch.setattr(torch.Tensor, "uniform_", refuse)
    monkeypatch.setattr(torch.Tensor, "normal_", refuse)


def test_cache_dir_prefers_the_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "shared"


def test_cache_dir_defaults_to_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("LOSS_TUTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "loss-tutor"

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "loss-tutor"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert cache_dir() == tmp_path / "home" / ".cache" / "loss-tutor"


def test_weights_path_is_keyed_by_config_and_seed(cache):
    path = weights_path(GPT_CONFIG_124M, 42)
    assert path.parent == cache
    assert path.name.startswith("gpt-124m-seed42-") and path.suffix == ".safetensors"
    assert weights_path(dict(reversed(GPT_CONFIG_124M.items())), 42) == path  # key order does not matter
    assert weights_path(GPT_CONFIG_124M, 43) != path
    assert weights_path({**GPT_CONFIG_124M, "context_length": 1024}, 42) != path
    assert weights_path(SMALL, 42) != path


def test_first_call_writes_the_file(cache, notices):
    path = weights_path(SMALL, 42)
    assert not path.exists()
    model = load_tutor_model(SMALL, notice=notices.append)
    assert path.is_file()
    assert os.listdir(cache) == [path.name]  # no temporary file left behind
    assert notices == []
    assert not model.training
    torch.testing.assert_close(logits(model), fresh_logits())


def test_second_call_loads_without_the_initialiser_and_is_bit_identical(cache, notices, monkeypatch):
    load_tutor_model(SMALL, notice=notices.append)
    expected = fresh_logits()
    expected_state = build_fresh_model(SMALL, 42).state_dict()

    forbid_initialisation(monkeypatch)
    model = load_tutor_model(SMALL, notice=notices.append)
    monkeypatch.undo()

    assert notices == []
    torch.testing.assert_close(logits(model), expected)
    state = model.state_dict()
    assert state.keys() == expected_state.keys()
    assert all(torch.equal(state[k], expected_state[k]) for k in state)
    assert not any(t.is_meta for t in state.values())
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_the_callers_random_state_is_left_alone(cache):
    for _ in ("cold", "warm"):
        torch.manual_seed(7)
        before = torch.get_rng_state()
        load_tutor_model(SMALL)
        assert torch.equal(torch.get_rng_state(), before)


def test_cache_false_writes_nothing(cache, notices):
    model = load_tutor_model(SMALL, cache=False, notice=notices.append)
    assert list(cache.iterdir()) == []
    torch.testing.assert_close(logits(model), fresh_logits())
    assert not model.training


def truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path):
    path.write_bytes(os.urandom(4096))


def empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("spoil", [garbage, truncated, empty])
def test_a_corrupt_file_is_rebuilt_with_a_notice(cache, notices, spoil):
    load_tutor_model(SMALL)
    path = weights_path(SMALL, 42)
    spoil(path)

    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "\n" not in notices[0] and str(path) in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())

    again = load_tutor_model(SMALL, notice=notices.append)  # the rebuilt file is good
    assert len(notices) == 1
    torch.testing.assert_close(logits(again), fresh_logits())


def _state_with_missing_key(state):
    del state["out_head.weight"]


def _state_with_extra_key(state):
    state["trf_blocks.9.norm1.scale"] = torch.ones(16)


def _state_with_wrong_shape(state):
    state["tok_emb.weight"] = torch.zeros(99, 16)


def _state_with_wrong_dtype(state):
    state["pos_emb.weight"] = state["pos_emb.weight"].double()


@pytest.mark.parametrize("spoil", [_state_with_missing_key, _state_with_extra_key,
                                   _state_with_wrong_shape, _state_with_wrong_dtype])
def test_a_mismatched_file_is_rebuilt_with_a_notice(cache, notices, spoil):
    state = build_fresh_model(SMALL, 42).state_dict()
    spoil(state)
    save_file(state, weights_path(SMALL, 42), metadata=weights._metadata(SMALL, 42))

    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "rebuilt" in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())
    load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1


def test_a_file_made_for_another_seed_is_rebuilt(cache, notices):
    other = build_fresh_model(SMALL, 1).state_dict()
    save_file(other, weights_path(SMALL, 42), metadata=weights._metadata(SMALL, 1))
    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1
    torch.testing.assert_close(logits(model), fresh_logits())


def test_the_default_notice_is_one_line_on_stderr(cache, capsys):
    garbage(cache / weights_path(SMALL, 42).name)
    load_tutor_model(SMALL)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss-tutor" in err


def test_an_unusable_cache_dir_falls_back_to_memory(tmp_path, monkeypatch, notices):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(blocker / "cache"))  # mkdir fails, even for root
    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "in memory" in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())
    assert not model.training


def test_a_good_file_in_a_read_only_place_still_loads(cache, notices, monkeypatch):
    load_tutor_model(SMALL)
    # Saving would fail; a good file never needs saving.
    monkeypatch.setattr(weights, "_save_atomically", lambda *a: (_ for _ in ()).throw(PermissionError("ro")))
    model = load_tutor_model(SMALL, notice=notices.append)
    assert notices == []
    torch.testing.assert_close(logits(model), fresh_logits())


def test_two_threads_saving_at_once_leave_a_valid_file(cache, monkeypatch, notices):
    both_saving = threading.Barrier(2, timeout=30)
    real_save = weights.save_file

    def save_together(*args, **kwargs):
        both_saving.wait()  # both threads have built their model and write at the same moment
        real_save(*args, **kwargs)

    monkeypatch.setattr(weights, "save_file", save_together)
    models = [None, None]

    def first_run(i):
        models[i] = load_tutor_model(SMALL, notice=notices.append)

    threads = [threading.Thread(target=first_run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(weights, "save_file", real_save)  # not undo(): that would drop the cache directory too

    expected = fresh_logits()
    assert notices == []
    for m in models:
        torch.testing.assert_close(logits(m), expected)
    assert os.listdir(cache) == [weights_path(SMALL, 42).name]
    torch.testing.assert_close(logits(load_tutor_model(SMALL, notice=notices.append)), expected)
    assert notices == []


def test_two_processes_starting_at_once_leave_a_valid_file(cache, notices):
    script = (
        "import torch\n"
        "from tutor.lm.weights import load_tutor_model\n"
        f"m = load_tutor_model({SMALL!r})\n"
        "print(float(m(torch.zeros(1, 4, dtype=torch.long)).sum()))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all(err == "" for _, err in outputs)
    assert float(outputs[0][0]) == pytest.approx(float(outputs[1][0]), rel=1e-5)  # two processes' forward passes
    assert os.listdir(cache) == [weights_path(SMALL, 42).name]
    torch.testing.assert_close(logits(load_tutor_model(SMALL, notice=notices.append)), fresh_logits())
    assert notices == []


def test_the_124m_model_from_the_cache_equals_a_fresh_build(cache, notices, monkeypatch):
    load_tutor_model(notice=notices.append)  # first run: builds and saves
    forbid_initialisation(monkeypatch)
    cached = load_tutor_model(notice=notices.append)
    monkeypatch.undo()
    assert notices == []

    fresh = build_fresh_model().eval()
    idx = torch.randint(0, 50257, (2, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(cached(idx), fresh(idx))  # two forward passes: equal within rounding
    fresh_state = fresh.state_dict()
    assert all(torch.equal(t, fresh_state[k]) for k, t in cached.state_dict().items())


# ----- files that are not what they seem -------------------------------------------------------------

def _load_in_a_child(cache, timeout=60):
    """load_tutor_model(SMALL) in a fresh process with a deadline: a hang fails the test instead of stopping it."""
    script = (
        "from tutor.lm.weights import load_tutor_model\n"
        f"load_tutor_model({SMALL!r})\n"
        "print('loaded')\n"
    )
    env = {**os.environ, "LOSS_TUTOR_CACHE_DIR": str(cache)}
    try:
        return subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading the weights hangs: still waiting after {timeout} s")


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_fifo_or_socket_in_place_of_the_cache_is_replaced_without_hanging(cache, kind, monkeypatch):
    path = weights_path(SMALL, 42)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        import socket

        monkeypatch.chdir(path.parent)  # bound by its name alone: a socket's path is limited to 107 bytes
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path.name)
        listener.close()

    done = _load_in_a_child(cache)
    assert done.returncode == 0 and done.stdout == "loaded\n", done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "rebuilt" in lines[0]
    if kind == "fifo":
        assert "FIFO" in lines[0]
    assert path.is_file()  # the rebuilt file took its place
    notices = []
    torch.testing.assert_close(logits(load_tutor_model(SMALL, notice=notices.append)), fresh_logits())
    assert notices == []


def test_a_directory_in_place_of_the_cache_is_reported_and_the_model_built_in_memory(cache, notices):
    path = weights_path(SMALL, 42)
    path.mkdir()
    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1
    assert "it is a directory, not a regular file" in notices[0] and "in memory" in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())


def test_a_symbolic_link_in_place_of_the_cache_is_not_followed(cache, notices, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    load_tutor_model(SMALL)
    path = weights_path(SMALL, 42)
    good = path.read_bytes()
    target = elsewhere / "someone-elses.safetensors"
    target.write_bytes(good)
    path.unlink()
    path.symlink_to(target)

    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "symbolic link" in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())
    assert path.is_file() and not path.is_symlink()  # the link itself was replaced
    assert target.read_bytes() == good  # and what it pointed to left alone


def _overwrite_data(path, start_fraction, data):
    """Overwrite bytes of the tensor data, leaving the safetensors header as it was."""
    raw = bytearray(path.read_bytes())
    header_end = 8 + int.from_bytes(raw[:8], "little")
    start = header_end + int((len(raw) - header_end) * start_fraction)
    raw[start:start + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [
    b"\x00\x00\xc0\x7f" * 256,  # float32 NaNs: every number on screen showed nan
    bytes(1024),  # zeros: finite, but not the weights
    b"\x01",  # one changed byte
], ids=["nan", "zeros", "one-byte"])
def test_damaged_tensor_data_with_a_valid_header_is_rebuilt(cache, notices, damage):
    load_tutor_model(SMALL)
    path = weights_path(SMALL, 42)
    _overwrite_data(path, 0.5, damage)

    model = load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "\n" not in notices[0]
    assert str(path) in notices[0] and "does not match its checksum" in notices[0] and "rebuilt" in notices[0]
    torch.testing.assert_close(logits(model), fresh_logits())
    load_tutor_model(SMALL, notice=notices.append)  # the rebuilt file is good
    assert len(notices) == 1


def test_a_cache_written_without_checksums_is_rebuilt(cache, notices):
    state = build_fresh_model(SMALL, 42).state_dict()
    save_file(state, weights_path(SMALL, 42), metadata=weights._metadata(SMALL, 42))  # no state: no checksums
    load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "it has no readable checksums" in notices[0] and "rebuilt" in notices[0]


def test_the_checksum_sees_every_byte_and_only_the_bytes():
    tensor = torch.arange(7, dtype=torch.float32)  # 28 bytes: three whole words and a 4-byte tail
    checksum = weights.tensor_checksum(tensor)
    assert checksum == weights.tensor_checksum(tensor.clone().reshape(7, 1))
    for index in range(7):
        changed = tensor.clone()
        changed[index] = float("nan")
        assert weights.tensor_checksum(changed) != checksum


# ----- running out of memory is not a damaged file ----------------------------------------------------

def _file_identity(path):
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_size


ALLOCATOR_FAILURES = [
    MemoryError(),
    RuntimeError("unable to mmap 652842080 bytes from file </cache/gpt.safetensors>: Cannot allocate memory (12)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                 "you tried to allocate 9437184 bytes. Error code 12 (Cannot allocate memory)"),
    OSError(12, "Cannot allocate memory"),
]


@pytest.mark.parametrize("failure", ALLOCATOR_FAILURES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("where", ["safe_open", "build_unfilled_model"])
def test_out_of_memory_while_loading_leaves_a_good_cache_alone(cache, notices, monkeypatch, failure, where):
    load_tutor_model(SMALL)
    path = weights_path(SMALL, 42)
    before = _file_identity(path)

    def run_out_of_memory(*args, **kwargs):
        raise failure

    real_function = getattr(weights, where)
    monkeypatch.setattr(weights, where, run_out_of_memory)
    with pytest.raises(MemoryError) as raised:
        load_tutor_model(SMALL, notice=notices.append)
    message = str(raised.value)
    assert message.startswith(f"out of memory loading the model weights from {path} (")
    assert message.endswith("the file was left as it is") and "\n" not in message
    assert raised.value.__cause__ is None
    assert notices == []
    assert _file_identity(path) == before
    assert sorted(os.listdir(cache)) == [path.name]  # nothing half-written beside it

    monkeypatch.setattr(weights, where, real_function)
    torch.testing.assert_close(logits(load_tutor_model(SMALL, notice=notices.append)), fresh_logits())
    assert notices == [] and _file_identity(path) == before


def test_out_of_memory_while_building_says_so(cache, notices, monkeypatch):
    def run_out_of_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 154389504 bytes")

    monkeypatch.setattr(weights, "build_fresh_model", run_out_of_memory)
    with pytest.raises(MemoryError, match=r"^out of memory building the model weights \(RuntimeError: "):
        load_tutor_model(SMALL, notice=notices.append)
    assert list(cache.iterdir()) == []


def test_other_failures_are_not_mistaken_for_running_out_of_memory(cache, notices, monkeypatch):
    load_tutor_model(SMALL)

    def fail(*args, **kwargs):
        raise RuntimeError("Error while deserializing header: HeaderTooLarge")

    monkeypatch.setattr(weights, "safe_open", fail)
    load_tutor_model(SMALL, notice=notices.append)
    assert len(notices) == 1 and "rebuilt" in notices[0]


def test_checksums_read_through_many_small_windows_match_the_saved_ones(cache, notices, monkeypatch):
    load_tutor_model(SMALL)
    monkeypatch.setattr(weights, "CHECKSUM_WINDOW_BYTES", 24)  # windows end mid-tensor and mid-page
    model = load_tutor_model(SMALL, notice=notices.append)
    assert notices == []
    torch.testing.assert_close(logits(model), fresh_logits())


def test_the_cli_says_out_of_memory_in_one_line_and_exits_1(cache, monkeypatch, capsys):
    from tutor import cli
    from tutor.lm import walkthrough

    path = weights_path()  # the 124M file: a stand-in, since loading fails before anything is read
    path.write_bytes(b"a good cache, as far as anyone can tell")
    before = _file_identity(path)

    def run_out_of_memory(*args, **kwargs):
        raise RuntimeError(f"unable to mmap 652842080 bytes from file <{path}>: Cannot allocate memory (12)")

    monkeypatch.setattr(weights, "safe_open", run_out_of_memory)
    walkthrough.default_model.cache_clear()
    try:
        code = cli.main(["--plain"])
    finally:
        walkthrough.default_model.cache_clear()  # the next test loads the real model again
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(
        f"loss-tutor: error: out of memory loading the model weights from {path} (RuntimeError: unable to mmap"
    )
    assert _file_identity(path) == before
