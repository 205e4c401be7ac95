"""Training (tutor/lm/training.py, tutor/core/training.py) and `loss-tutor train` (tutor/train_command.py), on tiny
models: overfitting a batch memorises it, the run on a text is the book's `train_model_simple` however it is cut
into chunks, an abandoned step changes nothing, and the command line prints, saves and refuses as it should."""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import replace

import pytest
import torch
from tiny_gpt import TINY_CONFIG, tiny_gpt

import tutor.lm.walkthrough
from tutor.core.texts import sample_text
from tutor.core.training import (
    TRAIN_RATIO,
    TextRunEvaluation,
    TextRunPlan,
    TextRunProgress,
    TextRunSettings,
    TextRunStep,
    count_evaluations,
    train_characters,
)
from tutor.lm.data import dataloader_from_ids, tokenize
from tutor.lm.model import GPTModel
from tutor.lm.training import OverfitRun, TextRun
from tutor.train_command import run_train

INPUTS = torch.tensor([[10, 20, 30, 40], [50, 60, 70, 80]])
TARGETS = torch.tensor([[20, 30, 40, 50], [60, 70, 80, 90]])
# 466 tokens to train on, 61 to validate: 23 windows of 20 tokens to train on (11 batches of 2), 3 to validate (a
# batch of 2 and one of 1).
TEXT = sample_text()[:2200]
SMALL_RUN = TextRunSettings(context_length=20, stride=20, batch_size=2, epochs=2, eval_freq=3, eval_iter=2, seed=7)


class Abandoned(Exception):
    pass


def abandon_at(call: int):
    """A checkpoint that raises on its `call`-th call (1-based)."""
    calls = 0

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if calls == call:
            raise Abandoned

    return checkpoint


