"""Charts drawn with text, for the app and for plain output: the loss against the step or the tokens seen (one
or two series, labelled axes, a legend), and one generation step's candidates as bars before and after top-k
and temperature.

A chart is rows of spans, each span its text and the series it draws (or None), so the app colours each
series with its theme and `--plain` prints the text as it is. The series differ by their marks, not only by
colour: the first is a line of Braille dots (`*` in ASCII), the second a `•` (`o`) at each of its points, and
the legend says which is which. Every row is exactly the width asked for, and there are exactly as many rows
as asked for.
"""

from __future__ import annotations

import math
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tutor.core.formatting import counted, visible
from tutor.core.glyphs import to_ascii

# What a span is, for its style: the words, the axes, a heading (title, axis label), a note (no points, points
# left out) and the candidate that was drawn.
Role = Literal["text", "axis", "heading", "note", "chosen"]

MIN_WIDTH = 24  # narrower or lower than this, a line chart is a one-line summary
MIN_HEIGHT = 6
MIN_PLOT_ROWS = 2
MIN_PLOT_COLUMNS = 8
Y_LABEL_SPACING = 3  # rows from one y-axis value to the next, at least
X_LABEL_GAP = 2  # cells between two x-axis values, at least
TICK_LIMIT = 1000

# Braille cells are 2 dots wide and 4 high: BRAILLE_BITS[row][column] is the dot's bit above U+2800.
BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


@dataclass(frozen=True)
class Span:
    text: str
    series: int | None = None  # the series this draws (its line, its bar or its legend mark); None: anything else
    role: Role = "text"


Row = tuple[Span, ...]


@dataclass(frozen=True)
class TextChart:
    width: int
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()  # what the chart left out, also written in it where there is room

    @property
    def height(self) -> int:
        return len(self.rows)

    def lines(self) -> list[str]:
        return ["".join(span.text for span in row) for row in self.rows]

    def text(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]  # (x, y): e.g. (step, loss) or (tokens seen, loss)


@dataclass(frozen=True)
class Glyphs:
    vertical: str
    labelled: str  # the y axis where a value is written
    corner: str
    horizontal: str
    tick: str  # the x axis where a value is written
    line_legend: str  # the first series' mark in the legend
    point: str  # the second series' mark
    ellipsis: str
    arrow: str
    chosen: str  # before the chosen candidate
    chosen_marker: str  # after it, before the words saying so
    full_bar: str
    partial_bars: str  # eighths of a cell, from none to seven


UNICODE_GLYPHS = Glyphs(
    "│", "┤", "└", "─", "┬", "⠒⠒", "•", "…", "→", "▶", "◀", "█", " ▏▎▍▌▋▊▉",
)
ASCII_GLYPHS = Glyphs("|", "+", "+", "-", "+", "*", "o", "...", "->", ">", "<-", "#", "")


def glyphs_for(ascii_only: bool) -> Glyphs:
    return ASCII_GLYPHS if ascii_only else UNICODE_GLYPHS


# ----- cells and spans ---------------------------------------------------------------------------


