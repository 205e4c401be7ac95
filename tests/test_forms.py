"""Pilot tests of the settings form (`s`) and the text form (`e`): bad input is refused next to its field
with the reason and changes nothing; good input recomputes and closes the form."""

from __future__ import annotations

import threading

from app_helpers import GatedEngine, assert_numbers_close, expected_report, press_and_settle, settle, shown
from textual.widgets import Input, TextArea

from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import MAX_TEXT_CHARS, sample_text, text_from_string
from tutor.lm.compute import compute_report
from tutor.lm.data import tokenize as encode
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.settings_screen import FIELDS, SettingsScreen
from tutor.ui.screens.text_screen import TextScreen

SIZE = (100, 32)


def errors_of(form) -> dict[str, str]:
    return {name: shown(form.query_one(f"#error-{name}")) for name in FIELDS}


# ----- settings ---------------------------------------------------------------------------------------


async def test_settings_form_refuses_each_invalid_value_next_to_its_field(make_app):
    short = text_from_string(sample_text()[:400])  # a text of some 90 tokens, so that size limits show
    app = make_app(loaded_text=short)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        report, settings, generation = app.session.report, app.session.settings, app.session.generation
        assert report is not None and settings == Settings()
        tokens = report.token_count
        assert tokens == len(encode(short.text))
        batches = len(range(0, tokens - 8, 4)) // 2

        await press_and_settle(pilot, "s")
        form = app.screen
        assert isinstance(form, SettingsScreen)
        assert {name: form.query_one(f"#field-{name}", Input).value for name in FIELDS} == {
            "batch_size": "2", "context_length": "8", "stride": "4", "seed": "123", "batch_index": "0",
        }

        cases = [
            ("batch_size", "0", "0 is out of range: batch size must be 1 or more"),
            ("context_length", "300", "300 is out of range: context length must be 1 to 256"),
            ("stride", "x", "'x' is not a whole number; stride must be 1 or more"),
            ("seed", str(2**64), "18446744073709551616 is out of range: seed must be -9223372036854775808 to "
                                 "18446744073709551615 (what PyTorch accepts)"),
            (
                "batch_index",
                str(batches),
                f"batch number {batches} does not exist: this text makes {batches} batches (numbered 0 to {batches - 1})",
            ),
            (
                "context_length",
                str(tokens),
                f"the text is too short: it has {tokens} tokens, and a batch of 2 windows of context length {tokens} "
                f"(stride 4) needs at least {tokens + 5} — each input needs one more token after it to be its target",
            ),
        ]
        for name, value, reason in cases:
            good = form.query_one(f"#field-{name}", Input).value
            form.query_one(f"#field-{name}", Input).value = value
            await press_and_settle(pilot, "ctrl+s")
            assert app.screen is form, f"{name}={value!r} closed the form"
            assert errors_of(form) == {other: (reason if other == name else "") for other in FIELDS}
            assert shown(form.query_one("#form-status")) == "Not applied: fix the fields marked above."
            # the last good settings stay in force, and nothing was recomputed
            assert app.session.settings == settings
            assert app.session.report is report
            assert app.session.generation == generation
            form.query_one(f"#field-{name}", Input).value = good


async def test_settings_form_applies_a_valid_change_and_closes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "s")
        form = app.screen
        assert isinstance(form, SettingsScreen)
        form.query_one("#field-batch_size", Input).value = "3"
        context = form.query_one("#field-context_length", Input)
        context.value = "6"
        context.focus()
        await press_and_settle(pilot, "enter")  # enter in a field applies, like ctrl+s

        assert isinstance(app.screen, LessonScreen)
        assert app.session.settings == Settings(batch_size=3, context_length=6)
        report = app.session.report
        assert (report.batch_size, report.context_length) == (3, 6)
        assert_numbers_close(report, expected_report(batch_size=3, context_length=6))
        assert app.session.problem is None