def state_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def optimizer_state(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [value.clone() for state in optimizer.state.values() for value in state.values()]


def without_seconds(events) -> list:
    return [{key: value for key, value in event.to_json_dict().items() if key != "seconds"} for event in events]


def run_in_chunks(run: TextRun) -> list:
    events = []
    while not run.finished:
        chunk = run.run_for(0)  # a step, or a batch of an evaluation, a call
        assert len(chunk) <= 1
        events += chunk
    return events


# ----- overfitting one batch -----------------------------------------------------------------------------------


def test_overfitting_a_batch_memorises_it():
    run = OverfitRun(tiny_gpt(0, 16), INPUTS, TARGETS, lr=0.05)
    before = run.measure()
    assert before.step == 0 and before.train_loss is None and before.accuracy == 0.0
    results = [run.step() for _ in range(16)]
    assert [result.step for result in results] == list(range(1, 17))
    last = results[-1]
    assert last.eval_loss < 0.1 < before.eval_loss
    assert last.perplexity == pytest.approx(torch.tensor(last.eval_loss).exp().item())
    assert last.perplexity < 1.1
    assert last.accuracy == 1.0
    assert last.predicted == tuple(tuple(row) for row in TARGETS.tolist())
    assert all(result.train_loss is not None and result.seconds > 0 for result in results)


def test_the_given_model_is_never_trained():
    model = tiny_gpt(0, 16)
    model.seed = 42
    before = state_of(model)
    run = OverfitRun(model, INPUTS, TARGETS, lr=0.05)
    for _ in range(3):
        run.step()
    assert same_tensors(state_of(model), before)
    assert not same_tensors(state_of(run.model), before)
    assert model.seed == 42 and run.model.seed is None  # the copy's weights are no longer the seed's
    # between steps the trained copy is ready for the lessons: eval mode, no gradients
    assert not run.model.training
    assert not any(parameter.requires_grad for parameter in run.model.parameters())
    assert all(parameter.grad is None for parameter in run.model.parameters())


def test_overfitting_is_the_same_for_the_same_seed_and_leaves_the_callers_random_numbers_alone():
    model = tiny_gpt(0, 16)

    def losses(seed: int) -> list[tuple]:
        run = OverfitRun(model, INPUTS, TARGETS, lr=0.05, seed=seed)
        return [(result.train_loss, result.eval_loss) for result in (run.step() for _ in range(3))]

    torch.manual_seed(5)
    callers = torch.get_rng_state()
    first = losses(1)
    assert torch.equal(torch.get_rng_state(), callers)
    assert losses(1) == first
    assert losses(2) != first  # another seed: other dropout masks


def test_the_step_loss_is_in_train_mode_and_the_measured_one_in_eval_mode():
    """Dropout is what tells them apart: without it, a step's own loss is the loss measured before it."""
    with_dropout = OverfitRun(tiny_gpt(0, 16), INPUTS, TARGETS)
    before = with_dropout.measure()
    assert with_dropout.step().train_loss != pytest.approx(before.eval_loss, abs=1e-3)

    torch.manual_seed(0)
    no_dropout = GPTModel({**TINY_CONFIG, "emb_dim": 16, "drop_rate": 0.0}).eval()
    run = OverfitRun(no_dropout, INPUTS, TARGETS)
    before = run.measure()
    assert run.step().train_loss == pytest.approx(before.eval_loss, abs=1e-6)


@pytest.mark.parametrize("call", [1, 2], ids=["before the step", "after the backward pass"])
def test_an_abandoned_overfit_step_changes_nothing(call):
    run = OverfitRun(tiny_gpt(0, 16), INPUTS, TARGETS, lr=0.05)
    run.step()
    weights, moments = state_of(run.model), optimizer_state(run.optimizer)
    with pytest.raises(Abandoned):
        run.step(checkpoint=abandon_at(call))
    assert same_tensors(state_of(run.model), weights)
    assert all(torch.equal(a, b) for a, b in zip(optimizer_state(run.optimizer), moments, strict=True))
    assert run.steps_taken == 1 and not run.model.training
    assert all(parameter.grad is None for parameter in run.model.parameters())

    uninterrupted = OverfitRun(tiny_gpt(0, 16), INPUTS, TARGETS, lr=0.05)
    uninterrupted.step()
    # the step is taken again from where it was, with the same dropout masks
    assert run.step().train_loss == uninterrupted.step().train_loss


def test_an_overfit_run_refuses_what_it_cannot_train_on():
    with pytest.raises(ValueError, match="learning rate"):
        OverfitRun(tiny_gpt(0), INPUTS, TARGETS, lr=0.0)
    with pytest.raises(ValueError, match=r"same \(batch size, context length\)"):
        OverfitRun(tiny_gpt(0), INPUTS, TARGETS[:, :3])
    with pytest.raises(ValueError, match="longer than the model's"):
        long = torch.zeros(1, 257, dtype=torch.int64)
        OverfitRun(tiny_gpt(0), long, long)


# ----- the run on the text --------------------------------------------------------------------------------------


def test_the_text_is_split_by_characters_as_the_book_does():
    run = TextRun(tiny_gpt(0), TEXT, SMALL_RUN)
    plan, split = run.plan, int(TRAIN_RATIO * len(TEXT))
    assert train_characters(TEXT) == plan.train_characters == split
    assert plan.val_characters == len(TEXT) - split
    assert plan.train_tokens == len(tokenize(TEXT[:split]))
    assert plan.val_tokens == len(tokenize(TEXT[split:]))
    windows = {"batch_size": 2, "context_length": 20, "stride": 20}
    train_loader = dataloader_from_ids(tokenize(TEXT[:split]), shuffle=True, drop_last=True, seed=7, **windows)
    val_loader = dataloader_from_ids(tokenize(TEXT[split:]), shuffle=False, drop_last=False, seed=None, **windows)
    assert (plan.train_windows, plan.batches_per_epoch) == (len(train_loader.dataset), len(train_loader))
    assert (plan.val_windows, plan.val_batches) == (len(val_loader.dataset), len(val_loader))
    assert plan.total_steps == 2 * len(train_loader)
    assert plan.val_windows % 2 == 1  # so the last validation batch is a short one, as the book's loader keeps it


def book_train_model_simple(model, train_loader, val_loader, optimizer, num_epochs, eval_freq, eval_iter):
    """The book's chapter 5 loop (ch05/01_main-chapter-code), without its device and sample printing."""

    def calc_loss_batch(input_batch, target_batch):
        logits = model(input_batch)
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())

    def calc_loss_loader(data_loader, num_batches):
        total_loss = 0.0
        num_batches = min(num_batches, len(data_loader))
        for i, (input_batch, target_batch) in enumerate(data_loader):
            if i < num_batches:
                total_loss += calc_loss_batch(input_batch, target_batch).item()
            else:
                break
        return total_loss / num_batches

    def evaluate_model():
        model.eval()
        with torch.no_grad():
            train_loss = calc_loss_loader(train_loader, eval_iter)
            val_loss = calc_loss_loader(val_loader, eval_iter)
        model.train()
        return train_loss, val_loss

    train_losses, val_losses, track_tokens_seen = [], [], []
    tokens_seen, global_step = 0, -1
    for _epoch in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch)
            loss.backward()
            optimizer.step()
            tokens_seen += input_batch.numel()
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model()
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
    return train_losses, val_losses, track_tokens_seen


