"""The wheel a user installs (`pip install .`, not editable) carries everything found at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_lessons_rank_file_licence_story_and_styles(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("loss_tutor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    lessons = sorted(path.name for path in (ROOT / "lessons").glob("*.md"))
    assert lessons, "the project has lesson files"
    assert {f"tutor/lesson_files/{name}" for name in lessons} <= names
    assert {
        "tutor/assets/gpt2.tiktoken",
        "tutor/assets/gpt2.tiktoken.LICENSE",
        "tutor/assets/story.txt",
        "tutor/ui/tutor.tcss",
        "tutor/__main__.py",
    } <= names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "loss-tutor = tutor.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
