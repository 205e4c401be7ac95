"""The two training lessons: overfitting the batch on screen (`r` runs, `o` takes one step, `x` starts over, `u` uses
the trained model in every lesson) and the book's run on the text (it shows progress at once, pauses, resumes,
finishes, and says why when the engine refuses).

The pilot tests run a real engine in this process with a one-layer model (tests/tiny_gpt.py) standing in for the
untrained one. It learns with the book's learning rate too slowly to memorise a batch in 25 steps, so its optimizer
is given a larger one here; the engine's clock moves a tenth of a second each time the training code looks, so that
every slice of the run on the text is the same four steps or evaluations. The pictures draw progress made by hand
from the committed report: a real forward pass rounds differently on each CPU.
"""

from __future__ import annotations

import gc
import math
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from app_helpers import record_notifications, settle, shown
from report_fixture import DEFAULT_REPORT_PATH, load_fixture
from stepping_clock import SteppingClock
from textual.widgets._footer import FooterKey

from tutor.core.answers import OverfitProgress
from tutor.core.jobs import TRAINED, UNTRAINED, OverfitJob, TextRunJob
from tutor.core.lab import OVERFIT, OVERFIT_TARGET_STEPS, TEXT_RUN, Labs
from tutor.core.training import OverfitStepResult, TextRunPlan, TextRunProgress, TextRunSettings
from tutor.core.training_view import (
    RESTART,
    RUN,
    STEP,
    USE,
    duration,
    lab_keys,
    lesson_lab,
    loss_text,
    perplexity_text,
    text_run_status,
    text_run_timing,
)
from tutor.engine.in_process import InProcessEngine
from tutor.lm.engine_work import EngineModels
from tutor.ui.app import STILL_SCREEN_S
from tutor.ui.heap import NEVER

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
MEMORISING_RATE = 0.05  # the one-layer model's learning rate here: it memorises the batch well within 25 steps


# ----- what the panes say, without the app ----------------------------------------------------------------------


def test_the_lab_keys_follow_the_lesson_and_the_run():
    labs = Labs()
    assert lesson_lab(("explanation", "overfit", "code")) == OVERFIT
    assert lesson_lab(("explanation", "train_text", "code")) == TEXT_RUN
    assert lesson_lab(("explanation", "tokens")) is None and lab_keys(None, labs) == frozenset()
    assert lab_keys(OVERFIT, labs) == {RUN, STEP, RESTART}
    assert lab_keys(TEXT_RUN, labs) == {RUN, RESTART}
    labs.text_run.latest, labs.trained_by = replace(progress_by_hand(), step=0), TEXT_RUN
    assert lab_keys(TEXT_RUN, labs) == {RUN, RESTART}  # measured as it starts, not trained yet: nothing to use
    labs.text_run.latest = progress_by_hand(finished=True)
    labs.trained_by = TEXT_RUN
    assert lab_keys(TEXT_RUN, labs) == {RESTART, USE}  # a finished run is not run again by `r`
    assert USE not in lab_keys(OVERFIT, labs)  # the engine's trained model is the text run's


def test_times_and_numbers_are_written_to_be_read():
    assert [duration(s) for s in (4.25, 42.0, 185.0, 3725.0)] == ["4.2 s", "42 s", "3 min 05 s", "1 h 02 min"]
    assert [perplexity_text(p) for p in (58000.4, 12.345, 1.0042, math.inf)] == ["58,000", "12.35", "1.004", "inf"]
    assert [loss_text(x) for x in (10.98765, 0.004, 0.00042)] == ["10.988", "0.004", "4.2e-04"]
    lines = text_run_timing(progress_by_hand())
    # 48 steps took 48 s and 7 evaluations 12 s: 72 steps and 7 evaluations to go.
    assert lines == ["6,144 tokens seen", "1 min 00 s · 1.00 s a step", "about 1 min 24 s to go"]