@pytest.mark.parametrize("eval_iter", [2, 11], ids=["some batches", "every batch"])
def test_the_run_on_the_text_is_the_books_train_model_simple(eval_iter):
    """The same batches in the same order, the same dropout masks, the same evaluations: the book's loop over the
    book's loaders, after torch.manual_seed(seed), gives the run's losses and weights. The run evaluates once more,
    before training (its last step, the 22nd, the book evaluates too)."""
    settings = TextRunSettings(**{**SMALL_RUN.to_json_dict(), "eval_iter": eval_iter})
    model = tiny_gpt(0, 16)
    split = train_characters(TEXT)
    windows = {"batch_size": 2, "context_length": 20, "stride": 20}
    # the book's create_dataloader_v1: no generator of their own, so they draw from the global one
    train_loader = dataloader_from_ids(tokenize(TEXT[:split]), shuffle=True, drop_last=True, seed=None, **windows)
    val_loader = dataloader_from_ids(tokenize(TEXT[split:]), shuffle=False, drop_last=False, seed=None, **windows)
    book_model = copy.deepcopy(model).requires_grad_(True)
    # Fused, as the run's: the same update in one pass over each tensor. The default implementation rounds
    # differently, and Adam turns a gradient's rounding into a step of up to the learning rate when the gradient is
    # tiny, so the weights would differ by up to about 0.0004 a step.
    optimizer = torch.optim.AdamW(book_model.parameters(), lr=0.0004, weight_decay=0.1, fused=True)
    callers = torch.get_rng_state()
    torch.manual_seed(7)
    book_train, book_val, book_tokens = book_train_model_simple(
        book_model, train_loader, val_loader, optimizer, settings.epochs, settings.eval_freq, settings.eval_iter
    )
    torch.set_rng_state(callers)

    run = TextRun(model, TEXT, settings)
    events = run.run_for(float("inf"))
    assert run.finished
    evaluations = [event for event in events if isinstance(event, TextRunEvaluation)]
    as_the_book = [event for event in evaluations if event.step > 0 and (event.step - 1) % settings.eval_freq == 0]
    assert [event.tokens_seen for event in as_the_book] == book_tokens
    assert [event.train_loss for event in as_the_book] == book_train
    assert [event.val_loss for event in as_the_book] == book_val
    assert [event.step for event in evaluations] == [0, 1, 4, 7, 10, 13, 16, 19, 22]
    assert same_tensors(state_of(run.model), state_of(book_model))


@pytest.mark.parametrize(("total_steps", "eval_freq", "expected"), [(1, 10, 2), (2, 10, 3), (11, 10, 3), (12, 10, 4),
                                                                  (120, 10, 14), (22, 3, 9), (7, 1, 8)])
def test_the_evaluations_a_run_will_make(total_steps, eval_freq, expected):
    assert count_evaluations(total_steps, eval_freq) == expected


