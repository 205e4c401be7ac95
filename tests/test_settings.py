"""The learner's settings: their checks, the settings form's reading of typed values by the same rules, and
their (de)serialisation."""

import pytest

from tutor.core.settings import (
    MAX_POSITIONS_ENV,
    MODEL_CONTEXT_LENGTH,
    SEED_MAX,
    SEED_MIN,
    Settings,
    check_window_settings,
    settings_or_reasons,
)
from tutor.lm.model import GPT_CONFIG_124M

SEED_RULE = f"seed must be {SEED_MIN} to {SEED_MAX} (what PyTorch accepts)"


def test_model_context_length_matches_the_model_config():
    assert MODEL_CONTEXT_LENGTH == GPT_CONFIG_124M["context_length"] == 256


def test_defaults_are_valid():
    Settings().validate()
    assert Settings().to_dict() == {
        "batch_size": 2, "context_length": 8, "stride": 4, "seed": 123, "shuffle": False, "batch_index": 0,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"context_length": 0}, "0 is out of range: context length must be 1 to 256"),
        ({"context_length": 257}, "257 is out of range: context length must be 1 to 256"),
        ({"context_length": 2.5}, "2.5 is not a whole number; context length must be 1 to 256"),
        ({"context_length": True}, "True is not a whole number; context length must be 1 to 256"),
        ({"stride": 0}, "0 is out of range: stride must be 1 or more"),
        ({"stride": "2"}, "'2' is not a whole number; stride must be 1 or more"),
        ({"batch_size": 0}, "0 is out of range: batch size must be 1 or more"),
        ({"batch_size": -3}, "-3 is out of range: batch size must be 1 or more"),
        ({"batch_index": -1}, "-1 is out of range: batch number must be 0 or more"),
        ({"batch_index": 1.0}, "1.0 is not a whole number; batch number must be 0 or more"),
        ({"seed": "x"}, f"'x' is not a whole number; {SEED_RULE}"),
        ({"seed": 2**64}, f"18446744073709551616 is out of range: {SEED_RULE}"),
        ({"seed": -(2**63) - 1}, f"-9223372036854775809 is out of range: {SEED_RULE}"),
        ({"shuffle": "yes"}, "shuffle must be on or off; got 'yes'"),
        ({"shuffle": 1}, "shuffle must be on or off; got 1"),
    ],
)
def test_validate_messages(changes, message):
    with pytest.raises(ValueError) as caught:
        Settings(**changes).validate()
    assert str(caught.value) == message


@pytest.mark.parametrize("seed", [0, -1, 2**64 - 1, -(2**63)])
def test_every_seed_torch_accepts_is_valid(seed):
    Settings(seed=seed).validate()


def test_seed_range_is_torchs():
    import torch

    for seed in (-(2**63), 2**64 - 1):
        torch.Generator().manual_seed(seed)
    for seed in (-(2**63) - 1, 2**64):
        with pytest.raises((ValueError, RuntimeError, OverflowError)):
            torch.Generator().manual_seed(seed)
        with pytest.raises(ValueError, match=r"seed must be -9223372036854775808 to 18446744073709551615 "):
            Settings(seed=seed).validate()


def test_a_smaller_model_context_length():
    Settings(context_length=16).validate(max_context_length=16)
    with pytest.raises(ValueError, match=r"^17 is out of range: context length must be 1 to 16$"):
        Settings(context_length=17).validate(max_context_length=16)
    with pytest.raises(ValueError, match=r"must be 1 to 4$"):
        check_window_settings(batch_size=1, context_length=5, stride=1, max_context_length=4)


def test_from_dict_ignores_unknown_keys():
    settings = Settings.from_dict({"batch_size": 3, "stride": 2, "colour": "blue", "version": 9})
    assert settings == Settings(batch_size=3, stride=2)
    assert Settings.from_dict(settings.to_dict()) == settings


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().batch_size = 5


# ----- the settings form's typed values, read by the same rules -----------------------------------------

