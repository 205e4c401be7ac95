"""The tabbed panes beside the explanation: code, tensors, tokens, heatmap and bug lab."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.widget import MountError
from textual.widgets import Tab, TabbedContent, TabPane, Tabs

from tutor.core.counting import of_total
from tutor.core.lessons import Lesson
from tutor.core.report import Report
from tutor.core.session import Session
from tutor.ui.widgets.bug_lab import BugLabPane
from tutor.ui.widgets.code_pane import CodePane
from tutor.ui.widgets.generate_pane import GeneratePane
from tutor.ui.widgets.heatmap import HeatmapPane
from tutor.ui.widgets.overfit_pane import OverfitPane
from tutor.ui.widgets.tensor_pane import TensorPane
from tutor.ui.widgets.token_table import TokenTable
from tutor.ui.widgets.train_text_pane import TrainTextPane

TABS = {"code": "Code", "tensors": "Tensors", "tokens": "Tokens", "heatmap": "Heatmap", "bug_lab": "Bug lab",
        "overfit": "Overfit", "train_text": "Train", "generate": "Generate"}
LAB_TABS = {"tab-overfit", "tab-train_text", "tab-generate"}  # the labs work on the whole batch, or on none
PANE_WIDGETS = {
    "code": lambda: CodePane(id="code-pane"),
    "tensors": lambda: TensorPane(id="tensor-pane"),
    "tokens": lambda: TokenTable(id="token-table"),
    "heatmap": lambda: HeatmapPane(id="heatmap-pane"),
    "bug_lab": lambda: BugLabPane(id="bug-lab-pane"),
    "overfit": lambda: OverfitPane(id="overfit-pane"),
    "train_text": lambda: TrainTextPane(id="train-text-pane"),
    "generate": lambda: GeneratePane(id="generate-pane"),
}


class LessonPanes(TabbedContent):
    """The code, tensor, token, heatmap and bug-lab panes, as tabs; `z` zooms them to the whole screen.
    The tab bar never takes the focus (← → change lesson, not tab): `t` or a click changes tab, and the
    focus goes into the tab's pane, so that its keys (enter on a token, space on a mistake) work at once."""

    ALLOW_MAXIMIZE = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.focus_pane_on_switch = False  # the learner chose a tab: its pane takes the focus once it shows

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False

    def on_click(self, event: events.Click) -> None:
        if isinstance(event.widget, Tab):  # a click on a tab; the tab bar activates it just after this
            self.focus_pane_on_switch = True


