"""A `Report` is everything one walkthrough shows, as plain Python values.

It is what crosses from the computing side (which holds torch tensors) to whoever shows it: the
`--plain` and `--json` output and the app, which runs the model in another process. This module
imports no torch, so the app can unpickle a report without it; `report_builder` fills one in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, NoReturn

from tutor.core.counting import of_total, shown_number
from tutor.core.formatting import safe_to_draw, visible
from tutor.core.jobs import TRAINED, UNTRAINED
from tutor.core.settings import Settings

TENSOR_NAMES = (
    "inputs",
    "targets",
    "logits",
    "probas",
    "predicted_ids",
    "log_probas",
    "target_probs",
    "target_log_probs",
    "per_token_loss",
    "per_sequence_loss",
    "logits_flat",
    "targets_flat",
)



@dataclass(frozen=True)
class TensorView:
    name: str
    shape: tuple[int, ...]
    dtype: str
    text: str  # torch's own print of the tensor (threshold=10, edgeitems=3, precision=2)


class Candidate(NamedTuple):
    """One of the model's top guesses at a position. A named tuple, not a dataclass: a (8, 256) report
    holds 20,480 of them, and tuples unpickle in a third of the time, which the interface waits for."""

    token_id: int
    token: str
    prob: float


@dataclass(frozen=True)
class TokenRow:
    """One position of one batch row: what the model saw, what it predicted, what came next."""

    row: int
    position: int
    context: str  # the input text ending at this position (its last few tokens)
    input_id: int
    input_token: str
    predicted_id: int
    predicted_token: str
    target_id: int
    target_token: str
    target_prob: float
    target_log_prob: float
    target_rank: int  # 1 = the model's top choice
    correct: bool
    top: tuple[Candidate, ...]

    @property
    def loss(self) -> float:
        return -self.target_log_prob


@dataclass(frozen=True)
class BugResult:
    """One deliberate mistake of the bug lab, run live: its number or the exact error PyTorch raised."""

    key: str
    title: str
    code: str  # the buggy line(s)
    correct_code: str
    loss: float | None  # what the buggy code computed; None if it raised
    correct_loss: float
    error: str | None  # the exception the buggy code raised, as "TypeName: message"
    explanation: str
    details: dict[str, str] = field(default_factory=dict)


# GPT-2's four sizes (124M, 355M, 774M, 1558M parameters) by their shape: width, layers, heads.
GPT2_SIZES = {(768, 12, 12): "small", (1024, 24, 16): "medium", (1280, 36, 20): "large", (1600, 48, 25): "XL"}


@dataclass(frozen=True)
class ModelCard:
    """The model that computed a report, read off the model itself: its configuration, size, seed and mode."""

    vocab_size: int
    context_length: int  # the longest input the model takes, not the windows' context length
    emb_dim: int
    n_heads: int
    n_layers: int
    drop_rate: float
    qkv_bias: bool
    parameter_count: int
    seed: int | None  # the `torch.manual_seed` its weights were drawn with; None if not known
    training: bool  # False: eval mode, dropout off
    choice: str = UNTRAINED  # how a request names it (tutor/core/jobs.py)
    name: str = "untrained (seed 42)"  # what the header calls it

    @property
    def mode(self) -> str:
        return "train" if self.training else "eval"

    @property
    def _gpt2_size(self) -> str | None:
        return GPT2_SIZES.get((self.emb_dim, self.n_layers, self.n_heads))

    @property
    def sized(self) -> str:
        """"GPT-2-sized" (124M), "GPT-2 medium-sized", ..., or "GPT" for a shape of its own (a small test model)."""
        size = self._gpt2_size
        if size is None:
            return "GPT"
        return "GPT-2-sized" if size == "small" else f"GPT-2 {size}-sized"

    @property
    def shape_words(self) -> str:
        """Which shape it has: "GPT-2's smallest shape", "GPT-2 medium's shape", or its own."""
        size = self._gpt2_size
        if size is None:
            return "a GPT of its own shape"
        return "GPT-2's smallest shape" if size == "small" else f"GPT-2 {size}'s shape"

    @property
    def words(self) -> str:
        """What the model is, for a sentence: "a real, still untrained GPT-2-sized model", or whose weights."""
        if self.choice == UNTRAINED:
            return f"a real, still untrained {self.sized} model"
        if self.choice == TRAINED:
            return f"a real {self.sized} model, trained in this session"
        return f"a real {self.sized} model, with the weights of {safe_to_draw(self.name)}"

    @property
    def guesses_words(self) -> str:
        """What to expect of its predictions, for the forward lesson."""
        if self.choice == UNTRAINED:
            return "With random weights, expect poor guesses."
        if self.choice == TRAINED:
            return "Trained here on little text, it guesses best what it was trained on."
        return "Its weights were read from a file: its guesses are as good as the training they had."

    @property
    def weights_words(self) -> str:
        """Where its weights come from, for the forward lesson's list of what the model is."""
        if self.choice == UNTRAINED and self.seed is not None:
            return f"drawn at random after torch.manual_seed({self.seed}): it is untrained"
        if self.choice == TRAINED:
            return safe_to_draw(self.name)
        return f"read from {safe_to_draw(self.name)}"

    @property
    def code(self) -> str:
        """The Python that gave `model` its weights, for a lesson's code to show: the seed and the book's
        constructor, the file they were read from, or the training they had here."""
        if self.choice == UNTRAINED:
            seeded = "" if self.seed is None else f"torch.manual_seed({self.seed}); "
            return f"{seeded}model = GPTModel(GPT_CONFIG_124M)"
        if self.choice == TRAINED:
            return f"model: {safe_to_draw(self.name)}"
        return f'model = read_weights_file("{safe_to_draw(self.name)}").model'