def test_the_status_says_how_far_an_evaluation_has_come():
    lab = Labs().text_run
    lab.running = True
    lab.latest = replace(progress_by_hand(), evaluating=(3, 8))
    assert text_run_status(lab) == "step 48 of 120 · epoch 2 of 4 · evaluating: 3 of 8 batches · running…"
    lab.latest = progress_by_hand()
    assert text_run_status(lab) == "step 48 of 120 · epoch 2 of 4 · running…"
    lab.running, lab.latest = False, replace(progress_by_hand(), evaluating=(3, 8))
    assert text_run_status(lab) == "step 48 of 120 · epoch 2 of 4 · paused · r resumes, x starts over"


def test_the_lesson_code_trains_with_the_runs_settings():
    settings = TextRunSettings()
    code = (LESSONS_DIR / "11-train-text.md").read_text(encoding="utf-8")
    assert f"batch_size={settings.batch_size}," in code
    assert f"context_length={settings.context_length}, stride={settings.stride}," in code
    assert f"`eval_freq={settings.eval_freq}`" in code and f"`eval_iter={settings.eval_iter}`" in code
    assert "lr=0.0004" in (LESSONS_DIR / "10-overfit.md").read_text(encoding="utf-8")


# ----- in the app -------------------------------------------------------------------------------------------------


class LabEngine(InProcessEngine):
    """Computes at once, except a lab's slice, which waits for a permit while `gated` is on. Keeps the jobs."""

    permits = threading.Semaphore(0)
    gated = False
    jobs: list = []

    def compute(self, request):
        if isinstance(request.job, (OverfitJob, TextRunJob)):
            type(self).jobs.append(request.job)
            if type(self).gated and not type(self).permits.acquire(timeout=30):
                raise RuntimeError("the test never let the slice through")
        return super().compute(request)


@pytest.fixture
def tiny(monkeypatch):
    from tiny_gpt import tiny_gpt

    import tutor.lm.engine_work
    import tutor.lm.training
    import tutor.lm.walkthrough

    model = tiny_gpt(3, emb_dim=8).requires_grad_(False)
    model.seed = 42
    monkeypatch.setattr(tutor.lm.engine_work, "default_model", lambda: model)
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model)
    make_optimizer = tutor.lm.training.make_optimizer
    monkeypatch.setattr(tutor.lm.training, "make_optimizer",
                        lambda model, learning_rate, weight_decay: make_optimizer(model, MEMORISING_RATE, weight_decay))
    monkeypatch.setattr(tutor.lm.training, "time", SteppingClock())
    LabEngine.permits = threading.Semaphore(0)
    LabEngine.gated = False
    LabEngine.jobs = []
    yield model
    LabEngine.gated = False


def make_tutor(models: EngineModels | None = None):
    from tutor.ui.app import TutorApp

    return TutorApp(engine_factory=lambda: LabEngine(models), resume=False)


async def open_lesson(pilot, lesson_id: str):
    await settle(pilot)
    pilot.app.go_to_lesson(pilot.app.lessons.index_of(lesson_id))
    await settle(pilot)
    return pilot.app.screen.query_one("#overfit-pane" if lesson_id == "overfit" else "#train-text-pane")


async def until_idle(pilot, kind: str) -> None:
    lab = pilot.app.labs.labs[kind]
    for _ in range(3000):
        await pilot.pause(0.01)
        if not (lab.running or lab.waiting):
            break
    await settle(pilot)


def footer_keys(app) -> set[str]:
    """The keys the footer shows that work now (not dimmed)."""
    return {key.key for key in app.screen.query(FooterKey) if key.display and not key.has_class("-disabled")}


def dimmed_keys(app) -> set[str]:
    return {key.key for key in app.screen.query(FooterKey) if key.display and key.has_class("-disabled")}


def status(pane, name: str) -> str:
    return shown(pane.query_one(f"#{name}-status"))


def header_model(app) -> str:
    return app.screen.query_one("#header-model").render_line(0).text.strip()


