"""One generation step's candidates: each token's probability before (the raw softmax) and after top-k and
temperature, as bars with percentages, and the token drawn marked with ▶ ◀ and a word (not by colour alone).

The rows are tutor.core.text_chart's; the widget is as tall as they are and works them out again only when the
candidates or its width change.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.geometry import Size

from tutor.core.text_chart import Candidate, TextChart, candidate_bars
from tutor.ui.typed_app import shows_ascii_only
from tutor.ui.widgets.loss_chart import ChartLines


class CandidateBars(ChartLines):
    DEFAULT_CSS = """
    CandidateBars { height: auto; }
    CandidateBars > .candidate-bars--series-0 { color: $text-primary; }
    CandidateBars > .candidate-bars--series-1 { color: $text-warning; }
    CandidateBars > .candidate-bars--heading { text-style: bold; }
    CandidateBars > .candidate-bars--chosen { text-style: bold; }
    CandidateBars > .candidate-bars--note { color: $text-muted; text-style: italic; }
    """
    COMPONENT_PREFIX = "candidate-bars"
    COMPONENT_CLASSES = {
        "candidate-bars--series-0", "candidate-bars--series-1", "candidate-bars--heading",
        "candidate-bars--chosen", "candidate-bars--note",
    }

    def __init__(
        self,
        *,
        before_title: str = "before: softmax",
        after_title: str = "after: top-k, temperature",
        chosen_text: str = "chosen",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.before_title, self.after_title, self.chosen_text = before_title, after_title, chosen_text
        self.candidates: tuple[Candidate, ...] = ()

    def show(
        self, candidates: Sequence[Candidate], *, before_title: str | None = None, after_title: str | None = None
    ) -> None:
        """Draw these candidates (in the order given). Nothing is drawn again if nothing changed."""
        shown = (tuple(candidates), before_title or self.before_title, after_title or self.after_title)
        if shown == (self.candidates, self.before_title, self.after_title):
            return
        rows_before = len(self.candidates)
        self.candidates, self.before_title, self.after_title = shown
        self.forget_chart()
        self.refresh(layout=len(self.candidates) != rows_before)

    def make_chart(self, width: int, height: int) -> TextChart:
        return candidate_bars(
            self.candidates, width, ascii_only=shows_ascii_only(self), before_title=self.before_title,
            after_title=self.after_title, chosen_text=self.chosen_text,
        )

    def _chart_fits(self, chart: TextChart, width: int, height: int) -> bool:
        return chart.width == width  # as many rows as candidates, whatever the height

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.chart_for(width, 0).height
