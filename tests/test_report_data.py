"""`Report.to_data` / `Report.from_data`: a report as plain JSON types and back, exactly, refusing anything else."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_fixture import DEFAULT_REPORT_PATH, read_fixture

from tutor.core.report import TENSOR_NAMES, BugResult, Candidate, ModelCard, Report, TensorView, TokenRow
from tutor.core.settings import Settings


def through_json(data):
    return json.loads(json.dumps(data, allow_nan=False))


@pytest.fixture(scope="module")
def data() -> dict:
    """A real report (the committed one the model made) as data."""
    return read_fixture(DEFAULT_REPORT_PATH)[1]


@pytest.fixture(scope="module")
def report(data) -> Report:
    return Report.from_data(data)


def test_a_real_report_goes_there_and_back_exactly(report, data):
    assert Report.from_data(through_json(report.to_data())) == report
    assert json.dumps(report.to_data()) == json.dumps(data)  # in the same order: the order things are shown in
    assert list(report.extras["bug_lab"])[:2] == ["unshifted_targets", "softmax_before_ce"]
    assert isinstance(report.tokens, tuple) and isinstance(report.tokens[0].top[0], Candidate)
    assert isinstance(report.logits_shape, tuple) and isinstance(report.tensors["logits"].shape, tuple)
    bugs = report.extras["bug_lab"]
    assert bugs["log_of_softmax"].loss == math.inf and data["extras"]["bug_lab"]["log_of_softmax"]["loss"] == "inf"
    assert bugs["forgot_flatten"].loss is None and bugs["forgot_flatten"].error.startswith("RuntimeError")
    assert report.values()["loss_manual"] == data["loss_manual"]


# ----- any report, however odd its values ----------------------------------------------------------------

integers = st.integers(min_value=-(2**70), max_value=2**70)
floats = st.floats(allow_nan=False) | st.just(math.nan)  # nan only as math.nan, which reads back as the same object
texts = st.text(max_size=12)  # any code point: control characters, surrogates' neighbours, NUL
shapes = st.lists(integers, max_size=3).map(tuple)
matrix_of_ints = st.lists(st.lists(integers, max_size=3), max_size=3)
matrix_of_floats = st.lists(st.lists(floats, max_size=3), max_size=3)

candidates = st.builds(Candidate, token_id=integers, token=texts, prob=floats)
token_rows = st.builds(
    TokenRow,
    row=integers, position=integers, context=texts, input_id=integers, input_token=texts, predicted_id=integers,
    predicted_token=texts, target_id=integers, target_token=texts, target_prob=floats, target_log_prob=floats,
    target_rank=integers, correct=st.booleans(), top=st.lists(candidates, max_size=3).map(tuple),
)
tensor_views = st.sampled_from(TENSOR_NAMES).flatmap(
    lambda name: st.builds(TensorView, name=st.just(name), shape=shapes, dtype=texts, text=texts)
)
bug_results = st.builds(
    BugResult,
    key=texts, title=texts, code=texts, correct_code=texts, loss=st.none() | floats, correct_loss=floats,
    error=st.none() | texts, explanation=texts, details=st.dictionaries(texts, texts, max_size=3),
)
settings_dicts = st.fixed_dictionaries(
    {item.name: st.booleans() if type(item.default) is bool else integers for item in fields(Settings)}
)
model_cards = st.builds(
    ModelCard, vocab_size=integers, context_length=integers, emb_dim=integers, n_heads=integers, n_layers=integers,
    drop_rate=floats, qkv_bias=st.booleans(), parameter_count=integers, seed=st.none() | integers,
    training=st.booleans(),
)
reports = st.builds(
    Report, model=model_cards, character_count=integers,
    settings=settings_dicts, source=texts, token_count=integers, window_count=integers, batch_count=integers,
    batch_index=integers, vocab_size=integers, inputs=matrix_of_ints, targets=matrix_of_ints,
    predicted=matrix_of_ints, input_texts=st.lists(texts, max_size=3), target_texts=st.lists(texts, max_size=3),
    target_probs=matrix_of_floats, target_log_probs=matrix_of_floats, per_sequence_loss=st.lists(floats, max_size=3),
    avg_log_prob=floats, loss_manual=floats, loss_pytorch=floats, perplexity=floats, uniform_loss=floats,
    uniform_perplexity=floats, accuracy=floats, logits_shape=shapes, logits_flat_shape=shapes,
    targets_flat_shape=shapes, tokens=st.lists(token_rows, max_size=3).map(tuple),
    tensors=st.lists(tensor_views, max_size=4, unique_by=lambda view: view.name).map(
        lambda views: {view.name: view for view in views}
    ),
    extras=st.just({}) | st.lists(bug_results, max_size=3, unique_by=lambda bug: bug.key).map(
        lambda bugs: {"bug_lab": {bug.key: bug for bug in bugs}}
    ),
)


@settings(max_examples=150, deadline=None)
@given(reports)
def test_any_report_goes_through_strict_json_and_back_exactly(report):
    data = report.to_data()
    assert through_json(data) == data  # nothing but JSON types, no NaN or infinity among them
    back = Report.from_data(through_json(data))
    assert back == report
    assert json.dumps(back.to_data()) == json.dumps(data)  # dicts keep their order


# ----- what it refuses -------------------------------------------------------------------------------------


def set_at(data, path, value):
    broken = copy.deepcopy(data)
    place = broken
    for part in path[:-1]:
        place = place[part]
    place[path[-1]] = value
    return broken


def remove_at(data, path):
    broken = copy.deepcopy(data)
    place = broken
    for part in path[:-1]:
        place = place[part]
    del place[path[-1]]
    return broken


MALFORMED = [
    ("not an object", lambda data: [data], "the report should be an object"),
    ("a missing field", lambda data: remove_at(data, ["loss_pytorch"]), "missing 'loss_pytorch'"),
    ("an unknown field", lambda data: set_at(data, ["password"], "x"), "unknown 'password'"),
    ("a bool for a whole number", lambda data: set_at(data, ["token_count"], True), "token_count should be a whole"),
    ("a float for a whole number", lambda data: set_at(data, ["inputs", 0, 1], 513.0), r"inputs\[0\]\[1\]"),
    ("a whole number for a float", lambda data: set_at(data, ["loss_manual"], 11), "loss_manual should be a finite"),
    ("a number as a string", lambda data: set_at(data, ["perplexity"], "55977.8"), "perplexity"),
    ("a NaN literal", lambda data: set_at(data, ["perplexity"], float("nan")), "perplexity"),
    ("a string for a bool", lambda data: set_at(data, ["tokens", 0, "correct"], "false"), r"tokens\[0\]\.correct"),
    ("a short candidate", lambda data: set_at(data, ["tokens", 1, "top", 2], [1, "a"]), r"tokens\[1\]\.top\[2\]"),
    ("a token row's missing field", lambda data: remove_at(data, ["tokens", 0, "target_rank"]), "target_rank"),
    ("a shape of strings", lambda data: set_at(data, ["logits_shape"], ["2", "8"]), r"logits_shape\[0\]"),
    ("an object for a list", lambda data: set_at(data, ["tokens"], {}), "tokens should be a list"),
    ("an unknown tensor", lambda data: set_at(data, ["tensors", "weights"], data["tensors"]["logits"]), "one of"),
    ("a tensor under another name", lambda data: set_at(data, ["tensors", "logits", "name"], "probas"), "logits.name"),
    ("a bug under another key", lambda data: set_at(data, ["extras", "bug_lab", "forgot_flatten", "key"], "x"), "key"),
    ("an unknown extra", lambda data: set_at(data, ["extras", "pickle"], {}), "unknown 'pickle'"),
    ("a detail that is not text", lambda data: set_at(data, ["extras", "bug_lab", "forgot_flatten", "details", "n"], 3),
     "details.n"),
    ("a missing setting", lambda data: remove_at(data, ["settings", "seed"]), "missing 'seed'"),
    ("a setting of the wrong type", lambda data: set_at(data, ["settings", "shuffle"], 0), "settings.shuffle"),
]


@pytest.mark.parametrize(("what", "corrupt", "message"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_data_is_refused_naming_the_place(data, what, corrupt, message):
    with pytest.raises(ValueError, match=message):
        Report.from_data(corrupt(data))


def test_a_report_holding_a_non_json_value_is_refused(report):
    class Weird(float):
        pass

    with pytest.raises(ValueError, match="loss_manual should be a float"):
        Report(**{**vars(report), "loss_manual": Weird(1.0)}).to_data()
    with pytest.raises(ValueError, match="logits_shape should be a tuple"):
        Report(**{**vars(report), "logits_shape": [2, 8, 50257]}).to_data()
    with pytest.raises(ValueError, match="extras has the wrong keys"):
        Report(**{**vars(report), "extras": {"other": 1}}).to_data()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def places(data, path=()):
    """Every place in the data, as a path of keys and indexes."""
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from places(value, (*path, index))


@pytest.fixture(scope="module")
def every_place(data) -> list[tuple]:
    return list(places(data))[1:]


@settings(max_examples=300, deadline=None)
@given(choices=st.data())
def test_any_json_anywhere_gives_a_report_or_a_value_error(data, every_place, choices):
    """Never a TypeError, KeyError or AttributeError: whatever a peer sends is refused in one way."""
    path = choices.draw(st.sampled_from(every_place), label="path")
    broken = set_at(data, list(path), choices.draw(json_values, label="replacement"))
    try:
        Report.from_data(broken)
    except ValueError:
        pass
