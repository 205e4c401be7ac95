"""`loss-tutor`: the app by default, or the whole walkthrough as `--plain` text or `--json`."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path

from tutor.core.formatting import safe_to_draw
from tutor.core.glyphs import terminal_is_ascii, to_ascii
from tutor.core.jobs import UNTRAINED, file_choice, weights_labels
from tutor.core.protocol import SHARED_ENGINE_ENV
from tutor.core.room_notice import ROOM_NOTICE_ENV
from tutor.core.settings import MAX_POSITIONS_ENV, Settings, max_positions, parse_max_positions
from tutor.core.texts import SAMPLE_TEXT_PATH, LoadedText, TextError, describe, read_text_file
from tutor.core.workshop_texts import WorkshopTexts

PROG = "loss-tutor"


class UsageError(Exception):
    """A bad option: reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage block
        raise UsageError(message)


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 80x24; got {value!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"size must be positive; got {value!r}")
    return width, height


def _add_walkthrough_options(parser: argparse.ArgumentParser) -> None:
    # Defaults are None so that the app can tell a setting given here from one it resumes.
    defaults = Settings()
    group = parser.add_argument_group("text and settings")
    group.add_argument("--text", metavar="FILE", help="a UTF-8 text file to use instead of the sample story")
    group.add_argument("--batch-size", type=int, metavar="N", help=f"rows in the batch (default {defaults.batch_size})")
    group.add_argument(
        "--context-length", type=int, metavar="N",
        help=f"tokens in each input window, 1 to 256 (default {defaults.context_length})",
    )
    group.add_argument("--stride", type=int, metavar="N", help=f"tokens between window starts (default {defaults.stride})")
    group.add_argument("--seed", type=int, metavar="N", help=f"seed for shuffling the windows (default {defaults.seed})")
    group.add_argument("--shuffle", action="store_true", default=None, help="shuffle the windows, as when training")
    group.add_argument("--batch", type=int, metavar="N", help=f"which batch to show, from 0 (default {defaults.batch_index})")
    group.add_argument(
        "--max-positions", type=int, metavar="N",
        help=f"refuse batches with more than N positions (batch size × context length); lowers the built-in "
        f"limit, as ${MAX_POSITIONS_ENV} does",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="See, step by step, how a GPT model's training loss is computed.")
    _add_walkthrough_options(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--plain", action="store_true", help="print the whole walkthrough as text and exit")
    output.add_argument("--json", action="store_true", help="print the walkthrough's numbers as one JSON object and exit")
    model = parser.add_argument_group("the model")
    model.add_argument(
        "--weights", metavar="FILE", action="append", default=[],
        help="run every lesson with the weights in FILE: the book's PyTorch state_dict (.pth), Hugging Face "
        "GPT-2 model.safetensors (config.json beside it is read too) or a model this tutor saved; repeat to "
        "offer several (the first is shown)",
    )
    app = parser.add_argument_group("the app")
    app.add_argument("--lessons", metavar="DIR", help="read lessons from this folder instead of the built-in ones")
    app.add_argument("--watch", action="store_true", help="reload a lesson when its file changes")
    app.add_argument("--reset", action="store_true", help="forget saved progress and start over")
    # Given by `loss-tutor serve` to each participant's session (tutor/workshop/session_command.py), so not shown.
    app.add_argument("--workshop", action="store_true", help=argparse.SUPPRESS)  # open files only from --texts
    app.add_argument("--texts", metavar="DIR", help=argparse.SUPPRESS)
    return parser


def build_screenshots_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} screenshots",
        description="Render every lesson headless to SVG files, for reviewing edited lessons.",
    )
    parser.add_argument("directory", metavar="DIR", help="folder to write the SVG files into")
    parser.add_argument("--size", type=_size, default=(80, 24), metavar="WxH", help="terminal size (default 80x24)")
    _add_walkthrough_options(parser)
    parser.add_argument("--lessons", metavar="DIR", help="read lessons from this folder instead of the built-in ones")
    return parser


