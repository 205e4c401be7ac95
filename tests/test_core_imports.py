"""The computing core never imports textual, and the interface's light modules never import torch."""

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

CORE = (
    "tutor.lm.tokenizer", "tutor.lm.data", "tutor.lm.model", "tutor.lm.weights", "tutor.lm.walkthrough", "tutor.core.report",
    "tutor.lm.report_builder", "tutor.engine", "tutor.core.plain", "tutor.core.settings", "tutor.core.texts", "tutor.core.progress",
    "tutor.core.lessons", "tutor.core.checks", "tutor.lm.bug_lab", "tutor.core.formatting", "tutor.core.session", "tutor.core.progress_saver",
    "tutor.core.startup",
)
LIGHT = (
    "tutor.core.report", "tutor.core.settings", "tutor.core.texts", "tutor.core.lessons", "tutor.core.checks", "tutor.core.session",
    "tutor.core.formatting", "tutor.core.progress", "tutor.engine", "tutor.core.progress_saver", "tutor.core.startup",
)


def modules_after_importing(names) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        f"for name in {list(names)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_core_does_not_import_textual():
    modules = modules_after_importing(CORE)
    assert set(CORE) <= modules
    assert "torch" in modules  # the core really was imported
    assert not {name for name in modules if name == "textual" or name.startswith("textual.")}


def test_light_modules_do_not_import_torch():
    modules = modules_after_importing(LIGHT)
    assert set(LIGHT) <= modules
    assert not {name for name in modules if name == "torch" or name.startswith("torch.")}
