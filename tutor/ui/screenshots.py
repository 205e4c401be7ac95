"""`loss-tutor screenshots DIR`: every lesson rendered headless to SVG, the same way every time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

from tutor.core.counting import shown_number
from tutor.core.settings import Settings
from tutor.core.texts import LoadedText
from tutor.ui.deterministic import deterministic_rendering

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from tutor.ui.app import TutorApp


async def settle(pilot: Pilot, max_rounds: int = 500) -> None:
    """Wait until nothing more will change on the tutor's screen: no computation pending, every worker finished
    (including ones started by a refresh in the meantime), animations and refreshes run."""
    app = cast("TutorApp", pilot.app)
    for _ in range(max_rounds):
        # Polled rather than awaited: awaiting a worker's task from here can cancel that task with it.
        await pilot.pause()
        session = app.session
        waiting = session.busy or (session.report is None and session.problem is None)
        if not waiting and all(worker.is_finished for worker in app.workers):
            break
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _render(
    directory: Path, size: tuple[int, int], settings: Settings, loaded_text: LoadedText, lessons_dir: Path | None
) -> list[Path]:
    from tutor.engine.in_process import InProcessEngine
    from tutor.ui.app import TutorApp

    app = TutorApp(
        settings_overrides=settings.to_dict(),
        loaded_text=loaded_text,
        lessons_dir=lessons_dir,
        engine_factory=InProcessEngine,
        resume=False,
    )
    written = []
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await settle(pilot)
        for index, lesson in enumerate(app.lessons.lessons):
            app.go_to_lesson(index)
            await settle(pilot)
            path = directory / f"{index:02d}-{lesson.id}.svg"
            title = f"lesson {shown_number(index)}: {lesson.title}"
            path.write_text(app.export_screenshot(title=title), encoding="utf-8")
            written.append(path)
        if app.session.problem:
            raise ValueError(app.session.problem)
    return written


def render_screenshots(
    directory: Path,
    *,
    size: tuple[int, int] = (80, 24),
    settings: Settings | None = None,
    loaded_text: LoadedText,
    lessons_dir: Path | None = None,
) -> list[Path]:
    from tutor.ui.app import MIN_HEIGHT, MIN_WIDTH

    width, height = size
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"--size {width}x{height} is smaller than the tutor's minimum, {MIN_WIDTH}x{MIN_HEIGHT}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create {directory}: {error.strerror or error}") from None
    with deterministic_rendering():
        return asyncio.run(_render(directory, size, settings or Settings(), loaded_text, lessons_dir))
