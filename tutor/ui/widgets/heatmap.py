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

from tutor.core.formatting import format_number, visible
from tutor.core.report import Report, TokenRow

SHADES = 5
SUPERSCRIPTS = "¹²³⁴⁵"  # each token is marked with its shade's number, so the map reads without colour


def shade_index(loss: float, low: float, high: float) -> int:
    if high <= low:
        return 0
    return min(SHADES - 1, int((loss - low) / (high - low) * SHADES))


class HeatmapPane(VerticalScroll, can_focus=True):
    BINDINGS = [
        Binding("right", "move(1)", "Next token", show=False),
        Binding("left", "move(-1)", "Previous token", show=False),
        Binding("down", "move_row(1)", "Next row", show=False),
        Binding("up", "move_row(-1)", "Previous row", show=False),
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

    def _shades(self) -> list[Color]:
        variables = self.app.get_css_variables()
        low, high = Color.parse(variables["success"]), Color.parse(variables["error"])
        middle = Color.parse(variables["warning"])
        half = SHADES // 2
        return [
            low.blend(middle, step / half) if step <= half else middle.blend(high, (step - half) / (SHADES - 1 - half))
            for step in range(SHADES)
        ]

    def _show_state(self, waiting: str) -> None:
        report = self.report
        target = self.query_one("#heatmap-text", Static)
        if report is None:
            target.update(Text(waiting, style="italic"))
            return
        losses = [token.loss for token in report.tokens]
        low, high = min(losses), max(losses)
        shades = self._shades()
        text = Text()
        text.append("legend  −log p(target): ", style="bold")
        for index, colour in enumerate(shades):
            start = low + (high - low) * index / SHADES
            end = low + (high - low) * (index + 1) / SHADES
            text.append(
                f"{SUPERSCRIPTS[index]} {format_number(start, 2)}–{format_number(end, 2)} ",
                style=f"{colour.get_contrast_text(1.0).hex} on {colour.hex}",
            )
            text.append(" ")
        text.append("\n\n")
        for row in range(report.batch_size):
            text.append(f"row {row}  loss {format_number(report.per_sequence_loss[row])}\n", style="bold")
            for token in report.row_tokens(row):
                shade = shade_index(token.loss, low, high)
                colour = shades[shade]
                style = f"{colour.get_contrast_text(1.0).hex} on {colour.hex}"
                if (row, token.position) == self.selected:
                    style += " reverse underline"
                text.append(visible(token.target_token) + SUPERSCRIPTS[shade], style=style)
                text.append(" ")
            text.append("\n\n")
        sequence = ", ".join(format_number(loss) for loss in report.per_sequence_loss)
        text.append(f"per-sequence losses: {sequence}   batch mean: {format_number(report.loss_manual)}\n")
        token = self._selected_token()
        if token is not None:
            text.append(
                f"selected: row {token.row}, position {token.position}, target {visible(token.target_token)!r} "
                f"[{token.target_id}]  p = {format_number(token.target_prob, 6)}  −log p = {format_number(token.loss)}\n",
                style="bold",
            )
        text.append("(focus here and use ← → ↑ ↓ to select a token)", style="italic")
        target.update(text)

    def _selected_token(self) -> TokenRow | None:
        if self.report is None:
            return None
        row, position = self.selected
        return self.report.row_tokens(row)[position]

    def action_move(self, delta: int) -> None:
        if self.report is not None:
            row, position = self.selected
            self.selected = self._clamp(self.report, row, max(0, position + delta))
            self._show_state("")

    def action_move_row(self, delta: int) -> None:
        if self.report is not None:
            row, position = self.selected
            self.selected = self._clamp(self.report, max(0, row + delta), position)
            self._show_state("")
