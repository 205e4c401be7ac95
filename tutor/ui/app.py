"""The tutor app: wires the lesson screen to the engine, the lessons and the learner's saved progress."""

from __future__ import annotations

import asyncio
import gc
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.filter import LineFilter
from textual.geometry import Size
from textual.screen import Screen, ScreenResultCallbackType
from textual.signal import Signal
from textual.widget import AwaitMount
from textual.worker import Worker, get_current_worker

from tutor.core.counting import shown_number
from tutor.core.formatting import safe_to_draw
from tutor.core.glyphs import ascii_cells, lessons_in_ascii
from tutor.core.jobs import UNTRAINED, model_is_gone
from tutor.core.lab import Labs
from tutor.core.lessons import Lesson, LessonSet, builtin_lessons_dir, load_lessons
from tutor.core.progress import Progress, ProgressError, ProgressStore
from tutor.core.progress_saver import ProgressSaver, ProgressSnapshot
from tutor.core.protocol import (
    Engine,
    EngineClosed,
    EngineDied,
    EngineError,
    EngineTimedOut,
    LearnerError,
    Request,
    RequestSuperseded,
    describe_exit,
)
from tutor.core.report import Report
from tutor.core.room_notice import read_room_notice
from tutor.core.session import Attempt, Session, lesson_to_show
from tutor.core.settings import Settings
from tutor.core.startup import load_progress, session_from_progress, start_up_fallback
from tutor.core.texts import SAMPLE_TEXT_PATH, LoadedText, read_text_file
from tutor.core.workshop_texts import WorkshopTexts
from tutor.engine.process import ProcessEngine
from tutor.engine.shared_client import SharedEngine
from tutor.ui.ascii_output import AsciiCells
from tutor.ui.commands import LessonCommands
from tutor.ui.ending_signals import quit_on_ending_signals
from tutor.ui.heap import FullCollections
from tutor.ui.lab_runner import LabAnswered, LabFailed, LabRunner, MenuAnswered
from tutor.ui.light_input import with_light_input
from tutor.ui.messages import (
    ComputeFailed,
    EngineNotice,
    EngineQueued,
    EngineReplaced,
    LessonsChanged,
    ProgressNotSaved,
    ReportReady,
    RoomNoticeRead,
)
from tutor.ui.widgets.visible_controls import DropControlCharacters

MIN_WIDTH, MIN_HEIGHT = 60, 18
ENGINE_CHECK_S = 2.0  # how often an idle engine is checked for having died
ROOM_NOTICE_CHECK_S = 1.0  # how often a workshop's app looks for a new notice from the instructor
ROOM_MESSAGE_TIMEOUT_S = 60.0  # how long the instructor's message stays on screen
STILL_SCREEN_S = 1.0  # after the labs stop, when their last answer is drawn and a full garbage collection unseen
ACTIONS_WHILE_TOO_SMALL = ("quit", "help_quit")  # the app's own actions that work under the too-small notice
DROP_CONTROL_CHARACTERS = DropControlCharacters()
ASCII_CELLS = AsciiCells()
SCREENSHOT_COMMAND = "Screenshot"  # Textual's palette command that saves an SVG file (see deliver_screenshot)
KEYS_PANEL_COMMAND = "Keys"  # Textual's palette command that opens its key panel