def test_the_time_left_counts_steps_and_evaluations_apart():
    plan = TextRunPlan(characters=0, train_characters=0, val_characters=0, train_tokens=0, val_tokens=0,
                       train_windows=20, val_windows=2, batches_per_epoch=10, val_batches=1, total_steps=10,
                       evaluations=count_evaluations(10, 5))  # before, after steps 1, 6 and 10
    started = TextRunProgress(step=0, total_steps=10, epoch=1, epochs=1, tokens_seen=0, step_losses=(),
                              train_losses=(), val_losses=(), finished=False, seconds=3.0, plan=plan,
                              evaluating=(2, 4))
    assert started.seconds_left is None  # no step timed yet
    one_step = replace(started, step=1, train_losses=((0, 0, 11.0),), val_losses=((0, 0, 11.0),), seconds=10.0,
                       step_seconds=2.0, evaluating=(2, 4))
    # 1.5 evaluations took 8 s: 5.33 s each, 2.5 left; 9 steps left at 2 s.
    assert one_step.seconds_left == pytest.approx(9 * 2.0 + 2.5 * 8.0 / 1.5)


def test_tokens_seen_and_the_progress():
    run = TextRun(tiny_gpt(0), TEXT, SMALL_RUN)
    first = run.progress()
    assert (first.step, first.tokens_seen, first.epoch, first.finished) == (0, 0, 1, False)
    assert first.seconds_per_epoch is None
    events = run.run_for(float("inf"))
    steps = [event for event in events if isinstance(event, TextRunStep)]
    assert [event.tokens_seen for event in steps] == [2 * 20 * number for number in range(1, len(steps) + 1)]
    assert [event.epoch for event in steps] == [1] * 11 + [2] * 11
    progress = run.progress()
    assert progress.finished and progress.step == progress.total_steps == 22 and progress.epoch == progress.epochs == 2
    assert progress.tokens_seen == 22 * 40
    assert [point[:2] for point in progress.step_losses] == [(event.step, event.tokens_seen) for event in steps]
    assert [point[0] for point in progress.train_losses] == [0, 1, 4, 7, 10, 13, 16, 19, 22]
    assert [point[0] for point in progress.val_losses] == [0, 1, 4, 7, 10, 13, 16, 19, 22]
    assert run.plan.evaluations == len(progress.train_losses) == 9
    assert progress.seconds == pytest.approx(sum(event.seconds for event in events))
    assert progress.step_seconds == pytest.approx(sum(event.seconds for event in steps))
    assert progress.seconds_per_epoch == pytest.approx(progress.seconds / 2)  # 2 epochs
    data = json.loads(json.dumps(progress.to_json_dict()))
    assert data["train_losses"][0] == list(progress.train_losses[0]) and data["plan"]["total_steps"] == 22
    assert pickle.loads(pickle.dumps(progress)) == progress
    assert run.run_for(1.0) == []  # a finished run does nothing more


def test_a_run_in_chunks_is_the_run_in_one_go():
    whole = TextRun(tiny_gpt(0), TEXT, SMALL_RUN)
    in_one_go = whole.run_for(float("inf"))
    chunked = TextRun(tiny_gpt(0), TEXT, SMALL_RUN)
    assert without_seconds(run_in_chunks(chunked)) == without_seconds(in_one_go)
    assert same_tensors(state_of(chunked.model), state_of(whole.model))


def test_max_steps_ends_the_run_early_with_an_evaluation():
    run = TextRun(tiny_gpt(0), TEXT, TextRunSettings(**{**SMALL_RUN.to_json_dict(), "max_steps": 5}))
    run.run_for(float("inf"))
    progress = run.progress()
    assert progress.finished and progress.step == progress.total_steps == 5
    assert [point[0] for point in progress.val_losses] == [0, 1, 4, 5]