def settings_given(args: argparse.Namespace) -> dict:
    """The settings named on the command line, and only those."""
    given = {
        "batch_size": args.batch_size,
        "context_length": args.context_length,
        "stride": args.stride,
        "seed": args.seed,
        "shuffle": args.shuffle,
        "batch_index": args.batch,
    }
    return {name: value for name, value in given.items() if value is not None}


def apply_position_limit(args: argparse.Namespace) -> None:
    """Check --max-positions (or $LOSS_TUTOR_MAX_POSITIONS) and put it in the environment, where every check
    of the settings reads it: this process's and those of the processes it starts."""
    try:
        if args.max_positions is not None:
            os.environ[MAX_POSITIONS_ENV] = str(parse_max_positions(args.max_positions, "--max-positions"))
        max_positions()
    except ValueError as error:
        raise UsageError(str(error)) from None


def settings_from(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    apply_position_limit(args)
    settings = Settings.from_dict({**(base or Settings()).to_dict(), **settings_given(args)})
    try:
        settings.validate()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return settings


def text_from(args: argparse.Namespace) -> LoadedText:
    try:
        return read_text_file(args.text or SAMPLE_TEXT_PATH)
    except TextError as error:
        raise UsageError(str(error)) from None


def _lessons_dir(args: argparse.Namespace) -> Path | None:
    if args.lessons is None:
        return None
    folder = Path(args.lessons).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--lessons: no such folder: {folder}")
    return folder


def _workshop_texts(args: argparse.Namespace) -> WorkshopTexts | None:
    """With --workshop, the only files the app may open: those in --texts (none without it)."""
    if not args.workshop:
        if args.texts is not None:
            raise UsageError("--texts is only for --workshop")
        return None
    if args.text is not None:
        raise UsageError("--text cannot be used with --workshop: a participant opens only the files in --texts")
    if args.texts is None:
        return WorkshopTexts(None)
    folder = Path(args.texts).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"--texts: no such folder: {folder}")
    return WorkshopTexts(folder)


def weights_file(name: str) -> Path:
    """A --weights file, checked to be an existing file, every command's the same way (`loss-tutor`, `train`,
    `generate`, `serve`); whoever reads it says there if it is not a model."""
    file = Path(name).expanduser()
    if file.is_file():
        return file.absolute()
    shown = safe_to_draw(str(file))
    if file.is_dir():
        raise UsageError(f"--weights: {shown} is a folder: name the weights file inside it (e.g. model.safetensors)")
    raise UsageError(f"--weights: {'not a regular file' if file.exists() else 'no such file'}: {shown}")


def weight_files_from(args: argparse.Namespace) -> list[Path]:
    """The --weights files, each checked to be an existing file now, so the app never starts to fail later."""
    return [weights_file(name) for name in args.weights]


def run_report(args: argparse.Namespace) -> int:
    from tutor.core.protocol import Request
    from tutor.lm.engine_work import EngineModels, SessionWork, answer

    loaded = text_from(args)
    settings = settings_from(args)
    files = weights_labels(weight_files_from(args))
    choice = file_choice(next(iter(files))) if files else UNTRAINED
    request = Request(text=loaded.text, settings=settings, source=describe(loaded), model=choice)
    try:
        report = answer(request, EngineModels(files), SessionWork(), bug_lab=False)
    except ValueError as error:  # a weights file that is not a model says why, as a bad text does
        raise UsageError(str(error)) from None
    ascii_only = terminal_is_ascii()
    if args.json:
        json.dump(report.to_json_dict(), sys.stdout, ensure_ascii=ascii_only, indent=2)
        sys.stdout.write("\n")
    else:
        from tutor.core.plain import render_plain

        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        plain = render_plain(report, colour=colour)
        sys.stdout.write(to_ascii(plain) if ascii_only else plain)
    return 0


