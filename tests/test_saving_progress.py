"""Saving progress while the app runs: what is in force at quit is saved however fast the keys came, the
newest state wins over a late save, a state folder that cannot be written is said once, and "Start over"
closes a form whose computation it replaces."""

from __future__ import annotations

import threading

from app_helpers import CachedEngine, press_and_settle, record_notifications, settle
from textual import events
from textual.command import CommandPalette
from textual.widgets import Input

from tutor.core.progress import Progress, ProgressStore
from tutor.core.settings import Settings

SIZE = (100, 32)


def stored() -> Progress:
    progress, notice = ProgressStore().load()
    assert notice is None
    return progress


def send_in_one_read(app, *keys: str) -> None:
    """Keys that arrive together, as from one read of the terminal: all queued before any is handled."""
    for key in keys:
        event = events.Key(key, key)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_the_lesson_shown_at_quit_is_saved_when_next_and_quit_come_together(make_app):
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "4")  # lesson 4, forward
        send_in_one_read(first, "n", "q")
        await pilot.pause()
    assert first.return_code == 0
    assert stored().current_lesson == "softmax"  # lesson 5, shown when q came

    second = make_app()
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert second.session.lesson_id == "softmax"


async def test_an_unwritable_state_folder_is_said_once_and_saving_resumes_quietly(make_app, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder's parent should be", encoding="utf-8")
    monkeypatch.setenv("LOSS_TUTOR_STATE_DIR", str(blocker / "state"))
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("n", "n", "n", "p"):
            await press_and_settle(pilot, key)
        warnings = [(title, message) for severity, title, message in notes if severity == "warning"]
        assert len(warnings) == 1
        title, message = warnings[0]
        assert title == "progress not saved"
        assert message.startswith("could not save your progress (") and str(blocker) in message
        assert message.endswith("The tutor keeps trying, without saying so again.")

        blocker.unlink()  # the folder can be made now
        await press_and_settle(pilot, "n")
        assert stored().current_lesson == "forward"  # lesson 4
        assert len([note for note in notes if note[0] == "warning"]) == 1


class HoldingEngine(CachedEngine):
    """Computes the default settings at once; any other request waits until `release` is set, then fails
    (the test has no use for its numbers)."""

    def __init__(self, release: threading.Event):
        super().__init__()
        self.release = release

    def compute(self, request):
        if request.settings != Settings():
            self.release.wait(timeout=30)
            raise RuntimeError("not computed in this test")
        return super().compute(request)


async def test_start_over_closes_a_form_still_computing(make_app):
    release = threading.Event()
    ProgressStore().save(Progress(current_lesson="gather", checks_answered={"tokenize:inputs-shape": True}))
    app = make_app(engine_factory=lambda: HoldingEngine(release))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            lesson_screen = app.screen
            assert app.session.lesson_id == "gather" and app.session.checks

            await press_and_settle(pilot, "s")
            form = app.screen
            form.query_one("#field-batch_size", Input).value = "3"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.session.busy
            assert "Computing" in str(form.query_one("#form-status").render())

            # settle() would wait for the held computation: pauses instead
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"start over")
            for _ in range(20):
                await pilot.pause(0.05)
            await pilot.press("enter")
            for _ in range(5):
                await pilot.pause()
            assert app.screen is lesson_screen  # the form closed with the change it was computing
            assert app.lesson_index == 0

            release.set()
            await settle(pilot)
            assert app.screen is lesson_screen and not form.is_attached
            assert app.session.settings == Settings() and not app.session.busy
            assert app.session.checks == {}
    finally:
        release.set()
    assert stored().current_lesson == "overview"
    assert dict(stored().checks_answered) == {}