@dataclass(frozen=True)
class Report:
    settings: dict
    source: str
    character_count: int  # of the whole text
    token_count: int
    window_count: int
    batch_count: int
    batch_index: int
    vocab_size: int
    inputs: list[list[int]]
    targets: list[list[int]]
    predicted: list[list[int]]
    input_texts: list[str]
    target_texts: list[str]
    target_probs: list[list[float]]
    target_log_probs: list[list[float]]
    per_sequence_loss: list[float]
    avg_log_prob: float
    loss_manual: float
    loss_pytorch: float
    perplexity: float
    uniform_loss: float
    uniform_perplexity: float
    accuracy: float
    logits_shape: tuple[int, ...]
    logits_flat_shape: tuple[int, ...]
    targets_flat_shape: tuple[int, ...]
    tokens: tuple[TokenRow, ...]
    tensors: dict[str, TensorView]
    model: ModelCard
    extras: dict = field(default_factory=dict)  # e.g. the bug lab's results

    @property
    def batch_size(self) -> int:
        return len(self.inputs)

    @property
    def context_length(self) -> int:
        return len(self.inputs[0])

    def row_tokens(self, row: int) -> list[TokenRow]:
        return [token for token in self.tokens if token.row == row]

    def values(self) -> dict[str, object]:
        """The live values lessons may name in `{{ … }}` placeholders and checks."""
        return {
            "batch_size": self.batch_size,
            "context_length": self.context_length,
            "stride": self.settings["stride"],
            "seed": self.settings["seed"],
            "character_count": self.character_count,
            "token_count": self.token_count,
            "characters_per_token": self.character_count / max(self.token_count, 1),
            "window_count": self.window_count,
            "batch_count": self.batch_count,
            "batch_index": self.batch_index,
            "batch_number": shown_number(self.batch_index),
            "vocab_size": self.vocab_size,
            "model_context_length": self.model.context_length,
            "emb_dim": self.model.emb_dim,
            "n_heads": self.model.n_heads,
            "n_layers": self.model.n_layers,
            "drop_rate": self.model.drop_rate,
            "qkv_bias": self.model.qkv_bias,
            "parameter_count": self.model.parameter_count,
            "model_seed": "unknown" if self.model.seed is None else self.model.seed,
            "model_mode": self.model.mode,
            "model_words": self.model.words,
            "model_weights": self.model.weights_words,
            "model_shape": self.model.shape_words,
            "model_guesses": self.model.guesses_words,
            "model_code": self.model.code,
            "inputs_shape": tuple(self.tensors["inputs"].shape),
            "logits_shape": self.logits_shape,
            "logits_flat_shape": self.logits_flat_shape,
            "targets_flat_shape": self.targets_flat_shape,
            "correct_count": sum(token.correct for token in self.tokens),
            "position_count": len(self.tokens),
            "accuracy": self.accuracy,
            "first_target_prob": self.tokens[0].target_prob,
            "first_target_log_prob": self.tokens[0].target_log_prob,
            "avg_log_prob": self.avg_log_prob,
            "loss_manual": self.loss_manual,
            "loss_pytorch": self.loss_pytorch,
            "loss_difference": abs(self.loss_manual - self.loss_pytorch),
            "perplexity": self.perplexity,
            "uniform_loss": self.uniform_loss,
            "uniform_perplexity": self.uniform_perplexity,
            "uniform_prob": 1.0 / self.vocab_size,
            "min_sequence_loss": min(self.per_sequence_loss),
            "max_sequence_loss": max(self.per_sequence_loss),
            "first_sequence_loss": self.per_sequence_loss[0],
            "first_target_loss": -self.tokens[0].target_log_prob,
            "log_probas_shape": tuple(self.tensors["log_probas"].shape),
            "first_input_text": self.input_texts[0],
            "first_target_text": self.target_texts[0],
            "loss_vs_uniform": "lower" if self.loss_pytorch < self.uniform_loss else "higher",
            "most_surprising_token": visible(self.most_surprising().target_token),
            "most_surprising_loss": self.most_surprising().loss,
            "most_surprising_where": self._where(self.most_surprising()),
            "first_sequence_perplexity": math.exp(self.per_sequence_loss[0]),
            "first_sequence_vs_uniform": "lower" if self.per_sequence_loss[0] < self.uniform_loss else "higher",
            "first_window_aligned": aligned_window(self.row_tokens(0)),
        }

    def _where(self, token: TokenRow) -> str:
        """"row 2 of 2, token 3 of 8": where a position is, counted as a person counts."""
        return f"row {of_total(token.row, self.batch_size)}, token {of_total(token.position, self.context_length)}"

    def most_surprising(self) -> TokenRow:
        return max(self.tokens, key=lambda token: token.loss)

    def to_data(self) -> dict:
        """The whole report as plain JSON types (dict, list, str, int, float, bool, None), token rows, tensor
        prints and bug-lab results included; `Report.from_data` turns it back into an equal report.
        Infinities and NaN are written as the strings "inf", "-inf" and "nan", so the result passes
        `json.dumps(data, allow_nan=False)`. Raises `ValueError` if a field holds a value of another type."""
        return _REPORT.encode(self, "")

    @classmethod
    def from_data(cls, data: object) -> Report:
        """The report `to_data` wrote. Strict: every key must be there and no other, every value of
        exactly its type; anything else raises `ValueError` naming the place (`tokens[3].top[0]`)."""
        return _REPORT.decode(data, "")

    def to_json_dict(self) -> dict:
        return {
            "settings": self.settings,
            "source": self.source,
            "model": {**{item.name: getattr(self.model, item.name) for item in fields(ModelCard)}, "mode": self.model.mode},
            "character_count": self.character_count,
            "token_count": self.token_count,
            "window_count": self.window_count,
            "batch_count": self.batch_count,
            "batch_index": self.batch_index,
            "vocab_size": self.vocab_size,
            "inputs": self.inputs,
            "targets": self.targets,
            "predicted": self.predicted,
            "correct": [[token.correct for token in self.row_tokens(row)] for row in range(self.batch_size)],
            "input_texts": self.input_texts,
            "target_texts": self.target_texts,
            "target_probs": self.target_probs,
            "target_log_probs": self.target_log_probs,
            "per_sequence_loss": self.per_sequence_loss,
            "avg_log_prob": self.avg_log_prob,
            "loss_manual": self.loss_manual,
            "loss_pytorch": self.loss_pytorch,
            "perplexity": self.perplexity,
            "uniform_loss": self.uniform_loss,
            "uniform_perplexity": self.uniform_perplexity,
            "accuracy": self.accuracy,
            "logits_shape": list(self.logits_shape),
        }


