"""The walkthrough with the real 124M model: every stage agrees with PyTorch's own functions."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.core.windows import count_batches, count_windows
from tutor.lm.tokenizer import decode, encode
from tutor.lm.walkthrough import Walkthrough, default_model

STAGES = ("batch", "forward", "probabilities", "predictions", "target_log_probs", "loss", "perplexity")


@pytest.fixture(scope="module")
def model():
    return default_model()


@pytest.fixture(scope="module")
def text():
    return sample_text()


@pytest.fixture(scope="module")
def walk(model, text):
    return Walkthrough(text, Settings(), model=model)


@pytest.fixture(scope="module")
def small_walk(model, text):
    return Walkthrough(text, Settings(batch_size=3, context_length=5, stride=2), model=model)


def test_default_model_is_loaded_once_in_eval_mode(model):
    assert default_model() is model
    assert not model.training
    assert Walkthrough("x").model is model


def test_batch_windows(walk, text):
    ids = encode(text)
    s = walk.settings
    batch = walk.batch
    assert batch.token_count == len(ids)
    assert batch.window_count == count_windows(len(ids), s.context_length, s.stride)
    assert batch.batch_count == batch.window_count // s.batch_size
    assert batch.inputs.shape == batch.targets.shape == (s.batch_size, s.context_length)
    for row in range(s.batch_size):
        start = row * s.stride  # batch 0, unshuffled
        assert batch.inputs[row].tolist() == ids[start : start + s.context_length]
        assert batch.targets[row].tolist() == ids[start + 1 : start + s.context_length + 1]
        assert batch.input_texts[row] == decode(batch.inputs[row].tolist())
        assert batch.target_texts[row] == decode(batch.targets[row].tolist())


def check_stages(walk):
    batch = walk.batch
    logits = walk.forward.logits
    B, T = batch.inputs.shape
    assert logits.shape == (B, T, 50257)

    expected = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten()).item()
    loss = walk.loss
    assert loss.loss_manual == pytest.approx(expected, abs=1e-5)
    assert loss.loss_pytorch == pytest.approx(expected, abs=1e-6)
    assert loss.avg_log_prob == pytest.approx(-loss.loss_manual, abs=1e-6)
    assert loss.per_token_loss.shape == (B, T)
    assert loss.per_sequence_loss.shape == (B,)
    assert loss.per_token_loss.mean().item() == pytest.approx(loss.loss_pytorch, abs=1e-5)
    assert loss.per_sequence_loss.mean().item() == pytest.approx(loss.loss_pytorch, abs=1e-5)
    per_token = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), reduction="none").view(B, T)
    torch.testing.assert_close(loss.per_token_loss, per_token, atol=1e-5, rtol=0)
    assert loss.logits_flat_shape == (B * T, 50257)
    assert loss.targets_flat_shape == (B * T,)

    probas = walk.probabilities.probas
    torch.testing.assert_close(probas.sum(dim=-1), torch.ones(B, T), atol=1e-5, rtol=0)
    assert (probas > 0).all()

    assert torch.equal(walk.predictions.predicted_ids, logits.argmax(dim=-1))
    assert torch.equal(walk.predictions.matches, logits.argmax(dim=-1) == batch.targets)
    assert walk.predictions.accuracy == pytest.approx(walk.predictions.matches.float().mean().item())

    log_softmax = torch.log_softmax(logits, dim=-1)
    stage = walk.target_log_probs
    gathered = log_softmax.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(stage.target_log_probs, gathered, atol=1e-5, rtol=0)
    torch.testing.assert_close(stage.target_probs, gathered.exp(), atol=1e-9, rtol=1e-4)
    torch.testing.assert_close(stage.log_probas, log_softmax, atol=1e-4, rtol=0)

    perplexity = walk.perplexity
    assert perplexity.perplexity == pytest.approx(math.exp(loss.loss_pytorch), rel=1e-12)
    assert perplexity.perplexity == pytest.approx(math.exp(expected), rel=1e-5)
    assert perplexity.vocab_size == 50257
    assert perplexity.uniform_loss == pytest.approx(math.log(50257))
    assert perplexity.uniform_perplexity == 50257.0


def test_default_settings_stages(walk):
    check_stages(walk)


def test_untrained_loss_is_near_uniform(walk):
    assert abs(walk.loss.loss_pytorch - math.log(50257)) < 0.6


def test_stages_are_cached_and_frozen(walk):
    for name in STAGES:
        stage = getattr(walk, name)
        assert getattr(walk, name) is stage, name
        first_field = dataclasses.fields(stage)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(stage, first_field, None)


def test_batch_index_beyond_the_batch_count(model, text, walk):
    count = walk.batch.batch_count
    assert count == count_batches(len(encode(text)), batch_size=2, context_length=8, stride=4)
    last = Walkthrough(text, Settings(batch_index=count - 1), model=model).batch
    assert last.batch_index == count - 1
    with pytest.raises(ValueError) as caught:
        Walkthrough(text, Settings(batch_index=count), model=model).batch
    assert str(caught.value) == (
        f"batch number {count} does not exist: this text makes {count:,} batches (numbered 0 to {count - 1:,})"
    )


def test_batch_index_picks_that_batch(model, text):
    ids = encode(text)
    batch = Walkthrough(text, Settings(batch_index=3), model=model).batch
    # batch 3 holds windows 6 and 7, which start at 24 and 28
    assert batch.inputs.tolist() == [ids[24:32], ids[28:36]]


def test_bad_settings_are_refused_at_once(text):
    with pytest.raises(ValueError, match="stride must be"):
        Walkthrough(text, Settings(stride=0))


def test_shuffle_changes_the_batch(model, text, walk):
    shuffled = Walkthrough(text, Settings(shuffle=True), model=model)
    again = Walkthrough(text, Settings(shuffle=True), model=model)
    assert not torch.equal(shuffled.batch.inputs, walk.batch.inputs)
    assert torch.equal(shuffled.batch.inputs, again.batch.inputs)
    ids = encode(text)
    for row in shuffled.batch.inputs.tolist():  # still whole windows at multiples of the stride
        starts = [s for s in range(0, len(ids) - 8, 4) if ids[s : s + 8] == row]
        assert starts


def test_a_second_settings(small_walk, text):
    ids = encode(text)
    assert small_walk.batch.inputs.tolist() == [ids[0:5], ids[2:7], ids[4:9]]
    assert small_walk.batch.targets.tolist() == [ids[1:6], ids[3:8], ids[5:10]]
    check_stages(small_walk)


def test_text_too_short_for_a_batch(model):
    with pytest.raises(ValueError, match=r"has 2 tokens.*needs at least 13"):
        Walkthrough("Hello world", Settings(), model=model).batch
