"""The memory budget: a batch with more positions (batch size × context length) than HARD_MAX_POSITIONS, or
than an instructor's lower limit (--max-positions, LOSS_TUTOR_MAX_POSITIONS), is refused at once, with a
message naming the limit: by the settings' own check, on the command line (exit 2) and in the settings form."""

from __future__ import annotations

import io
import os
import pickle

import pytest
from app_helpers import press_and_settle, settle, shown
from textual.widgets import Input

import tutor.engine.child
import tutor.lm.compute
from tutor import cli
from tutor.core.protocol import Request
from tutor.core.settings import (
    HARD_MAX_POSITIONS,
    MAX_POSITIONS_ENV,
    MODEL_CONTEXT_LENGTH,
    Settings,
    max_positions,
    parse_max_positions,
    settings_or_reasons,
)
from tutor.core.texts import sample_text
from tutor.engine.child import serve
from tutor.ui.screens.settings_screen import FIELDS, SettingsScreen

OVER = Settings(batch_size=HARD_MAX_POSITIONS // MODEL_CONTEXT_LENGTH + 1, context_length=MODEL_CONTEXT_LENGTH)


@pytest.fixture(autouse=True)
def no_instructor_limit(monkeypatch):
    """No limit from the environment, and whatever a test (or the CLI under test) sets there is undone."""
    monkeypatch.setenv(MAX_POSITIONS_ENV, "")


def reason(settings: Settings) -> str:
    with pytest.raises(ValueError) as caught:
        settings.validate()
    return str(caught.value)


def test_the_hard_limit_keeps_the_models_whole_context_for_eight_rows():
    assert HARD_MAX_POSITIONS == 8 * MODEL_CONTEXT_LENGTH == 2048
    assert max_positions() == HARD_MAX_POSITIONS
    Settings(batch_size=8, context_length=256).validate()
    Settings(batch_size=2048, context_length=1).validate()


@pytest.mark.parametrize(
    "settings", [OVER, Settings(batch_size=2049, context_length=1), Settings(batch_size=10**30, context_length=8)]
)
def test_more_positions_than_the_hard_limit_are_refused_naming_it(settings):
    message = reason(settings)
    positions = settings.batch_size * settings.context_length
    assert message == (
        f"batch size × context length is {settings.batch_size} × {settings.context_length} = {positions:,} "
        "positions, over the limit of 2,048, the most the tutor computes within 1.5 GB of memory"
    )


def test_an_instructor_can_lower_the_limit(monkeypatch):
    monkeypatch.setenv(MAX_POSITIONS_ENV, "64")
    assert max_positions() == 64
    Settings(batch_size=2, context_length=32).validate()
    assert reason(Settings(batch_size=3, context_length=32)) == (
        "batch size × context length is 3 × 32 = 96 positions, over the limit of 64, "
        "as set for this tutor (--max-positions or LOSS_TUTOR_MAX_POSITIONS)"
    )
    Settings(batch_size=3, context_length=32).validate(max_positions=96)  # an explicit limit wins


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5000", "LOSS_TUTOR_MAX_POSITIONS can only lower the limit on positions (batch size × context length): "
                 "5,000 is above 2,048, the most the tutor computes within 1.5 GB of memory"),
        ("lots", "LOSS_TUTOR_MAX_POSITIONS must be a whole number from 16 (the default batch) to 2,048; got 'lots'"),
        ("8", "LOSS_TUTOR_MAX_POSITIONS must be a whole number from 16 (the default batch) to 2,048; got '8'"),
        ("1e3", "LOSS_TUTOR_MAX_POSITIONS must be a whole number from 16 (the default batch) to 2,048; got '1e3'"),
    ],
)
def test_a_limit_that_is_not_a_lower_whole_number_is_refused(monkeypatch, value, message):
    monkeypatch.setenv(MAX_POSITIONS_ENV, value)
    with pytest.raises(ValueError) as caught:
        max_positions()
    assert str(caught.value) == message
    assert reason(Settings()) == message  # no settings pass while the limit is not valid
    assert parse_max_positions(" 2048 ", "--max-positions") == 2048


# ----- command line ------------------------------------------------------------------------------------


