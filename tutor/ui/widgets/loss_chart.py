"""The loss chart: one or two series (the loss per step, or train and validation loss) drawn to the pane's size.

The chart is tutor.core.text_chart's; this widget draws it line by line, each series in its theme colour (its
marks already tell it apart, so it reads the same without colour), and works it out again only when its data or
its size change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from tutor.core.text_chart import Row, Series, Span, TextChart, line_chart
from tutor.ui.typed_app import shows_ascii_only


class ChartLines(Widget):
    """A TextChart drawn line by line: each span in the style of its series (`<prefix>--series-0`, `-1`) and of
    its role (`<prefix>--axis`, `--heading`, `--note`, `--chosen`), as the subclass's COMPONENT_CLASSES say."""

    COMPONENT_PREFIX = ""
    make_chart: Callable[[int, int], TextChart]  # the chart for a content area of width × height cells

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._chart: TextChart | None = None
        self._strips: dict[int, Strip] = {}
        self._styles: dict[tuple[int | None, str], Style] = {}

    def forget_chart(self) -> None:
        """The data changed: the chart is made again at the next frame."""
        self._chart = None
        self._strips.clear()

    def chart_for(self, width: int, height: int) -> TextChart:
        if self._chart is None or not self._chart_fits(self._chart, width, height):
            self._chart = self.make_chart(width, height)
            self._strips.clear()
        return self._chart

    def _chart_fits(self, chart: TextChart, width: int, height: int) -> bool:
        return chart.width == width and chart.height == height

    @property
    def chart(self) -> TextChart:
        """The chart as drawn at the widget's size, for tests and scripts."""
        return self.chart_for(*self.size)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        chart = self.chart
        if y >= chart.height:
            return Strip.blank(width, self.rich_style)
        if y not in self._strips:
            self._strips[y] = self._strip(chart.rows[y]).crop_extend(0, width, self.rich_style)
        return self._strips[y]

    def _strip(self, row: Row) -> Strip:
        return Strip([Segment(span.text, self._style(span)) for span in row])

    def _style(self, span: Span) -> Style:
        key = (span.series, span.role)
        if key not in self._styles:
            style = self.rich_style
            if span.series is not None:
                style += self.get_component_rich_style(f"{self.COMPONENT_PREFIX}--series-{span.series}", partial=True)
            if span.role != "text":
                style += self.get_component_rich_style(f"{self.COMPONENT_PREFIX}--{span.role}", partial=True)
            self._styles[key] = style
        return self._styles[key]


class LossChart(ChartLines):
    """The loss against the step or the tokens seen. Before any point it draws empty axes and says so."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    LossChart > .loss-chart--series-0 { color: $text-primary; }
    LossChart > .loss-chart--series-1 { color: $text-warning; text-style: bold; }
    LossChart > .loss-chart--axis { color: $text-muted; }
    LossChart > .loss-chart--heading { text-style: bold; }
    LossChart > .loss-chart--note { color: $text-muted; text-style: italic; }
    """
    COMPONENT_PREFIX = "loss-chart"
    COMPONENT_CLASSES = {
        "loss-chart--series-0", "loss-chart--series-1", "loss-chart--axis", "loss-chart--heading", "loss-chart--note",
    }

    def __init__(
        self,
        *,
        title: str = "loss",
        x_label: str = "step",
        empty_message: str = "no steps yet",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title, self.x_label, self.empty_message = title, x_label, empty_message
        self.series: tuple[Series, ...] = (Series(title, ()),)
        self.x_max: float | None = None

    def show(
        self,
        series: Sequence[Series],
        *,
        x_max: float | None = None,
        title: str | None = None,
        x_label: str | None = None,
        empty_message: str | None = None,
    ) -> None:
        """Draw these series (one or two; the first a line, the second points), the x axis reaching at least
        `x_max`; `empty_message` while they have no point. Nothing is drawn again if nothing changed."""
        frozen = tuple(Series(line.name, tuple(line.points)) for line in series)
        if not 1 <= len(frozen) <= 2:
            raise ValueError(f"a loss chart draws one or two series, not {len(frozen)}")
        shown = (frozen, x_max, title or self.title, x_label or self.x_label, empty_message or self.empty_message)
        if shown == (self.series, self.x_max, self.title, self.x_label, self.empty_message):
            return
        self.series, self.x_max, self.title, self.x_label, self.empty_message = shown
        self.forget_chart()
        self.refresh()

    def make_chart(self, width: int, height: int) -> TextChart:
        return line_chart(
            self.series, width, height, title=self.title, x_label=self.x_label, ascii_only=shows_ascii_only(self),
            empty_message=self.empty_message, x_max=self.x_max,
        )
