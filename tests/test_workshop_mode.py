"""Workshop mode (`loss-tutor --workshop --texts DIR`, as `loss-tutor serve` starts each participant's app): the
text form offers only the files in DIR, no input takes a path, a saved path elsewhere is not reopened, and
nothing in the palette writes to the server's files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from app_helpers import GatedEngine, press_and_settle, record_notifications, settle, shown
from textual.widgets import Input, OptionList, TextArea

from tutor.cli import UsageError, build_app, build_parser
from tutor.core import workshop_texts
from tutor.core.lessons import load_lessons
from tutor.core.progress import Progress, ProgressStore
from tutor.core.startup import session_from_progress
from tutor.core.texts import MAX_TEXT_CHARS, SAMPLE_TEXT_PATH, TextError, read_text_file
from tutor.core.workshop_texts import WorkshopTexts
from tutor.ui.screens.lesson import LessonScreen
from tutor.ui.screens.text_screen import TextScreen

SIZE = (100, 32)
STORY = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the gate, "
    "counting the sheep that wander across the green hill before the evening rain begins."
)
SECRET = "The server's own file, which no participant may read: it holds many words, enough for a batch."


@pytest.fixture
def texts(tmp_path) -> Path:
    """A texts folder with two texts a participant may open, and beside them everything else a folder can hold."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "fox.txt").write_text(STORY, encoding="utf-8")
    (folder / "also fox [b].txt").write_text(STORY.upper(), encoding="utf-8")  # a space and brackets, shown as written
    (folder / "subfolder").mkdir()
    (folder / "subfolder" / "inner.txt").write_text(STORY, encoding="utf-8")
    (folder / ".hidden.txt").write_text(STORY, encoding="utf-8")
    (folder / "link-out.txt").symlink_to(outside / "secret.txt")
    (folder / "link-in.txt").symlink_to(folder / "fox.txt")
    (folder / "escape\x1b[31m.txt").write_text(STORY, encoding="utf-8")  # a name that cannot be shown as it is
    os.mkfifo(folder / "pipe.txt")
    return folder


async def open_text_form(pilot) -> TextScreen:
    await settle(pilot)
    await press_and_settle(pilot, "e")
    form = pilot.app.screen
    assert isinstance(form, TextScreen)
    return form


def listed(form: TextScreen) -> list[str]:
    return [str(option.prompt) for option in form.query_one("#file-list", OptionList).options]


# ----- the text form --------------------------------------------------------------------------------------


async def test_the_text_form_lists_exactly_the_workshop_texts_and_opens_the_one_picked(make_app, texts):
    app = make_app(workshop_texts=WorkshopTexts(texts))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_text_form(pilot)
        assert not form.query(Input)  # nowhere to type a path
        assert listed(form) == ["also fox [b].txt", "fox.txt"]
        file_list = form.query_one("#file-list", OptionList)
        file_list.focus()
        await press_and_settle(pilot, "down", "enter")

        assert isinstance(app.screen, LessonScreen)
        assert app.session.text.text == STORY and app.session.text.source == "fox.txt"
        assert app.session.text_path == str(texts / "fox.txt")
        assert app.session.report is not None and app.session.problem is None

        form = await open_text_form(pilot)
        assert form.query_one("#file-list", OptionList).highlighted == 1  # the text in use


async def test_without_a_texts_folder_none_is_offered_and_typed_text_still_works(make_app):
    app = make_app(workshop_texts=WorkshopTexts(None))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_text_form(pilot)
        assert not form.query(Input) and not form.query(OptionList)
        assert shown(form.query_one("#no-files")) == "none in this workshop: type or paste your text above"
        form.query_one(TextArea).load_text(STORY)
        await press_and_settle(pilot, "ctrl+s")
        assert isinstance(app.screen, LessonScreen)
        assert app.session.text.text == STORY and app.session.text.source == "typed text"
        assert app.session.text_path is None


async def test_a_path_typed_in_a_workshop_is_text_and_no_file_is_read(make_app, texts):
    secret = texts.parent / "outside" / "secret.txt"
    app = make_app(workshop_texts=WorkshopTexts(texts))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_text_form(pilot)
        form.query_one(TextArea).load_text(str(secret))
        await press_and_settle(pilot, "ctrl+s")
        assert isinstance(app.screen, LessonScreen)
        assert app.session.text.text == str(secret) and app.session.text.source == "typed text"  # the path, as text
        assert app.session.text_path is None


