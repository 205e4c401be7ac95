"""`loss-tutor generate "PROMPT"`: continue a prompt token by token with the book's sampling, streaming the text
as it is drawn, then a line with the speed; or, with --json, the whole continuation (every step's candidates
before and after temperature and top-k) as one JSON object. Never touches the network.

torch and the tokenizer are imported only when a continuation is computed, so this module stays light."""

from __future__ import annotations

import argparse
import json
import sys

from tutor.cli import PROG, UsageError
from tutor.command_model import load_model
from tutor.core.formatting import CONTROL_CHARACTERS, counted, safe_to_draw
from tutor.core.generation import (
    MAX_NEW_TOKENS,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    Generation,
    GenerationSettings,
    check_prompt,
)
from tutor.core.glyphs import terminal_is_ascii, to_ascii
from tutor.core.jobs import MAX_PROMPT_CHARS

COMMAND = f"{PROG} generate"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage block
        raise UsageError(message)


def build_generate_parser() -> argparse.ArgumentParser:
    defaults = GenerationSettings()
    parser = _Parser(
        prog=COMMAND,
        description="Continue a prompt token by token, as chapter 5 of the book does: top-k keeps the k most "
        "likely tokens, the temperature sharpens (below 1) or flattens (above 1) their probabilities, and the "
        "next token is drawn from them; temperature 0 always takes the most likely one.",
    )
    parser.add_argument(
        "prompt", metavar="PROMPT",
        help=f"the text to continue, at most {MAX_PROMPT_CHARS:,} characters (one that starts with - goes last, "
        "after --)",
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=defaults.max_new_tokens, metavar="N",
        help=f"how many tokens to add, 1 to {MAX_NEW_TOKENS:,} (default {defaults.max_new_tokens})",
    )
    parser.add_argument(
        "--temperature", type=float, default=defaults.temperature, metavar="T",
        help=f"0 to {MAX_TEMPERATURE:g}; 0 always takes the most likely token (default {defaults.temperature:g})",
    )
    parser.add_argument(
        "--top-k", type=int, default=defaults.top_k, metavar="K",
        help=f"draw only from the K most likely tokens, 1 to {MAX_TOP_K:,} (default: all)",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, metavar="S",
        help=f"seed for drawing the tokens: the same seed gives the same text (default {defaults.seed})",
    )
    parser.add_argument(
        "--weights", metavar="FILE",
        help="a model's weights: the book's .pth state_dict or a GPT-2 model.safetensors (default: the untrained "
        "model, seed 42)",
    )
    parser.add_argument(
        "--no-kv-cache", action="store_true",
        help="run the model over the whole text for every new token instead of keeping earlier keys and values",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="print the continuation, with each step's most likely tokens, as one JSON object at the end",
    )
    return parser


def settings_from(args: argparse.Namespace) -> GenerationSettings:
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        kv_cache=not args.no_kv_cache,
    )
    try:
        check_prompt(args.prompt)
        settings.check()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return settings


class TerminalText:
    """Writes to stdout what is safe to show: control characters as visible escapes, ASCII on an ASCII terminal."""

    def __init__(self, ascii_only: bool):
        self.ascii_only = ascii_only
        self.at_line_start = True

    def write(self, text: str) -> None:
        if not text:
            return
        shown = safe_to_draw(text)
        sys.stdout.write(to_ascii(shown) if self.ascii_only else shown)
        sys.stdout.flush()
        self.at_line_start = shown.endswith("\n")

    def end_line(self) -> None:
        if not self.at_line_start:
            self.write("\n")


def speed_line(generation: Generation) -> str:
    cache = "with the KV cache" if generation.kv_cache else "without the KV cache"
    return (
        f"{counted(len(generation.steps), 'new token')} in {generation.seconds:.2f} s: "
        f"{generation.tokens_per_second:.1f} tokens/s {cache} · model: {generation.model}\n"
    )


def json_text(generation: Generation, ascii_only: bool) -> str:
    """The JSON object, with every control character in a string written as a \\u escape (JSON writes only
    those below U+0020 so by itself), so that printing it cannot steer the terminal."""
    dumped = json.dumps(generation.to_json_dict(), ensure_ascii=ascii_only, indent=2, allow_nan=False)
    return CONTROL_CHARACTERS.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped) + "\n"


def run_generate(argv: list[str]) -> int:
    """Bad options, a prompt out of range or a file that is not a model: one line on stderr, exit 2."""
    try:
        args = build_generate_parser().parse_args(argv)
        settings = settings_from(args)
        model, model_name = load_model(args.weights)
    except UsageError as error:
        print(f"{COMMAND}: error: {safe_to_draw(str(error))}", file=sys.stderr)
        return 2
    from tutor.lm.generation import TextStream, generate

    ascii_only = terminal_is_ascii()
    terminal = TerminalText(ascii_only)
    stream = TextStream()
    if not args.json:
        terminal.write(args.prompt)
    try:
        generation = generate(
            model, args.prompt, settings, model_name=model_name,
            on_step=None if args.json else lambda step: terminal.write(stream.add(step.token_id)),
        )
    except KeyboardInterrupt:
        terminal.end_line()
        return 130
    if args.json:
        sys.stdout.write(json_text(generation, ascii_only))
    else:
        terminal.write(stream.finish())
        terminal.end_line()
        terminal.write(speed_line(generation))
    return 0
