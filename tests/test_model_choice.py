"""Choosing the model in the app: the model form (`m`, the palette), opening a weights file and saving the trained
model, the header naming the model in force, and `--plain` naming it.

The apps here compute in this process with a one-layer model standing in for the untrained one, and open real
(tiny) weights files written by `save_weights`; the snapshot draws a menu built by hand and the committed report."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from app_helpers import press_and_settle, record_notifications, settle, shown, view
from report_fixture import FixedReportEngine
from tiny_gpt import tiny_gpt

import tutor.lm.engine_work
import tutor.lm.walkthrough
from tutor.cli import main
from tutor.core.answers import ModelMenu, ModelOption
from tutor.core.jobs import TRAINED, UNTRAINED, LoadWeightsJob, ModelsJob, file_choice
from tutor.core.model_choice import HEADER_WIDTH, header_words, may_open_files, may_save_trained, option_details
from tutor.core.protocol import Request
from tutor.engine.in_process import InProcessEngine
from tutor.lm.engine_work import EngineModels
from tutor.ui.app import TutorApp
from tutor.ui.screens.model_screen import ModelScreen

FILE_NAME = "tiny-gpt-read-from-a-weights-file.safetensors"  # longer than the header's room for a name


@pytest.fixture
def untrained(monkeypatch):
    """The tutor's untrained model, replaced by a one-layer one (engine_work imported it by name)."""
    model = tiny_gpt(seed=0)
    model.seed = 42
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model)
    monkeypatch.setattr(tutor.lm.engine_work, "default_model", lambda: model)
    return model


@pytest.fixture
def weights_file(tmp_path) -> Path:
    from tutor.lm.weight_files import save_weights

    path = tmp_path / FILE_NAME
    save_weights(tiny_gpt(seed=1, emb_dim=8), path)
    return path


def tutor_app(models: EngineModels, **options) -> tuple[TutorApp, InProcessEngine]:
    engine = InProcessEngine(models)
    return TutorApp(engine_factory=lambda: engine, resume=False, **options), engine


def header_model(app: TutorApp) -> str:
    """What the header's right part shows, as drawn (its last cells included)."""
    label = app.screen.query_one("#header-model")
    assert label.region.right <= app.size.width
    return label.render_line(0).text.strip()


async def open_model_form(pilot) -> ModelScreen:
    await press_and_settle(pilot, "m")
    screen = pilot.app.screen
    assert isinstance(screen, ModelScreen)
    return screen


def listed(screen: ModelScreen) -> list[str]:
    option_list = screen.query_one("#model-list")
    return [str(option_list.get_option_at_index(index).prompt) for index in range(option_list.option_count)]


def command_titles(app: TutorApp) -> list[str]:
    return [command.title for command in app.get_system_commands(app.screen)]


# ----- choosing ---------------------------------------------------------------------------------------------------