async def test_o_takes_one_step_and_r_runs_to_the_target_until_every_target_is_right(tiny):
    from tutor.ui.widgets.loss_chart import LossChart

    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot, "overfit")
        assert status(pane, "overfit") == "not started · r trains on this batch to step 25, o takes one step"
        before = app.session.report
        numbers = shown(pane.query_one("#overfit-numbers"))
        assert numbers.startswith(f"before any step:\nloss {loss_text(before.loss_pytorch)} · perplexity ")
        assert f"{sum(token.correct for token in before.tokens)} of 16 predictions right ✓" in numbers
        assert {"r", "o", "x"} <= footer_keys(app) and dimmed_keys(app) == {"u"}  # in its place before it works
        footer_keys_before = list(app.screen.query(FooterKey))

        await pilot.press("o")
        await until_idle(pilot, OVERFIT)
        lab = app.labs.labs.overfit
        first = lab.latest.steps[-1]
        assert [result.step for result in lab.latest.steps] == [0, 1]
        assert status(pane, "overfit") == "step 1 of 25 · paused · r goes on, o one step, x starts over"
        numbers = shown(pane.query_one("#overfit-numbers"))
        assert numbers.startswith(f"loss {loss_text(first.eval_loss)} · perplexity {perplexity_text(first.perplexity)}")
        assert numbers.endswith(f"\ntrain-mode loss {loss_text(first.train_loss)}\n{first.seconds:.2f} s for this step")
        chart = pane.query_one(LossChart)
        assert [len(series.points) for series in chart.series] == [2, 1]
        assert "u" in footer_keys(app) and not dimmed_keys(app)
        assert list(app.screen.query(FooterKey)) == footer_keys_before  # turned on in place: no layout of it all

        await pilot.press("r")
        await until_idle(pilot, OVERFIT)
        results = lab.latest.steps
        assert [result.step for result in results] == list(range(OVERFIT_TARGET_STEPS + 1))  # to step 25 exactly
        assert results[-1].eval_loss < results[0].eval_loss / 10
        assert status(pane, "overfit") == "step 25 of 25 · done · r trains on, o one more step, x starts over"
        report = lab.latest.report
        right = sum(token.correct for token in report.tokens)
        assert right == round(results[-1].accuracy * 16) == 16
        assert "16 of 16 predictions right ✓" in shown(pane.query_one("#overfit-numbers"))
        targets = shown(pane.query_one("#overfit-targets"))
        assert targets.count("✓") == 16 and "✗" not in targets and targets.startswith("row 1: ✓")
        assert [len(series.points) for series in chart.series] == [26, 25]

        await pilot.press("tab", "z")  # the pane takes the focus, and the whole screen
        await settle(pilot)
        assert app.focused is pane and app.screen.maximized is app.screen.query_one("#panes")
        await pilot.press("z")
        lesson = app.lesson_index
        await pilot.press("left")  # the lesson keys still work
        await settle(pilot)
        assert app.lesson_index == lesson - 1
        assert not {"r", "o", "x", "u"} & (footer_keys(app) | dimmed_keys(app))  # the training lessons' keys only


async def test_o_pressed_while_a_step_is_computed_takes_one_more_step_after_it(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot, "overfit")
        LabEngine.gated = True
        await pilot.press("o")
        await pilot.pause()
        lab = app.labs.labs.overfit
        assert lab.waiting and not lab.running
        await pilot.press("o", "o")  # two more presses while the first step is computed
        LabEngine.gated = False
        LabEngine.permits.release()
        await until_idle(pilot, OVERFIT)
        assert [result.step for result in lab.latest.steps] == [0, 1, 2, 3]
        assert LabEngine.jobs == [OverfitJob(steps=1, restart=True), OverfitJob(steps=1), OverfitJob(steps=1)]
        assert status(pane, "overfit").startswith("step 3 of 25 · paused")