ALIGNED_WIDTH = 44  # characters of the aligned input/target drawing: it fits a narrow explanation pane


def aligned_window(tokens: list[TokenRow], width: int = ALIGNED_WIDTH) -> str:
    """One window's inputs above its targets, position by position, as many positions as fit in `width`:

        position t    0    1    2
        inputs[0]     At   ·3   :     ...
        targets[0]    ·3   :    17    ...

    Target t stands under input t, and is input t + 1: the token that follows it in the text."""
    labels = ("position t", f"inputs[{tokens[0].row}]", f"targets[{tokens[0].row}]") if tokens else ("", "", "")
    lines = [label.ljust(13) for label in labels]
    for index, token in enumerate(tokens):
        cells = (str(token.position), visible(token.input_token), visible(token.target_token))
        column = max(len(cell) for cell in cells) + 2
        if len(lines[0]) + column > width - 3:
            lines = [line + "..." for line in lines]  # as torch abridges (a "…" would read as a value to come)
            break
        lines = [line + cell.ljust(column) for line, cell in zip(lines, cells)]
    return "\n".join(line.rstrip() for line in lines)


VALUE_NAMES = frozenset(
    {
        "batch_size", "context_length", "stride", "seed", "character_count", "token_count", "characters_per_token",
        "window_count", "batch_count", "batch_index", "batch_number", "vocab_size", "model_context_length", "emb_dim",
        "n_heads", "n_layers", "drop_rate", "qkv_bias", "parameter_count", "model_seed", "model_mode", "model_words",
        "model_weights", "model_code", "model_shape", "model_guesses",
        "first_sequence_loss", "first_target_loss", "log_probas_shape", "most_surprising_where",
        "first_sequence_perplexity", "first_sequence_vs_uniform", "first_window_aligned", "inputs_shape", "logits_shape", "logits_flat_shape", "targets_flat_shape",
        "correct_count", "position_count", "accuracy", "first_target_prob", "first_target_log_prob",
        "avg_log_prob", "loss_manual", "loss_pytorch", "loss_difference", "perplexity", "uniform_loss",
        "uniform_perplexity", "uniform_prob", "min_sequence_loss", "max_sequence_loss", "first_input_text",
        "first_target_text", "loss_vs_uniform", "most_surprising_token", "most_surprising_loss",
    }
)