async def test_a_link_swapped_in_after_the_list_was_made_is_not_followed(make_app, texts):
    app = make_app(workshop_texts=WorkshopTexts(texts))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_text_form(pilot)
        assert listed(form) == ["also fox [b].txt", "fox.txt"]
        (texts / "fox.txt").unlink()
        (texts / "fox.txt").symlink_to(texts.parent / "outside" / "secret.txt")
        text = app.session.text
        form.query_one("#file-list", OptionList).focus()
        await press_and_settle(pilot, "down", "enter")
        assert app.screen is form
        assert shown(form.query_one("#error-path")) == "fox.txt is a symbolic link, which is not opened here"
        assert shown(form.query_one("#form-status")) == "Not opened: the text in use has not changed."
        assert app.session.text is text and SECRET not in app.session.text.text


async def test_a_folder_that_cannot_be_listed_is_said_next_to_the_list(make_app, texts):
    workshop_texts = WorkshopTexts(texts)
    app = make_app(workshop_texts=workshop_texts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        texts.rename(texts.with_name("moved"))
        form = await open_text_form(pilot)
        assert shown(form.query_one("#no-files")) == "none in this workshop: type or paste your text above"
        assert shown(form.query_one("#error-path")) == (
            "the workshop's texts cannot be listed: No such file or directory"
        )


async def test_the_normal_app_still_opens_any_path(make_app, texts):
    """Without workshop mode the form keeps its path field (the rest of its behaviour: tests/test_forms.py)."""
    secret = texts.parent / "outside" / "secret.txt"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_text_form(pilot)
        assert not form.query(OptionList)
        path_field = form.query_one("#field-path", Input)
        path_field.value = str(secret)
        path_field.focus()
        await press_and_settle(pilot, "enter")
        assert app.session.text.text == SECRET and app.session.text_path == str(secret)


# ----- what may be opened ---------------------------------------------------------------------------------


def test_only_regular_files_directly_in_the_folder_are_offered(texts):
    assert WorkshopTexts(texts).names() == ["also fox [b].txt", "fox.txt"]
    assert WorkshopTexts(None).names() == []


def test_a_huge_folder_is_listed_within_bounds(tmp_path, monkeypatch):
    for number in range(60):
        (tmp_path / f"{number:02}.txt").write_text("text")
    monkeypatch.setattr(workshop_texts, "MAX_ENTRIES_READ", 40)  # the folder is read no further…
    offered = WorkshopTexts(tmp_path).names()
    assert len(offered) == 40 and offered == sorted(offered)
    monkeypatch.setattr(workshop_texts, "MAX_NAMES_OFFERED", 10)  # …and the list is no longer
    assert len(WorkshopTexts(tmp_path).names()) == 10


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("link-out.txt", "link-out.txt is a symbolic link, which is not opened here"),
        ("link-in.txt", "link-in.txt is a symbolic link, which is not opened here"),
        ("subfolder", "subfolder is a directory, not a text file"),
        ("pipe.txt", "pipe.txt is not a regular file (a device, pipe or socket cannot be loaded)"),
        ("missing.txt", "no such file: missing.txt"),
        ("../outside/secret.txt", "'../outside/secret.txt' is not the name of one of this workshop's texts"),
        ("subfolder/inner.txt", "'subfolder/inner.txt' is not the name of one of this workshop's texts"),
        ("..", "'..' is not the name of one of this workshop's texts"),
        (".hidden.txt", "'.hidden.txt' is not the name of one of this workshop's texts"),
        ("~", "no such file: ~"),  # not the server's home folder
        ("escape\x1b[31m.txt", "'escape\\x1b[31m.txt' is not the name of one of this workshop's texts"),
    ],
)
def test_anything_else_is_refused_by_name(texts, name, message):
    with pytest.raises(TextError) as refused:
        WorkshopTexts(texts).read(name)
    assert str(refused.value) == message


def test_an_absolute_path_is_refused_by_name(texts):
    secret = texts.parent / "outside" / "secret.txt"
    with pytest.raises(TextError, match="is not the name of one of this workshop's texts"):
        WorkshopTexts(texts).read(str(secret))
    with pytest.raises(TextError, match="this workshop offers no files"):
        WorkshopTexts(None).read("fox.txt")