async def test_pausing_stops_asking_and_x_starts_over(tiny):
    from tutor.ui.widgets.loss_chart import LossChart

    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot, "overfit")
        LabEngine.gated = True
        await pilot.press("r")
        await pilot.pause()
        lab = app.labs.labs.overfit
        assert lab.running and lab.waiting
        assert status(pane, "overfit") == "starting: copying the model, then its first step on this batch…"
        assert gc.get_threshold()[2] == NEVER  # no full garbage collection while the lab draws its progress
        await pilot.press("r")  # pause: the slice in hand is still shown, and nothing more is asked for
        assert not lab.running and lab.waiting
        LabEngine.permits.release()
        await until_idle(pilot, OVERFIT)
        await pilot.pause(0.1)
        assert gc.get_threshold()[2] == NEVER
        await pilot.pause(STILL_SCREEN_S)
        assert gc.get_threshold()[2] != NEVER  # the screen still: the collection put off has run
        assert len(LabEngine.jobs) == 1 and lab.latest.steps[-1].step == 1
        assert status(pane, "overfit").startswith("step 1 of 25 · paused")

        await pilot.press("x")
        await settle(pilot)
        assert not lab.started and status(pane, "overfit").startswith("not started")
        assert [len(series.points) for series in pane.query_one(LossChart).series] == [0, 0]
        assert "u" not in footer_keys(app)
        LabEngine.gated = False
        await pilot.press("o")
        await until_idle(pilot, OVERFIT)
        assert LabEngine.jobs[-1] == OverfitJob(steps=1, restart=True)  # from the start again
        assert [result.step for result in lab.latest.steps] == [0, 1]