async def test_choosing_a_file_recomputes_every_lesson_with_it_and_the_header_names_it(untrained, weights_file):
    app, _ = tutor_app(EngineModels({FILE_NAME: weights_file}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.session.report.model.choice == UNTRAINED
        assert header_model(app) == "model: untrained (seed 42)"
        screen = await open_model_form(pilot)
        untrained_lines, file_lines = listed(screen)
        assert untrained_lines.splitlines()[0] == "● untrained (seed 42) — in use"
        assert "1 layer · 1 heads · width 4 · context 256 · no qkv bias" in untrained_lines
        assert file_lines.splitlines()[0] == f"○ {FILE_NAME}"
        await press_and_settle(pilot, "down", "enter")
        assert not isinstance(app.screen, ModelScreen)
        card = app.session.report.model
        assert (card.choice, card.name, card.emb_dim) == (file_choice(FILE_NAME), FILE_NAME, 8)
        assert app.session.model == file_choice(FILE_NAME)
        assert header_model(app) == header_words(FILE_NAME) == "model: tiny-gpt-read-from-a…"
        assert len(header_model(app)) == HEADER_WIDTH
        assert app.sub_title == app.session.source  # the sub-title names the text only: the model is at the right
        screen = await open_model_form(pilot)
        assert [lines.splitlines()[0] for lines in listed(screen)] == [
            "○ untrained (seed 42)", f"● {FILE_NAME} — in use",
        ]
        await press_and_settle(pilot, "escape")
        assert not isinstance(app.screen, ModelScreen)


async def test_the_header_names_the_model_in_ascii(untrained, weights_file):
    app, _ = tutor_app(EngineModels({FILE_NAME: weights_file}), ascii_only=True, model=file_choice(FILE_NAME))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.session.report.model.name == FILE_NAME
        assert header_model(app) == "model: tiny-gpt-read-from..."


# ----- opening and saving files ----------------------------------------------------------------------------------


async def test_a_weights_file_opened_in_the_form_is_used_at_once(untrained, weights_file):
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Open a weights file…" in command_titles(app)
        assert "Save the trained model…" not in command_titles(app)  # nothing trained yet
        screen = await open_model_form(pilot)
        assert len(listed(screen)) == 1  # the untrained model only
        await press_and_settle(pilot, "tab")
        field = screen.query_one("#field-open")
        assert field.has_focus
        field.value = str(weights_file)
        await press_and_settle(pilot, "enter")
        assert not isinstance(app.screen, ModelScreen)
        assert app.session.report.model.choice == file_choice(FILE_NAME)
        assert header_model(app).startswith("model: tiny-gpt")


async def test_a_file_that_is_no_model_is_refused_in_the_form_with_the_reason(untrained, tmp_path):
    notes = tmp_path / "notes\x1b.pth"
    notes.write_text("my notes on chapter 5, not a model")
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notices = record_notifications(app)
        app.screen.action_choose_model("open")  # as the palette's "Open a weights file…" does
        await settle(pilot)
        screen = app.screen
        field = screen.query_one("#field-open")
        assert field.has_focus
        field.value = str(notes)
        await press_and_settle(pilot, "enter")
        assert app.screen is screen  # still open, the path as typed
        assert field.value == str(notes)
        message = screen.query_one("#form-status")
        assert shown(message).startswith("Not opened: notes\\x1b.pth: it is a text file, not a model")  # escape shown
        assert shown(message).endswith(". The model in use has not changed.") and message.has_class("-error")
        assert notices == []  # said once, on the form's own line, not again in a notice over it
        assert app.session.report.model.choice == UNTRAINED
        field.value = str(tmp_path / "missing.pth")
        await press_and_settle(pilot, "enter")
        assert shown(message) == "Not opened: missing.pth: no such file. The model in use has not changed."


async def test_the_trained_model_is_saved_where_the_learner_says(untrained, tmp_path):
    from tutor.lm.weight_files import read_weights_file

    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Save the trained model…" not in command_titles(app)
        app.labs.step_once()  # one overfitting step: a trained model is on offer
        await settle(pilot)
        assert "Save the trained model…" in command_titles(app)
        screen = await open_model_form(pilot)
        titles = [lines.splitlines()[0] for lines in listed(screen)]
        assert titles[0] == "● untrained (seed 42) — in use" and titles[1].startswith("○ trained here: 1 step")
        assert screen.query_one("#save-field").display
        target = tmp_path / "mine.safetensors"
        field = screen.query_one("#field-save")
        field.value = str(target)
        field.focus()
        await press_and_settle(pilot, "enter")
        assert shown(screen.query_one("#form-status")).startswith(f"Saved to {target}.")
        assert read_weights_file(target).kind == "loss-tutor safetensors"


def assert_the_form_fits(screen: ModelScreen) -> None:
    """The note, the list, every field shown with its label, and the message line all lie inside the form, the
    message below the last field on a line of its own (kept even while it says nothing)."""
    inside = screen.query_one("#model-form").content_region
    message = screen.query_one("#form-status").region
    fields = [field for field in screen.query(".field") if field.display]
    parts = [screen.query_one("#model-note").region, screen.query_one("#model-list").region, message]
    parts += [part.region for field in fields for part in field.query("Label, Input")]
    for region in parts:
        assert region.area and inside.contains_region(region), (region, inside)
    assert fields and message.y > max(field.region.bottom for field in fields)


async def test_the_open_field_is_not_the_forms_last_line(untrained):
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_model_form(pilot)
        assert not screen.query_one("#save-field").display  # nothing trained: the field to open a file only
        assert_the_form_fits(screen)
        assert screen.query_one("#open-field").region.bottom < screen.query_one("#model-form").content_region.bottom


async def test_the_form_opens_clear_of_notices(untrained):
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.notify("Every lesson now computes with the model trained here.", timeout=60)
        await settle(pilot)
        await open_model_form(pilot)
        assert not list(app._notifications)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}")
async def test_a_refused_file_is_told_on_the_forms_line_with_every_field_in_view_and_no_notice(untrained, tmp_path,
                                                                                                 size):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes on chapter 5, not a model")
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.labs.step_once()  # a trained model is on offer: both fields are shown
        await settle(pilot)
        notices = record_notifications(app)
        screen = await open_model_form(pilot)
        assert screen.query_one("#save-field").display
        assert_the_form_fits(screen)
        await press_and_settle(pilot, "tab")
        screen.query_one("#field-open").value = str(notes)
        await press_and_settle(pilot, "enter")
        message = screen.query_one("#form-status")
        assert shown(message).startswith("Not opened: notes.txt: it is a text file, not a model; loss-tutor reads")
        assert message.has_class("-error")
        assert_the_form_fits(screen)  # the longest message still leaves every field in view
        assert notices == []
        await press_and_settle(pilot, "ctrl+u", "enter")  # an empty path: said on the same line
        assert shown(message) == "Type the path of a weights file first."
        assert notices == []


async def test_a_saved_model_is_told_on_the_forms_line_and_no_notice(untrained, tmp_path):
    app, _ = tutor_app(EngineModels())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.labs.step_once()
        await settle(pilot)
        notices = record_notifications(app)
        screen = await open_model_form(pilot)
        target = tmp_path / "mine.safetensors"
        field = screen.query_one("#field-save")
        field.value = str(target)
        field.focus()
        await press_and_settle(pilot, "enter")
        message = screen.query_one("#form-status")
        assert shown(message) == f"Saved to {target}. Open it again here, or start with: loss-tutor --weights {target}"
        assert message.has_class("-done") and not message.has_class("-error")
        assert_the_form_fits(screen)
        assert notices == []
        field.value = str(tmp_path / "no-such-folder" / "mine.safetensors")
        await press_and_settle(pilot, "enter")
        assert shown(message).startswith("Not saved: ") and shown(message).endswith(". Nothing was written.")
        assert notices == []


class HeldFileEngine(InProcessEngine):
    """Opens a weights file only once `opening` is set: the learner can close the form before it answers."""

    def __init__(self, models: EngineModels, opening: threading.Event):
        super().__init__(models)
        self.opening = opening

    def compute(self, request: Request):
        if isinstance(request.job, LoadWeightsJob) and not self.opening.wait(timeout=60):
            raise RuntimeError("the test never let the file open")
        return super().compute(request)


async def test_a_refusal_that_comes_after_the_form_closed_is_told_in_a_notice(untrained, tmp_path):
    opening = threading.Event()
    engine = HeldFileEngine(EngineModels(), opening)
    app = TutorApp(engine_factory=lambda: engine, resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notices = record_notifications(app)
        screen = await open_model_form(pilot)
        screen.query_one("#field-open").value = str(tmp_path / "missing.pth")
        screen.query_one("#field-open").focus()
        await press_and_settle(pilot, "enter", "escape")
        assert not isinstance(app.screen, ModelScreen)
        opening.set()
        for _ in range(200):
            if notices:
                break
            await pilot.pause(0.02)
        assert notices == [("error", "models", "missing.pth: no such file")]


# ----- in a workshop ---------------------------------------------------------------------------------------------


async def test_in_a_workshop_the_instructors_models_are_listed_and_no_file_is_opened(untrained, weights_file):
    app, _ = tutor_app(EngineModels({FILE_NAME: weights_file}, may_open_files=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_model_form(pilot)
        assert len(listed(screen)) == 2
        assert shown(screen.query_one("#model-note")).startswith("The instructor chose these models")
        for part in ("#open-field", "#save-field"):
            assert not screen.query_one(part).display
        assert screen.query_one("#model-list").has_focus
        await press_and_settle(pilot, "tab", "tab", "escape")  # nothing hidden takes the focus; escape closes
        assert not isinstance(app.screen, ModelScreen)
        titles = command_titles(app)
        assert "Choose the model…" in titles
        assert "Open a weights file…" not in titles and "Save the trained model…" not in titles


# ----- words -------------------------------------------------------------------------------------------------------


def test_a_file_not_opened_yet_says_so_and_names_are_drawn_visibly():
    option = ModelOption(file_choice("a\x1bb.pth"), "a\x1bb.pth", "weights file", None)
    assert option_details(option) == ["weights file · not opened yet; its size shows once in use"]
    assert header_words("a\x07b") == "model: a␇b"


def test_the_header_names_a_model_trained_here_in_fewer_words_that_fit():
    """A trained model's name says how it started (shown in the model form); the header, 28 cells, says what it
    was trained on and for how long, and nothing of it is cut."""
    overfit = "trained here: 1 step overfitting one batch, from untrained (seed 42)"
    assert header_words(overfit) == "model: overfit, 1 step"
    on_text = "trained here: 12,345 steps on the text, from trained here: 25 steps overfitting one batch, from x"
    assert header_words(on_text) == "model: 12,345 steps on text"
    assert len(header_words(on_text)) <= HEADER_WIDTH
    assert header_words("trained here: 1,250 steps overfitting one batch, from x") == "model: overfit, 1,250 steps"
    assert header_words("trained here: a file so named") == "model: trained here: a file…"  # any other name: cut


def test_a_model_trained_here_is_named_as_the_header_reads_it():
    from tutor.core.jobs import OVERFIT_WORDS, TEXT_RUN_WORDS, trained_name

    assert trained_name(1, OVERFIT_WORDS, "untrained (seed 42)") == \
        "trained here: 1 step overfitting one batch, from untrained (seed 42)"
    assert trained_name(12_345, TEXT_RUN_WORDS, "x") == "trained here: 12,345 steps on the text, from x"


def test_files_are_opened_only_where_the_engine_opens_them_and_saved_once_a_model_is_trained():
    untrained_only = ModelMenu((MENU.options[0],), may_open_files=True, may_train_on_text=True)
    assert may_open_files(None, in_a_workshop=False) and not may_open_files(None, in_a_workshop=True)
    assert may_open_files(MENU, in_a_workshop=False) and may_save_trained(MENU)
    assert not may_save_trained(untrained_only) and not may_save_trained(None)
    in_a_room = ModelMenu(MENU.options, may_open_files=False, may_train_on_text=False)
    assert not may_open_files(in_a_room, in_a_workshop=False) and not may_save_trained(in_a_room)


def test_plain_names_the_weights_file(weights_file, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert main(["--plain", "--weights", str(weights_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("model: GPTModel("))
    assert "emb_dim=8" in lines[at]
    assert lines[at + 2] == f"       weights: {FILE_NAME}"


def test_plain_names_no_seed_for_a_file_model(weights_file, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert main(["--plain", "--weights", str(weights_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("model: GPTModel("))
    assert lines[at + 1].endswith(" parameters · model.eval() (dropout off)") and "seed" not in lines[at + 1]


async def test_the_code_pane_shows_a_file_model_read_from_its_file_and_the_untrained_one_drawn_after_its_seed(
    untrained, weights_file
):
    app, _ = tutor_app(EngineModels({FILE_NAME: weights_file}), model=file_choice(FILE_NAME))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go_to_lesson(app.lessons.index_of("forward"))
        await settle(pilot)
        assert app.session.report.model.choice == file_choice(FILE_NAME)
        code = view(app.screen, "code").content.code
        assert code.splitlines()[0] == f'# model = read_weights_file("{FILE_NAME}").model'
        assert "manual_seed" not in code
        app.choose_model(UNTRAINED)
        await settle(pilot)
        assert app.session.report.model.choice == UNTRAINED
        code = view(app.screen, "code").content.code
        assert code.splitlines()[0] == "# torch.manual_seed(42); model = GPTModel(GPT_CONFIG_124M)"


# ----- the picture -------------------------------------------------------------------------------------------------

BOOK_CONFIG = (("vocab_size", 50257), ("context_length", 256), ("emb_dim", 768), ("n_heads", 12), ("n_layers", 12),
               ("drop_rate", 0.1), ("qkv_bias", False))
MENU = ModelMenu(
    options=(
        ModelOption(UNTRAINED, "untrained (seed 42)", "untrained", 162_419_712, BOOK_CONFIG),
        ModelOption(TRAINED, "trained here: 25 steps overfitting one batch, from untrained (seed 42)", "trained",
                    162_419_712, BOOK_CONFIG),
        ModelOption(file_choice("gpt2-small-124M.pth"), "gpt2-small-124M.pth", "book PyTorch state_dict",
                    163_037_184, (*BOOK_CONFIG[:1], ("context_length", 1024), *BOOK_CONFIG[2:6], ("qkv_bias", True))),
        ModelOption(file_choice("my\x1bweights.safetensors"), "my\x1bweights.safetensors", "weights file", None),
    ),
    may_open_files=True,
    may_train_on_text=True,
)


class FixedMenuEngine(FixedReportEngine):
    """The committed report, and the menu above."""

    def compute(self, request: Request):
        return MENU if isinstance(request.job, ModelsJob) else super().compute(request)


def test_model_form_snapshot(snap_compare, make_fixed_app):
    """The model form over the first lesson at 80x24: the untrained model in use, one trained here (its long name
    wrapped), the book's file (more below), the fields to open a file and save the trained model; the header names
    the model at its right."""

    async def open_form(pilot) -> None:
        await settle(pilot)
        await press_and_settle(pilot, "m")

    assert snap_compare(make_fixed_app(engine_factory=FixedMenuEngine), terminal_size=(80, 24), run_before=open_form)


async def test_a_model_that_is_gone_gives_way_to_the_untrained_one_with_a_notice(untrained):
    """What this session trained lives in its computing process: a replaced process has none, so a request for the
    trained model falls back to the untrained one, and says why, instead of leaving the lessons without numbers."""
    app, _ = tutor_app(EngineModels(), model=TRAINED)
    async with app.run_test(size=(80, 24)) as pilot:
        notices = record_notifications(app)
        await settle(pilot)
        for _ in range(200):
            if app.session.report is not None and not app.session.busy:
                break
            await pilot.pause(0.05)
        assert app.session.report.model.choice == UNTRAINED and app.session.model == UNTRAINED
        assert any("no model has been trained" in message for _, _, message in notices)


async def test_opening_a_training_lesson_asks_in_the_background_and_a_strange_answer_is_not_a_notice(make_fixed_app):
    """Opening the overfitting lesson asks the engine for its models, getting it ready to train on the way. An
    engine that answers with something else than its models (here one that answers every request with a report)
    leaves the labs without a menu, and the learner without a notice about a request they never made."""
    app = make_fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        notices = record_notifications(app)
        await settle(pilot)
        app.go_to_lesson(app.lessons.index_of("overfit"))
        for _ in range(200):
            if app.labs.menu_answer is not None:
                break
            await pilot.pause(0.02)
        answer = app.labs.menu_answer
        assert answer.quiet and answer.menu is None and app.labs.menu is None
        assert answer.problem == "the model process did not answer with the models it offers"
        await settle(pilot)
        assert not [message for _, title, message in notices if title == "models"]
