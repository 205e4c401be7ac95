"""The generation lesson's pane: the learner's prompt and settings start a generation on the engine, the text
streams in, one step's candidates are drawn and the learner steps between steps; it pauses and resumes, and a bad
field says what is wrong and runs nothing.

The pilot tests run a real engine in this process with a one-layer model (tests/tiny_gpt.py) and a clock that
moves a tenth of a second each time the engine looks, so that each slice of a generation is exactly two tokens.
The picture draws steps made by hand: a real forward pass rounds differently on each CPU.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from app_helpers import settle
from rich.text import Text
from stepping_clock import SteppingClock
from textual.widgets import Input

from tutor.core.answers import GenerationProgress
from tutor.core.formatting import safe_to_draw, visible
from tutor.core.generation import Candidate, GenerationSettings, GenerationStep
from tutor.core.generation_view import (
    FALLBACK_PROMPT,
    GenerationFields,
    after_title,
    default_prompt,
    read_fields,
    step_candidates,
)
from tutor.core.jobs import GenerateJob
from tutor.core.text_chart import Candidate as Bar
from tutor.engine.in_process import InProcessEngine

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
PROMPT = "Every effort moves you"
TOKENS_PER_SLICE = 2  # with the clock below and the pane's slices of a quarter of a second


# ----- the pane's text and data, without the app ---------------------------------------------------------


def step(index, token_id, text, before, after, *, greedy=False, raw=None, drawn=None, positions=1):
    """A GenerationStep made by hand: `before` and `after` are (token id, text, probability)."""
    return GenerationStep(
        index=index, token_id=token_id, token_text=text,
        before=tuple(Candidate(*candidate) for candidate in before),
        after=tuple(Candidate(*candidate) for candidate in after),
        chosen_probability=drawn if drawn is not None else dict((c[0], c[2]) for c in after)[token_id],
        chosen_raw_probability=raw if raw is not None else dict((c[0], c[2]) for c in before)[token_id],
        greedy=greedy, positions_computed=positions, seconds=0.015625,
    )


BEFORE = ((262, " the", 0.25), (11, ",", 0.125), (198, "\n", 0.0625), (257, " a", 0.03125))


def test_top_k_cuts_the_tokens_past_k_and_the_drawn_one_is_marked():
    cut = step(0, 11, ",", BEFORE, ((262, " the", 0.625), (11, ",", 0.375)))
    assert step_candidates(cut) == (
        Bar(" the", 0.25, 0.625, token_id=262), Bar(",", 0.125, 0.375, chosen=True, token_id=11),
        Bar("\n", 0.0625, None, token_id=198), Bar(" a", 0.03125, None, token_id=257),
    )


def test_greedy_leaves_every_other_token_at_zero():
    greedy = step(0, 262, " the", BEFORE, ((262, " the", 1.0),), greedy=True)
    assert [(bar.after, bar.chosen) for bar in step_candidates(greedy)] == [(1.0, True), (0.0, False), (0.0, False),
                                                                           (0.0, False)]


def test_a_token_drawn_from_outside_the_most_likely_is_added_last():
    unlikely = step(0, 9999, "\x1b", BEFORE, BEFORE, raw=0.001, drawn=0.002)
    bars = step_candidates(unlikely)
    assert bars[-1] == Bar("\x1b", 0.001, 0.002, chosen=True, token_id=9999)
    assert not any(bar.chosen for bar in bars[:-1])


def test_the_after_column_says_what_was_done():
    assert after_title(GenerateJob(temperature=0.0)) == "after: T 0 = argmax"
    assert after_title(GenerateJob(temperature=1.4, top_k=25)) == "after: top-k 25, T 1.4"
    assert after_title(GenerateJob(temperature=0.5)) == "after: T 0.5"


def test_the_default_prompt_is_the_texts_first_words():
    assert default_prompt("  I HAD always\nthought Jack Gisburn rather a cheap genius") == (
        "I HAD always thought Jack Gisburn"
    )
    assert default_prompt(" \n\t") == FALLBACK_PROMPT


FIELDS = GenerationFields(PROMPT, "20", "0.7", "5", "123", True)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("new_tokens", "twelve", "new tokens: 'twelve' is not a whole number"),
    ("new_tokens", "0", "new tokens: 0 is out of range; it must be 1 to 1000"),
    ("temperature", "", "temperature: nothing is not a number"),
    ("temperature", "-1", "the temperature is 0 to 10"),
    ("top_k", "2.5", "top-k: '2.5' is not a whole number"),
    ("top_k", "60000", "top-k: 60000 is out of range"),
    ("seed", "-3", "seed: -3 is out of range"),
    ("prompt", "   ", "the prompt is empty"),
    ("new_tokens", "\x1b[31m", "new tokens: '␛[31m' is not a whole number"),
])
def test_a_bad_field_is_named_with_its_range(field, value, message):
    with pytest.raises(ValueError) as raised:
        read_fields(replace(FIELDS, **{field: value}))
    assert message in str(raised.value)


def test_good_fields_are_the_job():
    job = read_fields(GenerationFields(PROMPT, " 1,000 ", "1.5", "0", "7", False))
    assert (job.prompt, job.max_new_tokens, job.temperature, job.top_k, job.seed, job.kv_cache, job.restart) == (
        PROMPT, 1000, 1.5, 0, 7, False, False,
    )


# ----- in the app ------------------------------------------------------------------------------------------


class GatedGenerations(InProcessEngine):
    """Computes reports at once; each slice of a generation only once `gate` is set. Counts the slices."""

    gate = threading.Event()
    slices = 0

    def compute(self, request):
        if isinstance(request.job, GenerateJob):
            if not type(self).gate.wait(timeout=30):
                raise RuntimeError("the test never opened the gate")
            type(self).slices += 1
        return super().compute(request)


@pytest.fixture
def tiny(monkeypatch):
    """The engine's untrained model is a one-layer GPT; the engine's clock steps; generations flow freely."""
    from tiny_gpt import tiny_gpt

    import tutor.lm.engine_work as engine_work

    model = tiny_gpt(3, emb_dim=8)
    monkeypatch.setattr(engine_work, "default_model", lambda: model)
    monkeypatch.setattr(engine_work, "time", SteppingClock())
    GatedGenerations.gate.set()
    GatedGenerations.slices = 0
    yield model
    GatedGenerations.gate.set()


def make_tutor(**options):
    from tutor.ui.app import TutorApp

    return TutorApp(engine_factory=GatedGenerations, resume=False, **options)


async def open_lesson(pilot):
    from tutor.ui.widgets.generate_pane import GeneratePane

    await settle(pilot)
    pilot.app.go_to_lesson(pilot.app.lessons.index_of("generate"))
    await settle(pilot)
    return pilot.app.screen.query_one(GeneratePane)


async def type_into(pilot, pane, field_id: str, text: str) -> None:
    field = pane.query_one(f"#{field_id}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)


async def until_stopped(pilot) -> None:
    lab = pilot.app.labs.labs.generate
    for _ in range(1000):
        await pilot.pause(0.01)
        if not (lab.running or lab.waiting):
            break
    await settle(pilot)


def plain(widget) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


def bar_lines(pane) -> list[str]:
    from tutor.ui.widgets.candidate_bars import CandidateBars

    bars = pane.query_one(CandidateBars)
    return [bars.render_line(y).text for y in range(bars.size.height)]


async def test_a_prompt_is_continued_to_the_last_token_and_its_candidates_drawn(tiny):
    from tutor.lm.generation import generate

    app = make_tutor()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_lesson(pilot)
        await type_into(pilot, pane, "generate-new-tokens", "12")
        await type_into(pilot, pane, "generate-prompt", PROMPT)
        await pilot.press("enter")
        await until_stopped(pilot)

        lab = app.labs.labs.generate
        progress = lab.latest
        assert isinstance(progress, GenerationProgress) and progress.finished
        assert progress.token_count == len(lab.steps) == 12
        # streamed a slice at a time; the slice that draws the last token says it is complete
        assert GatedGenerations.slices == 12 // TOKENS_PER_SLICE
        expected = generate(tiny, PROMPT, GenerationSettings(max_new_tokens=12), model_name="tiny")
        assert [step.token_id for step in lab.steps] == list(expected.token_ids)  # greedy, cached: the CLI's tokens

        output = plain(pane.query_one("#generate-output"))
        assert output.startswith(PROMPT) and output == PROMPT + safe_to_draw(expected.text)
        status = plain(pane.query_one("#generate-status"))
        assert status.startswith("finished · 12 of 12 new tokens · ") and "KV cache on" in status
        last = lab.steps[-1]
        assert plain(pane.query_one("#generate-step")).startswith(
            f"token 12 of 12 (latest): {visible(last.token_text)} [{last.token_id}] · computed 1 position"
        )
        lines = bar_lines(pane)
        assert "after: T 0 = argmax" in lines[0]
        assert len(lines) == len(step_candidates(last)) + 1
        drawn = [line for line in lines if line.rstrip().endswith("drawn")]
        assert len(drawn) == 1 and drawn[0].startswith(f"▶ {visible(last.token_text)} [{last.token_id}]")


async def test_comma_and_full_stop_move_between_the_steps(tiny):
    app = make_tutor()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_lesson(pilot)
        await type_into(pilot, pane, "generate-new-tokens", "6")
        await pilot.press("enter")
        await until_stopped(pilot)
        steps = app.labs.labs.generate.steps
        assert len(steps) == 6
        assert pane.has_focus_within
        await pilot.press("escape")  # out of the field: the pane's keys and the lesson's
        assert app.focused is pane

        await pilot.press(",", ",")
        await settle(pilot)
        assert pane.step_index == 3
        assert plain(pane.query_one("#generate-step")).startswith(f"token 4 of 6: {visible(steps[3].token_text)}")
        assert f"▶ {visible(steps[3].token_text)} [{steps[3].token_id}]" in "".join(bar_lines(pane))
        output = pane.query_one("#generate-output").content
        marked = [output.plain[span.start:span.end] for span in output.spans if span.style]
        assert marked[-1] == safe_to_draw(steps[3].token_text)  # the step's token, underlined

        await pilot.press(*"," * 10)
        assert pane.step_index == 0  # no step before the first
        await pilot.press(*"." * 10)
        await settle(pilot)
        assert pane.step_index is None  # back to following the latest
        assert plain(pane.query_one("#generate-step")).startswith("token 6 of 6 (latest)")

        lesson = app.lesson_index
        await pilot.press("left")  # the lesson keys work from the pane
        await settle(pilot)
        assert app.lesson_index == lesson - 1


async def test_r_pauses_after_the_slice_in_hand_and_resumes_to_the_end(tiny):
    from tutor.lm.generation import generate

    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        await type_into(pilot, pane, "generate-new-tokens", "10")
        GatedGenerations.gate.clear()
        await pilot.press("enter")
        lab = app.labs.labs.generate
        assert lab.running and lab.waiting
        await pilot.press("escape", "r")
        await pilot.pause()
        assert not lab.running and lab.waiting
        assert plain(pane.query_one("#generate-status")).startswith("pausing after this step…")
        GatedGenerations.gate.set()
        await until_stopped(pilot)
        await pilot.pause(0.1)
        await settle(pilot)
        assert lab.latest.token_count == TOKENS_PER_SLICE and not lab.finished  # nothing more was asked for
        assert GatedGenerations.slices == 1
        assert plain(pane.query_one("#generate-status")).startswith(f"paused · {TOKENS_PER_SLICE} of 10 new tokens")
        assert str(pane.query_one("#generate-pause").label) == "Resume"

        await pilot.press("r")
        await until_stopped(pilot)
        assert lab.finished and lab.latest.token_count == len(lab.steps) == 10
        prompt = pane.query_one("#generate-prompt", Input).value
        expected = generate(tiny, prompt, GenerationSettings(max_new_tokens=10), model_name="tiny")
        assert [step.token_id for step in lab.steps] == list(expected.token_ids)  # the same as without a pause


async def test_a_generation_paused_on_the_trained_model_begins_again_once_that_model_has_trained_on(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go_to_lesson(app.lessons.index_of("overfit"))
        await settle(pilot)
        await pilot.press("o")
        await until_idle(pilot, app.labs.labs.overfit)
        await pilot.press("u")  # every lesson, the generation included, uses the model trained here
        await settle(pilot)
        pane = await open_lesson(pilot)
        await type_into(pilot, pane, "generate-new-tokens", "10")
        GatedGenerations.gate.clear()
        await pilot.press("enter")
        await pilot.press("escape", "r")  # paused after its first slice
        GatedGenerations.gate.set()
        await until_stopped(pilot)
        lab = app.labs.labs.generate
        assert lab.latest.token_count == TOKENS_PER_SLICE and not lab.finished

        app.go_to_lesson(app.lessons.index_of("overfit"))
        await settle(pilot)
        await pilot.press("o")  # the model it was drawing with changes: its cache of keys and values is stale
        await until_idle(pilot, app.labs.labs.overfit)
        pane = await open_lesson(pilot)
        await pilot.press("r")
        await until_stopped(pilot)
        assert lab.problem is not None and "trained on since this text was begun" in lab.problem
        assert plain(pane.query_one("#generate-status")).startswith("stopped: the model was trained on")

        await pilot.press("r")  # begins it again, with the model as it is now
        await until_stopped(pilot)
        assert lab.problem is None and lab.finished and lab.latest.token_count == len(lab.steps) == 10


async def until_idle(pilot, lab) -> None:
    for _ in range(1000):
        await pilot.pause(0.01)
        if not (lab.running or lab.waiting):
            break
    await settle(pilot)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("generate-temperature", "hot", "Not started: temperature: 'hot' is not a number"),
    ("generate-new-tokens", "5000", "Not started: new tokens: 5000 is out of range; it must be 1 to 1000"),
    ("generate-prompt", " ", "Not started: the prompt is empty"),
])
async def test_a_bad_field_says_what_is_wrong_and_nothing_runs(tiny, field, value, message):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        await type_into(pilot, pane, field, value)
        await pilot.press("enter")
        await settle(pilot)
        problem = pane.query_one("#generate-problem")
        assert problem.display and plain(problem).startswith(message)
        lab = app.labs.labs.generate
        assert not (lab.started or lab.running or lab.waiting) and GatedGenerations.slices == 0
        assert plain(pane.query_one("#generate-status")) == "not started"

        await type_into(pilot, pane, field, {"generate-prompt": PROMPT}.get(field, "2"))
        await pilot.press("enter")
        await until_stopped(pilot)
        assert not problem.display and lab.finished


async def test_escape_gives_the_lesson_keys_back_from_the_prompt(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        lesson = app.lesson_index
        await type_into(pilot, pane, "generate-prompt", "1 left")
        await pilot.press("left", "left", "2")
        assert app.lesson_index == lesson  # typed and moved the cursor: no lesson change
        assert pane.query_one("#generate-prompt", Input).value == "1 le2ft"
        await pilot.press("escape")
        assert app.focused is pane
        await pilot.press("enter")  # back into the prompt
        assert app.focused is pane.query_one("#generate-prompt")
        await pilot.press("escape", "left")
        await settle(pilot)
        assert app.lesson_index == lesson - 1


def footer_descriptions(app) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {key.description for key in app.screen.query(FooterKey) if key.display}


async def test_g_goes_to_the_prompt_from_anywhere_in_the_lesson_and_the_lesson_keys_stay(tiny):
    """The prompt is one key away (it was three tabs away), said in the footer; the lesson opens with the focus on
    its explanation as every lesson does, so ← → and the other lesson keys work until the learner presses g."""
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        prompt = pane.query_one("#generate-prompt", Input)
        tabs = app.screen.query_one("#panes")
        lesson = app.lesson_index
        assert app.focused is app.screen.query_one("#explanation")
        assert "Prompt" in footer_descriptions(app)
        tabs.active = "tab-code"
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert tabs.active == "tab-generate" and app.focused is prompt
        await pilot.press("x", "n", "space", "1")  # typed, not lesson keys
        assert prompt.value.endswith("xn 1") and app.lesson_index == lesson
        await pilot.press("escape", "left")
        await settle(pilot)
        assert app.lesson_index == lesson - 1
        assert "Prompt" not in footer_descriptions(app)  # the generation lesson's key only
        await pilot.press("g")
        await settle(pilot)
        assert app.lesson_index == lesson - 1 and app.focused is not prompt

        await pilot.press("right")
        app.screen.query_one("#explanation").focus()
        await pilot.press("z")  # the explanation on the whole screen: g shows the panes again
        await settle(pilot)
        assert app.screen.maximized is app.screen.query_one("#explanation")
        await pilot.press("g")
        await settle(pilot)
        assert app.screen.maximized is None and app.focused is prompt


async def test_the_prompt_starts_as_the_texts_first_words_until_the_learner_types(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        prompt = pane.query_one("#generate-prompt", Input)
        assert prompt.value == default_prompt(app.session.text.text) != ""
        pane.show("A text of the learner's own, longer than six words")
        assert prompt.value == "A text of the learner's own,"
        await type_into(pilot, pane, "generate-prompt", "Mine")
        pane.show("Yet another text")
        assert prompt.value == "Mine"


async def test_up_and_down_scroll_the_text_and_candidates_from_the_pane(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        pane.focus()
        await pilot.press("enter", "enter")  # into the prompt, then generate with the default settings
        await until_stopped(pilot)
        await pilot.press("escape")
        scroll = pane.query_one("#generate-scroll")
        assert scroll.scroll_y == 0 and scroll.max_scroll_y > 2
        await pilot.press("down", "down")
        await pilot.pause()
        assert scroll.scroll_y == 2
        await pilot.press("up")
        await pilot.pause()
        assert scroll.scroll_y == 1


async def test_the_kv_cache_box_is_told_apart_without_colour(tiny, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot)
        box = pane.query_one("#generate-kv-cache")
        on = box.render_line(0).text
        box.value = False
        await pilot.pause()
        off = box.render_line(0).text
        assert "X" in on and "X" not in off and on.replace("X", " ") == off


# ----- the picture -----------------------------------------------------------------------------------------

PICTURE_JOB = GenerateJob(prompt=PROMPT, max_new_tokens=8, temperature=1.5, top_k=3, seed=123)
PICTURE_BEFORE = ((262, " the", 0.375), (11, ",", 0.1875), (284, " to", 0.125), (198, "\n", 0.0625),
                  (257, " a", 0.03125))
PICTURE_AFTER = ((262, " the", 0.5), (11, ",", 0.3125), (284, " to", 0.1875))
PICTURE_STEPS = [
    step(0, 262, " the", PICTURE_BEFORE, PICTURE_AFTER, positions=4),
    step(1, 11, ",", PICTURE_BEFORE, PICTURE_AFTER),
    step(2, 284, " to", PICTURE_BEFORE, PICTURE_AFTER),
    step(3, 262, " the", PICTURE_BEFORE, PICTURE_AFTER),
    step(4, 11, ",", PICTURE_BEFORE, PICTURE_AFTER),
]


def test_generate_pane_snapshot(snap_compare, make_fixed_app, tmp_path):
    """The generation lesson at 80x24 with five of eight tokens drawn (made by hand), paused: the fields,
    the status, the text so far and the latest token's candidates before and after top-k 3 and temperature."""
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    shutil.copy(LESSONS_DIR / "12-generate.md", lessons)
    app = make_fixed_app(lessons_dir=lessons)
    app.labs.generation_job = PICTURE_JOB
    lab = app.labs.labs.generate
    lab.started_from = "untrained"
    lab.steps = list(PICTURE_STEPS)
    lab.latest = GenerationProgress(prompt=PROMPT, new_steps=tuple(PICTURE_STEPS), text=" the, to the,",
                                    token_count=5, finished=False, model="untrained (seed 42)", seconds=0.25)

    async def show(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#generate-pane").focus()
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=show)
