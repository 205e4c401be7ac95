"""The report: the walkthrough's numbers as plain Python values, picklable without torch."""

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tutor.core.report import TENSOR_NAMES, VALUE_NAMES, Report
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.bug_lab import run_all
from tutor.lm.report_builder import TOP_K, build_report
from tutor.lm.walkthrough import Walkthrough, default_model

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def walk():
    return Walkthrough(sample_text(), Settings(), model=default_model())


@pytest.fixture(scope="module")
def report(walk):
    return build_report(walk, source="story.txt", extras={"bug_lab": run_all(walk)})


def test_report_numbers_are_the_walkthroughs(walk, report):
    batch, loss, perplexity = walk.batch, walk.loss, walk.perplexity
    assert report.settings == Settings().to_dict()
    assert report.source == "story.txt"
    assert (report.token_count, report.window_count, report.batch_count, report.batch_index) == (
        batch.token_count, batch.window_count, batch.batch_count, 0,
    )
    assert report.inputs == batch.inputs.tolist()
    assert report.targets == batch.targets.tolist()
    assert report.predicted == walk.predictions.predicted_ids.tolist()
    assert report.input_texts == list(batch.input_texts)
    assert report.target_texts == list(batch.target_texts)
    assert report.target_probs == walk.target_log_probs.target_probs.tolist()
    assert report.target_log_probs == walk.target_log_probs.target_log_probs.tolist()
    assert report.per_sequence_loss == loss.per_sequence_loss.tolist()
    assert report.avg_log_prob == loss.avg_log_prob
    assert report.loss_manual == loss.loss_manual
    assert report.loss_pytorch == loss.loss_pytorch
    assert report.perplexity == perplexity.perplexity
    assert report.vocab_size == 50257
    assert report.uniform_loss == perplexity.uniform_loss == math.log(50257)
    assert report.uniform_perplexity == 50257.0
    assert report.accuracy == walk.predictions.accuracy
    assert report.logits_shape == (2, 8, 50257)
    assert report.logits_flat_shape == (16, 50257)
    assert report.targets_flat_shape == (16,)
    assert (report.batch_size, report.context_length) == (2, 8)
    assert set(report.extras["bug_lab"]) == {
        "unshifted_targets", "softmax_before_ce", "mean_wrong_dim", "forgot_flatten", "log_of_softmax",
    }
    for key, result in report.extras["bug_lab"].items():
        if key != "log_of_softmax":  # that one scales the logits by 1000 first
            assert result.correct_loss == pytest.approx(report.loss_pytorch, abs=1e-4), key


def test_token_rows_are_the_walkthroughs(walk, report):
    batch = walk.batch
    B, T = batch.inputs.shape
    assert len(report.tokens) == B * T
    assert [(token.row, token.position) for token in report.tokens] == [(r, p) for r in range(B) for p in range(T)]
    for token in report.tokens:
        r, p = token.row, token.position
        assert token.input_id == batch.inputs[r, p].item()
        assert token.target_id == batch.targets[r, p].item()
        assert token.predicted_id == walk.predictions.predicted_ids[r, p].item()
        assert token.correct == (token.predicted_id == token.target_id)
        assert token.target_prob == walk.target_log_probs.target_probs[r, p].item()
        assert token.target_log_prob == walk.target_log_probs.target_log_probs[r, p].item()
        assert token.loss == -token.target_log_prob
    assert report.row_tokens(1) == [token for token in report.tokens if token.row == 1]
    assert len(report.row_tokens(1)) == T


def test_top_candidates_and_target_rank(walk, report):
    probas = walk.probabilities.probas
    for token in report.tokens:
        row_probas = probas[token.row, token.position]
        assert len(token.top) == TOP_K == 10
        probs = [candidate.prob for candidate in token.top]
        assert probs == sorted(probs, reverse=True)
        top_probs, top_ids = torch.topk(row_probas, TOP_K)
        assert [c.token_id for c in token.top] == top_ids.tolist()
        assert probs == top_probs.tolist()
        assert token.top[0].token_id == token.predicted_id

        # rank r: exactly r - 1 probabilities are above the target's
        descending = torch.sort(row_probas, descending=True).values
        assert descending[token.target_rank - 1].item() == token.target_prob
        if token.target_rank > 1:
            assert descending[token.target_rank - 2].item() > token.target_prob
        if probs[0] > probs[1]:  # no tie at the top
            assert (token.target_rank == 1) == token.correct
        if token.target_rank <= TOP_K and descending[token.target_rank].item() < token.target_prob:
            assert token.top[token.target_rank - 1].token_id == token.target_id


def test_values_keys_are_the_value_names(report):
    values = report.values()
    assert set(values) == VALUE_NAMES
    assert values["loss_manual"] == report.loss_manual
    assert values["inputs_shape"] == (2, 8)
    assert values["position_count"] == 16
    assert values["correct_count"] == sum(token.correct for token in report.tokens)
    assert values["uniform_prob"] == 1 / 50257
    assert values["loss_difference"] == abs(report.loss_manual - report.loss_pytorch)
    assert values["loss_vs_uniform"] == ("lower" if report.loss_pytorch < math.log(50257) else "higher")
    assert values["most_surprising_loss"] == max(-lp for row in report.target_log_probs for lp in row)
    assert values["min_sequence_loss"] == min(report.per_sequence_loss)
    assert values["first_target_prob"] == report.target_probs[0][0]


def test_tensor_views_are_named(report):
    assert set(report.tensors) == set(TENSOR_NAMES)
    assert all(view.name == name for name, view in report.tensors.items())


def test_json_dict_is_serialisable(report):
    data = report.to_json_dict()
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back["loss_pytorch"] == report.loss_pytorch
    assert back["inputs"] == report.inputs
    assert back["logits_shape"] == [2, 8, 50257]
    assert back["correct"] == [[token.correct for token in report.row_tokens(r)] for r in range(2)]
    assert back["settings"] == Settings().to_dict()


def test_report_unpickles_without_torch(report, tmp_path):
    path = tmp_path / "report.pickle"
    path.write_bytes(pickle.dumps(report))
    assert pickle.loads(path.read_bytes()) == report
    script = (
        "import pickle, sys\n"
        f"report = pickle.load(open({str(path)!r}, 'rb'))\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
        "assert 'numpy' not in sys.modules\n"
        "print(repr(report.loss_pytorch), type(report).__module__, len(report.tokens), len(report.extras['bug_lab']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [repr(report.loss_pytorch), "tutor.core.report", "16", "5"]
    assert isinstance(report, Report)


def test_the_lessons_say_which_model_computed_their_numbers():
    from dataclasses import replace

    from tutor.core.report import ModelCard

    untrained = ModelCard(vocab_size=50257, context_length=256, emb_dim=768, n_heads=12, n_layers=12, drop_rate=0.1,
                          qkv_bias=False, parameter_count=162_419_712, seed=42, training=False)
    assert untrained.words == "a real, still untrained GPT-2-sized model"
    assert untrained.weights_words == "drawn at random after torch.manual_seed(42): it is untrained"
    trained = replace(untrained, seed=None, choice="trained", name="trained here: 3 steps overfitting one batch")
    assert trained.words == "a real GPT-2-sized model, trained in this session"
    assert trained.weights_words == "trained here: 3 steps overfitting one batch"
    from_file = replace(untrained, seed=None, choice="file:my\x1bfile.pth", name="my\x1bfile.pth")
    assert from_file.words == "a real GPT-2-sized model, with the weights of my\\x1bfile.pth"  # never an escape
    assert from_file.weights_words == "read from my\\x1bfile.pth"