@pytest.mark.parametrize(
    ("events_before", "call"),
    [(4, 1), (4, 2), (7, 2), (17, 2)],
    ids=["before a step", "after a backward pass", "during an evaluation", "before the first step of an epoch"],
)
def test_an_abandoned_step_or_evaluation_changes_nothing(events_before, call):
    """Abandoned, then run on: the same run as one never abandoned. The 4th event is step 2 (after the evaluation
    before training, step 1 and its evaluation), the 7th step 4's evaluation, the 17th step 12, the first of the
    second epoch (abandoned after its batch was drawn)."""
    settings = TextRunSettings(**{**SMALL_RUN.to_json_dict(), "max_steps": 13})
    uninterrupted = TextRun(tiny_gpt(0), TEXT, settings)
    uninterrupted_events = uninterrupted.run_for(float("inf"))
    expected = without_seconds(uninterrupted_events)

    run = TextRun(tiny_gpt(0), TEXT, settings)
    done = []
    while len(done) < events_before - 1:
        done += run.run_for(0)
    in_an_evaluation = isinstance(uninterrupted_events[events_before - 1], TextRunEvaluation)
    assert in_an_evaluation == (events_before == 7)
    weights, moments, before = state_of(run.model), optimizer_state(run.optimizer), run.progress()
    with pytest.raises(Abandoned):
        run.run_for(float("inf"), checkpoint=abandon_at(call))
    assert same_tensors(state_of(run.model), weights)
    assert all(torch.equal(a, b) for a, b in zip(optimizer_state(run.optimizer), moments, strict=True))
    after = run.progress()
    # An evaluation's first batch, measured before the second was abandoned, stands (and so does its time).
    assert after.evaluating == ((1, 4) if in_an_evaluation else None)
    assert (after.seconds > before.seconds) == in_an_evaluation
    assert replace(after, evaluating=None, seconds=before.seconds) == before
    assert without_seconds(done + run.run_for(float("inf"))) == expected


def test_a_text_too_short_to_train_or_validate_on_is_refused():
    with pytest.raises(ValueError, match=r"^the training part \(the first 90% of the text's characters\) is too short"):
        TextRun(tiny_gpt(0), TEXT[:100], SMALL_RUN)
    with pytest.raises(ValueError, match=r"^the validation part \(the last 10% of them\) is too short"):
        TextRun(tiny_gpt(0), TEXT[:1200], TextRunSettings(context_length=32, stride=1))
    with pytest.raises(ValueError, match="epochs"):
        TextRun(tiny_gpt(0), TEXT, TextRunSettings(epochs=0))
    with pytest.raises(ValueError, match="context length"):
        TextRun(tiny_gpt(0), TEXT, TextRunSettings(context_length=257, stride=1))


# ----- loss-tutor train -----------------------------------------------------------------------------------------


