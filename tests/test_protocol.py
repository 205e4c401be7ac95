"""Requests cross to a computing process as one line of JSON, never pickled: any request comes back exactly as
it went, anything else is refused with a `ValueError`, and the child answers a line it cannot read with a
"failed" answer and then serves the next one as usual."""

from __future__ import annotations

import io
import json
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tiny_gpt import tiny_gpt

import tutor.engine.child
import tutor.lm.walkthrough
from tutor.core.protocol import MAX_REQUEST_BYTES, Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.engine.child import serve

# Any str: control characters, newlines, characters beyond the BMP, and unpaired surrogates (a file name that is
# not UTF-8 arrives as one, through os.fsdecode).
ANY_CHARACTER = st.sampled_from("\n\r\x00\x1b\u2028\ud800\udcff\U0001f600\"\\") | st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHARACTER)
WHOLE = st.integers(min_value=-(2**70), max_value=2**70)
ANY_SETTINGS = st.builds(
    Settings, batch_size=WHOLE, context_length=WHOLE, stride=WHOLE, seed=WHOLE, shuffle=st.booleans(), batch_index=WHOLE
)
GOOD = {"text": "Hello there", "settings": Settings().to_dict(), "source": "typed text"}


def line(data: object) -> bytes:
    return json.dumps(data).encode() + b"\n"


@given(text=ANY_TEXT, request_settings=ANY_SETTINGS, source=ANY_TEXT)
@example(text="line\nbreak \x1b[2J \u2028 \U0001f600 \ud800", request_settings=Settings(), source="\udcff-story.txt")
def test_any_request_comes_back_as_it_went(text, request_settings, source):
    request = Request(text=text, settings=request_settings, source=source)
    encoded = request.to_json()
    assert encoded.endswith(b"\n") and b"\n" not in encoded[:-1]  # one line, whatever the text holds
    assert Request.from_json(encoded) == request


def test_a_request_for_the_longest_text_fits_in_a_line():
    """100,000 characters, each as long as JSON writes any character (an unpaired surrogate, or a character
    beyond the BMP as two escapes), and a long source."""
    from tutor.core.texts import MAX_TEXT_CHARS

    for character in ("\U0001F600", "\udcff", "\x01", "\u2028"):
        request = Request(text=character * MAX_TEXT_CHARS, settings=Settings(), source="\udcff" * 4096)
        encoded = request.to_json()
        assert len(encoded) <= MAX_REQUEST_BYTES
        assert Request.from_json(encoded) == request


def with_settings(**changes) -> dict:
    return {**GOOD, "settings": {**GOOD["settings"], **changes}}


def without(data: dict, key: str) -> dict:
    return {name: value for name, value in data.items() if name != key}


REFUSED = {
    "not JSON": b"computing, please\n",
    "not UTF-8": b'{"text": "\xff"}\n',
    "a list": line([GOOD]),
    "a string": line("Hello there"),
    "null": b"null\n",
    "no text": line(without(GOOD, "text")),
    "no settings": line(without(GOOD, "settings")),
    "no source": line(without(GOOD, "source")),
    "an extra key": line({**GOOD, "code": "import os"}),
    "a repeated key": b'{"text": "a", "text": "b", "settings": %s, "source": "s"}\n' % json.dumps(GOOD["settings"]).encode(),
    "text a number": line({**GOOD, "text": 12}),
    "text bytes as a list": line({**GOOD, "text": [72, 105]}),
    "source null": line({**GOOD, "source": None}),
    "settings a list": line({**GOOD, "settings": list(GOOD["settings"].values())}),
    "a setting missing": line({**GOOD, "settings": without(GOOD["settings"], "stride")}),
    "an extra setting": line(with_settings(device="cuda")),
    "batch size a string": line(with_settings(batch_size="2")),
    "batch size a float": line(with_settings(batch_size=2.0)),
    "batch size true": line(with_settings(batch_size=True)),
    "seed false": line(with_settings(seed=False)),
    "batch number null": line(with_settings(batch_index=None)),
    "shuffle 1": line(with_settings(shuffle=1)),
    "shuffle a string": line(with_settings(shuffle="yes")),
    "a setting NaN": line(GOOD).replace(b'"stride": 4', b'"stride": NaN'),
    "a setting Infinity": line(GOOD).replace(b'"stride": 4', b'"stride": Infinity'),
    "nested a million deep": b"[" * 1_000_000 + b"\n",
    "over-long": line({**GOOD, "text": "a" * MAX_REQUEST_BYTES}),
}


