"""`loss-tutor train`: train the model as chapter 5 of the book does, printing the loss as it goes; `--save FILE`
writes the trained weights (safetensors, written whole or not at all).

Two runs: `--overfit-batch` trains on one batch of the text again and again (the batch the lessons show, from the
app's settings), the book's run trains on the text (90 % of it; the other 10 % measures the validation loss).

torch is imported only once the options are checked, so this module stays light."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tutor.cli import PROG, UsageError
from tutor.command_model import load_model
from tutor.core.formatting import counted, safe_to_draw
from tutor.core.glyphs import terminal_is_ascii, to_ascii
from tutor.core.settings import Settings, whole_number_rules
from tutor.core.texts import SAMPLE_TEXT_PATH, LoadedText, TextError, read_text_file
from tutor.core.training import (
    LEARNING_RATE,
    MAX_EPOCHS,
    MAX_STEPS,
    OVERFIT_STEPS,
    TRAIN_RATIO,
    TRAINING_SEED,
    WEIGHT_DECAY,
    OverfitStepResult,
    TextRunEvaluation,
    TextRunSettings,
    TextRunStep,
    whole_number,
)

COMMAND = f"{PROG} train"
TEXT_RUN_ONLY = ("epochs", "eval_freq", "eval_iter")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage block
        raise UsageError(message)


def build_train_parser() -> argparse.ArgumentParser:
    batch, run = Settings(), TextRunSettings()
    parser = _Parser(
        prog=COMMAND,
        description="Train the model with AdamW (learning rate 0.0004, weight decay 0.1) as chapter 5 of the book "
        "does, printing the loss after each step. By default: the book's run on the text, its first "
        f"{TRAIN_RATIO:.0%} for training and the rest for validation, both losses evaluated every few steps. "
        "With --overfit-batch: one batch, trained on again and again until the model has memorised it.",
    )
    parser.add_argument(
        "--overfit-batch", action="store_true",
        help="train on one batch of the text (the one the lessons show) instead of the whole text",
    )
    parser.add_argument(
        "--steps", type=int, metavar="N",
        help=f"steps to take, 1 to {MAX_STEPS:,} (default: {OVERFIT_STEPS} with --overfit-batch; every step of "
        "--epochs otherwise)",
    )
    parser.add_argument("--text", metavar="FILE", help="a UTF-8 text file to train on instead of the sample story")
    parser.add_argument(
        "--weights", metavar="FILE",
        help="start from the weights in FILE: the book's .pth state_dict, a GPT-2 model.safetensors or a model this "
        "tutor saved (default: the untrained model, seed 42)",
    )
    parser.add_argument("--save", metavar="FILE", help="write the trained weights to FILE (safetensors) at the end")
    parser.add_argument(
        "--json", action="store_true",
        help='print JSON lines instead of a table: {"event": "start", ...} first, then one object a step '
        '("overfit_step", or "step" and "evaluation" for the text), then {"event": "finished", ...}',
    )
    windows = parser.add_argument_group("windows and batches")
    windows.add_argument(
        "--batch-size", type=int, metavar="N",
        help=f"rows in a batch (default {batch.batch_size})" if batch.batch_size == run.batch_size
        else f"rows in a batch (default {batch.batch_size} with --overfit-batch; {run.batch_size} for the text)",
    )
    windows.add_argument(
        "--context-length", type=int, metavar="N",
        help=f"tokens in each window (default {batch.context_length} with --overfit-batch, as the app; "
        f"{run.context_length} for the text)",
    )
    windows.add_argument(
        "--stride", type=int, metavar="N",
        help=f"tokens between window starts (default {batch.stride} with --overfit-batch; {run.stride} for the text)",
    )
    windows.add_argument(
        "--batch", type=int, metavar="N",
        help=f"with --overfit-batch: which batch, from 0 (default {batch.batch_index})",
    )
    windows.add_argument(
        "--seed", type=int, default=TRAINING_SEED, metavar="N",
        help=f"seed for dropout and for shuffling the training windows (default {TRAINING_SEED})",
    )
    text_run = parser.add_argument_group("the run on the text")
    text_run.add_argument(
        "--epochs", type=int, metavar="N",
        help=f"passes over the training windows, 1 to {MAX_EPOCHS} (default {run.epochs})",
    )
    text_run.add_argument(
        "--eval-freq", type=int, metavar="N", help=f"evaluate both losses every N steps (default {run.eval_freq})"
    )
    text_run.add_argument(
        "--eval-iter", type=int, metavar="N", help=f"batches each evaluation averages (default {run.eval_iter})"
    )
    return parser


def check_options(args: argparse.Namespace) -> None:
    if args.overfit_batch:
        for name in TEXT_RUN_ONLY:
            if getattr(args, name) is not None:
                raise UsageError(f"--{name.replace('_', '-')} is for the run on the text, not --overfit-batch")
    elif args.batch is not None:
        raise UsageError("--batch is for --overfit-batch: the run on the text trains on every batch")
    try:
        if args.steps is not None:
            whole_number("the number of steps (--steps)", args.steps, high=MAX_STEPS)
        whole_number_rules()["seed"].check(args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.save is not None:
        path = Path(args.save).expanduser()
        if not path.parent.is_dir():
            raise UsageError(f"--save: no such folder: {path.parent}")
        if path.is_dir():
            raise UsageError(f"--save: {path} is a folder: name the file to write")


def given(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def batch_settings(args: argparse.Namespace) -> Settings:
    values = given(args, "batch_size", "context_length", "stride")
    if args.batch is not None:
        values["batch_index"] = args.batch
    settings = Settings(**values)
    try:
        settings.validate()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return settings


def text_run_settings(args: argparse.Namespace) -> TextRunSettings:
    settings = TextRunSettings(
        **given(args, "batch_size", "context_length", "stride", "epochs", "eval_freq", "eval_iter"),
        seed=args.seed,
        max_steps=args.steps,
    )
    try:
        settings.validate()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return settings


def read_text(args: argparse.Namespace) -> LoadedText:
    try:
        return read_text_file(args.text or SAMPLE_TEXT_PATH)
    except TextError as error:
        raise UsageError(str(error)) from None


class Output:
    """Lines on stdout, flushed as they come: JSON lines, or text made safe to show (ASCII on an ASCII terminal)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.ascii_only = terminal_is_ascii()

    def line(self, text: str) -> None:
        if not self.as_json:
            shown = safe_to_draw(text.rstrip())
            sys.stdout.write((to_ascii(shown) if self.ascii_only else shown) + "\n")
            sys.stdout.flush()

    def event(self, data: dict) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(data, ensure_ascii=True) + "\n")
            sys.stdout.flush()