# ----- Report.to_data / Report.from_data: a strict, exact round trip through plain JSON types -------
# Each codec turns one kind of value into JSON data (`encode`) and checks and turns it back (`decode`).
# `where` names the place in the report, for the error message.

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _fail(where: str, expected: str, got: object) -> NoReturn:
    raise ValueError(f"report data: {where or 'the report'} should be {expected}, not {_describe(got)}")


def _describe(value: object) -> str:
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= 40 else text[:39] + "…"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    return f"a {type(value).__name__}"


def _listed(keys: list) -> str:
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return ", ".join(map(_describe, keys[:5])) + more


def _at(where: str, key: object) -> str:
    return f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else str(key))


class _Scalar:
    def __init__(self, kind: type, expected: str):
        self.kind, self.expected = kind, expected

    def encode(self, value: Any, where: str) -> Any:
        return self.decode(value, where)

    def decode(self, data: Any, where: str) -> Any:
        if type(data) is not self.kind:  # exactly: a bool is not a whole number here
            _fail(where, self.expected, data)
        return data


class _Float:
    def encode(self, value: Any, where: str) -> Any:
        if type(value) is not float:
            _fail(where, "a float", value)
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")

    def decode(self, data: Any, where: str) -> float:
        if type(data) is float and math.isfinite(data):
            return data
        if type(data) is str and data in _NON_FINITE:
            return _NON_FINITE[data]
        _fail(where, 'a finite float, "inf", "-inf" or "nan"', data)


class _Optional:
    def __init__(self, item):
        self.item = item

    def encode(self, value: Any, where: str) -> Any:
        return None if value is None else self.item.encode(value, where)

    def decode(self, data: Any, where: str) -> Any:
        return None if data is None else self.item.decode(data, where)