def test_a_huge_text_is_read_from_its_start_as_everywhere(texts):
    sentence = "The lighthouse keeper wrote the weather in his log every single evening.\n"
    (texts / "huge.txt").write_text(sentence * (2 * MAX_TEXT_CHARS // len(sentence)), encoding="utf-8")
    loaded = WorkshopTexts(texts).read("huge.txt")
    assert loaded.truncated and len(loaded.text) == MAX_TEXT_CHARS and loaded.source == "huge.txt"


# ----- saved progress -------------------------------------------------------------------------------------


def restore(progress: Progress, workshop_texts: WorkshopTexts | None):
    return session_from_progress(
        progress, load_lessons(), overrides={}, text_path=None, loaded_text=None, workshop_texts=workshop_texts
    )


def test_a_saved_workshop_text_is_reopened(texts):
    session, notices, resumed = restore(Progress(text_path=str(texts / "fox.txt")), WorkshopTexts(texts))
    assert notices == [] and resumed
    assert session.text.text == STORY and session.text_path == str(texts / "fox.txt")


@pytest.mark.parametrize(
    "saved",
    ["{outside}/secret.txt", "{texts}/../outside/secret.txt", "{texts}/subfolder/inner.txt", "{texts}/link-out.txt",
     "secret.txt"],
)
def test_a_saved_path_that_is_not_a_workshop_text_is_not_reopened(texts, saved):
    saved = saved.format(texts=texts, outside=texts.parent / "outside")
    session, notices, resumed = restore(Progress(text_path=saved), WorkshopTexts(texts))
    assert not resumed
    assert session.text == read_text_file(SAMPLE_TEXT_PATH) and session.text_path is None
    assert len(notices) == 1 and notices[0].startswith("could not reopen your text: ")
    assert notices[0].endswith("; using the sample story")
    assert SECRET not in session.text.text


async def test_a_saved_path_outside_the_texts_gives_the_sample_story_with_a_notice(make_app, texts):
    secret = texts.parent / "outside" / "secret.txt"
    ProgressStore().save(Progress(text_path=str(secret)))
    app = make_app(workshop_texts=WorkshopTexts(texts))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.session.text == read_text_file(SAMPLE_TEXT_PATH) and app.session.text_path is None
        assert app.startup_notices == [
            f"could not reopen your text: {secret} is not one of this workshop's texts; using the sample story"
        ]
        assert app.sub_title == "story.txt · 17,887 characters"


# ----- the palette ----------------------------------------------------------------------------------------


async def test_no_screenshot_is_written_in_a_workshop(make_app, texts, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    app = make_app(workshop_texts=WorkshopTexts(texts))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Screenshot" not in titles and "Edit text or open a file" in titles
        notices = record_notifications(app)
        app.action_screenshot("shot.svg", str(shots))
        await settle(pilot)
        assert notices == [("warning", "", "Screenshots are not saved in a workshop.")]
    assert list(shots.iterdir()) == []


async def test_the_normal_app_keeps_textual_s_screenshot_command(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Screenshot" in [command.title for command in app.get_system_commands(app.screen)]


# ----- the command line -----------------------------------------------------------------------------------


@pytest.fixture
def no_model_process(monkeypatch):
    """`build_app` without starting a computing process: it stays idle, as the app is never run here."""
    import tutor.engine.process

    gate = threading.Event()
    monkeypatch.setattr(tutor.engine.process, "start_process_engine", lambda weight_files=(): GatedEngine(gate))


def test_the_command_line_sets_workshop_mode_and_its_folder(texts, no_model_process):
    app = build_app(build_parser().parse_args(["--workshop", "--texts", str(texts / "subfolder" / "..")]))
    assert app.workshop_texts == WorkshopTexts(texts)  # resolved
    app = build_app(build_parser().parse_args(["--workshop"]))
    assert app.workshop_texts == WorkshopTexts(None)
    app = build_app(build_parser().parse_args([]))
    assert app.workshop_texts is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--texts", "{texts}"], "--texts is only for --workshop"),
        (["--workshop", "--text", "{texts}/fox.txt"],
         "--text cannot be used with --workshop: a participant opens only the files in --texts"),
        (["--workshop", "--texts", "{texts}/gone"], "--texts: no such folder: {texts}/gone"),
    ],
)
def test_workshop_options_that_do_not_fit_are_refused(texts, no_model_process, args, message):
    with pytest.raises(UsageError) as refused:
        build_app(build_parser().parse_args([arg.format(texts=texts) for arg in args]))
    assert str(refused.value) == message.format(texts=texts)


def test_workshop_mode_is_not_in_the_help(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "--workshop" not in out and "--texts" not in out
