"""Colours and glyphs where workshops run: 16 colours (TERM=xterm), NO_COLOR, an ASCII locale (LC_ALL=C), and
screens from 20x5 up to the tutor's smallest."""

from __future__ import annotations

import html
import io
import re

import pytest
from app_helpers import press_and_settle, settle
from report_fixture import DEFAULT_REPORT_PATH, load_fixture
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.color import ColorSystem
from textual.color import Color
from textual.geometry import Size
from textual.widgets._footer import FooterKey

from tutor.core.formatting import visible
from tutor.core.glyphs import ascii_cells, terminal_is_ascii, to_ascii
from tutor.ui.screens.too_small import too_small_message
from tutor.ui.widgets.heatmap import ASCII_SHADE_MARKS, SHADE_COLOURS, SHADE_MARKS

RED_IN_16_COLOURS = {1, 9}


# ----- the ASCII locale -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "encoding", "ascii_only"),
    [
        ({"LC_ALL": "C"}, "utf-8", True),  # Python turns to UTF-8 under the C locale: the locale decides
        ({"LANG": "POSIX"}, "utf-8", True),
        ({"LANG": "en_US.ISO-8859-1"}, "utf-8", True),
        ({}, "utf-8", True),  # no locale set is the C locale
        ({"LANG": "C.UTF-8"}, "utf-8", False),
        ({"LANG": "en_GB.utf8"}, "utf-8", False),
        ({"LC_CTYPE": "de_DE.UTF-8@euro"}, "utf-8", False),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, "utf-8", True),  # LC_ALL first
        ({"LC_ALL": "", "LANG": "en_US.UTF-8"}, "utf-8", False),  # an empty one does not count
        ({"LANG": "en_US.UTF-8"}, "ascii", True),  # PYTHONIOENCODING=ascii
    ],
)
def test_a_locale_that_is_not_utf8_means_ascii(environ, encoding, ascii_only):
    assert terminal_is_ascii(environ, encoding) is ascii_only


def test_the_tutors_symbols_in_ascii_keep_their_meaning():
    assert to_ascii("Text → token ids · loss ≥ ln V — ✓ or ✗, 0–9, 2 × 8, −log p…") == (
        "Text -> token ids - loss >= ln V -- + or x, 0-9, 2 x 8, -log p..."
    )
    assert to_ascii("a space shows as `·` and a newline as `↵`") == "a space shows as `_` and a newline as `\\n`"


def test_what_is_laid_out_keeps_its_cells_in_ascii():
    drawn = "╭─ 0 · title ─╮│▐X▌ ▐ ▌ a·b ▁▂█ 中文 é → ✓ ✗ ⭘"
    cells = ascii_cells(drawn)
    assert cells.isascii()
    assert cell_len(cells) == cell_len(drawn)
    assert cells.startswith("+- 0 - title -+|[X] [ ] a_b")


def test_tokens_in_ascii_show_spaces_newlines_and_other_characters_escaped():
    assert visible(" café\n\t", ascii_only=True) == "_caf\\xe9\\n\\t"
    assert visible(" café\n") == "·café↵"


def _screen_text(app) -> list[str]:
    """What the screen shows, line by line, read from the SVG Textual exports (with the app's line filters)."""
    lines: dict[str, str] = {}
    for y, text in re.findall(r'<text [^>]*?y="([0-9.]+)"[^>]*>([^<]*)</text>', app.export_screenshot()):
        lines[y] = lines.get(y, "") + html.unescape(text).replace("\xa0", " ")
    return list(lines.values())


