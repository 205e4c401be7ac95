"""`render_plain`: the whole walkthrough as text, with or without colour."""

import dataclasses
import re

import pytest

from tutor.core.formatting import format_number, visible
from tutor.core.plain import render_plain
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.report_builder import build_report
from tutor.lm.walkthrough import Walkthrough, default_model

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def report():
    return build_report(Walkthrough(sample_text(), Settings(), model=default_model()), source="story.txt")


@pytest.fixture(scope="module")
def plain(report):
    return render_plain(report, colour=False)


def test_no_ansi_codes_without_colour(plain):
    assert "\x1b" not in plain
    assert plain.endswith("\n")


def test_ansi_codes_with_colour(report, plain):
    coloured = render_plain(report, colour=True)
    assert "\x1b[1m" in coloured  # bold headings
    assert "\x1b[0m" in coloured
    assert ("\x1b[31m✗\x1b[0m" in coloured) or ("\x1b[32m✓\x1b[0m" in coloured)
    assert ANSI.sub("", coloured) == plain


def test_every_position_line(report, plain):
    lines = plain.splitlines()
    for token in report.tokens:
        mark = "✓" if token.correct else "✗"
        expected = (
            f"  '{visible(token.context)}' => '{visible(token.predicted_token)}' [{token.predicted_id}]"
            f"  target '{visible(token.target_token)}' [{token.target_id}] {mark}"
        )
        assert expected in lines
    marks = [line for line in lines if " => " in line]
    assert len(marks) == len(report.tokens) == 16
    assert sum(line.endswith("✓") for line in marks) == sum(token.correct for token in report.tokens)
    correct = sum(token.correct for token in report.tokens)
    assert f"{correct} of 16 predictions match their target" in lines


def test_losses_side_by_side(report, plain):
    lines = plain.splitlines()
    manual = next(i for i, line in enumerate(lines) if line.startswith("loss, manual"))
    assert lines[manual].endswith(format_number(report.loss_manual))
    assert lines[manual + 1].startswith("loss, PyTorch")
    assert lines[manual + 1].endswith(format_number(report.loss_pytorch))
    # the two numbers line up in one column
    assert lines[manual].index(format_number(report.loss_manual)) == lines[manual + 1].index(
        format_number(report.loss_pytorch)
    )
    assert lines[manual + 2] == f"difference: {abs(report.loss_manual - report.loss_pytorch):.2e}"
    assert f"per-sequence loss: {format_number(report.per_sequence_loss[0])}, " in plain


def test_perplexity_beside_vocab_size_and_uniform_loss(report, plain):
    lines = plain.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("perplexity:"))
    assert lines[at].endswith(format_number(report.perplexity, 1))
    assert lines[at + 1] == "vocabulary size:  50,257"
    assert lines[at + 2].startswith(f"uniform baseline: loss ln(50257) = {format_number(report.uniform_loss)}")
    assert "ln(50257) = 10.8249" in lines[at + 2]


def test_header_and_settings(report, plain):
    assert f"text: story.txt · {report.token_count:,} tokens · {report.window_count:,} windows" in plain
    assert (
        f"settings: batch size 2, context length 8, stride 4, shuffle off (seed 123), "
        f"batch 1 of {report.batch_count} (batch_index 0)"
    ) in plain
    assert report.tensors["logits"].text in plain
    assert "logits torch.Size([2, 8, 50257]) torch.float32" in plain


def test_spaces_and_newlines_are_visible(report):
    first = report.tokens[0]
    edited = dataclasses.replace(
        report,
        input_texts=["two words\nnext line", *report.input_texts[1:]],
        tokens=(dataclasses.replace(first, context="a b\nc", predicted_token="\n", target_token=" x"), *report.tokens[1:]),
    )
    text = render_plain(edited, colour=False)
    assert "'two·words↵next·line'" in next(line for line in text.splitlines() if line.startswith("row 1 inputs: "))
    assert f"  'a·b↵c' => '↵' [{first.predicted_id}]  target '·x' [{first.target_id}]" in text
    assert "spaces show as ·, newlines as ↵" in text


def test_visible():
    assert visible(" a\nb\tc\r") == "·a↵b⇥c␍"
    assert visible("\x07é") == "\\x07é"


def test_the_model_is_shown_with_its_configuration_size_seed_and_mode(report, plain):
    from tutor.lm.model import GPT_CONFIG_124M

    model = default_model()
    lines = plain.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("model: GPTModel(")))
    assert lines[at] == (
        "model: GPTModel(vocab_size=50257, context_length=256, emb_dim=768, n_heads=12, n_layers=12, "
        "drop_rate=0.1, qkv_bias=False)"
    )
    assert {**GPT_CONFIG_124M} == {
        "vocab_size": 50257, "context_length": 256, "emb_dim": 768, "n_heads": 12, "n_layers": 12,
        "drop_rate": 0.1, "qkv_bias": False,
    }
    count = sum(parameter.numel() for parameter in model.parameters())
    assert lines[at + 1].split() == [f"{count:,}", "parameters", "·", "torch.manual_seed(42)", "·", "model.eval()",
                                     "(dropout", "off)"]
    assert at < lines.index("logits torch.Size([2, 8, 50257]) torch.float32")  # in the forward pass, before logits


def test_log_probas_is_printed_whole_before_the_gather(report, plain):
    view = report.tensors["log_probas"]
    assert view.shape == (2, 8, 50257)
    assert f"log_probas = torch.log(probas) torch.Size([2, 8, 50257]) torch.float32\n{view.text}\n" in plain
    assert view.text.startswith("tensor([[[-") and "..." in view.text  # torch's print, abridged as torch abridges
    assert plain.index(view.text) < plain.index(report.tensors["target_log_probs"].text)


def test_inputs_and_targets_are_drawn_aligned_target_under_the_input_it_follows(report, plain):
    lines = plain.splitlines()
    for row in range(report.batch_size):
        inputs = next(line for line in lines if line.startswith(f"row {row + 1} inputs:  "))
        targets = next(line for line in lines if line.startswith(f"row {row + 1} targets: "))
        # each id ends in the same column as the id above or below it
        input_ends = [match.end() for match in re.finditer(r"\d+", inputs.split("   '")[0][len("row N inputs:  "):])]
        target_ends = [match.end() for match in re.finditer(r"\d+", targets.split("   '")[0][len("row N targets: "):])]
        assert input_ends == target_ends and len(input_ends) == report.context_length
        assert report.targets[row][:-1] == report.inputs[row][1:]  # target t is input t + 1
    assert "target i is the token that follows input i" in plain


def test_rows_and_batches_are_counted_from_one(report, plain):
    assert "row 1 of 2:" in plain and "row 2 of 2:" in plain and "row 0" not in plain
