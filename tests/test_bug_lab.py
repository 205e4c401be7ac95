import dataclasses
import math
import pickle
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tutor.core.formatting import format_number
from tutor.core.settings import Settings
from tutor.lm.bug_lab import BUGS, EXTREME_SCALE, BugResult, run_all, run_bug
from tutor.lm.walkthrough import Walkthrough

TEXT = "The quick brown fox jumps over the lazy dog. " * 20
VOCAB_SIZE = 50257


def tiny_model(seed: int) -> nn.Module:
    """Maps (B, T) token ids to (B, T, vocab) logits, so no 124M model has to be loaded."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(VOCAB_SIZE, 16), nn.Linear(16, VOCAB_SIZE)).eval()


def make_walkthrough(seed: int = 0, **settings) -> Walkthrough:
    return Walkthrough(TEXT, Settings(**settings), model=tiny_model(seed))


@pytest.fixture(scope="module")
def walkthrough() -> Walkthrough:
    return make_walkthrough()


@pytest.fixture(scope="module")
def results(walkthrough) -> dict[str, BugResult]:
    return run_all(walkthrough)


def error_of(compute) -> str:
    with pytest.raises(Exception) as caught:
        compute()
    return f"{type(caught.value).__name__}: {caught.value}"


def test_run_all_gives_every_bug_in_order(results):
    assert list(results) == [key for key, _ in BUGS]
    assert [result.title for result in results.values()] == [title for _, title in BUGS]
    for result in results.values():
        assert result.code and result.correct_code and result.explanation
        assert result.code != result.correct_code


def test_unshifted_targets_scores_the_inputs(walkthrough, results):
    logits, batch = walkthrough.forward.logits, walkthrough.batch
    result = results["unshifted_targets"]
    expected = F.cross_entropy(logits.flatten(0, 1), batch.inputs.flatten()).item()
    correct = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten()).item()
    assert result.error is None
    assert result.loss == pytest.approx(expected, rel=1e-6)
    assert result.correct_loss == pytest.approx(correct, rel=1e-6)
    assert format_number(result.loss) in result.explanation
    assert format_number(result.correct_loss) in result.explanation


def test_softmax_before_cross_entropy_sticks_near_ln_vocab(walkthrough, results):
    logits, targets = walkthrough.forward.logits, walkthrough.batch.targets
    result = results["softmax_before_ce"]
    expected = F.cross_entropy(F.softmax(logits, dim=-1).flatten(0, 1), targets.flatten()).item()
    assert result.error is None
    assert result.loss == pytest.approx(expected, rel=1e-6)
    assert abs(result.loss - math.log(VOCAB_SIZE)) < 1
    assert format_number(math.log(VOCAB_SIZE)) in result.explanation
    assert format_number(result.loss) in result.explanation
    assert format_number(result.correct_loss) in result.explanation


def test_mean_over_the_batch_dimension_leaves_one_value_per_position(walkthrough, results):
    target_log_probs = walkthrough.target_log_probs.target_log_probs
    per_position = -target_log_probs.mean(dim=0)
    result = results["mean_wrong_dim"]
    assert per_position.shape == (8,)
    assert result.loss is None
    assert result.error == error_of(per_position.item)
    assert result.error == "RuntimeError: a Tensor with 8 elements cannot be converted to Scalar"
    assert result.correct_loss == pytest.approx(-target_log_probs.mean().item(), rel=1e-6)
    assert "torch.Size([8])" in result.explanation
    assert result.error in result.explanation
    shown = result.details["-target_log_probs.mean(dim=0)"]
    assert shown.startswith("torch.Size([8]) [")
    assert all(format_number(value) in shown for value in per_position.tolist())
    per_sequence = -target_log_probs.mean(dim=1)
    assert all(format_number(value) in result.explanation for value in per_sequence.tolist())


def test_mean_over_the_batch_dimension_works_by_accident_with_one_position():
    walkthrough = make_walkthrough(context_length=1, stride=1)
    result = run_bug(walkthrough, "mean_wrong_dim")
    assert result.error is None
    assert result.loss == pytest.approx(walkthrough.loss.loss_manual, rel=1e-6)


def test_forgetting_to_flatten_raises_pytorchs_shape_error(walkthrough, results):
    logits, targets = walkthrough.forward.logits, walkthrough.batch.targets
    result = results["forgot_flatten"]
    assert result.loss is None
    assert result.error == error_of(lambda: F.cross_entropy(logits, targets))
    assert result.error == f"RuntimeError: Expected target size [2, {VOCAB_SIZE}], got [2, 8]"
    assert result.error in result.explanation
    assert "torch.Size([16, 50257])" in result.explanation
    assert "torch.Size([16])" in result.explanation
    assert result.details["logits.flatten(0, 1)"] == "torch.Size([16, 50257])"
    assert result.correct_loss == pytest.approx(F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item())


def test_forgetting_to_flatten_is_silent_when_positions_equal_vocab_size():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 4)  # T == V: the shapes happen to fit
    targets = torch.randint(0, 4, (2, 4))
    stand_in = SimpleNamespace(
        forward=SimpleNamespace(logits=logits),
        batch=SimpleNamespace(targets=targets),
        loss=SimpleNamespace(loss_pytorch=F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()),
    )
    result = run_bug(stand_in, "forgot_flatten")
    assert result.error is None
    assert result.loss == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-6)
    assert result.loss != pytest.approx(result.correct_loss)
    assert format_number(result.loss) in result.explanation


def test_log_of_softmax_underflows_where_log_softmax_stays_finite(walkthrough, results):
    extreme = walkthrough.forward.logits * EXTREME_SCALE
    targets = walkthrough.batch.targets
    naive = torch.log(F.softmax(extreme, dim=-1))
    stable = F.log_softmax(extreme, dim=-1)
    naive_loss = -naive.gather(-1, targets.unsqueeze(-1)).mean().item()
    result = results["log_of_softmax"]
    assert torch.isneginf(naive).any() and torch.isfinite(stable).all()
    assert result.details["-inf in torch.log(torch.softmax(x))"] == (
        f"{torch.isneginf(naive).sum().item():,} of {naive.numel():,}"
    )
    assert result.details["-inf in torch.log_softmax(x)"] == "0"
    assert result.loss == naive_loss == math.inf
    assert math.isfinite(result.correct_loss)
    assert result.correct_loss == pytest.approx(F.cross_entropy(extreme.flatten(0, 1), targets.flatten()).item())
    assert format_number(result.correct_loss) in result.explanation
    assert "inf" in result.explanation


def test_results_are_plain_python_and_pickle(results):
    def assert_plain(value):
        if isinstance(value, dict):
            for key, item in value.items():
                assert isinstance(key, str)
                assert_plain(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                assert_plain(item)
        else:
            assert value is None or type(value) in (str, int, float, bool), f"not plain: {type(value)}"

    for result in results.values():
        for field in dataclasses.fields(result):
            assert_plain(getattr(result, field.name))
        assert all(isinstance(text, str) for text in result.details.values())
        assert pickle.loads(pickle.dumps(result)) == result


def test_explanations_follow_the_model():
    first = run_all(make_walkthrough(seed=0))
    second = run_all(make_walkthrough(seed=1))
    for key, _ in BUGS:
        assert first[key].explanation != second[key].explanation, key


def test_nothing_raises_when_the_walkthrough_fails():
    too_short = Walkthrough("Hi", Settings(), model=tiny_model(0))
    for result in run_all(too_short).values():
        assert result.loss is None
        assert result.error.startswith("ValueError: ")
        assert math.isnan(result.correct_loss)


def test_unknown_bug_key_is_a_key_error(walkthrough):
    with pytest.raises(KeyError):
        run_bug(walkthrough, "no_such_bug")


def test_bug_lab_does_not_import_textual():
    code = "import sys, tutor.lm.bug_lab; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
