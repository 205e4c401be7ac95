"""The folders say which code runs where, and this holds them to it: every module under tutor/ is imported in a
fresh Python and must not pull in what its place forbids. core never imports torch, Textual or tiktoken; lm and
the computing engines never Textual; ui and the workshop never torch or tiktoken; the engines' light side (what
the app uses to reach a computing process) none of the three. A new module is checked by the rule of its
folder; a new folder, or a new module in engine/ (which holds both sides), must be given a rule.

Importing a module is what is checked. The command line's computing paths (`--plain`, `--json`, `screenshots`)
import torch on demand, in their own process; the interactive app's process is checked as it runs, below."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "tutor"
TORCH, TEXTUAL, TIKTOKEN = "torch", "textual", "tiktoken"


@dataclass(frozen=True)
class Rule:
    name: str
    places: tuple[str, ...]  # folders or files, relative to tutor/
    forbidden: frozenset[str]  # top-level packages none of its modules may import


RULES = (
    Rule("core", ("core",), frozenset({TORCH, TEXTUAL, TIKTOKEN})),
    Rule(
        "lm and the computing engines",
        ("lm", "engine/in_process.py", "engine/child.py", "engine/shared_server.py",
         "generate_command.py", "train_command.py", "command_model.py"),  # the commands that compute in-process
        frozenset({TEXTUAL}),
    ),
    Rule("ui", ("ui",), frozenset({TORCH, TIKTOKEN})),
    # What the app (or a workshop server) uses to reach a computing process: never the model, never Textual.
    Rule(
        "the engines' light side",
        ("engine/__init__.py", "engine/process.py", "engine/entry.py", "engine/fair_queue.py", "engine/answer_cache.py",
         "engine/shared_client.py", "engine/shared_wire.py", "engine/shared_status.py",
         "engine/shared_supervisor.py"),
        frozenset({TORCH, TIKTOKEN, TEXTUAL}),
    ),
    Rule("workshop", ("workshop",), frozenset({TORCH, TIKTOKEN})),  # the SSH server; each session's app is its own process
    Rule("the top", ("__init__.py", "cli.py", "assets"), frozenset({TORCH, TIKTOKEN, TEXTUAL})),
)
NOT_IMPORTED = {"tutor.__main__": "importing it runs the command line"}


def module_name(path: str) -> str:
    """"ui/screens/lesson.py" → "tutor.ui.screens.lesson"; "engine/__init__.py" → "tutor.engine"."""
    parts = ["tutor", *Path(path).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_module_files() -> list[str]:
    """Every module under tutor/, as a path relative to it."""
    return sorted(
        path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts
    )


def rule_for(path: str) -> Rule | None:
    """The rule of the most specific place holding the module at `path` (a file's rule over its folder's)."""
    holding = [
        (len(place), rule) for rule in RULES for place in rule.places if path == place or path.startswith(place + "/")
    ]
    return max(holding, key=lambda held: held[0])[1] if holding else None


def modules_of(rule: Rule) -> list[str]:
    return [
        module_name(path) for path in all_module_files()
        if rule_for(path) == rule and module_name(path) not in NOT_IMPORTED
    ]


# Imports the modules named in argv[3] one by one, in a fresh Python holding only the project (argv[1]) and the
# installed packages on its path, and stops at the first that pulls in a forbidden package (argv[2]). A finder,
# first on the meta path, notes the tutor modules being imported when a forbidden package is first looked for:
# the chain from the module under test to the one with the import line. It finds nothing itself.
IMPORT_EACH = r"""
import importlib, json, sys
project, forbidden, modules = sys.argv[1], set(json.loads(sys.argv[2])), json.loads(sys.argv[3])
sys.path.insert(0, project)
chains = {}

class NoteForbidden:
    @staticmethod
    def find_spec(name, path=None, target=None):
        top = name.partition(".")[0]
        if top in forbidden and top not in chains:
            frame, chain = sys._getframe(1), []
            while frame is not None:
                importer = frame.f_globals.get("__name__", "")
                if (importer == "tutor" or importer.startswith("tutor.")) and importer not in chain:
                    chain.insert(0, importer)
                frame = frame.f_back
            chains[top] = chain
        return None

sys.meta_path.insert(0, NoteForbidden)
import tutor
checked = []
for module in modules:
    importlib.import_module(module)
    checked.append(module)
    found = sorted(top for top in forbidden if top in sys.modules)
    if found:
        print(json.dumps({"checked": checked, "tutor": tutor.__file__, "module": module, "imports": found,
                          "chains": {top: chains.get(top, []) for top in found}}))
        break
else:
    print(json.dumps({"checked": checked, "tutor": tutor.__file__, "module": None}))