class _Sequence:
    """A list or a tuple in the report (exactly the one it should be), a list in the data."""

    def __init__(self, item, kind: type = list):
        self.item, self.kind = item, kind

    def encode(self, value: Any, where: str) -> list:
        if type(value) is not self.kind:
            _fail(where, f"a {self.kind.__name__}", value)
        return [self.item.encode(entry, _at(where, index)) for index, entry in enumerate(value)]

    def decode(self, data: Any, where: str) -> Any:
        if type(data) is not list:
            _fail(where, "a list", data)
        return self.kind(self.item.decode(entry, _at(where, index)) for index, entry in enumerate(data))


class _Candidate:
    """A `Candidate` as a three-item list, `[token_id, token, prob]`: a big report holds tens of thousands."""

    parts = (_Scalar(int, "a whole number"), _Scalar(str, "a string"), _Float())

    def encode(self, value: Any, where: str) -> list:
        if type(value) is not Candidate:
            _fail(where, "a Candidate", value)
        return [codec.encode(part, _at(where, index)) for index, (codec, part) in enumerate(zip(self.parts, value))]

    def decode(self, data: Any, where: str) -> Candidate:
        if type(data) is not list or len(data) != len(self.parts):
            _fail(where, "a list [token_id, token, prob]", data)
        parts = zip(self.parts, data)
        return Candidate(*(codec.decode(part, _at(where, index)) for index, (codec, part) in enumerate(parts)))


class _Mapping:
    """A dict from strings to values of one kind."""

    def __init__(self, item):
        self.item = item

    def encode(self, value: Any, where: str) -> dict:
        return self._each(value, where, "a dict", self.item.encode)

    def decode(self, data: Any, where: str) -> dict:
        return self._each(data, where, "an object", self.item.decode)

    def _each(self, mapping: Any, where: str, expected: str, convert) -> dict:
        if type(mapping) is not dict:
            _fail(where, expected, mapping)
        for key in mapping:
            if type(key) is not str:
                _fail(f"a key of {where}", "a string", key)
        return {key: convert(entry, _at(where, key)) for key, entry in mapping.items()}


class _Object:
    """A dict with fixed keys, each with its own codec. With `optional`, any of the keys may be left out."""

    def __init__(self, codecs: dict, *, optional: bool = False):
        self.codecs, self.optional = codecs, optional

    def encode(self, value: Any, where: str) -> dict:
        if type(value) is not dict:
            _fail(where, "a dict", value)
        self._check_keys(value, where)
        return {key: self.codecs[key].encode(entry, _at(where, key)) for key, entry in value.items()}

    def decode(self, data: Any, where: str) -> dict:
        if type(data) is not dict:
            _fail(where, "an object", data)
        self._check_keys(data, where)
        return {key: self.codecs[key].decode(entry, _at(where, key)) for key, entry in data.items()}

    def _check_keys(self, mapping: dict, where: str) -> None:
        unknown = [key for key in mapping if key not in self.codecs]
        missing = [] if self.optional else [key for key in self.codecs if key not in mapping]
        if unknown or missing:
            problems = ([f"unknown {_listed(unknown)}"] if unknown else []) + (
                [f"missing {_listed(missing)}"] if missing else []
            )
            raise ValueError(f"report data: {where or 'the report'} has the wrong keys: {'; '.join(problems)}")


class _Record(_Object):
    """A dataclass as a dict of its fields; its codecs must name every field, which import checks."""

    def __init__(self, cls: type, **codecs):
        names = [item.name for item in fields(cls)]
        if sorted(names) != sorted(codecs):
            raise TypeError(f"the codecs for {cls.__name__} name {sorted(codecs)}, its fields are {sorted(names)}")
        super().__init__(codecs)
        self.cls = cls

    def encode(self, value: Any, where: str) -> dict:
        if type(value) is not self.cls:
            _fail(where, f"a {self.cls.__name__}", value)
        return {name: codec.encode(getattr(value, name), _at(where, name)) for name, codec in self.codecs.items()}

    def decode(self, data: Any, where: str) -> Any:
        return self.cls(**super().decode(data, where))