@pytest.fixture
def tiny_default_model(monkeypatch):
    model = tiny_gpt(0, 16)
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model)
    return model


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "short story.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_train_overfits_the_batch_and_prints_each_step(tiny_default_model, capsys):
    assert run_train(["--overfit-batch", "--steps", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Overfitting batch 0 of story.txt (2 rows x 8 tokens) for 3 steps; model: untrained"
    assert out[2].split() == ["step", "train", "loss", "eval", "loss", "perplexity", "accuracy", "seconds"]
    rows = [line.split() for line in out[3:7]]
    assert [row[0] for row in rows] == ["0", "1", "2", "3"] and rows[0][1] == "-"
    assert out[7].startswith("3 steps in ")
    assert all(line == line.rstrip() for line in out)


def test_train_json_lines_and_save_then_start_from_the_saved_weights(tiny_default_model, tmp_path, capsys):
    from tutor.lm.weight_files import read_weights_file

    saved = tmp_path / "trained.safetensors"
    assert run_train(["--overfit-batch", "--steps", "2", "--json", "--save", str(saved)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["start", "overfit_step", "overfit_step", "overfit_step", "finished"]
    assert lines[0]["settings"]["context_length"] == 8 and lines[0]["steps"] == 2
    assert [line["step"] for line in lines[1:4]] == [0, 1, 2] and lines[1]["train_loss"] is None
    assert len(lines[2]["predicted"]) == 2 and len(lines[2]["predicted"][0]) == 8
    assert lines[-1]["saved"] == str(saved) and lines[-1]["eval_loss"] == lines[3]["eval_loss"]

    loaded = read_weights_file(saved).model
    assert not same_tensors(state_of(loaded), state_of(tiny_default_model))
    assert run_train(["--overfit-batch", "--steps", "1", "--json", "--weights", str(saved)]) == 0
    restarted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert restarted[0]["model"] == "trained.safetensors"
    assert restarted[1]["eval_loss"] == pytest.approx(lines[3]["eval_loss"], rel=1e-5)  # where the first run ended


def test_train_on_a_text_prints_steps_and_evaluations(tiny_default_model, text_file, capsys):
    argv = ["--text", str(text_file), "--context-length", "32", "--stride", "32", "--epochs", "1", "--eval-freq", "3",
            "--eval-iter", "2", "--seed", "7"]
    assert run_train(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Training on short story.txt: 2,200 characters, the first 90% (")
    assert "7 batches an epoch, 1 epoch: 7 steps;" in out[1]
    table = [line.split() for line in out[4:-1]]
    assert [row[:2] for row in table[:3]] == [["1", "0"], ["1", "1"], ["1", "1"]]
    assert len(table[0]) == 5 and len(table[1]) == 4  # an evaluation: train and val loss; a step: its own loss
    assert table[-1][:3] == ["1", "7", "448"]
    assert out[-1].startswith("7 steps in ")
    assert all(line == line.rstrip() for line in out)

    assert run_train([*argv, "--json", "--steps", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["start", "evaluation", "step", "evaluation", "step", "evaluation",
                                                 "finished"]
    assert lines[0]["plan"]["total_steps"] == 2 and lines[0]["settings"]["eval_iter"] == 2
    assert lines[-1]["steps"] == 2 and lines[-1]["tokens_seen"] == 128 and lines[-1]["saved"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "0 is out of range: the number of steps (--steps) must be 1 to 10000"),
        (["--overfit-batch", "--steps", "99999999999999999999"],
         "99999999999999999999 is out of range: the number of steps (--steps) must be 1 to 10000"),
        (["--steps", "two"], "argument --steps: invalid int value: 'two'"),
        (["--overfit-batch", "--epochs", "2"], "--epochs is for the run on the text, not --overfit-batch"),
        (["--batch", "3"], "--batch is for --overfit-batch: the run on the text trains on every batch"),
        (["--overfit-batch", "--context-length", "300"], "300 is out of range: context length must be 1 to 256"),
        (["--epochs", "0"], "0 is out of range: epochs must be 1 to 50"),
        (["--epochs", "100000"], "100000 is out of range: epochs must be 1 to 50"),
        (["--text", "/no/such/file.txt"], "no such file: /no/such/file.txt"),
        (["--save", "/no/such/folder/model.safetensors"], "--save: no such folder: /no/such/folder"),
        (["--overfit-batch", "--save", "/tmp"], "--save: /tmp is a folder: name the file to write"),
        (["--overfit-batch", "--batch", "99999"], "batch number 99999 does not exist"),
        (["--text", "TEXT", "--context-length", "256", "--stride", "256"],
         "the training part (the first 90% of the text's characters) is too short"),
    ],
)
def test_train_refuses_bad_options_in_one_line(tiny_default_model, text_file, capsys, argv, message):
    assert run_train([str(text_file) if arg == "TEXT" else arg for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"loss-tutor train: error: {message}")
    assert captured.err.count("\n") == 1


def test_train_refuses_a_weights_file_that_is_not_a_model(tmp_path, capsys):
    not_a_model = tmp_path / "notes.safetensors"
    not_a_model.write_text("just some words", encoding="utf-8")
    assert run_train(["--overfit-batch", "--weights", str(not_a_model)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("loss-tutor train: error: ")
    assert captured.err.count("\n") == 1


def test_ctrl_c_ends_training_quietly_and_writes_no_file(tiny_default_model, tmp_path, monkeypatch, capsys):
    def interrupted(self, checkpoint=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(OverfitRun, "step", interrupted)
    saved = tmp_path / "trained.safetensors"
    assert run_train(["--overfit-batch", "--save", str(saved)]) == 130
    assert capsys.readouterr().err == ""
    assert list(tmp_path.iterdir()) == []
