"""The bug lab pane: switch deliberate mistakes on and see what each does to the loss."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import SelectionList, Static

from tutor.core.formatting import format_number, safe_to_draw
from tutor.core.report import BugResult, Report


class BugLabPane(Vertical):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.report: Report | None = None

    def compose(self):
        yield SelectionList[str](id="bug-list")
        with VerticalScroll(id="bug-details"):
            yield Static(id="bug-text")

    def show(self, report: Report | None, waiting: str) -> None:
        self.report = report
        bugs: dict[str, BugResult] = report.extras.get("bug_lab", {}) if report else {}
        selection = self.query_one("#bug-list", SelectionList)
        if bugs and selection.option_count != len(bugs):
            chosen = set(selection.selected)
            selection.clear_options()
            selection.add_options([(result.title, key, key in chosen) for key, result in bugs.items()])
        self._show_state(waiting)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        self._show_state("")

    def on_selection_list_selection_highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        event.stop()
        self._show_state("")

    def _show_state(self, waiting: str) -> None:
        target = self.query_one("#bug-text", Static)
        if self.report is None:
            target.update(Text(waiting, style="italic"))
            return
        bugs: dict[str, BugResult] = self.report.extras.get("bug_lab", {})
        selection = self.query_one("#bug-list", SelectionList)
        enabled = [bugs[key] for key in selection.selected if key in bugs]
        text = Text()
        text.append(f"correct loss: {format_number(self.report.loss_pytorch)}\n", style="bold")
        if not enabled:
            text.append("No mistake switched on. Choose one with ↑ ↓ and press space to switch it on.\n", style="italic")
        for result in enabled:
            text.append(f"\n✗ {result.title}\n", style="bold")
            text.append(f"buggy:   {result.code}\n")
            text.append(f"correct: {result.correct_code}\n")
            if result.error:
                text.append(f"PyTorch raised: {safe_to_draw(result.error)}\n", style="bold")
            if result.loss is not None:
                text.append(f"loss with the mistake: {format_number(result.loss)}   correct: {format_number(result.correct_loss)}\n", style="bold")
            for name, value in result.details.items():
                text.append(f"  {name}: {value}\n")
            text.append(result.explanation + "\n")
        target.update(text)
