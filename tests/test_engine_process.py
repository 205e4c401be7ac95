"""The engine's child process: what it imports, how it ends, and that it never outlives its app.

Each test starts real child processes (each imports torch: a second or more apiece), so there are few."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from report_fixture import assert_reports_close

import tutor
from tutor.core.protocol import EngineClosed, EngineDied, EngineTimedOut, Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.engine.entry import ENGINE_NICENESS
from tutor.engine.in_process import InProcessEngine
from tutor.engine.process import TIME_BUDGET_MIN_S, ProcessEngine, child_command, time_budget
from tutor.lm.weights import cache_dir

PACKAGE_ROOT = str(Path(tutor.__file__).resolve().parent.parent)
SMALL = Request(text=sample_text(), settings=Settings(), source="story.txt")
# A slow request: an (8, 256) forward pass takes seconds.
SLOW = Request(text=sample_text(), settings=Settings(batch_size=8, context_length=256, stride=256), source="story.txt")
LIVENESS_BOUND_S = 10.0  # how long a test waits for a process to end before calling it stuck


def compute_in_a_thread(engine: ProcessEngine, request: Request) -> tuple[list, threading.Thread]:
    """Start `request` on a thread and return once the engine is busy with it; the list gets the report or
    the exception."""
    outcome: list = []

    def compute() -> None:
        try:
            outcome.append(engine.compute(request))
        except Exception as error:
            outcome.append(error)

    computing = threading.Thread(target=compute)
    computing.start()
    while not engine.busy:
        time.sleep(0.005)
    return outcome, computing


def process_state(pid: int) -> tuple[str, float] | None:
    """(state letter, CPU seconds used) of a live process; None once it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, user_ticks, system_ticks = fields[0], int(fields[11]), int(fields[12])
    if state in ("Z", "X"):
        return None
    return state, (user_ticks + system_ticks) / os.sysconf("SC_CLK_TCK")


def wait_until_gone(pid: int) -> float | None:
    """Wait (up to the liveness bound) for `pid` to end. Returns the last CPU time it was seen with, or
    None if it was still running at the bound."""
    cpu = 0.0
    stop = time.monotonic() + LIVENESS_BOUND_S
    while time.monotonic() < stop:
        state = process_state(pid)
        if state is None:
            return cpu
        cpu = state[1]
        time.sleep(0.02)
    return None


def pipe_inodes(pid: int) -> set[str]:
    """The pipes `pid` holds open, as /proc names them: "pipe:[1234]"."""
    folder = f"/proc/{pid}/fd"
    links = set()
    for fd in os.listdir(folder):
        try:
            links.add(os.readlink(f"{folder}/{fd}"))
        except FileNotFoundError:
            pass
    return {link for link in links if link.startswith("pipe:")}