class TutorApp(App):
    TITLE = "loss-tutor"
    SUB_TITLE = "how a GPT model's loss is computed"
    CSS_PATH = "tutor.tcss"
    COMMANDS = App.COMMANDS | {LessonCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
    ]

    def __init__(
        self,
        *,
        settings_overrides: dict | None = None,
        text_path: str | None = None,
        loaded_text: LoadedText | None = None,
        lessons_dir: Path | None = None,
        watch: bool = False,
        reset: bool = False,
        engine_factory: Callable[[], Engine] = ProcessEngine,
        engine: Engine | None = None,
        progress_store: ProgressStore | None = None,
        resume: bool = True,
        workshop_texts: WorkshopTexts | None = None,
        room_notice_path: Path | None = None,
        ascii_only: bool = False,
        model: str = UNTRAINED,
    ) -> None:
        super().__init__()
        # The terminal shows ASCII only (tutor.core.glyphs.terminal_is_ascii): the tutor's texts are written in
        # ASCII and every line drawn goes out in ASCII (see ascii_output); `.-ascii` in tutor.tcss draws the rest.
        self.ascii_only = ascii_only
        if ascii_only:
            self.add_class("-ascii")
        # In a workshop (`loss-tutor --workshop`) a participant opens only these files, and nothing the app does
        # for them touches the server's files outside their progress folder.
        self.workshop_texts = workshop_texts
        # In a workshop, where the instructor's notices to the room are (tutor/core/room_notice.py); None: none.
        self.room_notice_path = room_notice_path
        self._room_notice_shown: int | None = None  # the id of the last notice shown
        self._room_notice_reader: Worker | None = None  # the worker reading the notice, while it runs
        self.lessons_dir = lessons_dir
        self.lessons: LessonSet = self._lessons_from_files()
        self.watch_lessons = watch
        self.engine_factory = engine_factory
        self.engine: Engine | None = engine
        self._engine_lock = threading.Lock()  # compute workers, `cancel` and quitting all swap engines
        self._closing = False  # quitting: no new engine is started
        if engine is None:
            self._start_engine()  # the model starts loading before the first frame is drawn
        self.progress_store = progress_store if progress_store is not None else ProgressStore()
        self.progress_saver = ProgressSaver(self.progress_store)
        self.resume = resume
        self._start_up_generation: int | None = None  # the computation of the first numbers, until they arrive
        progress, progress_notices = load_progress(self.progress_store, reset=reset) if resume else (Progress(), [])
        self._asked_for = dict(settings_overrides or {})  # settings given on the command line: never reset at start-up
        restored = session_from_progress(
            progress, self.lessons, overrides=self._asked_for, text_path=text_path, loaded_text=loaded_text,
            workshop_texts=workshop_texts,
        )
        self.session: Session = restored.session
        self.session.model = model  # the model every lesson's numbers come from: the first --weights file, if any
        self.labs = LabRunner(self)  # training and generation, run on the engine a slice at a time
        self._full_collections = FullCollections()
        self.startup_notices = [*progress_notices, *restored.notices]
        self._text_resumed = restored.text_resumed  # `start_up_fallback` may replace a resumed text
        # Published whenever the session changes in a way a screen shows: an attempt begun, finished or abandoned,
        # another lesson in view, the lessons read again. Subscribers are called with the session.
        self.session_changed: Signal[Session] = Signal(self, "session-changed")
        self._lesson_mtimes = self._lesson_file_times() if watch else {}
        self._lesson_read_numbers = itertools.count(1)
        self._lessons_read_number = 0  # the read whose lessons are in use (0: the one above)
        self._lesson_watcher = None  # the worker looking for changed lesson files, while it runs
        self._too_small_notice: Screen | None = None
        self.ended_by_signal: int | None = None

    def notify(self, message: str, *, title: str = "", markup: bool = False, **options: Any) -> None:
        """Notifications carry file names, typed values and PyTorch errors: plain text unless asked, and
        their control characters shown, not sent."""
        super().notify(safe_to_draw(str(message)), title=safe_to_draw(title), markup=markup, **options)

    def get_line_filters(self) -> Sequence[LineFilter]:
        filters = [*super().get_line_filters(), DROP_CONTROL_CHARACTERS]
        return [*filters, ASCII_CELLS] if self.ascii_only else filters

    def get_key_display(self, binding: Binding) -> str:
        shown = super().get_key_display(binding)
        return ascii_cells(shown) if self.ascii_only else shown  # one cell each: the footer has no room to spare

    def _lessons_from_files(self) -> LessonSet:
        lessons = load_lessons(self.lessons_dir)
        return lessons_in_ascii(lessons) if self.ascii_only else lessons

    def get_driver_class(self) -> type[Driver]:
        return with_light_input(super().get_driver_class())  # a long paste typed key by key: see light_input

    # ----- start-up -------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        from tutor.ui.screens.lesson import LessonScreen

        return LessonScreen()

    def on_mount(self) -> None:
        self.save_progress()  # the lesson resumed counts as seen, as every lesson shown does
        for notice in self.startup_notices:
            self.notify(notice, severity="warning", timeout=8)
        for problem in self.lessons.problems:
            self.notify(str(problem), title="lesson file problem", severity="error", timeout=10)
        self.call_after_refresh(self._compute_first_numbers)
        self.call_after_refresh(self._freeze_heap)  # what the first frame needed stays for good
        self.labs.changed.subscribe(self, self._pace_full_collections)
        if self.watch_lessons:
            self.set_interval(1.0, self._check_lesson_files)
        self.set_interval(ENGINE_CHECK_S, self._replace_a_dead_engine)
        if self.room_notice_path is not None:
            self.set_interval(ROOM_NOTICE_CHECK_S, self._check_room_notice)
        self._check_size()
        if not self.is_headless:  # tests run headless, in a process whose signals are pytest's
            quit_on_ending_signals(self._end_on_signal)

    def _end_on_signal(self, signum: int) -> None:
        """SIGTERM, SIGHUP or SIGINT: quit as `q` does (progress saved, engine stopped), and on the way out
        Textual gives the terminal back as it was: main screen, no mouse reporting."""
        self.ended_by_signal = signum
        self.call_later(self.action_quit)

    # ----- computing ------------------------------------------------------------------------------

    def recompute(
        self, *, text: LoadedText | None = None, settings: Settings | None = None, text_path: str | None = None,
        model: str | None = None,
    ) -> int:
        """Compute a new report in the background; until it is ready the old one stays on screen.
        Returns the attempt's generation, which `session.outcome` names once it has finished."""
        attempt = self.session.begin(text=text, settings=settings, text_path=text_path, model=model)
        self._refresh_status()
        self.session_changed.publish(self.session)
        self._compute(attempt)
        return attempt.generation

    def _compute_first_numbers(self) -> None:
        self._start_up_generation = self.recompute()

    def _step_back_at_start(self, message: ComputeFailed) -> bool:
        """Until the first numbers arrive, a learner error (saved settings that do not fit the text) is not
        the end: compute again with what `start_up_fallback` steps back to, and say so. True if it did."""
        attempt = self.session.attempt
        if (not message.learner_error or self.session.report is not None or attempt is None
                or message.generation != self._start_up_generation or attempt.generation != message.generation):
            return False
        fallback = start_up_fallback(
            attempt.settings, message.reason, asked_for=self._asked_for, saved_text=self._text_resumed
        )
        if fallback is None:
            return False
        self.session.fail(message.generation, message.reason)
        self.notify(fallback.notice, severity="warning", timeout=12)
        sample = None
        if fallback.use_sample_text:
            sample, self._text_resumed = read_text_file(SAMPLE_TEXT_PATH), False
        self._start_up_generation = self.recompute(text=sample, settings=fallback.settings)
        return True

    def _start_engine(self) -> None:
        """Called before any worker runs, or with `_engine_lock` held."""
        try:
            self.engine = self.engine_factory()
        except Exception as error:  # tried again with the next computation; its failure is shown then
            self.engine = None
            self._engine_error = f"{type(error).__name__}: {error}"

    def _running_engine(self) -> Engine:
        """The engine, started now if there is none (it was replaced, or could not start before)."""
        with self._engine_lock:
            if self._closing:
                raise EngineClosed("the app is quitting")
            if self.engine is None:
                self._start_engine()
            if self.engine is None:
                raise RuntimeError(f"the computing process could not start: {self._engine_error}")
            return self.engine

    def _discard_engine(self, engine: Engine, *, start_another: bool = False) -> None:
        """Stop `engine` and let go of it, unless it was replaced already. Otherwise the next computation
        starts another, or this thread does now."""
        with self._engine_lock:
            if self.engine is engine:
                self.engine = None
            if start_another and self.engine is None and not self._closing:
                self._start_engine()
        engine.close()

    def _replace_a_dead_engine(self) -> None:
        """An idle engine whose process died (killed, out of memory) is replaced at once, so that the next
        change does not wait for a model to load. A busy one is replaced by the computation that waits on it."""
        engine = self.engine
        if engine is None or engine.busy or (exit_code := engine.exit_code) is None:
            return
        self._discard_engine(engine)
        self.notify(
            f"The computing process {describe_exit(exit_code)}. A new one is starting.",
            title="computing process restarted", severity="warning", timeout=10,
        )
        self._start_engine_soon()

    @work(thread=True, group="engine")
    def _start_engine_soon(self) -> None:
        """A new engine at once, off the event loop, so that it loads the model while the learner reads."""
        with self._engine_lock:
            if self.engine is None and not self._closing:
                self._start_engine()

    @work(thread=True, exclusive=True, group="compute")
    def _compute(self, attempt: Attempt) -> None:
        worker = get_current_worker()
        try:
            report = self.compute_on_an_engine(attempt.request(), worker)
        except EngineClosed:
            return  # cancelled, or the app is quitting: nobody waits for this answer
        except LearnerError as error:
            message = ComputeFailed(str(error), attempt.generation, learner_error=True)
        except Exception as error:  # the engine's own failure: shown, never a traceback
            message = ComputeFailed(f"{error}", attempt.generation, learner_error=False)
        else:
            message = ReportReady(report, attempt.generation)
        if not worker.is_cancelled:
            self.post_message(message)

    def compute_on_an_engine(self, request: Request, worker: Worker[None]) -> Report:
        """The report for `request` (or its job's answer, for the labs: tutor/ui/lab_runner.py). An engine that dies (killed, out of memory) is replaced and the request
        computed again, once: if that one dies too, this request fails and the next one starts another. An
        engine past its time budget is replaced and the request fails."""
        died_before = False
        while True:
            engine = self._running_engine()
            try:
                return engine.compute(request)
            except RequestSuperseded:
                raise  # a newer request of this session took its place in a shared engine's queue; it goes on
            except EngineClosed:
                # Stopped by a cancel (then this worker is cancelled too), by quitting, or by another worker
                # that found it dead or hung while this one waited its turn: then the next engine computes.
                self._discard_engine(engine)
                if worker.is_cancelled:
                    raise
            except EngineDied as death:
                self._discard_engine(engine)
                if worker.is_cancelled:
                    raise EngineClosed("nobody waits for this answer") from None
                if died_before:
                    raise EngineError(
                        f"the computing process stopped again on the same request: it {death.how}. "
                        "A new one starts with your next change"
                    ) from None
                died_before = True
                self.post_message(EngineReplaced(
                    f"The computing process {death.how}. A new one is starting and will compute your numbers again."
                ))
            except EngineTimedOut as timed_out:
                self._discard_engine(engine, start_another=True)
                raise EngineError(f"{timed_out}; a new computing process is starting") from None
            finally:
                for notice in engine.take_notices():
                    self.post_message(EngineNotice(notice))

    def on_engine_replaced(self, message: EngineReplaced) -> None:
        self.notify(message.notice, title="computing process restarted", severity="warning", timeout=10)

    def engine_queued(self, place: int) -> None:
        """Called by a shared engine, on the computing thread, with the request's place in the queue."""
        self.post_message(EngineQueued(place))

    def on_engine_queued(self, message: EngineQueued) -> None:
        if self.session.queued(message.place):
            self._refresh_status()
            self.session_changed.publish(self.session)
        else:  # not the lessons' numbers: a lab's slice waits its turn in the room's engine
            self.labs.queued(message.place)

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.notify(message.notice, title="loading the model", severity="warning", timeout=10)

    def cancel_computation(self, generation: int) -> None:
        """The learner cancelled the form that asked for this computation: what is in force stays. An engine
        still computing it is replaced (the room's shared engine is told instead, and moves on), so that the
        next request does not wait behind the abandoned one; if it failed, why is no longer shown (the numbers
        in force are)."""
        if self.session.forget_problem(generation):
            self.session_changed.publish(self.session)
        elif self.session.abandon(generation):
            self.workers.cancel_group(self, "compute")
            self._refresh_status()
            self.session_changed.publish(self.session)
            with self._engine_lock:
                busy = self.engine if self.engine is not None and self.engine.busy else None
            if isinstance(busy, SharedEngine):
                self._cancel_on_shared_engine(busy)
            elif busy is not None:
                self._discard_engine(busy)
                self._start_engine_soon()

    @work(thread=True, group="engine")
    def _cancel_on_shared_engine(self, engine: SharedEngine) -> None:
        engine.cancel()

    def on_report_ready(self, message: ReportReady) -> None:
        if self.session.succeed(message.generation, message.report):
            self._freeze_heap()  # the report's objects, before drawing it makes more
            self._refresh_status()
            self.session_changed.publish(self.session)
            self.save_progress()

    def _freeze_heap(self) -> None:
        """Exempt every object alive now (Textual, the widgets, the lessons, this report) from Python's
        cyclic garbage collector, and make sure it runs (`loss-tutor` keeps it off until the first frame).
        A full collection walks every tracked object and paused the interface for 30-130 ms; after this it
        walks only what was made since. Old reports and lesson text are freed by reference counting as
        before; what is frozen and later dropped in a reference cycle (a closed form, a toast) stays."""
        gc.freeze()
        gc.enable()

    def _pace_full_collections(self, labs: Labs) -> None:
        """No full garbage collection while a lab draws its progress; the one put off runs once every lab has
        stopped, when the screen is still."""
        if labs.running() is not None:
            self._full_collections.hold()
        elif self._full_collections.held:
            self.set_timer(STILL_SCREEN_S, self._collect_if_labs_still)

    def _collect_if_labs_still(self) -> None:
        if self.labs.labs.running() is None:
            self._full_collections.release()

    def on_compute_failed(self, message: ComputeFailed) -> None:
        if self._step_back_at_start(message) or self._back_to_untrained(message):
            return
        if self.session.fail(message.generation, message.reason):
            self._refresh_status()
            self.session_changed.publish(self.session)
            if message.learner_error and self.session.report is not None:
                note = "the last good text and settings stay in force"
            else:
                note = ""
            self.notify(f"{message.reason}. {note}".strip(), title="cannot compute", severity="error", timeout=8)

    def _back_to_untrained(self, message: ComputeFailed) -> bool:
        """The model the attempt names is gone (trained or opened in a computing process that was replaced, or let go
        by a shared engine): compute the same text and settings with the untrained model, and say why."""
        attempt = self.session.attempt
        if (not message.learner_error or attempt is None or attempt.generation != message.generation
                or attempt.model == UNTRAINED or not model_is_gone(message.reason)):
            return False
        self.session.fail(message.generation, message.reason)
        self.notify(f"{message.reason}. The lessons use the untrained model again.", title="model", severity="warning",
                    timeout=10)
        self.recompute(text=attempt.text, settings=attempt.settings, text_path=attempt.text_path, model=UNTRAINED)
        return True

    def _refresh_status(self) -> None:
        session = self.session
        if session.busy:
            self.sub_title = session.waiting_words
        else:  # the model is named at the header's right (tutor/ui/widgets/model_header.py), where 80 columns show it
            self.sub_title = safe_to_draw(session.source)  # a file name

    # ----- the models and the labs ----------------------------------------------------------------------

    def choose_model(self, choice: str) -> None:
        """Every lesson's numbers from now on come from the model `choice` names (tutor/core/jobs.py)."""
        self.recompute(model=choice)

    def on_lab_answered(self, message: LabAnswered) -> None:
        self.labs.answered(message)

    def on_lab_failed(self, message: LabFailed) -> None:
        self.labs.failed(message)

    def on_menu_answered(self, message: MenuAnswered) -> None:
        self.labs.menu_answered(message)
        told = message.quiet or self.labs.menu_answer_shown  # not again in a notice over the model form's own line
        if message.problem is not None:
            if not told:
                self.notify(message.problem, title="models", severity="error", timeout=10)
        elif message.menu is not None and message.menu.opened is not None:
            self.notify(f"opened {message.menu.option(message.menu.opened).name}: every lesson uses it now",
                        title="models", timeout=6)
            self.choose_model(message.menu.opened)
        elif message.menu is not None and message.menu.saved_to is not None and not told:
            self.notify(f"saved to {safe_to_draw(message.menu.saved_to)}", title="models", timeout=8)

    # ----- progress ---------------------------------------------------------------------------------

    def save_progress(self) -> None:
        """Save what is in force now, in a worker thread (the file lock may wait on another tutor)."""
        if self.resume:
            self._save(self._progress_in_force())

    def _progress_in_force(self) -> ProgressSnapshot:
        session = self.session
        typed_text = session.text.text if session.text_path is None and session.text.source == "typed text" else None
        return self.progress_saver.snapshot(
            lesson_id=session.lesson_id, seen=session.seen, checks=session.checks, first_tries=session.first_tries,
            settings=session.settings.to_dict(), text=typed_text, text_path=session.text_path,
        )

    @work(thread=True, exclusive=True, group="save")
    def _save(self, snapshot: ProgressSnapshot) -> None:
        failure = self.progress_saver.save(snapshot)
        if failure is not None:
            self.post_message(ProgressNotSaved(failure))

    def on_progress_not_saved(self, message: ProgressNotSaved) -> None:
        self.notify(f"{message.reason}. The tutor keeps trying, without saying so again.",
                    title="progress not saved", severity="warning", timeout=8)

    def _save_on_the_way_out(self) -> None:
        """What is in force as the app ends, saved before it does: a save left to a worker may never run."""
        if self.resume:
            self.progress_saver.save(self._progress_in_force())

    def start_over(self) -> None:
        """Forget the saved progress: the first lesson, the sample story and default settings. A form open
        over the lessons is closed; what it was computing is superseded."""
        from tutor.ui.screens.computing_form import ComputingForm

        try:
            self.progress_saver.reset()
        except ProgressError as error:
            self.notify(str(error), severity="error")
            return
        self.session.seen.clear()
        self.session.checks.clear()
        self.session.first_tries.clear()
        for screen in self.screen_stack:
            if isinstance(screen, ComputingForm):
                screen.close_form()
        self.recompute(text=read_text_file(SAMPLE_TEXT_PATH), settings=Settings(), text_path=None)
        self.go_to_lesson(0)
        self.notify("Progress cleared: starting over with the sample story and default settings.")

    # ----- the lesson in view ---------------------------------------------------------------------------

    @property
    def lesson_index(self) -> int | None:
        """Where the lesson in view is among the lessons; None if no lesson is loaded."""
        lesson_id = self.session.lesson_id
        return self.lessons.index_of(lesson_id) if lesson_id is not None else None

    @property
    def lesson(self) -> Lesson | None:
        index = self.lesson_index
        return self.lessons.lessons[index] if index is not None else None

    def go_to_lesson(self, index: int) -> None:
        """Show lesson `index` (a key, the lesson list, the palette); a lesson that does not exist is refused
        with a notice."""
        if 0 <= index < len(self.lessons.lessons):
            self._show_lesson(index)
        else:
            self.notify(f"there is no lesson {shown_number(index)}", severity="warning", timeout=3)

    def _show_lesson(self, index: int | None) -> None:
        """Lesson `index` (None: there are none) is in view and seen; saved, and the screens told."""
        self.session.show_lesson(self.lessons.lessons[index].id if index is not None else None)
        self.save_progress()
        self.session_changed.publish(self.session)

    # ----- the instructor's notices, in a workshop -------------------------------------------------------

    def _check_room_notice(self) -> None:
        """Every second: read the room's notice, in a worker (one read at a time)."""
        if self._room_notice_reader is None or self._room_notice_reader.is_finished:
            self._room_notice_reader = self._read_room_notice()

    @work(thread=True, group="room-notice")
    def _read_room_notice(self) -> None:
        notice = read_room_notice(self.room_notice_path)
        if notice is not None and notice.id != self._room_notice_shown:
            self.post_message(RoomNoticeRead(notice))

    def on_room_notice_read(self, message: RoomNoticeRead) -> None:
        """A message is shown for a while; a lesson is offered (`f` follows) unless this app has no such lesson."""
        notice = message.notice
        if notice.id == self._room_notice_shown:
            return
        self._room_notice_shown = notice.id
        if notice.message is not None:
            sent = time.strftime("%H:%M", time.localtime(notice.sent_at))
            self.notify(notice.message, title=f"From the instructor ({sent})", timeout=ROOM_MESSAGE_TIMEOUT_S)
        if notice.lesson is not None and self.lessons.index_of(notice.lesson) is not None:
            self.session.suggest_lesson(notice.lesson)
            self.session_changed.publish(self.session)

    def follow_suggestion(self) -> None:
        """Go to the lesson the instructor suggested (`f`), if one is pending and is still among the lessons."""
        suggested = self.session.suggested_lesson
        index = self.lessons.index_of(suggested) if suggested is not None else None
        if index is not None:
            self.go_to_lesson(index)

    # ----- lessons on disk --------------------------------------------------------------------------

    # The files are read and parsed in worker threads, never on the event loop after start-up: a big lesson
    # folder must not hold up keys. Each read has a number; the lessons of the newest read that finished win.

    def _lesson_file_times(self) -> dict[Path, tuple[int, int]]:
        folder = self.lessons_dir or builtin_lessons_dir()
        times = {}
        for path in folder.glob("*.md"):
            try:
                status = path.stat()
            except OSError:
                continue
            times[path] = (status.st_mtime_ns, status.st_size)
        return times

    def _check_lesson_files(self) -> None:
        """With --watch, every second: read the lessons again if a file changed (one look at a time)."""
        if self._lesson_watcher is None or self._lesson_watcher.is_finished:
            self._lesson_watcher = self._read_lessons(next(self._lesson_read_numbers), only_if_changed=True)

    def reload_lessons(self) -> None:
        """Read the lesson files again (the palette's "Reload lessons")."""
        self._read_lessons(next(self._lesson_read_numbers), only_if_changed=False)

    @work(thread=True, group="lessons")
    def _read_lessons(self, read_number: int, only_if_changed: bool) -> None:
        times = self._lesson_file_times()
        if only_if_changed and times == self._lesson_mtimes:
            return
        self._lesson_mtimes = times
        self.post_message(LessonsChanged(self._lessons_from_files(), read_number))

    def on_lessons_changed(self, message: LessonsChanged) -> None:
        if message.read_number < self._lessons_read_number:
            return  # a newer read finished first
        self._lessons_read_number = message.read_number
        index_before = self.lesson_index
        self.lessons = message.lessons
        for problem in self.lessons.problems:
            self.notify(str(problem), title="lesson file problem", severity="error", timeout=10)
        # the lesson in view if it is still there, else the one now where it was
        self._show_lesson(lesson_to_show(self.lessons, self.session.lesson_id, index_before or 0))

    # ----- size, help, palette, quit ------------------------------------------------------------------

    # While the terminal is too small, the too-small notice is the top screen and stays there: no other
    # screen is opened over it and no app key but quitting works; once the terminal is big enough again the
    # notice is popped and what was under it (lesson, form, palette, help) is back as it was.

    def on_resize(self, event: events.Resize) -> None:
        # This handler runs before App._on_resize stores the new size, so `self.size` is still the old one.
        self._check_size(event.size)

    @property
    def too_small_notice(self) -> Screen | None:
        """The too-small notice, while it is up."""
        notice = self._too_small_notice
        return notice if notice is not None and notice in self.screen_stack else None

    def _check_size(self, size: Size | None = None) -> None:
        size = size or self.size
        too_small = size.width < MIN_WIDTH or size.height < MIN_HEIGHT
        notice = self.too_small_notice
        if too_small and notice is None:
            from tutor.ui.screens.too_small import TooSmallScreen

            notice = TooSmallScreen(MIN_WIDTH, MIN_HEIGHT)
            self.push_screen(notice)
            self._too_small_notice = notice
        elif not too_small and notice is not None:
            self._too_small_notice = None
            if self.screen is notice:  # always, as nothing is pushed over it
                self.pop_screen()

    def push_screen(
        self,
        screen: Screen[Any] | str,
        callback: ScreenResultCallbackType[Any] | None = None,
        wait_for_dismiss: bool = False,
        *,
        mode: str | None = None,
    ) -> AwaitMount | asyncio.Future[Any]:
        """Nothing is opened over the too-small notice. The keys that open screens are off while it is up
        (see `check_action`); this refuses the rest, e.g. a palette command chosen just before a resize."""
        if self.too_small_notice is None:
            return super().push_screen(screen, callback, wait_for_dismiss, mode=mode)
        refused = asyncio.get_running_loop().create_future()  # for whoever awaits it: done, no result
        refused.set_result(None)
        return refused

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.too_small_notice is not None and action not in ACTIONS_WHILE_TOO_SMALL:
            return False
        return super().check_action(action, parameters)

    def action_help(self) -> None:
        from tutor.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from tutor.ui.screens.lesson import LessonScreen

        for command in super().get_system_commands(screen):
            if command.title == KEYS_PANEL_COMMAND:
                continue  # the tutor's own Help lists the keys: one help entry in the palette, not two
            if command.title != SCREENSHOT_COMMAND or self.workshop_texts is None:
                yield command
        yield SystemCommand("Help", "Keys and how the tutor works", self.action_help)
        yield SystemCommand("Start over", "Forget saved progress, text and settings", self.start_over)
        yield SystemCommand("Reload lessons", "Read the lesson files again", self.reload_lessons)
        if isinstance(screen, LessonScreen):
            yield from screen.system_commands()

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Textual saves a screenshot in the user's Downloads folder (or where `path` says): in a workshop,
        that would write to the server's files, so it is refused there."""
        if self.workshop_texts is not None:
            self.notify("Screenshots are not saved in a workshop.", severity="warning", timeout=4)
            return None
        return super().deliver_screenshot(filename, path, time_format)

    def action_help_quit(self) -> None:
        """ctrl+c copies in a text field; anywhere else it says how to quit, in plain words (Textual's own
        note was markup, shown as it was written). Over help or the inspector, q closes them instead."""
        q = self.active_bindings.get("q")
        key = "q" if q is not None and q.binding.action in ("quit", "app.quit") else "ctrl+q"
        self.notify(f"Press {key} to quit the tutor.", title="ctrl+c does not quit")

    async def action_quit(self) -> None:
        self.exit()

    def on_unmount(self) -> None:
        self._save_on_the_way_out()
        self._full_collections.stop_holding()  # for the next app in this process (tests run many); no collection now
        with self._engine_lock:
            self._closing = True
            engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