@pytest.mark.parametrize("encoded", REFUSED.values(), ids=REFUSED.keys())
def test_anything_but_a_request_is_refused_with_a_value_error(encoded):
    with pytest.raises(ValueError):
        Request.from_json(encoded)


def test_the_refusals_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"^a request is at most 2,000,000 bytes"):
        Request.from_json(REFUSED["over-long"])
    with pytest.raises(ValueError, match=r"^a request's batch_size is a whole number, not True"):
        Request.from_json(REFUSED["batch size true"])
    with pytest.raises(ValueError, match=r"^a request's shuffle is true or false, not 1"):
        Request.from_json(REFUSED["shuffle 1"])
    with pytest.raises(ValueError, match=r"^a request has each key once; text is repeated"):
        Request.from_json(REFUSED["a repeated key"])
    with pytest.raises(ValueError, match=r"^a request is nested too deeply"):
        Request.from_json(REFUSED["nested a million deep"])


def test_the_line_that_is_just_within_the_limit_is_read():
    padding = b" " * (MAX_REQUEST_BYTES - len(line(GOOD)))
    encoded = padding + line(GOOD)
    assert len(encoded) == MAX_REQUEST_BYTES
    assert Request.from_json(encoded) == Request(text="Hello there", settings=Settings(), source="typed text")
    with pytest.raises(ValueError):
        Request.from_json(b" " + encoded)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(data=JSON_VALUES)
def test_any_json_is_a_request_or_a_value_error(data):
    for candidate in (data, {**GOOD, "settings": data}, {**GOOD, "text": data}):
        try:
            request = Request.from_json(line(candidate))
        except ValueError:
            continue
        assert isinstance(request.text, str) and isinstance(request.source, str)


@given(junk=st.binary(max_size=300))
def test_any_bytes_are_a_request_or_a_value_error(junk):
    try:
        Request.from_json(junk)
    except ValueError:
        pass


# ----- the child answers what it cannot read, and goes on ------------------------------------------------------


@pytest.fixture
def tiny_model(monkeypatch):
    """The child's `serve` with a one-layer model, not loaded at start: seconds, not minutes."""
    model = tiny_gpt()
    monkeypatch.setattr(tutor.engine.child, "warm_up", lambda: None)
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model)


def served(*lines: bytes) -> list[tuple]:
    answers = io.BytesIO()
    serve(io.BytesIO(b"".join(lines)), answers)
    answers.seek(0)
    read = []
    while answers.tell() < len(answers.getvalue()):
        read.append(pickle.load(answers))
    return read


SAMPLE = Request(text=sample_text(), settings=Settings(), source="story.txt").to_json()


def test_the_child_answers_an_unreadable_line_and_then_the_next_one(tiny_model):
    bad_lines = [REFUSED["not JSON"], REFUSED["batch size true"], REFUSED["an extra key"],
                 REFUSED["nested a million deep"], REFUSED["not UTF-8"]]
    answers = served(*(piece for bad in bad_lines for piece in (bad, SAMPLE)))
    assert len(answers) == 2 * len(bad_lines)
    for failed, good in zip(answers[::2], answers[1::2]):
        status, reason, notices = failed
        assert (status, notices) == ("failed", [])
        assert reason.startswith("the request could not be read: ")
        assert good[0] == "ok" and good[1].batch_size == 2 and good[1].source == "story.txt"


def test_the_child_answers_an_over_long_line_once_and_then_the_next_one(tiny_model):
    over_long = b"x" * (3 * MAX_REQUEST_BYTES) + b"\n"
    answers = served(over_long, SAMPLE, REFUSED["over-long"], SAMPLE)
    assert [answer[0] for answer in answers] == ["failed", "ok", "failed", "ok"]
    assert answers[0][1] == answers[2][1] == "the request was longer than 2,000,000 bytes"


def test_a_child_whose_model_failed_to_load_still_answers_each_line_once(monkeypatch):
    def no_model():
        raise OSError("no weights")

    monkeypatch.setattr(tutor.engine.child, "warm_up", no_model)
    answers = served(b"x" * (2 * MAX_REQUEST_BYTES) + b"\n", SAMPLE)
    assert answers == [
        ("failed", "the model could not be loaded: OSError: no weights", []),
        ("failed", "the model could not be loaded: OSError: no weights", []),
    ]


def test_a_last_line_cut_short_is_unreadable_not_over_long(tiny_model):
    answers = served(SAMPLE, SAMPLE[:20])
    assert [answer[0] for answer in answers] == ["ok", "failed"]
    assert answers[1][1].startswith("the request could not be read: ")
