"""Pilot tests of resuming: the lesson, settings and lessons seen survive a restart; --reset, a corrupt
progress file and the palette's "Start over" each give a fresh start."""

from __future__ import annotations

from app_helpers import press_and_settle, record_notifications, settle
from textual.command import CommandPalette
from textual.widgets import Input

from tutor.core.progress import Progress, ProgressStore, state_dir
from tutor.core.settings import Settings
from tutor.ui.screens.lesson import LessonScreen

SIZE = (100, 32)
SAVED = Progress(
    current_lesson="gather",
    lessons_seen=("overview", "tokenize", "gather"),
    checks_answered={"tokenize:inputs-shape": True},
    settings={**Settings().to_dict(), "batch_size": 3, "context_length": 6},
    text="A typed text, long enough for several windows of six tokens, stored with the progress file.",
)


def stored() -> Progress:
    progress, notice = ProgressStore().load()
    assert notice is None
    return progress


async def test_a_new_app_resumes_lesson_settings_and_lessons_seen(make_app):
    first = make_app()
    assert first.resume
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "6")  # lesson 6, gather
        await press_and_settle(pilot, "s")
        form = first.screen
        form.query_one("#field-batch_size", Input).value = "3"
        form.query_one("#field-context_length", Input).value = "6"
        await press_and_settle(pilot, "ctrl+s")
        assert first.session.settings == Settings(batch_size=3, context_length=6)
        await pilot.press("q")
    assert first.return_code == 0

    saved = stored()
    assert saved.current_lesson == "gather"
    assert saved.lessons_seen == ("overview", "gather")
    assert saved.settings["batch_size"] == 3 and saved.settings["context_length"] == 6

    second = make_app()
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = second.screen
        assert isinstance(screen, LessonScreen)
        assert second.lesson_index == 5 and second.session.lesson_id == "gather"
        assert second.session.settings == Settings(batch_size=3, context_length=6)
        assert second.session.seen == ["overview", "gather"]
        assert (second.session.report.batch_size, second.session.report.context_length) == (3, 6)
        assert second.session.text.source == "story.txt"


async def test_reset_starts_over_with_the_defaults(make_app):
    ProgressStore().save(SAVED)
    app = make_app(reset=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.lesson_index == 0 and app.session.lesson_id == "overview"
        assert app.session.settings == Settings()
        assert app.session.seen == ["overview"]
        assert app.session.checks == {}
        assert app.session.text.source == "story.txt"
        assert app.session.report.batch_size == 2
    saved = stored()
    assert saved.current_lesson == "overview"
    assert saved.lessons_seen == ("overview",)
    assert dict(saved.checks_answered) == {}
    assert saved.text is None


async def test_a_corrupt_progress_file_is_set_aside_with_a_warning(make_app):
    path = state_dir() / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{ this is not json \x00\xff")
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.lesson_index == 0
        assert app.session.settings == Settings()
        assert app.session.seen == ["overview"]
    warnings = [message for severity, _, message in notes if severity == "warning"]
    assert len(warnings) == 1
    assert warnings[0].startswith("your saved progress could not be read (")
    assert warnings[0].endswith("; starting fresh")
    set_aside = list(path.parent.glob("progress.json.corrupt-*"))
    assert len(set_aside) == 1
    assert f"set aside as {set_aside[0]}" in warnings[0]
    assert set_aside[0].read_bytes() == b"{ this is not json \x00\xff"
    assert stored().current_lesson == "overview"  # a fresh, readable file replaced it


async def test_palette_start_over_clears_progress(make_app):
    ProgressStore().save(SAVED)
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        # resumed: lesson, settings, typed text and answered checks
        assert app.session.lesson_id == "gather"
        assert app.session.settings == Settings(batch_size=3, context_length=6)
        assert app.session.text.text == SAVED.text and app.session.text.source == "typed text"
        assert app.session.checks == {"tokenize:inputs-shape": True}
        assert app.session.report.batch_size == 3

        await press_and_settle(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"start over")
        await settle(pilot)
        await press_and_settle(pilot, "enter")

        assert app.screen is screen
        assert app.lesson_index == 0
        assert app.session.settings == Settings()
        assert app.session.checks == {}
        assert app.session.seen == ["overview"]
        assert app.session.text.source == "story.txt" and app.session.text_path is None
        assert app.session.report.batch_size == 2
        assert any(message.startswith("Progress cleared") for _, _, message in notes)
    saved = stored()
    assert saved.current_lesson == "overview"
    assert saved.lessons_seen == ("overview",)
    assert dict(saved.checks_answered) == {}
    assert saved.settings["batch_size"] == 2 and saved.settings["context_length"] == 8
    assert saved.text is None and saved.text_path is None


# ----- saved progress that no longer fits, or is not a file -------------------------------------------

def loss_on_screen(app) -> str:
    """The overview lesson's sentence with the loss in it, as drawn."""
    from tutor.ui.widgets.lesson_text import LessonText

    text = " ".join(app.screen.query_one("#lesson-text", LessonText).source.split())
    return next(part for part in text.split(". ") if "the cross-entropy loss is" in part)


def warnings_in(notes) -> list[str]:
    return [message for severity, _, message in notes if severity in ("warning", "error")]


async def test_a_saved_batch_number_the_text_no_longer_has_is_reset_with_a_notice(make_app):
    from app_helpers import expected_report

    ProgressStore().save(Progress(settings={**Settings().to_dict(), "batch_index": 6000}))
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.problem is None
        assert app.session.settings == Settings()
        report = app.session.report
        assert report is not None and report.batch_index == 0
        assert loss_on_screen(app).endswith(f"the cross-entropy loss is {expected_report().loss_manual:.3f}")
        [notice] = warnings_in(notes)
        assert notice.startswith("your saved settings do not fit this text (batch number 6000 does not exist: ")
        assert notice.endswith("; showing batch 0 instead of batch 6,000")
    assert stored().settings["batch_index"] == 0  # the next start is clean


async def test_saved_settings_too_large_for_the_saved_text_step_back_to_the_defaults(make_app):
    ProgressStore().save(Progress(
        settings={**Settings().to_dict(), "batch_size": 8, "context_length": 64, "stride": 64, "batch_index": 3},
        text=SAVED.text,
    ))
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.problem is None
        assert app.session.settings == Settings()
        assert app.session.text.text == SAVED.text  # the saved text stays; only the settings were reset
        assert app.session.report.batch_size == 2
        assert "the cross-entropy loss is " in loss_on_screen(app)
        first, second = warnings_in(notes)
        assert first.endswith("; showing batch 0 instead of batch 3")
        assert second.startswith("your saved settings do not fit this text (the text is too short: ")
        assert second.endswith("; using the default settings instead")


async def test_saved_typed_text_over_the_limit_is_not_cut_but_replaced_with_a_notice(make_app):
    ProgressStore().save(Progress(text="word " * 100_000))  # 500,000 characters: only a hand-edited file has that
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.text.source == "story.txt"
        assert "the cross-entropy loss is " in loss_on_screen(app)
    [notice] = warnings_in(notes)
    assert notice.startswith("your saved text could not be used (typed text is 500,000 characters long; ")
    assert notice.endswith("); using the sample story")


async def test_a_fifo_as_progress_json_neither_hangs_nor_stops_the_app(make_app):
    import os

    from deadline import within

    path = state_dir() / "progress.json"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with within(10, "starting the app"):
        app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "the cross-entropy loss is " in loss_on_screen(app)
    [notice] = warnings_in(notes)
    assert notice.startswith("your saved progress could not be read (not a regular file); it was set aside as ")
    assert stored().current_lesson == "overview"  # a real file took its place