def _not_ascii(app) -> set[str]:
    return {char for line in _screen_text(app) for char in line if not char.isascii()}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_in_an_ascii_locale_every_screen_is_drawn_in_ascii(make_fixed_app, size):
    app = make_fixed_app(ascii_only=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for number in range(len(app.lessons.lessons)):
            app.go_to_lesson(number)
            await settle(pilot)
            panes = app.screen.query_one("#panes")
            for tab in [pane.id for pane in panes.query("TabPane")]:
                panes.active = tab
                await settle(pilot)
                assert not _not_ascii(app), (number, tab)
        await press_and_settle(pilot, "question_mark")
        assert not _not_ascii(app), "help"
        await press_and_settle(pilot, "escape", "s")
        assert not _not_ascii(app), "settings"


async def test_in_an_ascii_locale_tokens_show_spaces_as_underscores(make_fixed_app):
    app = make_fixed_app(ascii_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.go_to_lesson(3)
        await settle(pilot)
        app.screen.query_one("#panes").active = "tab-tokens"
        await settle(pilot)
        cells = [cell for row in app.screen.query_one("TokenTable").rows_text() for cell in row]
        assert any(cell.startswith("_") for cell in cells)
        assert all(cell.isascii() for cell in cells)
        lines = _screen_text(app)
        assert any("->" in line for line in lines)  # the lesson's arrows, written out


def test_plain_output_in_an_ascii_locale_is_ascii(monkeypatch):
    import tutor.lm.compute
    from tutor.cli import main

    _, report = load_fixture(DEFAULT_REPORT_PATH)
    monkeypatch.setattr(tutor.lm.compute, "compute_report", lambda request, bug_lab: report)
    for variable in ("LANG", "LC_CTYPE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LC_ALL", "C")
    for option in ("--plain", "--json"):
        output = io.StringIO()
        monkeypatch.setattr("sys.stdout", output)
        assert main([option]) == 0
        assert output.getvalue().isascii(), option
        assert len(output.getvalue()) > 1000


# ----- 16 colours and NO_COLOR ------------------------------------------------------------------


@pytest.mark.parametrize("system", [ColorSystem.STANDARD, ColorSystem.EIGHT_BIT])
def test_every_heatmap_shade_stays_its_own_colour(system):
    rounded = [RichColor.parse(colour).downgrade(system).number for colour in SHADE_COLOURS]
    assert len(set(rounded)) == len(SHADE_COLOURS)


def test_every_heatmap_shade_has_its_own_mark_too():
    for marks in (SHADE_MARKS, ASCII_SHADE_MARKS):
        assert len(set(marks)) == len(SHADE_COLOURS)
    assert all(mark.isascii() for mark in ASCII_SHADE_MARKS)


async def test_the_heatmap_marks_each_token_with_its_shade(make_fixed_app):
    app = make_fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.go_to_lesson(8)
        await settle(pilot)
        app.screen.query_one("#panes").active = "tab-heatmap"
        await settle(pilot)
        text = str(app.screen.query_one("#heatmap-text").render())
        assert all(mark in text for mark in SHADE_MARKS)  # the legend, at least


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_focused_pane_border_is_not_red_in_16_colours(make_fixed_app, theme):
    app = make_fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await settle(pilot)
        explanation = app.screen.query_one("#explanation")
        assert explanation.has_focus_within
        _, colour = explanation.styles.border_top
        assert isinstance(colour, Color)
        assert RichColor.parse(colour.hex).downgrade(ColorSystem.STANDARD).number not in RED_IN_16_COLOURS


async def test_the_bug_labs_boxes_differ_on_and_off_without_colour(make_fixed_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.go_to_lesson(9)
        await settle(pilot)
        bugs = app.screen.query_one("#bug-list")
        bugs.focus()
        bugs.highlighted = 0
        await press_and_settle(pilot, "space")
        boxes = [bugs.render_line(y).text[:3] for y in range(2)]
        assert boxes[0] != boxes[1]
        assert "X" in boxes[0] and "X" not in boxes[1]


# ----- small screens ----------------------------------------------------------------------------


def test_the_too_small_message_fits_every_size_down_to_20x5():
    for width in range(20, 60):
        for height in range(5, 18):
            lines = too_small_message((60, 18), Size(width, height)).splitlines()
            assert len(lines) <= height and max(map(cell_len, lines)) <= width, (width, height)
            assert "60×18" in "".join(lines) and "q" in lines[-1]


@pytest.mark.parametrize("size", [(40, 12), (20, 5)])
async def test_the_too_small_notice_is_not_cut(make_fixed_app, size):
    app = make_fixed_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = {line.strip() for line in _screen_text(app)}
        assert set(too_small_message((60, 18), Size(*size)).splitlines()) <= shown  # each line whole


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize("width", [60, 70, 80])
async def test_a_narrow_footer_keeps_quit_and_help(make_fixed_app, width, ascii_only):
    app = make_fixed_app(ascii_only=ascii_only)
    async with app.run_test(size=(width, 20)) as pilot:
        await settle(pilot)
        shown_keys = [key for key in app.screen.query(FooterKey) if key.display and key.parent.display]
        assert {"q", "question_mark"} <= {key.key for key in shown_keys}
        assert any(key.action.startswith("step") for key in shown_keys)  # the lesson keys stay too
        assert all(key.region.right <= width for key in shown_keys)  # none cut off at the edge
        for index, key in enumerate(shown_keys):  # nor under the palette's hint, docked right
            assert not any(key.region.overlaps(other.region) for other in shown_keys[index + 1:])
        footer_line = _screen_text(app)[-1]
        assert "palettei" not in footer_line and "Help" in footer_line


async def test_the_headers_icon_is_ascii_in_an_ascii_terminal(make_fixed_app):
    from tutor.ui.widgets.model_header import ASCII_ICON

    app = make_fixed_app(ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = next(line for line in _screen_text(app) if "model:" in line)
        assert header.strip().startswith(ASCII_ICON) and "?" not in header