class _Named(_Mapping):
    """A dict of records, each filed under its own name (its `attribute`), one of `allowed` if given."""

    def __init__(self, record: _Record, attribute: str, allowed: tuple[str, ...] | None = None):
        super().__init__(record)
        self.attribute, self.allowed = attribute, allowed

    def encode(self, value: Any, where: str) -> dict:
        data = super().encode(value, where)
        self._check_names(data, where)
        return data

    def decode(self, data: Any, where: str) -> dict:
        value = super().decode(data, where)
        self._check_names(data, where)
        return value

    def _check_names(self, data: dict, where: str) -> None:
        for key, entry in data.items():
            if self.allowed is not None and key not in self.allowed:
                _fail(f"a key of {where}", "one of " + ", ".join(self.allowed), key)
            if entry[self.attribute] != key:
                _fail(_at(_at(where, key), self.attribute), repr(key), entry[self.attribute])


_INT = _Scalar(int, "a whole number")
_STR = _Scalar(str, "a string")
_BOOL = _Scalar(bool, "true or false")
_FLOAT = _Float()
_SHAPE = _Sequence(_INT, tuple)
_MATRIX_OF_INTS = _Sequence(_Sequence(_INT))
_MATRIX_OF_FLOATS = _Sequence(_Sequence(_FLOAT))


def _settings_codec() -> _Object:
    """`Settings.to_dict()`: each setting with the type of its default."""
    kinds = {bool: _BOOL, int: _INT, str: _STR}
    codecs = {}
    for item in fields(Settings):
        if type(item.default) not in kinds:
            raise TypeError(f"no codec for the setting {item.name} (default {item.default!r})")
        codecs[item.name] = kinds[type(item.default)]
    return _Object(codecs)


_TOKEN_ROW = _Record(
    TokenRow,
    row=_INT, position=_INT, context=_STR, input_id=_INT, input_token=_STR, predicted_id=_INT,
    predicted_token=_STR, target_id=_INT, target_token=_STR, target_prob=_FLOAT, target_log_prob=_FLOAT,
    target_rank=_INT, correct=_BOOL, top=_Sequence(_Candidate(), tuple),
)
_TENSOR_VIEW = _Record(TensorView, name=_STR, shape=_SHAPE, dtype=_STR, text=_STR)
_BUG_RESULT = _Record(
    BugResult,
    key=_STR, title=_STR, code=_STR, correct_code=_STR, loss=_Optional(_FLOAT), correct_loss=_FLOAT,
    error=_Optional(_STR), explanation=_STR, details=_Mapping(_STR),
)
_MODEL_CARD = _Record(
    ModelCard,
    vocab_size=_INT, context_length=_INT, emb_dim=_INT, n_heads=_INT, n_layers=_INT, drop_rate=_FLOAT,
    qkv_bias=_BOOL, parameter_count=_INT, seed=_Optional(_INT), training=_BOOL, choice=_STR, name=_STR,
)
_REPORT = _Record(
    Report,
    settings=_settings_codec(), source=_STR, character_count=_INT, token_count=_INT, window_count=_INT, batch_count=_INT,
    batch_index=_INT, vocab_size=_INT, inputs=_MATRIX_OF_INTS, targets=_MATRIX_OF_INTS,
    predicted=_MATRIX_OF_INTS, input_texts=_Sequence(_STR), target_texts=_Sequence(_STR),
    target_probs=_MATRIX_OF_FLOATS, target_log_probs=_MATRIX_OF_FLOATS, per_sequence_loss=_Sequence(_FLOAT),
    avg_log_prob=_FLOAT, loss_manual=_FLOAT, loss_pytorch=_FLOAT, perplexity=_FLOAT, uniform_loss=_FLOAT,
    uniform_perplexity=_FLOAT, accuracy=_FLOAT, logits_shape=_SHAPE, logits_flat_shape=_SHAPE,
    targets_flat_shape=_SHAPE, tokens=_Sequence(_TOKEN_ROW, tuple),
    tensors=_Named(_TENSOR_VIEW, "name", allowed=TENSOR_NAMES), model=_MODEL_CARD,
    extras=_Object({"bug_lab": _Named(_BUG_RESULT, "key")}, optional=True),
)
