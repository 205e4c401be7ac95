"""Charts drawn with text: the loss against the step (one or two series, labelled axes, a legend) and one
generation step's candidates as bars; what they show, that they fit their size exactly, and that they read
without colour and in ASCII."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tutor.core.text_chart import (
    ASCII_GLYPHS,
    MIN_HEIGHT,
    MIN_WIDTH,
    PERCENT_WIDTH,
    UNICODE_GLYPHS,
    Candidate,
    Series,
    candidate_bars,
    cell_width,
    compact_number,
    line_chart,
    nice_ticks,
    percent,
)

TRAIN = Series("train", [(step, 11 * math.exp(-step / 20) + 0.5) for step in range(0, 101)])
VALIDATION = Series("validation", [(step, 5.5 + 5.5 * math.exp(-step / 30)) for step in range(0, 101, 10)])
BRAILLE = {chr(code) for code in range(0x2801, 0x2900)}


def plot_rows(chart) -> list[str]:
    """The rows between the header and the x axis: those with the y axis."""
    return [line for line in chart.lines() if ("│" in line or "┤" in line or "|" in line) and "└" not in line]


def y_labels(chart) -> dict[int, float]:
    """The numbers written left of the y axis, by the row they are on."""
    labels = {}
    for index, line in enumerate(chart.lines()):
        head = line.split("┤")[0] if "┤" in line else None
        if head is not None and head.strip():
            labels[index] = parse_compact(head.strip())
    return labels


def parse_compact(text: str) -> float:
    suffixes = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    if text[-1] in suffixes:
        return float(text[:-1]) * suffixes[text[-1]]
    return float(text)


# ----- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (11.04, "11"), (5.5, "5.5"), (0.105, "0.105"), (0.004, "0.004"), (5120, "5.12k"),
     (1_200_000, "1.2M"), (2.5e9, "2.5G"), (-3.25, "-3.25"), (1e-5, "1e-5"), (3e20, "3e20"), (999.9, "1k")],
)
def test_numbers_are_written_compactly(value, shown):
    assert compact_number(value) == shown


def test_ticks_are_round_values_within_the_range():
    assert nice_ticks(0, 11.04, 3) == [0, 5, 10]
    assert nice_ticks(0, 25, 5, integers=True) == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(1, 3, 10, integers=True) == [1, 2, 3]  # never half a step
    assert nice_ticks(-1e308, 1e308, 4) == [-1e308, 1e308]  # a span too wide for a float: the ends


# ----- the line chart -----------------------------------------------------------------------------


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize(("width", "height"), [(80, 24), (80, 20), (40, 10), (MIN_WIDTH, MIN_HEIGHT), (200, 60)])
def test_a_chart_fills_exactly_its_width_and_height(width, height, ascii_only):
    chart = line_chart([TRAIN, VALIDATION], width, height, ascii_only=ascii_only)
    assert chart.height == height == len(chart.rows)
    assert [cell_len(line) for line in chart.lines()] == [width] * height


def test_the_axes_are_labelled():
    chart = line_chart([TRAIN, VALIDATION], 80, 20, title="loss", x_label="tokens seen")
    lines = chart.lines()
    assert lines[0].startswith("loss")  # the y axis's name, top left
    assert lines[-1].rstrip().endswith("tokens seen")  # the x axis's name, bottom right
    assert lines[-2].lstrip().startswith("└") and "┬" in lines[-2]
    assert lines[-1].split()[:3] == ["0", "10", "20"]  # the x axis's values


def test_y_values_are_on_the_rows_that_hold_them():
    chart = line_chart([Series("loss", [(step, 10 - step / 10) for step in range(101)])], 60, 20, title="loss")
    labels = y_labels(chart)
    assert len(labels) >= 3
    first_plot_row = 1
    plot_height = len(plot_rows(chart))
    low, high = 0.0, 10.0  # from zero to the highest loss
    for row, value in labels.items():
        # the values a row's dots stand for: each row is 4 dots of (high - low) / (4 × rows - 1)
        dot = (high - value) / (high - low) * (4 * plot_height - 1)
        assert int(round(dot)) // 4 == row - first_plot_row
    assert labels[max(labels)] == 0  # the bottom row: zero
    assert sorted(labels.values(), reverse=True) == [labels[row] for row in sorted(labels)]  # top down, falling


def test_x_values_stand_under_their_points():
    points = [(step, 1.0) for step in range(0, 51)]
    chart = line_chart([Series("loss", points)], 60, 10, ascii_only=True)
    axis, values = chart.lines()[-2:]
    for tick in (0, 10, 20, 30, 40):
        column = values.index(f" {tick} " if tick else "0") + (1 if tick else 0)
        label_width = len(str(tick))
        assert axis[column + label_width // 2] == "+"  # the tick is at the label's middle
        plot_column = column + label_width // 2 - (axis.index("+") + 1)
        plot_width = len(axis) - axis.index("+") - 1
        assert plot_column == round(tick / 50 * (plot_width - 1))


def test_two_series_have_their_own_marks_and_a_legend():
    chart = line_chart([TRAIN, VALIDATION], 80, 20)
    header = chart.lines()[0]
    assert header.rstrip().endswith("⠒⠒ train  • validation")
    body = "".join(plot_rows(chart))
    assert BRAILLE & set(body)  # the train line in Braille
    assert body.count("•") >= len(VALIDATION.points) - 2  # a point per evaluation (one may sit on another's cell)
    marks = {span.series: span.text for row in chart.rows for span in row if span.series is not None}
    assert marks[0] != marks[1]
    for row in chart.rows[1:]:  # the marks carry their series, so the app colours them
        for span in row:
            if set(span.text) & BRAILLE:
                assert span.series == 0
            if "•" in span.text:
                assert span.series == 1


def test_in_ascii_the_chart_is_ascii_and_still_tells_the_series_apart():
    chart = line_chart([TRAIN, VALIDATION], 80, 20, ascii_only=True, title="loss — per step", x_label="step →")
    text = chart.text()
    assert text.isascii()
    assert chart.lines()[0].rstrip().endswith("* train  o validation")
    body = "".join(plot_rows(chart))
    assert "*" in body and "o" in body
    assert set(chart.lines()[-2].strip()) == {"+", "-"}
    assert "step ->" in chart.lines()[-1]


def test_one_series_has_no_legend():
    chart = line_chart([TRAIN], 60, 12, ascii_only=True)
    assert chart.lines()[0].strip() == "loss"
    assert "o" not in "".join(plot_rows(chart))


def test_no_points_yet_draws_empty_axes_and_says_so():
    chart = line_chart([Series("loss", [])], 40, 10)
    lines = chart.lines()
    assert any(line.strip("│ ") == "no steps yet" for line in lines)
    assert lines[-2].startswith("└─")
    assert lines[-1].strip() == "step"
    assert not BRAILLE & set(chart.text())


def test_one_point_is_drawn_where_it_is():
    chart = line_chart([Series("loss", [(1, 11.0)])], 40, 10)
    body = plot_rows(chart)
    marked = [(row, line) for row, line in enumerate(body) if set(line) & BRAILLE]
    assert len(marked) == 1 and marked[0][0] == 0  # the highest value: the top row
    assert marked[0][1][-1] in BRAILLE  # the x axis from 0 to 1: the right end
    assert sorted(y_labels(chart).values()) == [0, 10]


def test_many_points_to_a_column_are_drawn_from_their_lowest_to_their_highest():
    zigzag = Series("loss", [(step, 10.0 * (step % 2)) for step in range(2000)])
    for ascii_only in (False, True):
        body = plot_rows(line_chart([zigzag], 40, 10, ascii_only=ascii_only))
        for line in body:  # every row is crossed in every column
            axis = next(index for index, char in enumerate(line) if char in "┤│+|")
            assert " " not in line[axis + 1:]


def test_a_constant_series_is_a_flat_line():
    chart = line_chart([Series("loss", [(step, 3.0) for step in range(1, 30)])], 40, 10)
    body = plot_rows(chart)
    marked = [row for row, line in enumerate(body) if set(line) & BRAILLE]
    assert len(marked) == 1
    # not from zero: around the value, which is then the middle
    flat = line_chart([Series("loss", [(step, 3.0) for step in range(1, 30)])], 40, 10, y_from_zero=False)
    assert len([line for line in plot_rows(flat) if set(line) & BRAILLE]) == 1


def test_points_that_are_not_numbers_are_left_out_and_counted():
    points = [(1, 5.0), (2, float("nan")), (3, float("inf")), (4, 2.0), (float("nan"), 1.0)]
    chart = line_chart([Series("loss", points)], 60, 12)
    assert chart.notes == ("3 points left out: NaN or inf",)
    assert chart.lines()[1].strip() == "3 points left out: NaN or inf"
    assert not any(char.isalpha() for char in "".join(plot_rows(chart)))
    only_nan = line_chart([Series("loss", [(1, float("nan"))])], 60, 12)
    assert "no steps yet" in only_nan.text() and only_nan.notes == ("1 point left out: NaN or inf",)


def test_two_series_notes_say_whose_points_were_left_out():
    chart = line_chart([TRAIN, Series("validation", [(10, float("nan"))])], 80, 20)
    assert chart.notes == ("validation: 1 point left out: NaN or inf",)


def test_very_large_ranges_are_labelled_compactly():
    train = Series("train", [(0, 1e-3), (5_000_000, 1e12)])
    chart = line_chart([train], 60, 12, x_label="tokens seen")
    assert "1T" in chart.text()
    assert "1M" in chart.lines()[-1] and "tokens seen" in chart.lines()[-1]
    huge = line_chart([Series("loss", [(0, -1e308), (1, 1e308)])], 40, 8)
    assert "1e308" in huge.text() and "-1e308" in huge.text()


def test_the_x_axis_reaches_the_steps_planned():
    chart = line_chart([Series("loss", [(1, 11.0), (2, 8.0)])], 60, 10, x_max=25)
    assert chart.lines()[-1].split() == ["0", "5", "10", "15", "20", "step"]
    drawn = [column for line in plot_rows(chart) for column, char in enumerate(line) if char in BRAILLE]
    assert max(drawn) < 60 * 2 / 25 + 4  # steps 1 and 2 of 25: the left end


@pytest.mark.parametrize(("width", "height"), [(MIN_WIDTH - 1, 20), (80, MIN_HEIGHT - 1), (10, 1)])
def test_below_the_smallest_size_one_line_sums_it_up(width, height):
    chart = line_chart([TRAIN, VALIDATION], width, height)
    lines = chart.lines()
    assert len(lines) == height and all(cell_len(line) == width for line in lines)
    assert all(not line.strip() for line in lines[1:])
    wide = line_chart([TRAIN, VALIDATION], 200, 3)
    assert wide.lines()[0].rstrip() == (
        "loss: ⠒⠒ train 11.5 → 0.574 at step 100; • validation 11 → 5.7 at step 100"
    )
    assert line_chart([Series("loss", [])], 40, 2).lines()[0].rstrip() == "loss: no steps yet"


def test_more_than_two_series_is_refused():
    with pytest.raises(ValueError, match="one or two series"):
        line_chart([TRAIN, TRAIN, TRAIN], 80, 20)


finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False)
any_float = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(st.tuples(st.one_of(finite, any_float), st.one_of(finite, any_float)), max_size=30),
    second=st.lists(st.tuples(finite, finite), max_size=10),
    width=st.integers(0, 120),
    height=st.integers(0, 40),
    ascii_only=st.booleans(),
)
def test_any_points_at_any_size_fit_exactly(points, second, width, height, ascii_only):
    chart = line_chart([Series("train", points), Series("validation", second)], width, height, ascii_only=ascii_only)
    assert [cell_width(line) for line in chart.lines()] == [width] * height
    if ascii_only:
        assert chart.text().isascii()


# ----- the candidates' bars -----------------------------------------------------------------------

CANDIDATES = [
    Candidate(" the", 0.41, 0.63, chosen=True, token_id=262),
    Candidate("\n", 0.12, 0.20),
    Candidate(" a", 0.05, 0.17),
    Candidate("\x1b[31m", 0.0001, None),
    Candidate("猫", 0.0, None),
]


def bar_cells(text: str) -> float:
    """How long a bar is, in cells (eighths counted)."""
    eighths = {part: index for index, part in enumerate(UNICODE_GLYPHS.partial_bars)}
    return text.count("█") + sum(eighths.get(char, 0) for char in text if char != "█") / 8


def bars_of(chart, series: int) -> list[str]:
    return ["".join(span.text for span in row if span.series == series) for row in chart.rows[1:]]


@pytest.mark.parametrize("width", [80, 60, 120])
def test_bars_are_proportional_to_the_probabilities(width):
    chart = candidate_bars(CANDIDATES, width)
    before, after = bars_of(chart, 0), bars_of(chart, 1)
    full = bar_cells(after[0]) / 0.63  # the whole width stands for 100%
    for candidate, drawn in zip(CANDIDATES, before):
        assert bar_cells(drawn) == pytest.approx(candidate.before * full, abs=1 / 8)
    for candidate, drawn in zip(CANDIDATES, after):
        assert bar_cells(drawn) == pytest.approx((candidate.after or 0) * full, abs=1 / 8)
    assert [cell_len(line) for line in chart.lines()] == [width] * len(chart.rows)


def test_bars_show_percentages_and_mark_the_chosen_token():
    lines = candidate_bars(CANDIDATES, 80, after_title="after: top-k 3, T 0.8").lines()
    assert lines[0].split()[:2] == ["token", "before"] and "after: top-k 3, T 0.8" in lines[0]
    chosen = lines[1]
    assert chosen.startswith("▶ ·the [262]") and chosen.rstrip().endswith("◀ chosen")
    assert "41.0%" in chosen and "63.0%" in chosen
    assert lines[2].startswith("  ↵ ") and "12.0%" in lines[2] and "20.0%" in lines[2]
    assert "◀" not in "".join(lines[2:]) and "▶" not in "".join(lines[2:])
    assert lines[4].startswith("  \\x1b[31m") and "0.01%" in lines[4] and lines[4].rstrip().endswith("cut")
    assert "\x1b" not in "".join(lines)  # a control character is written out, never sent
    assert lines[5].startswith("  猫") and lines[5].split()[-2:] == ["0%", "cut"]


def test_bars_in_ascii():
    chart = candidate_bars(CANDIDATES, 80, ascii_only=True)
    text = chart.text()
    assert text.isascii()
    lines = chart.lines()
    assert lines[1].startswith("> _the [262]") and lines[1].rstrip().endswith("<- chosen")
    assert lines[2].startswith("  \\n ")
    whole = candidate_bars([Candidate("x", 1.0, 1.0), *CANDIDATES], 80, ascii_only=True)
    full = len(bars_of(whole, 0)[0])
    assert set(bars_of(whole, 0)[0]) == {ASCII_GLYPHS.full_bar} and full >= 10
    assert [len(drawn) for drawn in bars_of(whole, 0)[1:]] == [round(c.before * full) for c in CANDIDATES]
    assert [len(drawn) for drawn in bars_of(whole, 1)[1:]] == [round((c.after or 0) * full) for c in CANDIDATES]


def test_narrow_bars_keep_the_numbers():
    lines = candidate_bars(CANDIDATES, 40).lines()
    assert all(cell_len(line) == 40 for line in lines)
    assert "41.0%" in lines[1] and "63.0%" in lines[1] and "◀ chosen" in lines[1]
    assert "█" not in "".join(lines)


def test_no_candidates_says_so():
    assert candidate_bars([], 30).lines() == ["no token drawn yet".ljust(30)]


@settings(max_examples=150, deadline=None)
@given(
    candidates=st.lists(
        st.builds(
            Candidate,
            token=st.text(max_size=12),
            before=st.floats(allow_nan=True, allow_infinity=True),
            after=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
            chosen=st.booleans(),
            token_id=st.one_of(st.none(), st.integers(0, 50256)),
        ),
        max_size=6,
    ),
    width=st.integers(0, 120),
    ascii_only=st.booleans(),
)
def test_any_candidates_at_any_width_fit_exactly(candidates, width, ascii_only):
    # cells as the core counts them (East Asian width); Rich differs on a few rare characters (emoji skin tones,
    # spacing marks), and the widgets cut or pad each line to the width Rich counts
    chart = candidate_bars(candidates, width, ascii_only=ascii_only)
    assert [cell_width(line) for line in chart.lines()] == [width] * chart.height
    assert chart.height == (len(candidates) + 1 if candidates else 1)
    if ascii_only:
        assert chart.text().isascii()


@pytest.mark.parametrize(("probability", "shown"), [(0.63, "63.0%"), (0.0005, "0.1%"), (0.0004, "0.04%"),
                                                    (1.99e-5, "0.002%"), (1e-9, "1e-07%"), (0.0, "0%")])
def test_a_small_probability_keeps_its_size_in_six_cells(probability, shown):
    assert percent(probability) == shown and len(shown) <= PERCENT_WIDTH