def loss_text(value: float | None, width: int) -> str:
    return f"{'-' if value is None else f'{value:.3f}':>{width}}"


def overfit_row(result: OverfitStepResult) -> str:
    seconds = f"{result.seconds:.2f}" if result.step else ""
    return (f"{result.step:>5}  {loss_text(result.train_loss, 10)}  {loss_text(result.eval_loss, 9)}  "
            f"{result.perplexity:>12,.2f}  {result.accuracy:>8.1%}  {seconds:>7}")


def run_overfit(args: argparse.Namespace, output: Output) -> tuple[object, dict]:
    settings = batch_settings(args)
    loaded = read_text(args)
    model, model_name = load_model(args.weights)
    from tutor.lm.training import OverfitRun
    from tutor.lm.walkthrough import Walkthrough

    try:
        batch = Walkthrough(loaded.text, settings, model).batch
        run = OverfitRun(model, batch.inputs, batch.targets, seed=args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from None
    steps = args.steps or OVERFIT_STEPS
    output.event({"event": "start", "run": "overfit-batch", "model": model_name, "text": loaded.source,
                  "settings": settings.to_dict(), "learning_rate": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
                  "seed": args.seed, "steps": steps})
    output.line(f"Overfitting batch {settings.batch_index} of {loaded.source} ({settings.batch_size} rows x "
                f"{settings.context_length} tokens) for {counted(steps, 'step')}; model: {model_name}")
    output.line(f"AdamW, learning rate {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY:g}, seed {args.seed}. The train "
                "loss is the step's own (train mode, dropout on); the rest are measured after it in eval mode.")
    output.line(f"{'step':>5}  {'train loss':>10}  {'eval loss':>9}  {'perplexity':>12}  {'accuracy':>8}  "
                f"{'seconds':>7}")
    started = time.perf_counter()
    result = run.measure()
    for number in range(steps + 1):
        if number:
            result = run.step()
        output.line(overfit_row(result))
        output.event({"event": "overfit_step", **result.to_json_dict()})
    summary = {"steps": steps, "eval_loss": result.eval_loss, "perplexity": result.perplexity,
               "accuracy": result.accuracy}
    output.line(f"{counted(steps, 'step')} in {time.perf_counter() - started:.1f} s: eval loss {result.eval_loss:.4f}, "
                f"perplexity {result.perplexity:,.3f}, accuracy {result.accuracy:.1%}")
    return run.model, summary


def text_run_row(event: TextRunStep | TextRunEvaluation) -> str:
    if isinstance(event, TextRunStep):
        losses = f"{event.loss:>9.3f}  {'':>10}  {'':>8}"
    else:
        losses = f"{'':>9}  {event.train_loss:>10.3f}  {event.val_loss:>8.3f}"
    return f"{event.epoch:>5}  {event.step:>6}  {event.tokens_seen:>11,}  {losses}"


def run_on_text(args: argparse.Namespace, output: Output) -> tuple[object, dict]:
    settings = text_run_settings(args)
    loaded = read_text(args)
    model, model_name = load_model(args.weights)
    from tutor.lm.training import TextRun

    try:
        run = TextRun(model, loaded.text, settings)
    except ValueError as error:
        raise UsageError(str(error)) from None
    plan = run.plan
    output.event({"event": "start", "run": "text", "model": model_name, "text": loaded.source,
                  "settings": settings.to_json_dict(), "plan": plan.to_json_dict()})
    output.line(f"Training on {loaded.source}: {plan.characters:,} characters, the first {TRAIN_RATIO:.0%} "
                f"({counted(plan.train_tokens, 'token')}) for training, the rest ({counted(plan.val_tokens, 'token')}) "
                "for validation; model: " + model_name)
    every_step = plan.batches_per_epoch * settings.epochs
    steps = (f"{counted(settings.epochs, 'epoch')}: {counted(every_step, 'step')}" if plan.total_steps == every_step
             else f"{counted(plan.total_steps, 'step')} of the {every_step:,} in {counted(settings.epochs, 'epoch')}")
    output.line(f"context length {settings.context_length}, stride {settings.stride}, batch size "
                f"{settings.batch_size}: {counted(plan.batches_per_epoch, 'batch', 'batches')} an epoch, {steps}; "
                f"AdamW, learning rate {settings.learning_rate:g}, weight decay {settings.weight_decay:g}, "
                f"seed {settings.seed}")
    output.line(f"Step loss: each step's own (train mode, dropout on). Train and val loss: evaluated every "
                f"{counted(settings.eval_freq, 'step')} in eval mode, each the mean of up to "
                f"{counted(settings.eval_iter, 'batch', 'batches')}.")
    output.line(f"{'epoch':>5}  {'step':>6}  {'tokens seen':>11}  {'step loss':>9}  {'train loss':>10}  "
                f"{'val loss':>8}")
    while not run.finished:
        for event in run.run_for(0):
            output.line(text_run_row(event))
            output.event(event.to_json_dict())
    progress = run.progress()
    (_, _, train_loss), (_, _, val_loss) = progress.train_losses[-1], progress.val_losses[-1]
    summary = {"steps": progress.step, "tokens_seen": progress.tokens_seen, "train_loss": train_loss,
               "val_loss": val_loss, "seconds": progress.seconds, "seconds_per_epoch": progress.seconds_per_epoch}
    output.line(f"{counted(progress.step, 'step')} in {progress.seconds:.1f} s (about "
                f"{progress.seconds_per_epoch:.0f} s an epoch, evaluations included): train loss {train_loss:.3f}, "
                f"val loss {val_loss:.3f}")
    return run.model, summary


def save(model, file: str, output: Output) -> str:
    from tutor.lm.weight_files import save_weights

    path = Path(file).expanduser()
    try:
        save_weights(model, path, note="trained by loss-tutor train")
    except ValueError as error:  # WeightsFileError: it could not be written
        raise UsageError(str(error)) from None
    output.line(f"saved the trained weights to {path}")
    return str(path)


def run_train(argv: list[str]) -> int:
    """Bad options, a text or weights file that cannot be used: one line on stderr, exit 2. Ctrl+C: exit 130, and
    no file written."""
    try:
        args = build_train_parser().parse_args(argv)
        output = Output(as_json=args.json)
        check_options(args)
        model, summary = (run_overfit if args.overfit_batch else run_on_text)(args, output)
        saved = save(model, args.save, output) if args.save else None
        output.event({"event": "finished", **summary, "saved": saved})
    except UsageError as error:
        print(f"{COMMAND}: error: {safe_to_draw(str(error))}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as error:
        from tutor.lm.walkthrough import is_out_of_memory  # torch is loaded: the error came from it

        if not is_out_of_memory(error):
            raise
        print(f"{COMMAND}: error: out of memory training the model; try a smaller batch size or context length",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `loss-tutor train | head` closed the pipe early: not an error
        sys.stderr.close()
        return 0
    return 0
