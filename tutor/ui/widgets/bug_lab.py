"""The bug lab pane: switch deliberate mistakes on and see what each does to the loss."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList, Static
from textual.widgets.option_list import OptionDoesNotExist

from tutor.core.formatting import format_number, safe_to_draw
from tutor.core.report import BugResult, Report


class MistakeList(SelectionList[str]):
    """A SelectionList whose box is empty while a mistake is off: Textual draws its X (Checkbox.BUTTON_INNER)
    in both states and tells them apart by colour alone, which NO_COLOR takes away."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        segments = list(line)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return line
        if len(segments) < 3 or segments[1].text != Checkbox.BUTTON_INNER or selection.value in self.selected:
            return line
        segments[1] = Segment(" " * len(Checkbox.BUTTON_INNER), segments[1].style)
        return Strip(segments, line.cell_length)


class BugLabPane(Vertical):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.report: Report | None = None

    def compose(self):
        yield MistakeList(id="bug-list")
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
        if selection.option_count and selection.highlighted is None:
            selection.highlighted = 0  # so that space switches the first mistake at once
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
            # What the mistake does first, then the code: a short pane shows the result without scrolling.
            text.append(f"\n✗ {result.title}\n", style="bold")
            if result.error:
                text.append(f"PyTorch raised: {safe_to_draw(result.error)}\n", style="bold")
            if result.loss is not None:
                text.append(f"loss with the mistake: {format_number(result.loss)}   correct: {format_number(result.correct_loss)}\n", style="bold")
            text.append(f"buggy:   {result.code}\n")
            text.append(f"correct: {result.correct_code}\n")
            for name, value in result.details.items():
                text.append(f"  {name}: {value}\n")
            text.append(result.explanation + "\n")
        target.update(text)