DEFAULT_TYPED = {"batch_size": "2", "context_length": "8", "stride": "4", "seed": "123", "batch_index": "0"}


@pytest.fixture
def no_instructor_limit(monkeypatch):
    monkeypatch.setenv(MAX_POSITIONS_ENV, "")


def test_typed_whole_numbers_become_settings(no_instructor_limit):
    typed = {"batch_size": " 3 ", "context_length": "6", "stride": "1", "seed": "-5", "batch_index": "2"}
    assert settings_or_reasons(typed, True, token_count=None) == (
        Settings(batch_size=3, context_length=6, stride=1, seed=-5, shuffle=True, batch_index=2), {}
    )
    assert settings_or_reasons(DEFAULT_TYPED, False, token_count=None).settings == Settings()


@pytest.mark.parametrize(
    ("name", "typed", "value"),
    [
        ("batch_size", "0", 0),
        ("context_length", "300", 300),
        ("context_length", "0", 0),
        ("stride", "x", "x"),
        ("stride", "2.5", "2.5"),
        ("seed", str(2**64), 2**64),  # refused next to its field, not only once the computation is asked for
        ("seed", str(SEED_MIN - 1), SEED_MIN - 1),
        ("batch_index", "-1", -1),
    ],
)
def test_a_wrong_field_gets_the_reason_validate_gives(no_instructor_limit, name, typed, value):
    with pytest.raises(ValueError) as caught:
        Settings(**{name: value}).validate()
    assert settings_or_reasons({**DEFAULT_TYPED, name: typed}, False, token_count=None) == (None, {name: str(caught.value)})


def test_every_wrong_field_is_named_at_once(no_instructor_limit):
    typed = {**DEFAULT_TYPED, "batch_size": "0", "stride": "  ", "seed": "seven"}
    assert settings_or_reasons(typed, False, token_count=None) == (
        None,
        {
            "batch_size": "0 is out of range: batch size must be 1 or more",
            "stride": "nothing is not a whole number; stride must be 1 or more",
            "seed": f"'seven' is not a whole number; {SEED_RULE}",
        },
    )


def test_the_text_must_give_the_batch_asked_for(no_instructor_limit):
    # 13 tokens give 2 windows of 8 with stride 4: one batch of 2
    assert settings_or_reasons(DEFAULT_TYPED, False, token_count=13) == (Settings(), {})
    assert settings_or_reasons(DEFAULT_TYPED, False, token_count=12) == (
        None,
        {"context_length": "the text is too short: it has 12 tokens, and a batch of 2 windows of context length 8 "
                           "(stride 4) needs at least 13 — each input needs one more token after it to be its target"},
    )
    assert settings_or_reasons({**DEFAULT_TYPED, "batch_index": "1"}, False, token_count=13) == (
        None, {"batch_index": "batch number 1 does not exist: this text makes 1 batch (numbered 0 to 0)"}
    )
    # without a token count (no text computed yet) only the settings' own rules apply
    assert settings_or_reasons({**DEFAULT_TYPED, "batch_index": "1"}, False, token_count=None).settings is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"context_length": "48"}, "context_length"), ({"batch_index": "5"}, "batch_index"), ({"batch_index": "4"}, None)],
)
def test_the_form_and_the_computation_refuse_a_text_alike(no_instructor_limit, changes, field):
    from tutor.core.texts import sample_text
    from tutor.lm.walkthrough import Walkthrough

    text = sample_text()[:200]  # 50 tokens: 11 windows of 8 with stride 4, so batches 0 to 4 of 2
    walkthrough = Walkthrough(text, settings_or_reasons({**DEFAULT_TYPED, **changes}, False, None).settings)
    assert len(walkthrough.token_ids) == 50
    settings, reasons = settings_or_reasons({**DEFAULT_TYPED, **changes}, False, len(walkthrough.token_ids))
    if field is None:
        assert reasons == {} and walkthrough.batch.batch_index == settings.batch_index
        return
    with pytest.raises(ValueError) as caught:
        walkthrough.batch
    assert (settings, reasons) == (None, {field: str(caught.value)})