def run_cli(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    def no_compute(*args, **kwargs):
        raise AssertionError("refused settings reached the computation")

    monkeypatch.setattr(tutor.lm.compute, "Walkthrough", no_compute)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_refuses_a_batch_over_the_limit_in_one_line(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "--json", "--batch-size", "9", "--context-length", "256")
    assert (code, out) == (2, "")
    assert err == (
        "loss-tutor: error: batch size × context length is 9 × 256 = 2,304 positions, over the limit of 2,048, "
        "the most the tutor computes within 1.5 GB of memory\n"
    )


def test_cli_max_positions_lowers_the_limit_for_this_process_and_the_ones_it_starts(capsys, monkeypatch):
    code, out, err = run_cli(
        capsys, monkeypatch, "--plain", "--max-positions", "64", "--batch-size", "3", "--context-length", "32"
    )
    assert (code, out) == (2, "")
    assert err == (
        "loss-tutor: error: batch size × context length is 3 × 32 = 96 positions, over the limit of 64, "
        "as set for this tutor (--max-positions or LOSS_TUTOR_MAX_POSITIONS)\n"
    )
    assert os.environ[MAX_POSITIONS_ENV] == "64"  # where the computing process and the app's checks read it

    args = cli.build_parser().parse_args(["--max-positions", "100", "--batch-size", "4", "--context-length", "32"])
    with pytest.raises(cli.UsageError, match="128 positions, over the limit of 100"):
        cli.settings_from(args)  # the app's path (build_app) checks the same way


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-positions", "4096"], "--max-positions can only lower the limit on positions (batch size × "
                                      "context length): 4,096 is above 2,048, the most the tutor computes within "
                                      "1.5 GB of memory"),
        (["--max-positions", "0"], "--max-positions must be a whole number from 16 (the default batch) to 2,048; got 0"),
        (["--max-positions", "many"], "argument --max-positions: invalid int value: 'many'"),
    ],
)
def test_cli_refuses_a_limit_it_cannot_take(capsys, monkeypatch, argv, message):
    code, out, err = run_cli(capsys, monkeypatch, "--json", *argv)
    assert (code, out, err) == (2, "", f"loss-tutor: error: {message}\n")


def test_cli_refuses_a_bad_limit_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(MAX_POSITIONS_ENV, "99999")
    code, out, err = run_cli(capsys, monkeypatch, "--json")
    assert (code, out) == (2, "")
    assert err.startswith("loss-tutor: error: LOSS_TUTOR_MAX_POSITIONS can only lower the limit") and err.count("\n") == 1


# ----- the computing process ---------------------------------------------------------------------------


def test_the_computing_process_refuses_a_batch_over_the_limit_as_the_learners_to_fix(monkeypatch):
    monkeypatch.setattr(tutor.engine.child, "warm_up", lambda: None)
    monkeypatch.setenv(MAX_POSITIONS_ENV, "64")
    requests = io.BytesIO(Request(text=sample_text(), settings=Settings(batch_size=3, context_length=32), source="s").to_json())
    answers = io.BytesIO()
    serve(requests, answers)
    status, message, _notices = pickle.loads(answers.getvalue())
    assert status == "learner"
    assert "96 positions, over the limit of 64" in message


# ----- the settings form -------------------------------------------------------------------------------


def form_values(**changes: str) -> dict[str, str]:
    return {"batch_size": "2", "context_length": "8", "stride": "4", "seed": "123", "batch_index": "0", **changes}


def test_the_form_puts_the_limit_next_to_the_batch_size():
    settings, errors = settings_or_reasons(form_values(batch_size="9", context_length="256"), False, token_count=50_000)
    assert settings is None
    assert errors == {"batch_size": reason(Settings(batch_size=9, context_length=256))}
    assert "over the limit of 2,048" in errors["batch_size"]
    # the limit is checked before the text's length, so a huge batch is not worked out against the text
    settings, errors = settings_or_reasons(form_values(batch_size=str(10**50)), False, token_count=100)
    assert set(errors) == {"batch_size"} and "over the limit of 2,048" in errors["batch_size"]
    settings, errors = settings_or_reasons(form_values(batch_size="8", context_length="256", stride="1"), False, 50_000)
    assert errors == {} and settings == Settings(batch_size=8, context_length=256, stride=1)


async def test_settings_form_refuses_a_batch_over_the_limit_and_changes_nothing(make_app, monkeypatch):
    monkeypatch.setenv(MAX_POSITIONS_ENV, "64")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        report, generation = app.session.report, app.session.generation
        assert report is not None
        await press_and_settle(pilot, "s")
        form = app.screen
        assert isinstance(form, SettingsScreen)
        form.query_one("#field-batch_size", Input).value = "3"
        form.query_one("#field-context_length", Input).value = "32"
        await press_and_settle(pilot, "ctrl+s")
        assert app.screen is form
        errors = {name: shown(form.query_one(f"#error-{name}")) for name in FIELDS}
        assert errors == {
            name: (
                "batch size × context length is 3 × 32 = 96 positions, over the limit of 64, "
                "as set for this tutor (--max-positions or LOSS_TUTOR_MAX_POSITIONS)"
                if name == "batch_size" else ""
            )
            for name in FIELDS
        }
        assert shown(form.query_one("#form-status")) == "Not applied: fix the fields marked above."
        assert app.session.settings == Settings() and app.session.report is report
        assert app.session.generation == generation