def pipe_name(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


# ----- nothing from the current folder -----------------------------------------------------------------


def test_the_engine_imports_nothing_from_the_current_folder_or_pythonpath(tmp_path, monkeypatch):
    """A folder with a torch.py, a pickle.py, a sitecustomize.py and a tutor package, each of which leaves a
    marker file when imported; the tutor is started there, with PYTHONPATH naming it too."""
    poisoned, markers, home = tmp_path / "poisoned", tmp_path / "markers", tmp_path / "home"
    for folder in (poisoned / "tutor" / "engine", markers, home):
        folder.mkdir(parents=True)
    for module, path in {
        "torch": "torch.py",
        "pickle": "pickle.py",
        "sitecustomize": "sitecustomize.py",
        "tutor": "tutor/__init__.py",
        "tutor.engine": "tutor/engine/__init__.py",
        "tutor.engine.child": "tutor/engine/child.py",
    }.items():
        (poisoned / path).write_text(f"open({str(markers / module)!r}, 'w').close()\n", encoding="utf-8")
    warm_cache = cache_dir()
    monkeypatch.chdir(poisoned)
    monkeypatch.setenv("PYTHONPATH", f"{poisoned}{os.pathsep}")  # the empty entry means "the current folder"
    # What the tutor needs from the environment still arrives: the weights come from this cache, not ~/.cache.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(warm_cache))

    engine = ProcessEngine()
    try:
        outcome = engine.compute(SMALL)
    except Exception as error:  # the markers are the finding; the failure is reported after them
        outcome = error
    finally:
        engine.close()

    assert sorted(os.listdir(markers)) == []
    assert not isinstance(outcome, Exception), outcome
    expected = InProcessEngine().compute(SMALL)
    assert_reports_close(outcome, expected)  # a forward pass in another process: floats within rounding
    assert outcome.loss_manual == pytest.approx(expected.loss_manual, rel=1e-5)
    assert not (home / ".cache").exists()  # LOSS_TUTOR_CACHE_DIR reached the child


# Appended to the copy's tutor/engine/child.py: on its way out, the child writes where each `tutor` module it
# loaded came from (a namespace package has no file: its folder).
RECORD_WHERE_FROM = """
import atexit as _atexit, json as _json, sys as _sys

def _record_where_the_tutor_came_from():
    loaded = {name: getattr(module, "__file__", None) or list(module.__path__)[0]
              for name, module in list(_sys.modules.items()) if name == "tutor" or name.startswith("tutor.")}
    with open(%r, "w", encoding="utf-8") as file:
        _json.dump(loaded, file)

_atexit.register(_record_where_the_tutor_came_from)
"""
# Modules that leave a marker file when imported: the child must find none of them.
DECOYS = ("torch", "tiktoken", "yaml", "numpy", "safetensors", "pickle", "json", "sitecustomize", "usercustomize")


def plant_decoys(folder: Path, markers: Path) -> None:
    for module in DECOYS:
        (folder / f"{module}.py").write_text(f"open({str(markers / module)!r}, 'w').close()\n", encoding="utf-8")


def test_the_child_loads_the_tutor_by_its_folder_and_nothing_beside_it(tmp_path, monkeypatch):
    """The child runs a copy of the tutor from a folder whose name has spaces, quotes and shell syntax, and whose
    parent holds decoys of torch, tiktoken, yaml and more; the current folder and PYTHONPATH hold more decoys and
    another `tutor`. Every `tutor` module it loads comes from the copy, not from the tutor installed in this
    Python, and it answers with a report."""
    parent = tmp_path / "it's a \"tutor\" $(touch pwned); folder"
    markers, elsewhere = tmp_path / "markers", tmp_path / "elsewhere"
    for folder in (parent, markers, elsewhere / "tutor" / "engine"):
        folder.mkdir(parents=True)
    copy = parent / "tutor"
    shutil.copytree(Path(tutor.__file__).resolve().parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    where_from = tmp_path / "where-from.json"
    with open(copy / "engine" / "child.py", "a", encoding="utf-8") as child_source:
        child_source.write(RECORD_WHERE_FROM % str(where_from))
    plant_decoys(parent, markers)
    plant_decoys(elsewhere, markers)
    for path in ("tutor/__init__.py", "tutor/engine/__init__.py", "tutor/engine/child.py"):
        (elsewhere / path).write_text(f"open({str(markers / 'other-tutor')!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(elsewhere))
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(cache_dir()))  # the warm weight cache

    lifeline_read, lifeline_write = os.pipe()
    try:
        child = subprocess.Popen(
            child_command(lifeline_read, package_dir=copy), cwd=elsewhere, pass_fds=(lifeline_read,),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        os.close(lifeline_read)
        # One request, then end of input. Its source is a file name that is not UTF-8, as os.fsdecode gives it.
        request = Request(text=sample_text(), settings=Settings(), source="\udcff-story.txt")
        answers, said = child.communicate(request.to_json(), timeout=300)
    finally:
        os.close(lifeline_write)

    assert sorted(os.listdir(markers)) == [], said.decode(errors="replace")[-2000:]
    assert child.returncode == 0, said.decode(errors="replace")[-2000:]
    status, report, _ = pickle.loads(answers)
    assert status == "ok", report
    assert report.batch_size == 2 and report.source == "\udcff-story.txt"
    loaded = json.loads(where_from.read_text(encoding="utf-8"))
    assert {"tutor", "tutor.engine.child", "tutor.lm.compute", "tutor.lm.model", "tutor.core.protocol"} <= set(loaded)
    assert {name: path for name, path in loaded.items() if not Path(path).is_relative_to(copy)} == {}
    assert not (tmp_path / "pwned").exists() and not (elsewhere / "pwned").exists()


# ----- a child that dies, hangs or is stopped -----------------------------------------------------------


def test_a_killed_child_is_told_apart_from_a_failed_computation():
    engines = []
    # Started by a thread that ends at once (as the app's workers do): the child must not go with it.
    starter = threading.Thread(target=lambda: engines.append(ProcessEngine()))
    starter.start()
    starter.join()
    engine = engines[0]
    try:
        assert engine.compute(SMALL).batch_size == 2

        outcome, computing = compute_in_a_thread(engine, SLOW)
        os.kill(engine.pid, signal.SIGKILL)  # as the out-of-memory killer does
        computing.join(timeout=60)
        assert not computing.is_alive()
        (died,) = outcome
        assert isinstance(died, EngineDied)
        assert died.returncode == -signal.SIGKILL
        assert str(died) == (
            "the computing process was killed by signal 9 (SIGKILL), which often means the machine ran out of memory"
        )
        with pytest.raises(EngineClosed):  # it answers at once from now on, never hangs
            engine.compute(SMALL)
    finally:
        engine.close()


def test_the_child_computes_at_a_lower_priority_than_the_app():
    """So that training on both cores leaves the app's event loop its few milliseconds at once."""
    engine = ProcessEngine()
    try:
        assert engine.compute(SMALL).batch_size == 2
        assert os.getpriority(os.PRIO_PROCESS, engine.pid) == min(os.getpriority(os.PRIO_PROCESS, 0) + ENGINE_NICENESS, 19)
    finally:
        engine.close()


def test_the_time_budget_is_generous_and_grows_with_the_request():
    assert time_budget(SMALL) == TIME_BUDGET_MIN_S
    # Far more than an (8, 256) recompute takes on the idle build machine: 5.2 s.
    assert time_budget(SLOW) > 30 * 5.2
    six_rows = Request(text=sample_text(), settings=Settings(batch_size=6, context_length=256), source="story.txt")
    assert time_budget(six_rows) == pytest.approx(6 / 8 * time_budget(SLOW))


def test_a_hung_child_is_stopped_once_its_time_budget_is_spent():
    engine = ProcessEngine(time_budget=lambda request: 2.0, load_budget_s=0.0)
    try:
        pid = engine.pid
        os.kill(pid, signal.SIGSTOP)  # hung: it will never answer
        with pytest.raises(EngineTimedOut) as timed_out:
            engine.compute(SMALL)
        assert str(timed_out.value) == (
            "the computation took longer than 2 s, far longer than batch size 2 × context length 8 should take, "
            "so it was stopped"
        )
        assert wait_until_gone(pid) is not None
        with pytest.raises(EngineClosed):
            engine.compute(SMALL)
    finally:
        engine.close()


def test_close_stops_a_computing_child_without_waiting_for_it():
    engine = ProcessEngine()
    outcome, computing = compute_in_a_thread(engine, SLOW)
    time.sleep(0.5)  # loading or computing: either way it is busy for seconds more
    pid = engine.pid
    engine.close()
    computing.join(timeout=60)
    assert not computing.is_alive()
    (closed,) = outcome
    assert isinstance(closed, EngineClosed)
    assert wait_until_gone(pid) is not None


def test_each_child_holds_only_its_own_pipes():
    """No child inherits another's pipes: otherwise it would keep the other's lifeline (or stdin) open,
    and that child would outlive the app."""
    first, second = ProcessEngine(), ProcessEngine()
    try:
        first_pipes = {pipe_name(first._lifeline.fileno()), pipe_name(first._process.stdin.fileno()),
                       pipe_name(first._process.stdout.fileno())}
        second_pipes = {pipe_name(second._lifeline.fileno()), pipe_name(second._process.stdin.fileno()),
                        pipe_name(second._process.stdout.fileno())}
        assert pipe_inodes(first.pid) == first_pipes
        assert pipe_inodes(second.pid) == second_pipes
    finally:
        first.close()
        second.close()


# ----- the child never outlives the app -----------------------------------------------------------------

# An app in miniature: it starts an engine, has it load the model, prints the child's pid, then asks for
# the slow request and waits. The test then kills this process in the middle of that forward pass.
DYING_PARENT = """
import sys
sys.path.insert(0, sys.argv[1])  # the tutor under test
from tutor.engine.process import ProcessEngine
from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text

engine = ProcessEngine()
engine.compute(Request(text=sample_text(), settings=Settings(), source="story.txt"))
print(engine._process.pid, flush=True)
slow = Settings(batch_size=8, context_length=256, stride=256)
engine.compute(Request(text=sample_text(), settings=slow, source="story.txt"))
print("finished", flush=True)
"""


@pytest.mark.parametrize("ending", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_child_stops_at_once_when_the_app_dies(tmp_path, ending):
    parent = subprocess.Popen(
        [sys.executable, "-I", "-c", DYING_PARENT, PACKAGE_ROOT],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), parent.stderr.read()
        child = int(line)
        time.sleep(0.5)  # the slow request has been sent: the child is in its forward pass
        state = process_state(child)
        assert state is not None
        cpu_when_parent_died = state[1]
        parent.send_signal(ending)
        parent.wait(timeout=30)
        last_cpu = wait_until_gone(child)
        assert last_cpu is not None, "the engine outlived the app"
        # It stopped at once, rather than finishing the forward pass (seconds of CPU) before noticing.
        assert last_cpu - cpu_when_parent_died < 1.0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        parent.stderr.close()


# ----- what the child says while loading ------------------------------------------------------------------


def test_what_the_child_says_while_loading_reaches_the_app_once(tmp_path, monkeypatch):
    """The child's stderr goes nowhere (it would scribble on the learner's screen), so a notice from loading
    the model, here that the weight cache cannot be written, travels with the first answer instead."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LOSS_TUTOR_CACHE_DIR", str(blocker / "cache"))

    engine = ProcessEngine()
    try:
        engine.compute(SMALL)
        first = engine.take_notices()
        engine.compute(SMALL)
        second = engine.take_notices()
    finally:
        engine.close()

    assert len(first) == 1 and "cannot write" in first[0] and "using weights built in memory" in first[0]
    assert second == []
