"""The line of code a lesson shows for how `model` got its weights: true of the model in use, whichever it is."""

from __future__ import annotations

from dataclasses import replace

from report_fixture import DEFAULT_REPORT_PATH, load_fixture

from tutor.core.jobs import TRAINED, UNTRAINED, file_choice
from tutor.core.lessons import fill_placeholders, load_lessons
from tutor.core.report import ModelCard

UNTRAINED_CARD = ModelCard(vocab_size=50257, context_length=256, emb_dim=768, n_heads=12, n_layers=12, drop_rate=0.1,
                           qkv_bias=False, parameter_count=162_419_712, seed=42, training=False)


def test_the_untrained_model_is_drawn_after_its_seed():
    assert UNTRAINED_CARD.choice == UNTRAINED
    assert UNTRAINED_CARD.code == "torch.manual_seed(42); model = GPTModel(GPT_CONFIG_124M)"
    assert replace(UNTRAINED_CARD, seed=None).code == "model = GPTModel(GPT_CONFIG_124M)"


def test_a_file_model_is_read_from_its_file_with_no_seed():
    card = replace(UNTRAINED_CARD, seed=None, choice=file_choice("gpt2\x1b.pth"), name="gpt2\x1b.pth")
    assert card.code == 'model = read_weights_file("gpt2\\x1b.pth").model'  # its escape shown, not sent


def test_a_model_trained_here_says_what_training_it_had():
    name = "trained here: 25 steps overfitting one batch, from untrained (seed 42)"
    assert replace(UNTRAINED_CARD, seed=None, choice=TRAINED, name=name).code == f"model: {name}"


def test_the_forward_lessons_code_names_the_model_in_use():
    forward = next(lesson for lesson in load_lessons().lessons if lesson.id == "forward")
    _, report = load_fixture(DEFAULT_REPORT_PATH)
    assert fill_placeholders(forward.code, report.values()).splitlines()[0] == (
        "# torch.manual_seed(42); model = GPTModel(GPT_CONFIG_124M)"
    )
    assert "manual_seed" not in fill_placeholders(forward.code, {"model_code": "model = read_weights_file(…)"})