async def test_u_makes_every_lesson_use_the_trained_model(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lesson(pilot, "overfit")
        assert header_model(app) == "model: untrained (seed 42)"
        await pilot.press("o", "o")
        await until_idle(pilot, OVERFIT)
        await pilot.press("u")
        await settle(pilot)
        report = app.session.report
        assert app.session.model == TRAINED and report.model.choice == TRAINED
        assert report.model.name.startswith("trained here: ")
        assert report.loss_pytorch == pytest.approx(app.labs.labs.overfit.latest.steps[-1].eval_loss, rel=1e-4)
        assert header_model(app) == "model: overfit, 2 steps"  # the whole of it, in the header's fewer words
        app.go_to_lesson(app.lessons.index_of("perplexity"))
        await settle(pilot)
        assert app.session.report is report and header_model(app) == "model: overfit, 2 steps"

        pane = await open_lesson(pilot, "overfit")
        assert not pane.query_one("#overfit-changed").display
        app.recompute(settings=replace(app.session.settings, batch_index=1))  # as the settings form does
        await settle(pilot)
        assert app.session.report.targets != report.targets and app.session.report.model.choice == TRAINED
        changed = pane.query_one("#overfit-changed")
        assert changed.display and shown(changed).startswith("the batch has changed since this run began")


async def test_u_while_training_pauses_the_run_and_uses_the_model_as_it_is(tiny):
    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lesson(pilot, "overfit")
        notices = record_notifications(app)
        await pilot.press("o")
        await until_idle(pilot, OVERFIT)
        lab = app.labs.labs.overfit
        LabEngine.gated = True
        await pilot.press("r")  # running: the next step waits for a permit
        await pilot.pause()
        assert lab.running and lab.waiting
        await pilot.press("u")
        assert not lab.running  # paused: the step in hand finishes, no other is asked for
        LabEngine.permits.release()
        await until_idle(pilot, OVERFIT)
        await settle(pilot)
        assert app.session.model == TRAINED and app.session.report.model.choice == TRAINED
        assert not lab.running and not lab.waiting and lab.latest.steps[-1].step == 2
        assert any("as it is now. Training is paused: r goes on." in message for _, _, message in notices)


async def test_the_run_on_the_text_shows_progress_at_once_pauses_resumes_and_finishes(tiny):
    from tutor.ui.widgets.loss_chart import LossChart

    app = make_tutor()
    app.labs.text_run_epochs = 1
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_lesson(pilot, "train-text")
        assert status(pane, "train-text") == "not started · r starts the run"
        assert "windows of 64, stride 64,\nbatches of 2, 1 epoch\n" in shown(pane.query_one("#train-text-plan"))
        LabEngine.gated = True
        await pilot.press("r")
        await pilot.pause()
        lab = app.labs.labs.text_run
        assert status(pane, "train-text").startswith("starting…")  # before the engine has answered anything
        assert pane.query_one(LossChart).empty_message == "measuring both losses before the first step…"

        answered = []

        async def next_slice():
            latest = lab.latest
            LabEngine.permits.release()
            for _ in range(3000):
                await pilot.pause(0.01)
                if lab.latest is not latest:
                    answered.append(lab.latest)
                    return lab.latest
            raise AssertionError("the slice was never shown")

        progress = await next_slice()  # half the evaluation before training: it is measured a batch at a time
        await pilot.pause()
        assert (progress.step, progress.evaluating, len(progress.train_losses)) == (0, (4, 8), 0)
        assert status(pane, "train-text") == "step 0 of 30 · epoch 1 of 1 · evaluating: 4 of 8 batches · running…"
        progress = await next_slice()  # the rest of it
        assert (progress.step, progress.evaluating, len(progress.train_losses)) == (0, None, 1)
        progress = await next_slice()  # step 1 and some of the evaluation after it
        assert (progress.step, progress.evaluating, len(progress.train_losses)) == (1, (3, 8), 1)
        while progress.step < 4:
            progress = await next_slice()
        await pilot.press("r")  # pause while the next slice waits
        assert not lab.running and lab.waiting
        LabEngine.permits.release()
        await until_idle(pilot, TEXT_RUN)
        await pilot.pause(0.1)
        assert len(LabEngine.jobs) == len(answered) + 1 and lab.latest.step == 8
        assert status(pane, "train-text") == f"step 8 of {lab.latest.total_steps} · epoch 1 of 1 · paused · " \
                                             "r resumes, x starts over"
        chart = pane.query_one(LossChart)
        assert [len(series.points) for series in chart.series] == [2, 2]
        numbers = shown(pane.query_one("#train-text-numbers"))
        assert numbers.startswith(f"{8 * 2 * 64:,} tokens seen\n")
        assert " s a step\nabout " in numbers and " to go\n" in numbers

        LabEngine.gated = False
        LabEngine.permits.release(1000)
        await pilot.press("r")
        await until_idle(pilot, TEXT_RUN)
        progress = lab.latest
        assert progress.finished and progress.step == progress.total_steps == progress.plan.batches_per_epoch
        assert status(pane, "train-text").endswith("· finished · u uses it in every lesson, x starts over")
        assert [len(series.points) for series in chart.series] == [len(progress.train_losses)] * 2
        assert chart.series[1].points[-1] == (float(progress.tokens_seen), progress.val_losses[-1][2])
        assert f"validation {loss_text(progress.val_losses[-1][2])}" in shown(pane.query_one("#train-text-numbers"))
        keys = footer_keys(app)
        assert "u" in keys and "x" in keys and "r" not in keys and "o" not in keys


async def test_training_on_the_text_when_it_is_off_says_why(tiny):
    app = make_tutor(EngineModels(may_train_on_text=False))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot, "train-text")
        await pilot.press("r")
        await until_idle(pilot, TEXT_RUN)
        assert LabEngine.jobs == [TextRunJob(restart=True, epochs=TextRunSettings().epochs)]  # the run's own epochs
        problem = pane.query_one("#train-text-problem")
        assert problem.display
        assert shown(problem).startswith("Not started: training on the text is off in this workshop")
        assert status(pane, "train-text") == "stopped · r tries again"
        assert not app.labs.labs.text_run.started and "u" not in footer_keys(app)


async def test_a_slice_waiting_in_the_rooms_queue_shows_its_place(tiny):
    from tutor.ui.messages import EngineQueued

    app = make_tutor()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_lesson(pilot, "overfit")
        lab = app.labs.labs.overfit
        lab.running = lab.waiting = True  # as while a slice is on its way to a shared engine
        app.post_message(EngineQueued(3))
        await settle(pilot)
        assert lab.queue_place == 3 and "place 3 in the queue" in lab.state_words
        assert "place 3 in the queue" in status(pane, "overfit")


# ----- the pictures ------------------------------------------------------------------------------------------------