async def test_settings_form_escape_cancels(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        report, generation = app.session.report, app.session.generation
        await press_and_settle(pilot, "s")
        form = app.screen
        form.query_one("#field-batch_size", Input).value = "5"
        await press_and_settle(pilot, "escape")
        assert isinstance(app.screen, LessonScreen)
        assert app.session.settings == Settings()
        assert app.session.report is report and app.session.generation == generation
        await press_and_settle(pilot, "s")  # opened again, it shows the settings in force
        assert app.screen.query_one("#field-batch_size", Input).value == "2"


# ----- text ---------------------------------------------------------------------------------------------

TYPED = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the gate, "
    "counting the sheep that wander across the green hill before the evening rain begins."
)


async def test_typed_text_replaces_the_text_and_recomputes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "e")
        form = app.screen
        assert isinstance(form, TextScreen)
        editor = form.query_one(TextArea)
        assert form.focused is editor
        assert editor.text == app.session.text.text
        editor.load_text(TYPED[:-1])
        editor.move_cursor(editor.document.end)
        await pilot.press(".")  # typed into the editor
        await press_and_settle(pilot, "ctrl+s")

        assert isinstance(app.screen, LessonScreen)
        assert app.session.text.text == TYPED
        assert app.session.text.source == "typed text"
        assert app.session.text_path is None
        assert app.sub_title == f"typed text · {len(TYPED)} characters"
        expected = compute_report(Request(text=TYPED, settings=Settings(), source="typed text"))
        assert_numbers_close(app.session.report, expected)
        assert app.session.report.token_count == len(encode(TYPED))


