"""The learner's settings: their checks, their window arithmetic and their (de)serialisation."""

import pytest

from tutor.lm.data import GPTDatasetV1
from tutor.lm.model import GPT_CONFIG_124M
from tutor.core.settings import (
    MODEL_CONTEXT_LENGTH,
    Settings,
    check_window_settings,
    count_windows,
    tokens_needed,
)


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
        ({"context_length": 0}, "context length must be a whole number from 1 to 256 (the model's context length); got 0"),
        ({"context_length": 257}, "context length must be a whole number from 1 to 256 (the model's context length); got 257"),
        ({"context_length": 2.5}, "context length must be a whole number from 1 to 256 (the model's context length); got 2.5"),
        ({"context_length": True}, "context length must be a whole number from 1 to 256 (the model's context length); got True"),
        ({"stride": 0}, "stride must be a whole number of at least 1; got 0"),
        ({"stride": "2"}, "stride must be a whole number of at least 1; got '2'"),
        ({"batch_size": 0}, "batch size must be a whole number of at least 1; got 0"),
        ({"batch_size": -3}, "batch size must be a whole number of at least 1; got -3"),
        ({"batch_index": -1}, "batch number must be a whole number, 0 or more; got -1"),
        ({"batch_index": 1.0}, "batch number must be a whole number, 0 or more; got 1.0"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"seed": 2**64}, "seed must be a whole number"),
        ({"seed": -(2**63) - 1}, "seed must be a whole number"),
        ({"shuffle": "yes"}, "shuffle must be on or off; got 'yes'"),
        ({"shuffle": 1}, "shuffle must be on or off; got 1"),
    ],
)
def test_validate_messages(changes, message):
    with pytest.raises(ValueError) as caught:
        Settings(**changes).validate()
    assert str(caught.value).startswith(message)


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
        with pytest.raises(ValueError, match=r"seed must be a whole number from -9223372036854775808 to 18446744073709551615"):
            Settings(seed=seed).validate()


def test_a_smaller_model_context_length():
    Settings(context_length=16).validate(max_context_length=16)
    with pytest.raises(ValueError, match=r"from 1 to 16 "):
        Settings(context_length=17).validate(max_context_length=16)
    with pytest.raises(ValueError, match=r"from 1 to 4 "):
        check_window_settings(batch_size=1, context_length=5, stride=1, max_context_length=4)


@pytest.mark.parametrize(("context_length", "stride"), [(1, 1), (4, 1), (4, 3), (8, 4), (5, 7), (16, 16)])
def test_window_arithmetic_matches_the_dataset(context_length, stride):
    for token_count in range(0, 60):
        dataset = GPTDatasetV1(list(range(token_count)), context_length, stride)
        assert count_windows(token_count, context_length, stride) == len(dataset)
    for windows in (1, 2, 3, 5):
        needed = tokens_needed(context_length, stride, windows)
        assert len(GPTDatasetV1(list(range(needed)), context_length, stride)) == windows
        assert len(GPTDatasetV1(list(range(needed - 1)), context_length, stride)) == windows - 1


def test_tokens_needed_values():
    assert tokens_needed(8, 4) == 9
    assert tokens_needed(8, 4, 2) == 13
    assert tokens_needed(256, 128, 4) == 641


def test_from_dict_ignores_unknown_keys():
    settings = Settings.from_dict({"batch_size": 3, "stride": 2, "colour": "blue", "version": 9})
    assert settings == Settings(batch_size=3, stride=2)
    assert Settings.from_dict(settings.to_dict()) == settings


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().batch_size = 5
