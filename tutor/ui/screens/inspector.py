"""The token inspector: the model's top-10 guesses at one position, and where the target stood."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tutor.core.counting import of_total
from tutor.core.formatting import format_number, visible
from tutor.core.report import Report, TokenRow
from tutor.ui.typed_app import shows_ascii_only

BAR_WIDTH = 24


def bar(fraction: float) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[rest] if rest else "")


def inspect_text(token: TokenRow, report: Report, ascii_only: bool = False) -> Text:
    text = Text()
    text.append(f"batch row {of_total(token.row, report.batch_size)}, position {token.position}\n", style="bold")
    text.append(f"context: …{visible(token.context, ascii_only=ascii_only)}\n")
    text.append(f"target:  {visible(token.target_token, ascii_only=ascii_only)} [{token.target_id}]\n\n")
    text.append(f"top {len(token.top)} next-token probabilities (bars scaled to the top one)\n", style="bold")
    top_prob = token.top[0].prob if token.top else 1.0
    for rank, candidate in enumerate(token.top, start=1):
        is_target = candidate.token_id == token.target_id
        label = f"{rank:>2}. {visible(candidate.token, ascii_only=ascii_only)[:16]:<16} [{candidate.token_id:>5}] {format_number(candidate.prob, 6):>12} "
        text.append(label, style="bold" if is_target else "")
        text.append(bar(candidate.prob / top_prob))
        text.append("  ◀ target\n" if is_target else "\n", style="bold")
    uniform = 1.0 / report.vocab_size
    text.append("\n")
    in_top = any(candidate.token_id == token.target_id for candidate in token.top)
    if not in_top:
        text.append(f"the target is not in the top {len(token.top)}\n")
    text.append(
        f"target rank {token.target_rank:,} of {report.vocab_size:,}, p = {format_number(token.target_prob, 6)}, "
        f"−log p = {format_number(token.loss)}  {'✓ predicted' if token.correct else '✗ not predicted'}\n",
        style="bold",
    )
    ratio = token.target_prob / uniform
    text.append(
        f"uniform guess 1/{report.vocab_size:,} = {format_number(uniform, 6)}, −log = {format_number(report.uniform_loss)}\n"
        f"the model gave the target {format_number(ratio, 3)}× the uniform probability "
        f"(log p is {format_number(abs(math.log(ratio)), 3)} {'above' if ratio >= 1 else 'below'} log(1/{report.vocab_size:,}))\n"
    )
    return text


class InspectorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="close-inspector")]

    def __init__(self, token: TokenRow, report: Report) -> None:
        super().__init__()
        self.token, self.report = token, report

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspector-body"):
            yield Static(inspect_text(self.token, self.report, shows_ascii_only(self)), id="inspector-text")
        yield Footer()

    def action_dismiss(self) -> None:
        self.dismiss(None)