async def test_empty_or_too_short_text_is_refused_and_the_old_text_stays(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text, report = app.session.text, app.session.report
        await press_and_settle(pilot, "e")
        form = app.screen
        editor = form.query_one(TextArea)

        editor.load_text("")
        generation = app.session.generation
        await press_and_settle(pilot, "ctrl+s")
        assert app.screen is form
        assert shown(form.query_one("#error-text")) == "typed text is empty"
        assert app.session.generation == generation  # refused before computing anything

        editor.load_text("Hello there")
        await press_and_settle(pilot, "ctrl+s")
        assert app.screen is form
        assert shown(form.query_one("#error-text")).startswith(
            "the text is too short: it has 2 tokens, and a batch of 2 windows of context length 8 (stride 4) needs at least 13"
        )
        assert shown(form.query_one("#form-status")) == (
            "Not used: the text in use has not changed. Edit and try again, or escape."
        )
        assert app.session.text is text
        assert app.session.report is report
        assert app.sub_title == "story.txt · 17,887 characters"

        await press_and_settle(pilot, "escape")
        assert isinstance(app.screen, LessonScreen)
        assert app.session.text is text


async def test_unreadable_files_are_refused_next_to_the_path(make_app, tmp_path):
    missing = tmp_path / "missing.txt"
    folder = tmp_path / "folder"
    folder.mkdir()
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café au lait, crème brûlée.".encode("latin-1"))
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    cases = [
        (missing, f"no such file: {missing}"),
        (folder, f"{folder} is a directory, not a text file"),
        (latin1, f"{latin1} is not UTF-8 text (invalid byte 0xe9 at byte offset 3); save it as UTF-8 and try again"),
        (binary, f"{binary} contains a NUL character at byte offset 8, so it looks like a binary file, not text"),
    ]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text, report, generation = app.session.text, app.session.report, app.session.generation
        await press_and_settle(pilot, "e")
        form = app.screen
        path_field = form.query_one("#field-path", Input)
        path_field.focus()
        for path, reason in cases:
            path_field.value = str(path)
            await press_and_settle(pilot, "enter")
            assert app.screen is form
            assert shown(form.query_one("#error-path")) == reason
            assert shown(form.query_one("#form-status")) == "Not opened: the text in use has not changed."
            assert app.session.text is text and app.session.text_path is None
            assert app.session.report is report and app.session.generation == generation


async def test_a_huge_file_opens_from_its_start_without_blocking(make_app, tmp_path):
    sentence = "The lighthouse keeper wrote the weather in his log every single evening.\n"
    huge = tmp_path / "huge.txt"
    with huge.open("w", encoding="utf-8") as file:
        file.write(sentence * (50_000_000 // len(sentence) + 1))
    assert huge.stat().st_size >= 50_000_000

    gate = threading.Event()
    gate.set()
    app = make_app(engine_factory=lambda: GatedEngine(gate))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press_and_settle(pilot, "e")
            form = app.screen
            path_field = form.query_one("#field-path", Input)
            path_field.value = str(huge)
            path_field.focus()

            gate.clear()  # hold the computation, to look at the form meanwhile
            await pilot.press("enter")
            for reader in [worker for worker in app.workers if worker.group == "read-file"]:
                await reader.wait()  # the file is read in a worker thread; the computation stays held
            await pilot.pause()
            assert app.screen is form and app.session.busy
            lesson_screen = app.screen_stack[0]
            assert lesson_screen.query_one("#explanation").border_subtitle.startswith("computing new numbers")
            status = shown(form.query_one("#form-status"))
            assert status.startswith(f"Computing with huge.txt · first {MAX_TEXT_CHARS:,} characters of 50.0 MB")
            assert "only the start is read" in status
            await pilot.press("end", "x")  # the app answers keys while it computes
            assert path_field.value == f"{huge}x"

            gate.set()
            await settle(pilot)
            assert isinstance(app.screen, LessonScreen)  # the form closed once the numbers were ready
            assert app.screen.query_one("#explanation").border_subtitle is None
            session = app.session
            assert session.problem is None
            assert session.text_path == str(huge)
            assert session.text.truncated and len(session.text.text) == MAX_TEXT_CHARS
            assert session.text.text == (sentence * (MAX_TEXT_CHARS // len(sentence) + 1))[:MAX_TEXT_CHARS]
            assert app.sub_title.startswith(f"huge.txt · first {MAX_TEXT_CHARS:,} characters of 50.0 MB")
            assert session.report.token_count == len(encode(session.text.text))
            assert session.report.input_texts[0] == sentence[: len(session.report.input_texts[0])]
    finally:
        gate.set()


async def test_escape_while_computing_cancels_the_change(make_app):
    gate = threading.Event()
    gate.set()
    app = make_app(engine_factory=lambda: GatedEngine(gate))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            before_settings, before_report = app.session.settings, app.session.report
            await press_and_settle(pilot, "s")
            form = app.screen
            form.query_one("#field-batch_size", Input).value = "3"
            gate.clear()  # the new numbers are still being computed when the learner changes their mind
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.session.busy
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, LessonScreen)
            assert not app.session.busy  # the attempt is forgotten at once

            gate.set()
            await settle(pilot)
            assert app.session.settings == before_settings  # its late answer was ignored
            assert app.session.report is before_report
            assert app.session.problem is None
    finally:
        gate.set()


async def test_brackets_in_a_path_are_shown_as_typed_not_read_as_markup(make_app, tmp_path):
    missing = tmp_path / "[/]notes [red]draft.txt"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "e")
        form = app.screen
        path_field = form.query_one("#field-path", Input)
        path_field.value = str(missing)
        path_field.focus()
        await press_and_settle(pilot, "enter")
        assert shown(form.query_one("#error-path")) == f"no such file: {missing}"
        assert app.session.text.source == "story.txt"


async def test_typed_text_over_the_limit_is_refused_naming_the_limit_not_cut(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text, generation = app.session.text, app.session.generation
        await press_and_settle(pilot, "e")
        form = app.screen
        too_long = "word " * (MAX_TEXT_CHARS // 5) + "x"
        form.query_one(TextArea).load_text(too_long)
        await press_and_settle(pilot, "ctrl+s")
        assert app.screen is form
        assert shown(form.query_one("#error-text")).startswith(
            f"typed text is {MAX_TEXT_CHARS + 1:,} characters long; the limit is {MAX_TEXT_CHARS:,} characters."
        )
        assert app.session.text is text and app.session.generation == generation  # nothing computed, nothing cut
        assert form.query_one(TextArea).text == too_long  # the learner's text is still all there to shorten
