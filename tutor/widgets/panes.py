"""The tabbed panes beside the explanation: code, tensors, tokens, heatmap and bug lab."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import TabbedContent, TabPane

from tutor.lessons import Lesson
from tutor.session import Session
from tutor.widgets.bug_lab import BugLabPane
from tutor.widgets.code_pane import CodePane
from tutor.widgets.heatmap import HeatmapPane
from tutor.widgets.tensor_pane import TensorPane
from tutor.widgets.token_table import TokenTable

TABS = {"code": "Code", "tensors": "Tensors", "tokens": "Tokens", "heatmap": "Heatmap", "bug_lab": "Bug lab"}
PANE_WIDGETS = {
    "code": lambda: CodePane(id="code-pane"),
    "tensors": lambda: TensorPane(id="tensor-pane"),
    "tokens": lambda: TokenTable(id="token-table"),
    "heatmap": lambda: HeatmapPane(id="heatmap-pane"),
    "bug_lab": lambda: BugLabPane(id="bug-lab-pane"),
}


class LessonPanes(TabbedContent):
    """The code, tensor, token, heatmap and bug-lab panes, as tabs; `z` zooms them to the whole screen."""

    ALLOW_MAXIMIZE = True


class PaneArea(Container):
    """Holds the tabs. It is mounted just after the first frame (see `Lazy`), so that frame is quick."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._drawn: dict[str, tuple] = {}  # tab id → (report, theme, inputs) it was last drawn with

    def compose(self) -> ComposeResult:
        with LessonPanes(id="panes"):
            for pane_id, title in TABS.items():
                with TabPane(title, id=f"tab-{pane_id}"):
                    yield PANE_WIDGETS[pane_id]()

    def configure(self, lesson: Lesson) -> None:
        """Show only the tabs this lesson names; hide the whole area if it names none."""
        tabs = self.query_one(LessonPanes)
        wanted = [pane for pane in lesson.panes if pane in TABS]
        for pane_id in TABS:
            if pane_id in wanted:
                tabs.show_tab(f"tab-{pane_id}")
            else:
                tabs.hide_tab(f"tab-{pane_id}")
        self.display = bool(wanted)
        if wanted and tabs.active not in {f"tab-{pane}" for pane in wanted}:
            tabs.active = f"tab-{wanted[0]}"

    def show(self, lesson: Lesson, session: Session, waiting: str) -> None:
        """Draw the pane in view; the others are drawn when their tab is chosen. A pane whose inputs have
        not changed since it was last drawn is left alone: redrawing a 256-row table is not free."""
        tabs = self.query_one(LessonPanes)
        active, report = tabs.active, session.report
        tabs.border_title = f"batch row {session.row} of {report.batch_size - 1}" if report else None
        inputs = {
            "tab-code": (lesson.code,),
            "tab-tensors": (lesson.tensors, waiting),
            "tab-tokens": (session.row, lesson.stage, waiting),
            "tab-heatmap": (waiting,),
            "tab-bug_lab": (waiting,),
        }.get(active, ())
        drawn = (report, self.app.theme, *inputs)
        last = self._drawn.get(active)
        if last is not None and last[0] is report and last[1:] == drawn[1:]:
            return
        self._drawn[active] = drawn
        if active == "tab-code":
            self.query_one(CodePane).show(lesson.code, self.app.current_theme.dark)
        elif active == "tab-tensors":
            self.query_one(TensorPane).show(lesson.tensors, report, waiting)
        elif active == "tab-tokens":
            self.query_one(TokenTable).show(report, session.row, lesson.stage, waiting)
        elif active == "tab-heatmap":
            self.query_one(HeatmapPane).show(report, waiting)
        elif active == "tab-bug_lab":
            self.query_one(BugLabPane).show(report, waiting)