class PaneArea(Container):
    """Holds the tabs. The lesson screen mounts it just after the first frame; the tabs start empty and
    their panes are mounted one per frame after that, the one in view first, so that no single step
    keeps the interface from answering keys for long."""

    class PaneMounted(Message):
        """A pane has just been mounted into its tab: if it is the one in view, draw it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._drawn: dict[str, tuple] = {}  # tab id → (theme, arguments) it was last drawn with

    def compose(self) -> ComposeResult:
        with LessonPanes(id="panes"):
            for pane_id, title in TABS.items():
                yield TabPane(title, id=f"tab-{pane_id}")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_next_pane)

    async def _mount_next_pane(self) -> None:
        active = self.query_one(LessonPanes).active
        empty = [pane_id for pane_id in TABS if not self.query_one(f"#tab-{pane_id}", TabPane).children]
        if not empty:
            return
        pane_id = next((pane_id for pane_id in empty if f"tab-{pane_id}" == active), empty[0])
        try:
            await self.query_one(f"#tab-{pane_id}", TabPane).mount(PANE_WIDGETS[pane_id]())
        except MountError:  # the app quit meanwhile
            return
        self.post_message(self.PaneMounted())
        self.call_after_refresh(self._mount_next_pane)

    def next_tab(self) -> None:
        """The next of this lesson's tabs (after the last, the first), with the focus in its pane."""
        tabs = self.query_one(LessonPanes)
        shown = [f"tab-{pane_id}" for pane_id in TABS if not tabs.get_tab(f"tab-{pane_id}").has_class("-hidden")]
        if len(shown) < 2 or tabs.active not in shown:
            self._focus_pane_in_view()
            return
        tabs.focus_pane_on_switch = True
        tabs.active = shown[(shown.index(tabs.active) + 1) % len(shown)]

    def focus_the_tab_in_view_if_wanted(self) -> None:
        """After a tab switch: the focus goes into its pane if the learner chose the tab, or if it was in the
        panes already (in a tab that may now be hidden)."""
        tabs = self.query_one(LessonPanes)
        if tabs.focus_pane_on_switch or tabs.has_focus_within:
            tabs.focus_pane_on_switch = False
            self._focus_pane_in_view()

    def _focus_pane_in_view(self) -> None:
        tabs = self.query_one(LessonPanes)
        pane = self._pane_in(tabs.active) if tabs.active else None
        if pane is None:
            return
        focusable = pane if pane.focusable else next((child for child in pane.query("*") if child.focusable), None)
        if focusable is not None:
            focusable.focus()

    def scroll_panes_home(self) -> None:
        """Each pane back at its top, for another lesson."""
        for tab_id in (f"tab-{pane_id}" for pane_id in TABS):
            pane = self._pane_in(tab_id)
            if pane is not None and not isinstance(pane, TokenTable):  # the table keeps its cursor in view
                for scrolled in (pane, *pane.query("VerticalScroll")):
                    scrolled.scroll_home(animate=False, immediate=True)

    def _pane_in(self, tab_id: str):
        """The pane widget of a tab, or None while it is not mounted yet."""
        children = self.query_one(f"#{tab_id}", TabPane).children
        return children[0] if children and children[0].is_mounted else None

    def configure(self, lesson: Lesson, *, opening: bool) -> None:
        """Show only the tabs this lesson names (the lesson screen hides the area if it names none); `opening`: the
        lesson has just been opened, not read again from its file."""
        tabs = self.query_one(LessonPanes)
        wanted = [pane for pane in lesson.panes if pane in TABS]
        # An opened lesson shows the first pane it names (its own numbers); one read again keeps its tab.
        # Its tabs are shown, the tab chosen, and only then the others hidden: showing or hiding changes the
        # active tab too (through messages that would undo a choice made before them).
        for pane_id in wanted:
            tabs.show_tab(f"tab-{pane_id}")
        if wanted and (opening or tabs.active not in {f"tab-{pane}" for pane in wanted}):
            tabs.active = f"tab-{wanted[0]}"
        for pane_id in TABS:
            if pane_id not in wanted:
                tabs.hide_tab(f"tab-{pane_id}")

    def show(self, lesson: Lesson, session: Session, waiting: str) -> None:
        """Draw the pane in view; the others are drawn when their tab is chosen. A pane whose inputs have
        not changed since it was last drawn is left alone: redrawing a 256-row table is not free."""
        tabs = self.query_one(LessonPanes)
        report = session.report
        shows_a_row = report is not None and tabs.active not in LAB_TABS
        tabs.border_title = f"batch row {of_total(session.row, report.batch_size)}" if shows_a_row else None
        pane = self._pane_in(tabs.active) if tabs.active else None
        if pane is None:  # mounted in a frame or two; it asks to be drawn then (PaneMounted)
            return
        arguments = {
            CodePane: (lesson.code, report, self.app.current_theme.dark),
            TensorPane: (lesson.tensors, report, waiting),
            TokenTable: (report, session.row, lesson.stage, waiting),
            HeatmapPane: (report, waiting),
            BugLabPane: (report, waiting),
            OverfitPane: (report,),  # its steps it draws from app.labs, as they change
            TrainTextPane: (),
            GeneratePane: (session.text.text,),  # the rest it draws from app.labs, as they change
        }[type(pane)]
        drawn = (self.app.theme, *arguments)
        if not _same(self._drawn.get(tabs.active), drawn):
            self._drawn[tabs.active] = drawn
            pane.show(*arguments)


def _same(last: tuple | None, now: tuple) -> bool:
    """Equal inputs; a report is the same only if it is the same object (comparing two is deep and slow)."""
    return last is not None and len(last) == len(now) and all(
        a is b or (not isinstance(a, Report) and a == b) for a, b in zip(last, now)
    )
