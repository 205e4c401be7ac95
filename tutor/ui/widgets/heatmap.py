"""The loss heatmap: the batch's text with each target token shaded by its −log p.

The shade is only a hint: the legend gives each shade's range, the selected token's value is written
out, and so are the per-sequence losses, so it reads the same without colour.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.core.counting import of_total
from tutor.core.formatting import format_number, visible
from tutor.core.report import Report, TokenRow
from tutor.ui.typed_app import shows_ascii_only

# From low to high loss, green to crimson. Fixed rather than blended from the theme: a 16-colour terminal
# (TERM=xterm) rounds each of these to another of its colours (green, bright green, bright yellow, bright red,
# magenta), where the theme's warning and error both round to bright red.
SHADE_COLOURS = ("#1B9E45", "#8BC34A", "#E9C46A", "#E76F51", "#AD1457")
SHADES = len(SHADE_COLOURS)
# Each token is also marked with its shade's number, so the map reads without colour.
SHADE_MARKS = ("¹", "²", "³", "⁴", "⁵")
ASCII_SHADE_MARKS = ("^1", "^2", "^3", "^4", "^5")


def shade_index(loss: float, low: float, high: float) -> int:
    if high <= low:
        return 0
    return min(SHADES - 1, int((loss - low) / (high - low) * SHADES))


class HeatmapPane(VerticalScroll, can_focus=True):
    BINDINGS = [
        # ← → change lesson everywhere (see LessonScreen): here ↓ ↑ walk the tokens in reading order.
        Binding("down", "move(1)", "Next token", show=False),
        Binding("up", "move(-1)", "Previous token", show=False),
        Binding("pagedown", "move_row(1)", "Next row", show=False),
        Binding("pageup", "move_row(-1)", "Previous row", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.report: Report | None = None
        self.selected = (0, 0)  # (row, position)

    def compose(self):
        yield Static(id="heatmap-text")

    def show(self, report: Report | None, waiting: str) -> None:
        if report is not self.report:
            self.selected = (0, 0) if report is None or self.report is None else self._clamp(report, *self.selected)
        self.report = report
        self._show_state(waiting)

    @staticmethod
    def _clamp(report: Report, row: int, position: int) -> tuple[int, int]:
        return min(row, report.batch_size - 1), min(position, report.context_length - 1)

    def _show_state(self, waiting: str) -> None:
        report = self.report
        target = self.query_one("#heatmap-text", Static)
        if report is None:
            target.update(Text(waiting, style="italic"))
            return
        losses = [token.loss for token in report.tokens]
        low, high = min(losses), max(losses)
        shades = [Color.parse(colour) for colour in SHADE_COLOURS]
        ascii_only = shows_ascii_only(self)
        marks = ASCII_SHADE_MARKS if ascii_only else SHADE_MARKS
        text = Text()
        text.append("legend  −log p(target): ", style="bold")
        for index, colour in enumerate(shades):
            start = low + (high - low) * index / SHADES
            end = low + (high - low) * (index + 1) / SHADES
            text.append(
                f"{marks[index]} {format_number(start, 2)}–{format_number(end, 2)} ",
                style=f"{colour.get_contrast_text(1.0).hex} on {colour.hex}",
            )
            text.append(" ")
        text.append("\n\n")
        for row in range(report.batch_size):
            text.append(f"row {of_total(row, report.batch_size)}  loss {format_number(report.per_sequence_loss[row])}\n",
                        style="bold")
            for token in report.row_tokens(row):
                shade = shade_index(token.loss, low, high)
                colour = shades[shade]
                style = f"{colour.get_contrast_text(1.0).hex} on {colour.hex}"
                if (row, token.position) == self.selected:
                    style += " reverse underline"
                text.append(visible(token.target_token, ascii_only=ascii_only) + marks[shade], style=style)
                text.append(" ")
            text.append("\n\n")
        sequence = ", ".join(format_number(loss) for loss in report.per_sequence_loss)
        text.append(f"per-sequence losses: {sequence}   batch mean: {format_number(report.loss_manual)}\n")
        token = self._selected_token()
        if token is not None:
            text.append(
                f"selected: row {of_total(token.row, report.batch_size)}, position {token.position}, target {visible(token.target_token, ascii_only=ascii_only)!r} "
                f"[{token.target_id}]  p = {format_number(token.target_prob, 6)}  −log p = {format_number(token.loss)}\n",
                style="bold",
            )
        text.append("(focus here: ↓ ↑ select the next or previous token, pgdn pgup the next or previous row)",
                    style="italic")
        target.update(text)

    def _selected_token(self) -> TokenRow | None:
        if self.report is None:
            return None
        row, position = self.selected
        return self.report.row_tokens(row)[position]

    def action_move(self, delta: int) -> None:
        """The next or previous token, on into the next or previous row at either end of one."""
        report = self.report
        if report is not None:
            row, position = self.selected
            index = min(max(row * report.context_length + position + delta, 0), report.batch_size * report.context_length - 1)
            self.selected = divmod(index, report.context_length)
            self._show_state("")

    def action_move_row(self, delta: int) -> None:
        if self.report is not None:
            row, position = self.selected
            self.selected = self._clamp(self.report, max(0, row + delta), position)
            self._show_state("")
