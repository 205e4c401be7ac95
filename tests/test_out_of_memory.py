"""Running out of memory while computing gives one clear line naming the batch: the command line exits 1
without a traceback, and the computing process answers with that line (the app shows it and keeps its
numbers) and goes on serving. Python's MemoryError and PyTorch's allocator error alike."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys

import pytest
from tiny_gpt import tiny_gpt

import tutor.engine.child
import tutor.lm.bug_lab
import tutor.lm.walkthrough
from tutor import cli
from tutor.core.protocol import Request
from tutor.core.settings import MAX_POSITIONS_ENV, Settings
from tutor.core.texts import sample_text
from tutor.engine.child import serve
from tutor.lm.bug_lab import run_all
from tutor.lm.walkthrough import OutOfMemory, Walkthrough, is_out_of_memory

TORCH_MESSAGE = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
    "allocate 411705344 bytes. Error code 12 (Cannot allocate memory)"
)
ADVICE = "; try a smaller batch size or context length"


@pytest.fixture(autouse=True)
def no_instructor_limit(monkeypatch):
    monkeypatch.setenv(MAX_POSITIONS_ENV, "")


def model_raising(error: BaseException):
    """A one-layer GPTModel whose forward pass raises `error`."""
    from tiny_gpt import tiny_gpt

    def forward(inputs):
        raise error

    model = tiny_gpt()
    model.forward = forward
    return model


@pytest.mark.parametrize(
    ("error", "reason"),
    [(MemoryError(), "Python could not allocate memory"), (RuntimeError(TORCH_MESSAGE), "PyTorch could not allocate 392.6 MiB")],
    ids=["MemoryError", "allocator"],
)
def test_cli_says_it_ran_out_of_memory_in_one_line_and_exits_1(capsys, monkeypatch, error, reason):
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model_raising(error))
    code = cli.main(["--json", "--batch-size", "3", "--context-length", "5"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == f"loss-tutor: error: out of memory computing a (3, 5) batch: {reason}{ADVICE}\n"


def test_other_runtime_errors_are_not_taken_for_running_out_of_memory():
    assert is_out_of_memory(MemoryError()) and is_out_of_memory(RuntimeError(TORCH_MESSAGE))
    assert not is_out_of_memory(RuntimeError("Expected target size [2, 50257], got [2, 8]"))
    walkthrough = Walkthrough(sample_text(), Settings(), model=model_raising(RuntimeError("shape mismatch")))
    from tutor.lm.report_builder import build_report

    with pytest.raises(RuntimeError, match="shape mismatch"):
        build_report(walkthrough)


def tiny_walkthrough(settings: Settings | None = None) -> Walkthrough:
    return Walkthrough(sample_text(), settings or Settings(), model=tiny_gpt())


def test_the_bug_lab_does_not_show_running_out_of_memory_as_a_mistakes_error(monkeypatch):
    """A buggy line's own error is shown in the bug lab; running out of memory fails the whole computation."""
    walkthrough = Walkthrough(sample_text(), Settings(), model=model_raising(MemoryError()))
    with pytest.raises(OutOfMemory, match=r"^out of memory computing a \(2, 8\) batch: Python could not"):
        run_all(walkthrough)

    def no_memory(*args, **kwargs):
        raise MemoryError

    walkthrough = tiny_walkthrough()
    walkthrough.loss
    monkeypatch.setattr(tutor.lm.bug_lab.F, "nll_loss", no_memory)  # inside the forgot_flatten mistake
    with pytest.raises(OutOfMemory):
        run_all(walkthrough)


def test_the_computing_process_answers_with_the_line_and_goes_on(monkeypatch):
    monkeypatch.setattr(tutor.engine.child, "warm_up", lambda: None)
    failing = model_raising(RuntimeError(TORCH_MESSAGE))
    models = iter([failing, tiny_walkthrough().model])
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: next(models))
    stream = io.BytesIO()
    for settings in (Settings(batch_size=8, context_length=256), Settings()):
        stream.write(Request(text=sample_text(), settings=settings, source="s").to_json())
    stream.seek(0)
    answers = io.BytesIO()
    serve(stream, answers)
    answers.seek(0)
    first, second = pickle.load(answers), pickle.load(answers)
    assert first == ("failed", f"out of memory computing a (8, 256) batch: PyTorch could not allocate 392.6 MiB{ADVICE}", [])
    assert second[0] == "ok" and second[1].batch_size == 2


# A real allocation failure: the model is loaded and one small batch computed (starting PyTorch's threads),
# then the address space is capped at what the process holds plus HEADROOM, less than the (8, 256) logits
# (411 MB) alone. Under that cap the command line computes (2, 8), then is asked for (8, 256).
LIMITED_CLI = r"""
import resource, sys
from tutor.cli import main
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.walkthrough import Walkthrough, default_model

Walkthrough(sample_text(), Settings(), model=default_model()).loss
size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[1]), resource.RLIM_INFINITY))
if main(["--json"]) != 0:
    sys.exit("the small batch failed")
print(MARK, flush=True)
sys.exit(main(sys.argv[2:]))
"""
HEADROOM = 150 * 2**20
MARK = "-- the small batch worked --"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_cli_under_a_memory_limit_fails_a_big_batch_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", f"MARK = {MARK!r}\n" + LIMITED_CLI, str(HEADROOM),
         "--json", "--batch-size", "8", "--context-length", "256"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    small_json, mark, big_output = done.stdout.partition(MARK + "\n")
    assert mark and '"loss_pytorch"' in small_json, done.stderr[-2000:]
    assert (done.returncode, big_output) == (1, ""), done.stderr[-2000:]
    assert done.stderr.startswith("loss-tutor: error: out of memory computing a (8, 256) batch: "), done.stderr[-2000:]
    assert done.stderr.endswith(f"{ADVICE}\n") and done.stderr.count("\n") == 1, done.stderr[-2000:]