def progress_by_hand(*, finished: bool = False) -> TextRunProgress:
    """A run on the sample story with the run's settings of this writing (4 epochs of 30 steps, both losses every 10
    steps) at step 48 of 120 (or finished), its losses made up: the training loss falling towards 0.5, the
    validation loss stalling above 6 and climbing a little."""
    plan = TextRunPlan(characters=17887, train_characters=16098, val_characters=1789, train_tokens=3868,
                       val_tokens=452, train_windows=60, val_windows=7, batches_per_epoch=30, val_batches=4,
                       total_steps=120, evaluations=14)
    step = 120 if finished else 48
    evaluated = [0, *range(1, step + 1, 10)] + ([step] if (step - 1) % 10 else [])
    train = [(s, s * 128, 0.5 + 10.5 * 0.95 ** s) for s in evaluated]
    val = [(s, s * 128, 6.0 + 5.0 * 0.85 ** s + s / 160) for s in evaluated]
    steps = [(s, s * 128, 0.5 + 10.5 * 0.95 ** s + (0.25 if s % 3 else -0.125)) for s in range(1, step + 1)]
    return TextRunProgress(step=step, total_steps=120, epoch=(step - 1) // 30 + 1, epochs=4,
                           tokens_seen=step * 128, step_losses=tuple(steps), train_losses=tuple(train),
                           val_losses=tuple(val), finished=finished, seconds=step * 1.25, plan=plan,
                           step_seconds=step * 1.0)


def overfit_by_hand() -> OverfitProgress:
    """Six steps of overfitting the committed report's batch, made up: 13 of its 16 targets predicted."""
    _, report = load_fixture(DEFAULT_REPORT_PATH)
    wrong = {2, 9, 14}
    tokens = tuple(replace(token, correct=index not in wrong, predicted_id=token.predicted_id if index in wrong
                           else token.target_id) for index, token in enumerate(report.tokens))
    width = len(report.targets[0])
    predicted = tuple(tuple(tokens[row * width + position].predicted_id for position in range(width))
                      for row in range(len(report.targets)))
    trained = replace(report, tokens=tokens, model=replace(
        report.model, choice=TRAINED, name="trained here: 6 steps overfitting one batch, from untrained (seed 42)"))
    eval_losses = [10.96875, 6.5, 3.25, 1.625, 0.8125, 0.40625, 0.203125]
    train_losses = [None, 11.0, 7.25, 3.875, 2.0, 1.0625, 0.59375]
    results = tuple(
        OverfitStepResult(step=step, train_loss=train_losses[step], eval_loss=loss, perplexity=math.exp(loss),
                          accuracy=(16 - len(wrong)) / 16, predicted=predicted, seconds=0.875)
        for step, loss in enumerate(eval_losses)
    )
    return OverfitProgress(steps=results, report=trained)


def lesson_app(make_fixed_app, tmp_path, file_name: str):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    shutil.copy(LESSONS_DIR / file_name, lessons)
    return make_fixed_app(lessons_dir=lessons)


def test_overfit_pane_snapshot(snap_compare, make_fixed_app, tmp_path):
    """The overfitting lesson at 80x24, paused after six of 25 steps (made by hand): the status, the loss per step
    in eval mode (line) and train mode (dots), the latest numbers and the batch's targets, 13 ✓ and 3 ✗."""
    app = lesson_app(make_fixed_app, tmp_path, "10-overfit.md")
    lab = app.labs.labs.overfit
    lab.started_from, lab.latest, app.labs.labs.trained_by = UNTRAINED, overfit_by_hand(), OVERFIT
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_overfit_lesson_before_any_step_snapshot(snap_compare, make_fixed_app, tmp_path):
    """The overfitting lesson at 80x24 before its first step: `u` in the footer in its place, shown as not working
    yet (dimmed, its letter not bold, its words in italics)."""
    app = lesson_app(make_fixed_app, tmp_path, "10-overfit.md")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_train_text_pane_snapshot(snap_compare, make_fixed_app, tmp_path):
    """The run on the text at 80x24, paused at step 48 of 120 (made by hand): the training and validation curves
    against the tokens seen, the time taken and left, the latest losses and the plan."""
    app = lesson_app(make_fixed_app, tmp_path, "11-train-text.md")
    lab = app.labs.labs.text_run
    lab.started_from, lab.latest, app.labs.labs.trained_by = UNTRAINED, progress_by_hand(), TEXT_RUN
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
