"""How the tutor offers the models an engine has (tutor/core/answers.py): each one's lines in the model form, the
name of the one in force in the header, and whether files may be opened and saved. Plain text; names come from
files, so they are made safe to draw."""

from __future__ import annotations

from tutor.core.answers import ModelMenu, ModelOption
from tutor.core.formatting import ellipsis, safe_to_draw
from tutor.core.jobs import OVERFIT_WORDS, TEXT_RUN_WORDS, TRAINED, TRAINED_FROM, TRAINED_HERE

HEADER_WIDTH = 28  # the most cells "model: NAME" takes in the header, so that the lesson's title keeps the rest
IN_USE, NOT_IN_USE = "●", "○"
LIST, OPEN, SAVE = "list", "open", "save"  # where the model form starts: its list, or its field to open or save

KIND_WORDS = {"untrained": "untrained, random weights", "trained": "trained in this session"}
# A model trained in this session (tutor.core.jobs.trained_name) in the header: what it was trained on in fewer
# words, without the model it started from.
HEADER_TRAINED_WORDS = {OVERFIT_WORDS: "overfit, {steps}", TEXT_RUN_WORDS: "{steps} on text"}


def may_open_files(menu: ModelMenu | None, *, in_a_workshop: bool) -> bool:
    """Whether the learner may open a weights file: as the engine said, or, before it has, unless in a workshop."""
    return menu.may_open_files if menu is not None else not in_a_workshop


def may_save_trained(menu: ModelMenu | None) -> bool:
    """Whether there is a trained model to save, and the engine writes files."""
    return menu is not None and menu.may_open_files and menu.option(TRAINED) is not None


def shortened(text: str, width: int, *, ascii_only: bool = False) -> str:
    """`text` cut to `width` characters, its end replaced by an ellipsis if it was cut."""
    if len(text) <= width:
        return text
    cut_off = ellipsis(ascii_only=ascii_only)
    return text[: max(width - len(cut_off), 0)] + cut_off


def _header_name(name: str) -> str:
    """A name `trained_name` made, in words short enough for the header ("overfit, 25 steps"); any other as it is."""
    if not name.startswith(TRAINED_HERE):
        return name
    trained = name.removeprefix(TRAINED_HERE).partition(TRAINED_FROM)[0]
    for trained_on, words in HEADER_TRAINED_WORDS.items():
        if trained.endswith(f" {trained_on}"):
            return words.format(steps=trained.removesuffix(f" {trained_on}"))
    return name


def header_words(name: str, *, ascii_only: bool = False) -> str:
    """What the header says of the model whose numbers are on screen: its name (in fewer words if it was trained
    here), cut short if it is too long."""
    return shortened(f"model: {safe_to_draw(_header_name(name), one_cell=True)}", HEADER_WIDTH, ascii_only=ascii_only)


def option_title(option: ModelOption, *, in_use: bool, being_computed: bool = False) -> str:
    mark = IN_USE if in_use else NOT_IN_USE
    state = " — in use" if in_use else " — computing the lessons with it…" if being_computed else ""
    return f"{mark} {safe_to_draw(option.name)}{state}"


def option_details(option: ModelOption) -> list[str]:
    """Its kind and size, then its configuration (the book's config keys), or that it is not opened yet."""
    kind = KIND_WORDS.get(option.kind, safe_to_draw(option.kind))
    if option.parameter_count is None:
        return [f"{kind} · not opened yet; its size shows once in use"]
    lines = [f"{kind} · {option.parameter_count:,} parameters"]
    config = dict(option.config)
    if config:
        bias = "qkv bias" if config.get("qkv_bias") else "no qkv bias"
        lines.append(
            f"{_layers(config.get('n_layers'))} · {config.get('n_heads')} heads · width {config.get('emb_dim')} · "
            f"context {_count(config.get('context_length'))} · {bias}"
        )
    return lines


def _layers(count: object) -> str:
    return "1 layer" if count == 1 else f"{count} layers"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)
