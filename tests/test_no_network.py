"""With every way to open a network connection broken, the whole computation still works."""

import math
import socket

import pytest

from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.compute import compute_report


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is not allowed in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_walkthrough_and_report_without_network(no_network, monkeypatch):
    from tutor.lm import tokenizer
    from tutor.lm.weights import load_tutor_model

    monkeypatch.setattr(tokenizer, "_encoding", None)  # build the tokenizer afresh, offline
    notices = []
    model = load_tutor_model(notice=notices.append)  # from the weight cache, or built and saved
    assert not model.training
    assert all("could not be used" not in notice for notice in notices)

    report = compute_report(Request(text=sample_text(), settings=Settings(), source="story.txt"))
    assert report.vocab_size == 50257
    assert report.logits_shape == (2, 8, 50257)
    assert report.loss_manual == pytest.approx(report.loss_pytorch, abs=1e-5)
    assert abs(report.loss_pytorch - math.log(50257)) < 0.6
    assert report.perplexity == pytest.approx(math.exp(report.loss_pytorch))
    assert len(report.extras["bug_lab"]) == 5
    assert no_network == []
