"""Snapshot tests: every screen as SVG, compared with the reviewed pictures in __snapshots__/.

The apps here draw the committed report of tests/fixtures/ (`make_fixed_app`), never a live forward pass:
a forward pass rounds differently on each CPU, and its last digits would change the pictures. The live
numbers are tested elsewhere, within a tolerance (tests/test_report_fixture.py checks the fixture itself).

Update with `pytest tests/test_snapshots.py --snapshot-update` only after looking at each changed
picture (`snapshot_report.html` shows them side by side).
"""

from __future__ import annotations

import pytest
from app_helpers import press_and_settle, settle

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
LESSON_IDS = [
    "overview", "tokenize", "windows", "forward", "softmax",
    "gather", "cross-entropy", "perplexity", "recap", "bug-lab",
]


def go_to_lesson(number: int, *keys: str, tab: str | None = None):
    """Show the lesson at index `number` (lesson `number + 1` as the tutor counts), then press `keys`."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.go_to_lesson(number)
        await settle(pilot)
        if tab is not None:
            pilot.app.screen.query_one("#panes").active = f"tab-{tab}"
            await settle(pilot)
        await press_and_settle(pilot, *keys)

    return run_before


@pytest.fixture(autouse=True)
def no_forward_pass(monkeypatch):
    """Nothing here may run the model: what it computes on this CPU must never reach a picture."""
    import tutor.lm.compute

    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)  # the app shows the error and goes on; the test fails below
        raise AssertionError("snapshot tests draw the committed report, never a forward pass")

    monkeypatch.setattr(tutor.lm.compute, "Walkthrough", refuse)
    yield
    assert not calls, f"a snapshot test ran the model: {calls}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("number", range(len(LESSON_IDS)), ids=LESSON_IDS)
def test_lesson(snap_compare, make_fixed_app, number, size):
    """Lesson `number` with the committed report's numbers filled in, its first pane showing."""
    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=go_to_lesson(number))


@pytest.mark.parametrize("size", SIZES)
def test_tokens_pane(snap_compare, make_fixed_app, size):
    """The gather lesson's per-token table: context, predicted and target tokens with ids, p, log p and ✓/✗."""
    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=go_to_lesson(5, tab="tokens"))


@pytest.mark.parametrize("size", SIZES)
def test_tensors_pane(snap_compare, make_fixed_app, size):
    """The forward lesson's tensor pane: logits with name, shape, dtype and torch's own print."""
    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=go_to_lesson(3, tab="tensors"))


def test_help_screen(snap_compare, make_fixed_app):
    """The help modal over the overview: the table of keys."""
    assert snap_compare(make_fixed_app(), terminal_size=(80, 24), run_before=go_to_lesson(0, "question_mark"))


def test_too_small_screen(snap_compare, make_fixed_app):
    """At 50x15 the tutor says it needs 60×18 and what it has."""
    assert snap_compare(make_fixed_app(), terminal_size=(50, 15), run_before=settle)


def test_no_color(snap_compare, make_fixed_app, monkeypatch):
    """The softmax lesson under NO_COLOR: monochrome, with ✓/✗ still readable as symbols."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_fixed_app(), terminal_size=(80, 24), run_before=go_to_lesson(4, tab="tokens"))


@pytest.mark.parametrize("stage, tab", [("probabilities", "tokens"), ("recap", "heatmap")], ids=["tokens", "heatmap"])
def test_ascii_locale(snap_compare, make_fixed_app, stage, tab):
    """In an ASCII locale (LC_ALL=C): borders of + - |, ✓/✗ as +/x, spaces in tokens as _, shades as ^1..^5."""
    app = make_fixed_app(ascii_only=True)
    number = next(index for index, lesson in enumerate(app.lessons.lessons) if lesson.stage == stage and tab in lesson.panes)
    assert snap_compare(app, terminal_size=(80, 24), run_before=go_to_lesson(number, tab=tab))


def test_light_theme(snap_compare, make_fixed_app):
    """The softmax lesson in the light theme."""
    run_before = go_to_lesson(4)

    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await run_before(pilot)

    assert snap_compare(make_fixed_app(), terminal_size=(120, 40), run_before=light)


# ----- the learner's own: inspector, checks, bug lab, heatmap, settings ---------------------------


@pytest.mark.parametrize("size", SIZES)
def test_inspector(snap_compare, make_fixed_app, size):
    """The inspector on batch row 1, position 2: top-10 bars, the target's rank, p and −log p."""
    run_before = go_to_lesson(4, tab="tokens")

    async def inspect(pilot) -> None:
        await run_before(pilot)
        screen = pilot.app.screen
        table = screen.query_one("#token-table")
        table.focus()
        table.cursor_row = 2
        await press_and_settle(pilot, "enter")

    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=inspect)


def _answer(text_for):
    async def run_before(pilot) -> None:
        await go_to_lesson(3)(pilot)
        await press_and_settle(pilot, "a")
        check = pilot.app.screen.lesson.checks[0]
        await pilot.press(*text_for(check, pilot.app.session.report.values()))
        await press_and_settle(pilot, "enter")

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_check_unanswered(snap_compare, make_fixed_app, size):
    """The forward lesson's first check before an answer: the question and an empty answer field."""
    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=go_to_lesson(3, "a"))


@pytest.mark.parametrize("size", SIZES)
def test_check_wrong(snap_compare, make_fixed_app, size):
    """A wrong answer to the forward lesson's first check: ✗, the live value and the explanation."""
    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=_answer(lambda check, values: "12345"))


@pytest.mark.parametrize("size", SIZES)
def test_check_right(snap_compare, make_fixed_app, size):
    """A right answer to the forward lesson's first check, typed from the live value: ✓, the live value and the
    explanation; the check stays in view, and the focus is back on the lesson."""

    def right(check, values):
        value = values[check.answer]
        return ", ".join(str(part) for part in value) if isinstance(value, tuple) else str(value)

    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=_answer(right))


@pytest.mark.parametrize("size", SIZES)
def test_bug_lab(snap_compare, make_fixed_app, size):
    """The bug lab with 'softmax before nn.CrossEntropyLoss' switched on: its loss beside the correct one."""
    run_before = go_to_lesson(9)

    async def switch_on(pilot) -> None:
        await run_before(pilot)
        bugs = pilot.app.screen.query_one("#bug-list")
        bugs.focus()
        bugs.highlighted = 1
        await press_and_settle(pilot, "space")

    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=switch_on)


@pytest.mark.parametrize("size", SIZES)
def test_heatmap_selection(snap_compare, make_fixed_app, size):
    """The recap's heatmap with batch row 2, position 3 selected: its value written out under the map."""
    run_before = go_to_lesson(8)

    async def select(pilot) -> None:
        await run_before(pilot)
        pilot.app.screen.query_one("#heatmap-pane").focus()
        await press_and_settle(pilot, "pagedown", "down", "down", "down")  # ← → change lesson; ↓ ↑ walk the tokens

    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=select)


@pytest.mark.parametrize("size", SIZES)
def test_settings_error(snap_compare, make_fixed_app, size):
    """The settings form refusing a context length of 300, with the reason next to the field."""
    run_before = go_to_lesson(1, "s")

    async def bad_value(pilot) -> None:
        await run_before(pilot)
        field = pilot.app.screen.query_one("#field-context_length")
        field.value = "300"
        field.focus()
        await press_and_settle(pilot, "enter")

    assert snap_compare(make_fixed_app(), terminal_size=SIZES[size], run_before=bad_value)
