"""The tutor app: wires the lesson screen to the engine, the lessons and the learner's saved progress."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from tutor.commands import LessonCommands
from tutor.engine import Engine, LearnerError, ProcessEngine
from tutor.lessons import LessonSet, builtin_lessons_dir, load_lessons
from tutor.messages import ComputeFailed, LessonsChanged, ReportReady
from tutor.progress import Progress, ProgressError, ProgressStore
from tutor.session import Session
from tutor.settings import Settings
from tutor.texts import SAMPLE_TEXT_PATH, LoadedText, TextError, read_text_file, text_from_string

MIN_WIDTH, MIN_HEIGHT = 60, 18


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
        cursor_blink: bool = True,
    ):
        super().__init__()
        self.cursor_blink = cursor_blink  # off for snapshot tests, so every capture is the same
        self.lessons_dir = lessons_dir
        self.lessons: LessonSet = load_lessons(lessons_dir)
        self.watch_lessons = watch
        self.engine_factory = engine_factory
        self.engine: Engine | None = engine
        if engine is None:
            self._start_engine()  # the model starts loading before the first frame is drawn
        self.progress_store = progress_store if progress_store is not None else ProgressStore()
        self.resume = resume
        self.startup_notices: list[str] = []
        progress = self._load_progress(reset) if resume else Progress()
        self.session = self._initial_session(progress, settings_overrides or {}, text_path, loaded_text)
        self.start_lesson = progress.current_lesson
        self._lesson_mtimes = self._lesson_file_times() if watch else {}

    def notify(self, message: str, *, markup: bool = False, **options) -> None:
        """Notifications carry file names, typed values and PyTorch errors: plain text unless asked."""
        super().notify(message, markup=markup, **options)

    # ----- start-up -------------------------------------------------------------------------------

    def _load_progress(self, reset: bool) -> Progress:
        if reset:
            try:
                self.progress_store.reset()
            except ProgressError as error:
                self.startup_notices.append(str(error))
            return Progress()
        progress, notice = self.progress_store.load()
        if notice:
            self.startup_notices.append(notice)
        return progress

    def _initial_session(
        self, progress: Progress, overrides: dict, text_path: str | None, loaded_text: LoadedText | None
    ) -> Session:
        try:
            settings = Settings.from_dict({**Settings().to_dict(), **progress.settings, **overrides})
            settings.validate()
        except (TypeError, ValueError):
            self.startup_notices.append("your saved settings were not valid; using the defaults")
            settings = Settings.from_dict({**Settings().to_dict(), **overrides})
        text = loaded_text
        if text is None and progress.text_path:
            try:
                text, text_path = read_text_file(progress.text_path), progress.text_path
            except TextError as error:
                self.startup_notices.append(f"could not reopen your text: {error}; using the sample story")
        if text is None and progress.text:
            try:
                text = text_from_string(progress.text)
            except TextError:
                pass
        if text is None:
            text = read_text_file(SAMPLE_TEXT_PATH)
        session = Session(text=text, settings=settings, text_path=text_path)
        session.seen = list(progress.lessons_seen)
        session.checks = dict(progress.checks_answered)
        return session

    def get_default_screen(self) -> Screen:
        from tutor.screens.lesson import LessonScreen

        return LessonScreen(start_lesson=self.start_lesson)

    def on_mount(self) -> None:
        for notice in self.startup_notices:
            self.notify(notice, severity="warning", timeout=8)
        for problem in self.lessons.problems:
            self.notify(str(problem), title="lesson file problem", severity="error", timeout=10)
        self.call_after_refresh(self.recompute)
        self.call_after_refresh(self._freeze_heap)  # what the first frame needed stays for good
        if self.watch_lessons:
            self.set_interval(1.0, self._check_lesson_files)
        self._check_size()

    # ----- computing ------------------------------------------------------------------------------

    def recompute(
        self, *, text: LoadedText | None = None, settings: Settings | None = None, text_path: str | None = None
    ) -> int:
        """Compute a new report in the background; until it is ready the old one stays on screen.
        Returns the attempt's generation, which `session.outcome` names once it has finished."""
        attempt = self.session.begin(text=text, settings=settings, text_path=text_path)
        self._refresh_status()
        self.screen_refresh()
        self._compute(attempt)
        return attempt.generation

    def _start_engine(self) -> None:
        try:
            self.engine = self.engine_factory()
        except Exception as error:  # tried again with the next computation; its failure is shown then
            self.engine = None
            self._engine_error = f"{type(error).__name__}: {error}"

    @work(thread=True, exclusive=True, group="compute")
    def _compute(self, attempt) -> None:
        try:
            if self.engine is None:
                self._start_engine()
            if self.engine is None:
                raise RuntimeError(f"the computing process could not start: {self._engine_error}")
            report = self.engine.compute(attempt.request())
        except LearnerError as error:
            message = ComputeFailed(str(error), attempt.generation, learner_error=True)
        except Exception as error:  # the engine's own failure: shown, never a traceback
            message = ComputeFailed(f"{error}", attempt.generation, learner_error=False)
        else:
            message = ReportReady(report, attempt.generation)
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    def cancel(self, generation: int) -> None:
        """The learner cancelled the form that asked for this computation: what is in force stays."""
        if self.session.abandon(generation):
            self._refresh_status()
            self.screen_refresh()

    def on_report_ready(self, message: ReportReady) -> None:
        if self.session.succeed(message.generation, message.report):
            self._freeze_heap()  # the report's objects, before drawing it makes more
            self._refresh_status()
            self.screen_refresh()
            self.save_progress()

    def _freeze_heap(self) -> None:
        """Exempt every object alive now (Textual, the widgets, the lessons, this report) from Python's
        cyclic garbage collector, and make sure it runs (`loss-tutor` keeps it off until the first frame).
        A full collection walks every tracked object and paused the interface for 30-130 ms; after this it
        walks only what was made since. Old reports and lesson text are freed by reference counting as
        before; what is frozen and later dropped in a reference cycle (a closed form, a toast) stays."""
        gc.freeze()
        gc.enable()

    def on_compute_failed(self, message: ComputeFailed) -> None:
        if self.session.fail(message.generation, message.reason):
            self._refresh_status()
            self.screen_refresh()
            if message.learner_error and self.session.report is not None:
                note = "the last good text and settings stay in force"
            else:
                note = ""
            self.notify(f"{message.reason}. {note}".strip(), title="cannot compute", severity="error", timeout=8)

    def screen_refresh(self) -> None:
        for screen in self.screen_stack:
            if hasattr(screen, "show_report"):
                screen.show_report()

    def _refresh_status(self) -> None:
        session = self.session
        if session.busy and session.report is None:
            self.sub_title = "loading the model…"
        elif session.busy:
            self.sub_title = "computing…"
        else:
            self.sub_title = session.source

    # ----- progress ---------------------------------------------------------------------------------

    def save_progress(self) -> None:
        if not self.resume:
            return
        session = self.session
        lesson_id = getattr(self.screen, "lesson_id", None)
        typed_text = session.text.text if session.text_path is None and session.text.source == "typed text" else None
        self._save(lesson_id, list(session.seen), dict(session.checks), session.settings.to_dict(), typed_text, session.text_path)

    @work(thread=True, exclusive=True, group="save")
    def _save(self, lesson_id, seen, checks, settings, text, text_path) -> None:
        def merge(progress: Progress) -> Progress:
            # Re-read under the lock, so another tutor of the same learner keeps what it saved.
            for seen_id in seen:
                progress = progress.with_lesson(seen_id)  # marks it seen
            if lesson_id is not None:
                progress = progress.with_lesson(lesson_id)  # and this one is where to resume
            for key, correct in checks.items():
                progress = progress.with_check(key, correct)
            return progress.with_settings(settings).with_text(text=text, path=text_path)

        try:
            self.progress_store.update(merge)
        except ProgressError as error:
            self.call_from_thread(self.notify, str(error), severity="warning")

    def start_over(self) -> None:
        try:
            self.progress_store.reset()
        except ProgressError as error:
            self.notify(str(error), severity="error")
            return
        self.session.seen.clear()
        self.session.checks.clear()
        self.recompute(text=read_text_file(SAMPLE_TEXT_PATH), settings=Settings(), text_path=None)
        if hasattr(self.screen, "go_to"):
            self.screen.go_to(0)
        self.notify("Progress cleared: starting over with the sample story and default settings.")

    # ----- lessons on disk --------------------------------------------------------------------------

    def _lesson_file_times(self) -> dict[Path, float]:
        folder = self.lessons_dir or builtin_lessons_dir()
        times = {}
        for path in folder.glob("*.md"):
            try:
                times[path] = path.stat().st_mtime
            except OSError:
                pass
        return times

    def _check_lesson_files(self) -> None:
        times = self._lesson_file_times()
        if times != self._lesson_mtimes:
            self._lesson_mtimes = times
            self.reload_lessons()

    def reload_lessons(self) -> None:
        self.lessons = load_lessons(self.lessons_dir)
        for problem in self.lessons.problems:
            self.notify(str(problem), title="lesson file problem", severity="error", timeout=10)
        self.post_message(LessonsChanged())

    def on_lessons_changed(self, message: LessonsChanged) -> None:
        for screen in self.screen_stack:
            if hasattr(screen, "lessons_changed"):
                screen.lessons_changed()

    # ----- size, help, palette, quit ------------------------------------------------------------------

    def on_resize(self, event) -> None:
        # This handler runs before App._on_resize stores the new size, so `self.size` is still the old one.
        self._check_size(event.size)

    def _check_size(self, size=None) -> None:
        from tutor.screens.too_small import TooSmallScreen

        size = size or self.size
        too_small = size.width < MIN_WIDTH or size.height < MIN_HEIGHT
        showing = isinstance(self.screen, TooSmallScreen)
        if too_small and not showing:
            self.push_screen(TooSmallScreen(MIN_WIDTH, MIN_HEIGHT))
        elif not too_small and showing:
            self.pop_screen()

    def action_help(self) -> None:
        from tutor.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and how the tutor works", self.action_help)
        yield SystemCommand("Start over", "Forget saved progress, text and settings", self.start_over)
        yield SystemCommand("Reload lessons", "Read the lesson files again", self.reload_lessons)
        if hasattr(screen, "system_commands"):
            yield from screen.system_commands()

    async def action_quit(self) -> None:
        self.exit()

    def on_unmount(self) -> None:
        if self.engine is not None:
            self.engine.close()
