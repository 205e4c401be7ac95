"""The loss chart and the candidates' bars as widgets: they draw what they are given to their own size, in the
theme's colours, readable under NO_COLOR and in ASCII, and work the chart out again only when its data or its
size change. The pictures are in __snapshots__/test_chart_widgets/."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.geometry import Region

from tutor.core.text_chart import Candidate, Series
from tutor.ui.widgets.candidate_bars import CandidateBars
from tutor.ui.widgets.loss_chart import LossChart


def falling(start: float, floor: float, ratio: float, steps: range) -> list[tuple[float, float]]:
    """A loss falling from `start` towards `floor` by `ratio` a step: exact in binary, the same on every CPU."""
    points, gap = [], start - floor
    for step in steps:
        points.append((float(step), floor + gap))
        gap *= ratio
    return points


TRAIN = Series("train", [(tokens * 1024, loss) for tokens, loss in falling(10.98, 0.5, 0.9375, range(0, 61))])
VALIDATION = Series(
    "validation", [(tokens * 1024, loss) for tokens, loss in falling(10.98, 6.25, 0.875, range(0, 61, 5))]
)
OVERFIT = Series("loss", falling(11.04, 0.0, 0.5, range(1, 26)))
CANDIDATES = [
    Candidate(" the", 0.3125, 0.5, chosen=True, token_id=262),
    Candidate(",", 0.1875, 0.25, token_id=11),
    Candidate("\n", 0.125, 0.125, token_id=198),
    Candidate(" a", 0.0625, 0.125, token_id=257),
    Candidate(" his", 0.03125, None, token_id=465),
    Candidate("\x1b", 0.0001, None, token_id=27),
]
BRAILLE = {chr(code) for code in range(0x2801, 0x2900)}


class Charts(App):
    """A loss chart over one step's candidates, as a lesson's pane would hold them."""

    CSS_PATH = "../tutor/ui/tutor.tcss"
    CSS = "#charts { height: 1fr; }"

    def __init__(self, ascii_only: bool = False, bars: bool = True) -> None:
        super().__init__()
        self.ascii_only = ascii_only  # as TutorApp.ascii_only, which the widgets read
        self.bars = bars

    def compose(self) -> ComposeResult:
        with Vertical(id="charts"):
            yield LossChart(x_label="tokens seen")
            if self.bars:
                yield CandidateBars()


def drawn_lines(widget) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


def filtered_segments(widget):
    """The widget's segments as the terminal gets them, through the app's filters (NO_COLOR's among them)."""
    return [segment for strip in widget.render_lines(Region(0, 0, *widget.outer_size)) for segment in strip]


async def test_the_chart_is_drawn_again_at_its_new_size():
    app = Charts(bars=False)
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.show([TRAIN, VALIDATION])
        await pilot.pause()
        lines = drawn_lines(chart)
        assert (len(lines), {len(line) for line in lines}) == (24, {80})
        assert lines == chart.chart.lines()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        lines = drawn_lines(chart)
        assert (len(lines), {len(line) for line in lines}) == (30, {100})
        assert lines == chart.chart.lines()
        assert lines[-1].rstrip().endswith("tokens seen")
        await pilot.resize_terminal(30, 5)  # below the smallest chart: one line sums it up
        await pilot.pause()
        assert drawn_lines(chart)[0].startswith("loss: ⠒⠒ train 11 → 0.718 at ")


async def test_the_chart_is_worked_out_again_only_when_its_data_or_size_change():
    app = Charts(bars=False)
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(LossChart)
        widget.show([OVERFIT], x_max=25)
        await pilot.pause()
        made = widget.chart
        widget.show([Series("loss", list(OVERFIT.points))], x_max=25)  # the same, in a new list
        await pilot.pause()
        assert widget.chart is made
        widget.show([Series("loss", [*OVERFIT.points, (26.0, 0.001)])], x_max=25)
        await pilot.pause()
        assert widget.chart is not made
        assert "26" not in made.lines()[-1] and widget.chart.lines() == drawn_lines(widget)


async def test_before_any_step_the_axes_are_drawn_and_say_so():
    app = Charts(bars=False)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        lines = drawn_lines(app.query_one(LossChart))
        assert any(line.strip("│ ") == "no steps yet" for line in lines)
        assert lines[-1].strip() == "tokens seen"


async def test_the_series_are_drawn_in_the_themes_colours():
    app = Charts(bars=False)
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(LossChart)
        widget.show([TRAIN, VALIDATION])
        await pilot.pause()
        variables = app.get_css_variables()
        segments = [segment for y in range(widget.size.height) for segment in widget.render_line(y)]
        line = {segment.style.color.triplet.hex for segment in segments if set(segment.text) & BRAILLE}
        points = {segment.style.color.triplet.hex for segment in segments if "•" in segment.text}
        assert line == {variables["text-primary"].lower()}
        assert points == {variables["text-warning"].lower()}
        dark = line
        app.theme = "textual-light"
        await pilot.pause()
        segments = [segment for y in range(widget.size.height) for segment in widget.render_line(y)]
        assert {segment.style.color.triplet.hex for segment in segments if set(segment.text) & BRAILLE} != dark


async def test_under_no_color_the_series_differ_by_their_marks(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = Charts(bars=False)
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(LossChart)
        widget.show([TRAIN, VALIDATION])
        await pilot.pause()
        assert app.no_color
        segments = filtered_segments(widget)
        line_marks = {char for segment in segments for char in segment.text if char in BRAILLE}
        point_marks = {char for segment in segments for char in segment.text if char == "•"}
        assert line_marks and point_marks and not line_marks & point_marks
        colours = {segment.style.color.triplet for segment in segments if segment.style and segment.style.color}
        assert all(colour.red == colour.green == colour.blue for colour in colours)  # grey: colour tells nothing
        assert drawn_lines(widget)[0].rstrip().endswith("⠒⠒ train  • validation")  # the legend does


async def test_in_ascii_mode_everything_drawn_is_ascii():
    app = Charts(ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(LossChart).show([TRAIN, VALIDATION])
        app.query_one(CandidateBars).show(CANDIDATES)
        await pilot.pause()
        chart_lines, bar_lines = drawn_lines(app.query_one(LossChart)), drawn_lines(app.query_one(CandidateBars))
        assert "".join(chart_lines + bar_lines).isascii()
        assert chart_lines[0].rstrip().endswith("* train  o validation")
        assert bar_lines[1].startswith("> _the [262]") and "<- chosen" in bar_lines[1]


async def test_the_bars_are_as_tall_as_their_candidates_and_follow_the_width():
    app = Charts()
    async with app.run_test(size=(80, 24)) as pilot:
        bars = app.query_one(CandidateBars)
        await pilot.pause()
        assert drawn_lines(bars) == ["no token drawn yet".ljust(80)]
        bars.show(CANDIDATES)
        await pilot.pause()
        lines = drawn_lines(bars)
        assert bars.size.height == len(CANDIDATES) + 1 == len(lines)
        assert lines[1].startswith("▶ ·the [262]") and lines[1].rstrip().endswith("◀ chosen")
        assert lines[3].startswith("  ↵ [198]") and lines[6].startswith("  \\x1b [27]")
        assert app.query_one(LossChart).size.height == 24 - len(lines)  # the chart takes the rest
        bars.show(CANDIDATES[:2])
        await pilot.pause()
        assert bars.size.height == 3
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        assert {len(line) for line in drawn_lines(bars)} == {60}


# ----- pictures -----------------------------------------------------------------------------------


def test_two_curve_chart_snapshot(snap_compare):
    """Train and validation loss against tokens seen at 80x24: Braille line and • points, the legend, both axes."""

    async def show(pilot) -> None:
        pilot.app.query_one(LossChart).show([TRAIN, VALIDATION])
        await pilot.pause()

    assert snap_compare(Charts(bars=False), terminal_size=(80, 24), run_before=show)


def test_candidate_bars_snapshot(snap_compare):
    """One generation step: the overfit chart above, the candidates before and after top-k and temperature."""

    async def show(pilot) -> None:
        pilot.app.query_one(LossChart).show([OVERFIT], x_max=25, x_label="step")
        pilot.app.query_one(CandidateBars).show(CANDIDATES, after_title="after: top-k 4, temperature 0.8")
        await pilot.pause()

    assert snap_compare(Charts(), terminal_size=(80, 24), run_before=show)


def test_ascii_chart_snapshot(snap_compare):
    """The same two curves in an ASCII locale: * and o, axes of + - |."""

    async def show(pilot) -> None:
        pilot.app.query_one(LossChart).show([TRAIN, VALIDATION])
        await pilot.pause()

    assert snap_compare(Charts(ascii_only=True, bars=False), terminal_size=(80, 24), run_before=show)


@pytest.mark.parametrize("count", [0, 3])
def test_more_than_two_series_is_refused(count):
    with pytest.raises(ValueError, match="one or two series"):
        LossChart().show([TRAIN] * count)
