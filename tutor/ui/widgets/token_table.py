"""The per-token table: for every position of one batch row, what the model saw, predicted and should have.

It is drawn line by line (Textual's line API): showing a row of the batch only lays out its cells as
strings, and a frame renders just the lines in view, so a 256-token row costs about what an 8-token row
does. Cells are plain text; ✓ and ✗ carry the verdict, the colour only repeats it. A table wider than the pane
(80 columns, zoomed or not) cuts its contexts, then its tokens' texts, so that every column shows and every
token's id stays whole (tutor/core/column_fit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tutor.core.column_fit import FitColumn, cut_label, cut_to_tail, fitted_widths, label_least_width
from tutor.core.formatting import ellipsis, format_number, visible
from tutor.core.report import Report, TokenRow
from tutor.ui.typed_app import shows_ascii_only

CONTEXT_WIDTH = 16
GAP = "  "  # between columns
GUTTER = ("▶ ", "  ")  # the cursor's row is marked, so it shows without colour too

# Which columns a lesson's stage shows: predictions appear only once softmax has been explained.
STAGE_COLUMNS = {
    "tokens": ("pos", "input", "target"),
    "forward": ("pos", "input", "target"),
    "probabilities": ("pos", "context", "predicted", "target", "ok"),
}
# From the log-probabilities lesson on: the target after its context, then its p and log p, which fit 80
# columns; the prediction and ✓/✗ (the softmax lesson's columns) come after them.
ALL_COLUMNS = ("pos", "context", "target", "p(target)", "log p", "predicted", "ok")
HEADINGS = {"pos": "pos", "input": "input token [id]", "target": "target [id]", "context": "context ⇒",
            "predicted": "predicted [id]", "p(target)": "p(target)", "log p": "log p", "ok": "✓/✗"}
RIGHT_ALIGNED = {"pos", "p(target)", "log p"}
# In a pane too narrow for the whole table, the contexts give up cells first, then the tokens' texts (their ids
# never); the numbers and verdicts are never cut.
CONTEXT_COLUMNS = {"context"}
LABEL_COLUMNS = {"input", "target", "predicted"}


def token_label(text: str, token_id: int, ascii_only: bool = False) -> str:
    return f"{visible(text, ascii_only=ascii_only)} [{token_id}]"


def context_tail(context: str, ascii_only: bool = False) -> str:
    return cut_to_tail(visible(context, ascii_only=ascii_only), CONTEXT_WIDTH, ellipsis(ascii_only=ascii_only))


def cell(column: str, token: TokenRow, ascii_only: bool = False) -> str:
    if column == "pos":
        return str(token.position)
    if column == "input":
        return token_label(token.input_token, token.input_id, ascii_only)
    if column == "target":
        return token_label(token.target_token, token.target_id, ascii_only)
    if column == "context":
        return context_tail(token.context, ascii_only)
    if column == "predicted":
        return token_label(token.predicted_token, token.predicted_id, ascii_only)
    if column == "p(target)":
        return format_number(token.target_prob, 6)
    if column == "log p":
        return format_number(token.target_log_prob)
    return "✓" if token.correct else "✗"


@dataclass
class TokenChosen(Message):
    """The learner pressed enter on a position: inspect it."""

    token: TokenRow


class TokenTable(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
        Binding("enter", "inspect", "Inspect", show=False),
    ]
    COMPONENT_CLASSES = {
        "token-table--header",
        "token-table--cursor",
        "token-table--right",
        "token-table--wrong",
    }

    cursor_row: reactive[int] = reactive(0, always_update=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokens: list[TokenRow] = []
        self.columns: tuple[str, ...] = ()
        self.cells: list[tuple[str, ...]] = []
        self.waiting = ""
        self._widths: list[int] = []  # as drawn: fitted to the pane's width
        self._fit_columns: list[FitColumn] = []  # each column's full and least widths
        self._shape: tuple = ()
        self._strips: dict[tuple[int, bool], Strip] = {}

    # ----- contents -------------------------------------------------------------------------------

    def show(self, report: Report | None, row: int, stage: str, waiting: str) -> None:
        self._strips.clear()
        if report is None:
            self.tokens, self.columns, self.cells, self.waiting = [], (), [], waiting
            self._widths, self._fit_columns = [cell_len(waiting)], []
            self.virtual_size = Size(self._widths[0], 1)
            self.refresh()
            return
        self.columns = STAGE_COLUMNS.get(stage, ALL_COLUMNS)
        self.tokens = report.row_tokens(row)
        ascii_only = shows_ascii_only(self)
        self.cells = [tuple(cell(column, token, ascii_only) for column in self.columns) for token in self.tokens]
        self._fit_columns = [self._fit_column(index, column) for index, column in enumerate(self.columns)]
        self._fit_to_width()
        shape = (report.settings.get("context_length"), stage)  # another batch row keeps the position
        cursor = self.cursor_row if shape == self._shape and self.cursor_row < len(self.cells) else 0
        self._shape = shape
        self.cursor_row = cursor
        self.refresh()

    def _fit_column(self, index: int, column: str) -> FitColumn:
        heading = cell_len(HEADINGS[column])
        width = max(heading, *(cell_len(cells[index]) for cells in self.cells))
        if column in CONTEXT_COLUMNS:
            return FitColumn(width, min(heading, width), turn=0)
        if column in LABEL_COLUMNS:
            least = max(heading, *(label_least_width(cells[index], self._ellipsis) for cells in self.cells))
            return FitColumn(width, min(least, width), turn=1)
        return FitColumn(width, width)

    @property
    def _ellipsis(self) -> str:
        return ellipsis(ascii_only=shows_ascii_only(self))

    def _fit_to_width(self) -> None:
        """The columns' widths for the pane's width (the whole table while it has none yet), and the virtual size:
        wider than the pane only if even the narrowest columns are."""
        if not self._fit_columns:
            return
        gaps = len(GUTTER[0]) + len(GAP) * (len(self._fit_columns) - 1)
        room = self.size.width - gaps
        if len(self.cells) + 1 > self.size.height:  # rows scroll: the vertical scrollbar takes its columns
            room -= self.styles.scrollbar_size_vertical
        full = [column.width for column in self._fit_columns]
        widths = fitted_widths(self._fit_columns, room) if self.size.width else full
        if widths != self._widths:
            self._widths = widths
            self._strips.clear()
        self.virtual_size = Size(gaps + sum(widths), len(self.cells) + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_to_width()
        self.refresh()

    def rows_text(self) -> list[list[str]]:
        """Every row's cells in full, for tests and scripts (a narrow pane shows a token's text cut short)."""
        return [list(cells) for cells in self.cells]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_focus(self) -> None:
        self._strips.clear()  # the cursor is drawn brighter while the table has focus
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    # ----- drawing --------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if not self.columns:
            strip = Strip([Segment(self.waiting, base + Style(italic=True))]) if y == 0 else Strip([])
        elif y == 0:
            strip = self._line(None, (HEADINGS[column] for column in self.columns), header=True)
        elif scroll_y + y - 1 < len(self.cells):
            index = scroll_y + y - 1
            strip = self._line(index, self.cells[index])
        else:
            strip = Strip([])
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, base)

    def _line(self, index: int | None, cells, header: bool = False) -> Strip:
        selected = index is not None and index == self.cursor_row
        key = (-1 if index is None else index, selected)
        if key not in self._strips:
            base = self.rich_style
            if header:
                base += self.get_component_rich_style("token-table--header")
            elif selected:
                base += self.get_component_rich_style("token-table--cursor")
            segments = [Segment(GUTTER[0] if selected else GUTTER[1], base)]
            for position, (column, text, width) in enumerate(zip(self.columns, cells, self._widths)):
                text = self._cut(column, text, width) if not header else text
                if position:
                    segments.append(Segment(GAP, base))
                padding = " " * (width - cell_len(text))
                style = base
                if not header and column == "ok":
                    style = base + self.get_component_rich_style("token-table--right" if text == "✓" else "token-table--wrong")
                if column in RIGHT_ALIGNED:
                    segments += [Segment(padding, base), Segment(text, style)]
                else:
                    segments += [Segment(text, style), Segment(padding, base)]
            self._strips[key] = Strip(segments)
        return self._strips[key]

    def _cut(self, column: str, text: str, width: int) -> str:
        if column in LABEL_COLUMNS:
            return cut_label(text, width, self._ellipsis)
        if column in CONTEXT_COLUMNS:
            return cut_to_tail(text, width, self._ellipsis)
        return text

    # ----- the cursor -----------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._strips.pop((old, True), None)
        self._strips.pop((new, False), None)
        rows_in_view = max(self.size.height - 1, 1)
        if new < self.scroll_y:
            self.scroll_to(y=new, animate=False)
        elif new >= self.scroll_y + rows_in_view:
            self.scroll_to(y=new - rows_in_view + 1, animate=False)
        self.refresh()

    def _move_to(self, row: int) -> None:
        if self.cells:
            self.cursor_row = max(0, min(row, len(self.cells) - 1))

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor_row + direction * max(self.size.height - 2, 1))

    def action_move_to(self, row: int) -> None:
        self._move_to(row if row >= 0 else len(self.cells) - 1)

    def action_inspect(self) -> None:
        if 0 <= self.cursor_row < len(self.tokens):
            self.post_message(TokenChosen(self.tokens[self.cursor_row]))

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + int(self.scroll_y)
        if 0 <= row < len(self.cells):
            if row == self.cursor_row:
                self.action_inspect()
            else:
                self.cursor_row = row
