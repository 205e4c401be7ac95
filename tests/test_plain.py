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
        f"batch 0 of {report.batch_count} (numbered from 0)"
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
    assert "row 0 input:  'two·words↵next·line'" in text
    assert f"  'a·b↵c' => '↵' [{first.predicted_id}]  target '·x' [{first.target_id}]" in text
    assert "spaces show as ·, newlines as ↵" in text


def test_visible():
    assert visible(" a\nb\tc\r") == "·a↵b⇥c␍"
    assert visible("\x07é") == "\\x07é"