def char_width(char: str) -> int:
    """How many terminal cells a character takes: 2 for a wide (East Asian) one, 0 for a combining mark."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    return sum(char_width(char) for char in text)


def cut(text: str, width: int) -> str:
    """The start of `text` that fits in `width` cells."""
    used, out = 0, []
    for char in text:
        used += char_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out)


def fit_spans(spans: Iterable[Span], width: int, ellipsis: str = "…") -> Row:
    """The spans cut or padded to exactly `width` cells; what is cut ends in `ellipsis`."""
    spans = [span for span in spans if span.text]
    used = sum(cell_width(span.text) for span in spans)
    if used <= width:
        return (*spans, Span(" " * (width - used))) if used < width else tuple(spans)
    room = max(width - cell_width(ellipsis), 0)
    out: list[Span] = []
    for span in spans:
        text = cut(span.text, room)
        if text:
            out.append(Span(text, span.series, span.role))
        room -= cell_width(text)
        if text != span.text:
            break
    last = out[-1] if out else Span("")
    ending = Span(cut(ellipsis, width), last.series, last.role)
    return fit_spans([*out, ending], width) if width else ()


def joined(cells: Sequence[tuple[str, int | None, Role]]) -> Row:
    """One-cell pieces joined into spans, each run of the same series and role one span."""
    spans: list[Span] = []
    for text, series, role in cells:
        if spans and spans[-1].series == series and spans[-1].role == role:
            spans[-1] = Span(spans[-1].text + text, series, role)
        else:
            spans.append(Span(text, series, role))
    return tuple(spans)


# ----- numbers ------------------------------------------------------------------------------------


def compact_number(value: float, digits: int = 3) -> str:
    """A number in few characters, `digits` significant at most: 11, 5.5, 0.105, 5.12k, 1.2M, 1e-05 → 1e-5."""
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{digits}g}")
    if not math.isfinite(rounded):  # rounded up past the largest float
        rounded = value
    magnitude = abs(rounded)
    if magnitude == 0:
        return "0"
    if magnitude >= 1e15 or magnitude < 1e-3:
        mantissa, _, exponent = f"{rounded:.{digits - 1}e}".partition("e")
        return f"{_without_zeros(mantissa)}e{int(exponent)}"
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return _significant(rounded / limit, digits) + suffix
    return _significant(rounded, digits)


def _significant(value: float, digits: int) -> str:
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return _without_zeros(f"{value:.{decimals}f}")


def _without_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def distinct_labels(values: Sequence[float]) -> list[str]:
    """Each value compactly, with as many digits as it takes for no two different values to read the same."""
    labels = [compact_number(value) for value in values]
    for digits in range(4, 17):
        if len(set(labels)) == len(set(values)):
            break
        labels = [compact_number(value, digits) for value in values]
    return labels


def nice_ticks(low: float, high: float, intervals: int, integers: bool = False) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) from `low` to `high`, at most `intervals` + 1."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return [low, high] if low != high else [low]
    raw = span / max(intervals, 1)
    if raw <= 0:  # a span of a few subnormal numbers
        return [low, high]
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(multiple * magnitude for multiple in (1, 2, 5, 10) if multiple * magnitude >= raw * (1 - 1e-9))
    if not math.isfinite(step):
        return [low, high]
    if integers:
        step = max(1.0, float(round(step)))
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    if last - first > TICK_LIMIT:
        return [low, high]
    return [index * step for index in range(first, last + 1)]


@dataclass(frozen=True)
class Scale:
    """From a value to its place among `places` places (cells or dots), low at place 0."""

    low: float
    high: float
    places: int

    def fraction(self, value: float) -> float:
        # halved first, so that a range from -1e308 to 1e308 does not overflow to inf
        return (value / 2 - self.low / 2) / (self.high / 2 - self.low / 2)

    def place(self, value: float) -> int:
        return min(max(round(self.fraction(value) * (self.places - 1)), 0), self.places - 1)

    def places_of(self, values: Iterable[float]) -> list[int]:
        """`place` of each value, for many at once."""
        low, last = self.low / 2, self.places - 1
        factor = last / (self.high / 2 - low)
        return [min(max(round((value / 2 - low) * factor), 0), last) for value in values]


def axis_range(values: Sequence[float], from_zero: bool, at_least: float | None = None) -> tuple[float, float]:
    low, high = min(values), max(values)
    if at_least is not None:
        high = max(high, at_least)
    if from_zero and low >= 0:
        low = 0.0
    if high / 2 - low / 2 > 0:  # a range Scale can divide by
        return low, high
    spread = abs(high) / 10 if abs(high) / 20 > 0 else 1.0  # around one value (or 0 to it)
    low = low if from_zero and low >= 0 else max(low - spread, -sys.float_info.max)
    return low, min(high + spread, sys.float_info.max)


# ----- the line chart -----------------------------------------------------------------------------


def line_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    title: str = "loss",
    x_label: str = "step",
    ascii_only: bool = False,
    empty_message: str = "no steps yet",
    y_from_zero: bool = True,
    x_from_zero: bool = True,
    x_max: float | None = None,
) -> TextChart:
    """One or two series drawn in `width` × `height` cells: the title (the y axis's name) and the legend on top,
    the y axis's values on the left, the x axis's values and `x_label` below. Points that are NaN or infinite
    are left out and a note says how many. Below MIN_WIDTH × MIN_HEIGHT, one line sums the series up.
    `x_max`: the x axis reaches at least this far (say, the steps planned), so it does not grow step by step."""
    if not 1 <= len(series) <= 2:
        raise ValueError(f"a line chart draws one or two series, not {len(series)}")
    width, height = max(width, 0), max(height, 0)
    glyphs = glyphs_for(ascii_only)
    if ascii_only:
        title, x_label, empty_message = to_ascii(title), to_ascii(x_label), to_ascii(empty_message)
        series = [Series(to_ascii(line.name), line.points) for line in series]
    drawn = [sorted((x, y) for x, y in line.points if math.isfinite(x) and math.isfinite(y)) for line in series]
    notes = _left_out_notes(series, drawn)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _summary(series, drawn, notes, width, height, title, x_label, glyphs, empty_message)
    return _ChartLayout(series, drawn, notes, width, height, title, x_label, glyphs, empty_message,
                        y_from_zero, x_from_zero, x_max).chart()


def _left_out_notes(series: Sequence[Series], drawn: Sequence[list]) -> tuple[str, ...]:
    notes = []
    for line, points in zip(series, drawn):
        left_out = len(line.points) - len(points)
        if left_out:
            whose = f"{line.name}: " if len(series) > 1 else ""
            notes.append(f"{whose}{counted(left_out, 'point')} left out: NaN or inf")
    return tuple(notes)


def _legend(series: Sequence[Series], glyphs: Glyphs) -> list[Span]:
    if len(series) < 2:
        return []
    first, second = series
    return [Span(glyphs.line_legend, 0), Span(f" {first.name}  "), Span(glyphs.point, 1), Span(f" {second.name}")]


def _summary(series, drawn, notes, width, height, title, x_label, glyphs, empty_message) -> TextChart:
    spans = [Span(f"{title}: ", role="heading")]
    for index, (line, points) in enumerate(zip(series, drawn)):
        if index:
            spans.append(Span("; "))
        if len(series) > 1:
            spans += [Span(glyphs.line_legend if index == 0 else glyphs.point, index), Span(f" {line.name} ")]
        if not points:
            spans.append(Span(empty_message, role="note"))
        else:
            (_, first), (last_x, last) = points[0], points[-1]
            spans.append(Span(f"{compact_number(first)} {glyphs.arrow} {compact_number(last)} "
                              f"at {x_label} {compact_number(last_x)}"))
    if notes:
        spans.append(Span(f" ({'; '.join(notes)})", role="note"))
    rows = [fit_spans(spans, width, glyphs.ellipsis)] + [fit_spans([], width)] * (height - 1)
    return TextChart(width, tuple(rows[:height]), notes)


class _ChartLayout:
    """Where everything of one line chart goes, worked out once."""

    def __init__(self, series, drawn, notes, width, height, title, x_label, glyphs, empty_message,
                 y_from_zero, x_from_zero, x_max):
        self.series, self.drawn, self.notes = series, drawn, notes
        self.width, self.height = width, height
        self.title, self.x_label, self.glyphs, self.empty_message = title, x_label, glyphs, empty_message
        self.dots = (1, 1) if glyphs is ASCII_GLYPHS else (2, 4)  # (across, down) in one cell
        self.header = self._header_rows()
        self.plot_rows = height - len(self.header) - 2
        points = [point for line in drawn for point in line]
        self.empty = not points
        if self.empty:
            self.x_range, self.y_range = (0.0, 1.0 if x_max is None else max(x_max, 1.0)), (0.0, 1.0)
        else:
            self.x_range = axis_range([x for x, _ in points], x_from_zero, x_max)
            self.y_range = axis_range([y for _, y in points], y_from_zero)
        self.y_labels = {} if self.empty else self._y_labels()
        self.margin = max((cell_width(label) for label in self.y_labels.values()), default=0)
        self.plot_columns = width - self.margin - 1
        self.integer_x = all(float(x).is_integer() for x, _ in points)

    def _header_rows(self) -> list[Row]:
        width, ellipsis = self.width, self.glyphs.ellipsis
        title = [Span(self.title, role="heading")]
        legend = _legend(self.series, self.glyphs)
        legend_width = sum(cell_width(span.text) for span in legend)
        rows: list[Row] = []
        if not legend:
            rows.append(fit_spans(title, width, ellipsis))
        elif cell_width(self.title) + 2 + legend_width <= width:
            gap = Span(" " * (width - cell_width(self.title) - legend_width))
            rows.append(fit_spans([*title, gap, *legend], width))
        else:
            rows += [fit_spans(title, width, ellipsis), fit_spans(legend, width, ellipsis)]
        if self.notes:
            rows.append(fit_spans([Span("; ".join(self.notes), role="note")], width, ellipsis))
        while len(rows) > 1 and self.height - len(rows) - 2 < MIN_PLOT_ROWS:
            if self.notes and rows[-1][0].role == "note":
                rows.pop()  # the notes stay in TextChart.notes
            else:  # the legend back beside the title, the title cut short: the legend tells the series apart
                title_room = max(width - legend_width - 1, 0)
                rows = [fit_spans([*fit_spans(title, title_room, ellipsis), Span(" "), *legend], width, ellipsis)]
        return rows

    # ----- the axes ---------------------------------------------------------------------------

    def y_scale(self) -> Scale:
        return Scale(*self.y_range, self.plot_rows * self.dots[1])

    def x_scale(self) -> Scale:
        return Scale(*self.x_range, self.plot_columns * self.dots[0])

    def y_row(self, value: float) -> int:
        """The row a value is drawn in, 0 at the top."""
        return self.plot_rows - 1 - self.y_scale().place(value) // self.dots[1]

    def x_column(self, value: float) -> int:
        return self.x_scale().place(value) // self.dots[0]

    def _y_labels(self) -> dict[int, str]:
        """The values written on the y axis, by row: round values, at least Y_LABEL_SPACING rows apart. Too
        few rows for two of them: the lowest and the highest value, exactly."""
        intervals = max((self.plot_rows - 1) // Y_LABEL_SPACING, 1)
        ticks = nice_ticks(*self.y_range, intervals)
        rows: dict[int, float] = {}
        for tick in ticks:
            row = self.y_row(tick)
            if all(abs(row - other) >= min(Y_LABEL_SPACING, self.plot_rows - 1) for other in rows):
                rows[row] = tick
        if len(rows) < 2:
            low, high = self.y_range
            rows = {self.plot_rows - 1: low, 0: high}
        labels = distinct_labels(list(rows.values()))
        return dict(zip(rows, labels))

    def _x_labels(self) -> dict[int, str]:
        """The values written under the x axis, by column of the plot."""
        low, high = self.x_range
        longest = max(cell_width(compact_number(low)), cell_width(compact_number(high)), 1)
        intervals = max(self.plot_columns // (longest + X_LABEL_GAP + 1), 1)
        ticks = nice_ticks(low, high, intervals, self.integer_x)
        labels = distinct_labels(ticks)
        return {self.x_column(tick): label for tick, label in zip(ticks, labels)}

    # ----- drawing ----------------------------------------------------------------------------

    def chart(self) -> TextChart:
        if self.plot_rows < MIN_PLOT_ROWS or self.plot_columns < MIN_PLOT_COLUMNS:
            return _summary(self.series, self.drawn, self.notes, self.width, self.height, self.title,
                            self.x_label, self.glyphs, self.empty_message)
        cells = self._plot_cells()
        rows = list(self.header)
        glyphs = self.glyphs
        for row, row_cells in enumerate(cells):
            label = self.y_labels.get(row)
            start = [
                (" " * (self.margin - cell_width(label or "")) + (label or ""), None, "text"),
                (glyphs.labelled if label is not None else glyphs.vertical, None, "axis"),
            ]
            rows.append(joined(start + row_cells))
        rows += self._x_axis_rows()
        return TextChart(self.width, tuple(rows), self.notes)

    def _plot_cells(self) -> list[list[tuple[str, int | None, Role]]]:
        blank: tuple[str, int | None, Role] = (" ", None, "text")
        cells = [[blank] * self.plot_columns for _ in range(self.plot_rows)]
        if self.empty:
            message = cut(self.empty_message, self.plot_columns)
            row, start = self.plot_rows // 2, (self.plot_columns - cell_width(message)) // 2
            cells[row][start:start + len(message)] = [(char, None, "note") for char in message]
            return cells
        if self.drawn[0]:
            self._draw_line(cells, self.drawn[0])
        if len(self.drawn) > 1:
            for x, y in self.drawn[1]:
                cells[self.y_row(y)][self.x_column(x)] = (self.glyphs.point, 1, "text")
        return cells

    def _draw_line(self, cells, points: list[tuple[float, float]]) -> None:
        """The first series as a line through its points: Braille dots, or `*` in ASCII."""
        y_scale = self.y_scale()
        xs = self.x_scale().places_of(x for x, _ in points)
        ys = [y_scale.places - 1 - place for place in y_scale.places_of(y for _, y in points)]
        # Many points to a column of dots (thousands of steps): each column's points are one stroke from the
        # lowest to the highest, joined to the next column from the last point to its first.
        columns: list[list[int]] = []  # [x, first y, lowest y, highest y, last y]
        for x, y in zip(xs, ys):
            if columns and columns[-1][0] == x:
                column = columns[-1]
                column[2], column[3], column[4] = min(column[2], y), max(column[3], y), y
            else:
                columns.append([x, y, y, y, y])
        dots: set[tuple[int, int]] = set()
        previous: tuple[int, int] | None = None
        for x, first, lowest, highest, last in columns:
            if previous is not None:
                (x0, y0), (x1, y1) = previous, (x, first)
                steps = max(abs(x1 - x0), abs(y1 - y0), 1)
                dots.update(
                    (round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)) for i in range(steps + 1)
                )
            dots.update((x, y) for y in range(lowest, highest + 1))
            previous = (x, last)
        across, down = self.dots
        if across == 1:
            for x, y in dots:
                cells[y][x] = ("*", 0, "text")
            return
        if len(points) == 1:  # one dot is hard to see: both of its cell's dots in that row
            dots.add((xs[0] ^ 1, ys[0]))
        bits: dict[tuple[int, int], int] = {}
        for x, y in dots:
            key = (y // down, x // across)
            bits[key] = bits.get(key, 0) | BRAILLE_BITS[y % down][x % across]
        for (row, column), value in bits.items():
            cells[row][column] = (chr(0x2800 + value), 0, "text")

    def _x_axis_rows(self) -> list[Row]:
        glyphs, width, start = self.glyphs, self.width, self.margin + 1
        x_label = cut(self.x_label, max(width - start - 2, 0))
        label_room = width - cell_width(x_label) - 1  # the x values end before the axis's name
        tick_columns: list[int] = []
        texts: list[tuple[int, str]] = []
        end = -1
        for column, label in ({} if self.empty else self._x_labels()).items():
            label_width = cell_width(label)
            left = max(start + column - label_width // 2, 0)
            if left <= end or left + label_width > label_room:
                continue
            tick_columns.append(column)
            texts.append((left, label))
            end = left + label_width
        axis = [glyphs.tick if column in tick_columns else glyphs.horizontal for column in range(self.plot_columns)]
        axis_row = fit_spans([Span(" " * self.margin), Span(glyphs.corner + "".join(axis), role="axis")], width)
        values = []
        at = 0
        for left, label in texts:
            values.append(Span(" " * (left - at) + label))
            at = left + cell_width(label)
        values.append(Span(" " * (width - cell_width(x_label) - at)))
        values.append(Span(x_label, role="heading"))
        return [axis_row, fit_spans(values, width)]


# ----- candidates as bars -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    token: str  # the token's text as decoded: spaces, newlines and control characters as they are
    before: float  # its probability from the raw softmax
    after: float | None  # after top-k and temperature; None: top-k removed it
    chosen: bool = False  # the token drawn
    token_id: int | None = None


PERCENT_WIDTH = 6  # "100.0%"
MIN_BAR_WIDTH = 4
MAX_LABEL_WIDTH = 18
MIN_LABEL_WIDTH = 8


def percent(probability: float | None) -> str:
    if probability is None:
        return "cut"
    if not math.isfinite(probability):
        return "n/a"
    if probability == 0:
        return "0%"
    if probability < 0.0005:  # one significant figure, so that an untrained model's 0.002% is not hidden
        return f"{probability * 100:.1g}%"
    return f"{probability * 100:.1f}%"


def bar(fraction: float, width: int, glyphs: Glyphs) -> str:
    """`fraction` of `width` cells, in eighths of a cell where the terminal shows them."""
    fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
    if not glyphs.partial_bars:
        return glyphs.full_bar * round(fraction * width)
    full, rest = divmod(round(fraction * width * 8), 8)
    return glyphs.full_bar * full + (glyphs.partial_bars[rest] if rest else "")


def candidate_label(candidate: Candidate, ascii_only: bool = False) -> str:
    """The token as the token table shows it: spaces as ·, newlines as ↵, control characters escaped."""
    shown = visible(candidate.token, ascii_only=ascii_only)
    return shown if candidate.token_id is None else f"{shown} [{candidate.token_id}]"


def candidate_bars(
    candidates: Sequence[Candidate],
    width: int,
    *,
    ascii_only: bool = False,
    before_title: str = "before",
    after_title: str = "after",
    chosen_text: str = "chosen",
    empty_message: str = "no token drawn yet",
) -> TextChart:
    """A heading, then a row per candidate: its token, its probability before (series 0) and after (series 1)
    as bars with percentages, 100% the full bar in both columns; the chosen token marked with ▶ and ◀ and
    `chosen_text`. Each row is exactly `width` cells."""
    width = max(width, 0)
    glyphs = glyphs_for(ascii_only)
    if ascii_only:
        before_title, after_title = to_ascii(before_title), to_ascii(after_title)
        chosen_text, empty_message = to_ascii(chosen_text), to_ascii(empty_message)
    if not candidates:
        return TextChart(width, (fit_spans([Span(empty_message, role="note")], width, glyphs.ellipsis),))
    labels = [candidate_label(candidate, ascii_only) for candidate in candidates]
    marker_width = 2 + cell_width(f"{glyphs.chosen_marker} {chosen_text}")
    gutter = cell_width(glyphs.chosen) + 1
    label_width = min(max(cell_width("token"), *(cell_width(label) for label in labels)), MAX_LABEL_WIDTH)

    def bar_room(label_width: int) -> int:
        fixed = gutter + label_width + 2 + (1 + PERCENT_WIDTH) * 2 + 2 + marker_width
        return (width - fixed) // 2

    while bar_room(label_width) < MIN_BAR_WIDTH and label_width > MIN_LABEL_WIDTH:
        label_width -= 1
    bar_width = bar_room(label_width) if bar_room(label_width) >= MIN_BAR_WIDTH else 0
    column_width = bar_width + 1 + PERCENT_WIDTH

    heading = [
        Span(" " * gutter + _fitted("token", label_width, glyphs) + "  ", role="heading"),
        Span(_fitted(before_title, column_width, glyphs), 0, "heading"),
        Span("  "),
        Span(_fitted(after_title, column_width + marker_width, glyphs), 1, "heading"),  # no marker in this row
    ]
    rows = [fit_spans(heading, width, glyphs.ellipsis)]
    for candidate, label in zip(candidates, labels):
        role: Role = "chosen" if candidate.chosen else "text"
        spans = [
            Span((glyphs.chosen + " " if candidate.chosen else " " * gutter), role=role),
            Span(_fitted(label, label_width, glyphs), role=role),
            Span("  "),
        ]
        for series, probability in ((0, candidate.before), (1, candidate.after)):
            if series:
                spans.append(Span("  "))
            if bar_width:
                drawn = bar(probability or 0.0, bar_width, glyphs)
                spans += [Span(drawn, series), Span(" " * (bar_width - cell_width(drawn) + 1))]
            spans.append(Span(percent(probability).rjust(PERCENT_WIDTH), role=role))
        if candidate.chosen:
            spans.append(Span(f"  {glyphs.chosen_marker} {chosen_text}", role="chosen"))
        rows.append(fit_spans(spans, width, glyphs.ellipsis))
    return TextChart(width, tuple(rows))


def _fitted(text: str, width: int, glyphs: Glyphs) -> str:
    """`text` in exactly `width` cells: padded, or cut with an ellipsis."""
    return "".join(span.text for span in fit_spans([Span(text)], width, glyphs.ellipsis))
