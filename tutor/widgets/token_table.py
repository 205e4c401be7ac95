"""The per-token table: for every position of one batch row, what the model saw, predicted and should have."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from tutor.formatting import format_number, visible
from tutor.report import Report, TokenRow

CONTEXT_WIDTH = 16

# Which columns a lesson's stage shows: predictions appear only once softmax has been explained.
STAGE_COLUMNS = {
    "tokens": ("pos", "input", "target"),
    "forward": ("pos", "input", "target"),
    "probabilities": ("pos", "context", "predicted", "target", "ok"),
}
ALL_COLUMNS = ("pos", "context", "predicted", "target", "p(target)", "log p", "ok")
HEADINGS = {"pos": "pos", "input": "input token [id]", "target": "target [id]", "context": "context ⇒",
            "predicted": "predicted [id]", "p(target)": "p(target)", "log p": "log p", "ok": "✓/✗"}


def token_label(text: str, token_id: int) -> str:
    return f"{visible(text)} [{token_id}]"


def context_tail(context: str) -> str:
    shown = visible(context)
    return shown if len(shown) <= CONTEXT_WIDTH else "…" + shown[-(CONTEXT_WIDTH - 1) :]


def cell(column: str, token: TokenRow, colours: dict[str, str]) -> Text:
    if column == "pos":
        return Text(str(token.position), justify="right")
    if column == "input":
        return Text(token_label(token.input_token, token.input_id))
    if column == "target":
        return Text(token_label(token.target_token, token.target_id))
    if column == "context":
        return Text(context_tail(token.context))
    if column == "predicted":
        return Text(token_label(token.predicted_token, token.predicted_id))
    if column == "p(target)":
        return Text(format_number(token.target_prob, 6), justify="right")
    if column == "log p":
        return Text(format_number(token.target_log_prob), justify="right")
    if token.correct:
        return Text("✓", style=f"bold {colours['text-success']}")
    return Text("✗", style=f"bold {colours['text-error']}")


@dataclass
class TokenChosen(Message):
    """The learner pressed enter on a position: inspect it."""

    token: TokenRow


class TokenTable(DataTable):
    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.tokens: list[TokenRow] = []
        self._shape: tuple = ()

    def show(self, report: Report | None, row: int, stage: str, waiting: str) -> None:
        columns = STAGE_COLUMNS.get(stage, ALL_COLUMNS)
        cursor = self.cursor_row
        self.clear(columns=True)
        if report is None:
            self.add_column(Text(waiting))
            self.tokens = []
            return
        for column in columns:
            self.add_column(Text(HEADINGS[column]), key=column)
        self.tokens = report.row_tokens(row)
        colours = self.app.get_css_variables()
        for token in self.tokens:
            self.add_row(*(cell(column, token, colours) for column in columns), key=str(token.position))
        shape = (report.settings.get("context_length"), row, stage)
        if shape == self._shape and 0 <= cursor < len(self.tokens):
            self.move_cursor(row=cursor, animate=False)
        self._shape = shape

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.tokens):
            self.post_message(TokenChosen(self.tokens[event.cursor_row]))