def build_app(args: argparse.Namespace):
    """The tutor for these options. The computing process is started before Textual is even imported,
    so the model loads while the interface starts."""
    # Importing Textual makes tens of thousands of objects, and the garbage collector would walk them all
    # several times over before the first frame (about 40 ms here). The app turns it back on once that
    # frame is drawn, after moving everything made so far out of its way (TutorApp._freeze_heap).
    gc.disable()
    from tutor.engine.process import ProcessEngine, start_process_engine

    workshop_texts = _workshop_texts(args)
    loaded = text_from(args) if args.text else None
    settings_from(args)  # refuse bad options before anything starts
    lessons_dir = _lessons_dir(args)
    room_notice = os.environ.get(ROOM_NOTICE_ENV) if args.workshop else None  # the instructor's, under `serve`
    shared_engine_folder = os.environ.get(SHARED_ENGINE_ENV)
    if shared_engine_folder:  # a participant's app under `loss-tutor serve`: the room's one model
        from tutor.engine.shared_client import SharedEngine

        engine = shared = SharedEngine(shared_engine_folder)
        engine_factory = lambda: SharedEngine(shared_engine_folder, on_queued=app.engine_queued)  # noqa: E731
        if args.weights:
            raise UsageError("--weights cannot be used in a workshop session: the instructor offers the models")
        model = UNTRAINED
    else:
        files = weight_files_from(args)
        engine, shared = start_process_engine(files), None
        engine_factory = lambda: ProcessEngine(weight_files=files)  # noqa: E731
        model = file_choice(next(iter(weights_labels(files)))) if files else UNTRAINED
    from tutor.ui.app import TutorApp

    app = TutorApp(
        settings_overrides=settings_given(args),
        text_path=args.text,
        loaded_text=loaded,
        lessons_dir=lessons_dir,
        watch=args.watch,
        reset=args.reset,
        engine=engine,
        engine_factory=engine_factory,
        workshop_texts=workshop_texts,
        room_notice_path=Path(room_notice) if room_notice else None,
        ascii_only=terminal_is_ascii(),
        model=model,
    )
    if shared is not None:
        shared.on_queued = app.engine_queued  # its place in the room's queue, shown while it waits
    return app


def require_terminal() -> None:
    """The app reads keys from stdin, draws on stderr (Textual's choice) and takes its size from stdout: all
    three must be a terminal. Without one on stdin it would spin on input that never comes; with stdout in a
    file it would draw at 80x24 over the terminal; with stderr in a file it would draw into the file."""
    standard_streams = (sys.__stdin__, sys.__stdout__, sys.__stderr__)  # as Textual uses them
    for name, stream in zip(("standard input", "standard output", "standard error"), standard_streams):
        if stream is None or not stream.isatty():
            raise UsageError(f"the app needs a terminal, and {name} is not one; --plain or --json print text instead")


def run_app(args: argparse.Namespace) -> int:
    require_terminal()
    app = build_app(args)
    app.run()
    if app.ended_by_signal is not None:  # it quit cleanly; say why, as the shell would have
        return 128 + app.ended_by_signal
    return app.return_code or 0


def run_screenshots(argv: list[str]) -> int:
    args = build_screenshots_parser().parse_args(argv)
    from tutor.ui.screenshots import render_screenshots

    loaded = text_from(args)
    try:
        written = render_screenshots(
            Path(args.directory),
            size=args.size,
            settings=settings_from(args),
            loaded_text=loaded,
            lessons_dir=_lessons_dir(args),
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    for path in written:
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["screenshots"]:
            return run_screenshots(argv[1:])
        if argv[:1] == ["generate"]:
            from tutor.generate_command import run_generate

            return run_generate(argv[1:])
        if argv[:1] == ["train"]:
            from tutor.train_command import run_train

            return run_train(argv[1:])
        if argv[:1] == ["serve"]:  # the workshop server (tutor/workshop/)
            from tutor.workshop.command import run_serve

            return run_serve(argv[1:])
        args = build_parser().parse_args(argv)
        if args.plain or args.json:
            return run_report(args)
        return run_app(args)
    except UsageError as error:
        print(f"{PROG}: error: {safe_to_draw(str(error))}", file=sys.stderr)  # may name a file
        return 2
    except MemoryError as error:  # computing's says which batch ran out and what to try (walkthrough.OutOfMemory)
        print(f"{PROG}: error: {error or 'out of memory'}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `loss-tutor --plain | head` closed the pipe early; that is not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