"""


def first_violation(modules: list[str], forbidden: frozenset[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_EACH, str(PROJECT), json.dumps(sorted(forbidden)), json.dumps(modules)],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])  # the last line: a module may print as it loads
    assert Path(outcome["tutor"]).parent == PACKAGE  # the tutor under test, not an installed copy
    return outcome


def violations(modules: list[str], forbidden: frozenset[str]) -> list[str]:
    """One line per module that imports a forbidden package, naming the chain of imports that did it. After a
    violation the rest are imported in a new process, where the forbidden package is not yet loaded."""
    found, remaining = [], list(modules)
    while remaining:
        outcome = first_violation(remaining, forbidden)
        assert outcome["checked"] == remaining[: len(outcome["checked"])]
        remaining = remaining[len(outcome["checked"]):]
        if outcome["module"] is None:
            assert not remaining
            break
        for top in outcome["imports"]:
            chain = " → ".join([*outcome["chains"][top], top])
            found.append(f"{outcome['module']} imports {top}: {chain}")
    return found


def test_every_module_is_under_a_rule():
    files = all_module_files()
    assert "core/session.py" in files and "ui/widgets/heatmap.py" in files  # the walk found them
    assert [path for path in files if rule_for(path) is None and module_name(path) not in NOT_IMPORTED] == []
    assert set(NOT_IMPORTED) <= {module_name(path) for path in files}


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_no_module_imports_what_its_folder_forbids(rule):
    modules = modules_of(rule)
    assert modules, f"no modules found for {rule.places}"
    assert violations(modules, rule.forbidden) == []


def test_a_forbidden_import_is_caught_and_the_importing_module_named():
    """What violations look like, from modules that do import torch (under no rule forbidding it): each is
    named, with the chain of imports to the module holding the import line."""
    found = violations(["tutor.core.settings", "tutor.engine.in_process", "tutor.core.texts", "tutor.lm.model"], frozenset({TORCH}))
    assert len(found) == 2, found
    assert found[0].startswith("tutor.engine.in_process imports torch: tutor.engine.in_process → tutor.lm.engine_work → ")
    assert found[1] == "tutor.lm.model imports torch: tutor.lm.model → torch"  # checked in a process of its own


def test_rules_follow_the_folders():
    assert rule_for("core/protocol.py").name == "core"
    assert rule_for("ui/screens/lesson.py").name == "ui"
    assert rule_for("engine/child.py").name == "lm and the computing engines"
    assert rule_for("engine/process.py").name == rule_for("engine/__init__.py").name == "the engines' light side"
    assert rule_for("__init__.py").name == rule_for("cli.py").name == "the top"
    assert rule_for("engine/another.py") is None  # a new engine module needs a rule of its own
    assert rule_for("another_folder/module.py") is None  # and so does a new folder
    assert module_name("engine/__init__.py") == "tutor.engine" and module_name("__init__.py") == "tutor"


# ----- the app's process, as it runs ---------------------------------------------------------------------------

# The tutor as `loss-tutor` builds it (the real ProcessEngine), run headless until its first report is on screen.
APP_UNTIL_FIRST_REPORT = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
from tutor.cli import build_app, build_parser

async def first_report():
    app = build_app(build_parser().parse_args([]))
    async with app.run_test(size=(100, 32)) as pilot:
        give_up = time.monotonic() + float(sys.argv[2])
        while app.session.report is None and time.monotonic() < give_up:
            await pilot.pause(0.05)
        await pilot.pause()
        engine = type(app.engine)
        return {"report": app.session.report is not None, "sub_title": str(app.sub_title),
                "engine": f"{engine.__module__}.{engine.__qualname__}"}

facts = asyncio.run(first_report())
print(json.dumps({**facts, "modules": sorted(sys.modules)}))
"""
PATIENCE_S = 240.0  # a liveness bound on a busy machine (the child loads the model), not a speed target


def test_the_app_process_never_imports_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, "-I", "-c", APP_UNTIL_FIRST_REPORT, str(PROJECT), str(PATIENCE_S)],
        cwd=tmp_path, capture_output=True, text=True, timeout=PATIENCE_S + 60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout)
    assert facts["engine"] == "tutor.engine.process.ProcessEngine"
    assert facts["report"], "the first report never arrived"
    assert facts["sub_title"] != "loading the model…"
    modules = set(facts["modules"])
    assert {"textual", "tutor.ui.app", "tutor.ui.screens.lesson", "tutor.engine.process"} <= modules
    heavy = sorted(name for name in modules if name.partition(".")[0] in (TORCH, TIKTOKEN))
    assert not heavy, f"the app's process imported {', '.join(heavy[:5])}…"
