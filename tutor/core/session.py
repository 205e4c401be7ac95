"""What the learner is looking at: text, settings, the last good report, and where they are.
No Textual here: the app keeps one `Session`, changes it, and tells its screens it changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutor.core.jobs import UNTRAINED
from tutor.core.lessons import LessonSet
from tutor.core.protocol import Request
from tutor.core.report import Report
from tutor.core.settings import Settings
from tutor.core.texts import LoadedText, describe


@dataclass(frozen=True)
class Attempt:
    """Text and settings being computed; they take effect only if the computation succeeds."""

    generation: int
    text: LoadedText
    settings: Settings
    text_path: str | None
    model: str = UNTRAINED  # the model choice (tutor/core/jobs.py)

    def request(self) -> Request:
        return Request(text=self.text.text, settings=self.settings, source=describe(self.text), model=self.model)


@dataclass(frozen=True)
class Outcome:
    """How the last finished attempt ended: its generation, and why it failed (None if it succeeded)."""

    generation: int = 0
    problem: str | None = None


@dataclass
class Session:
    text: LoadedText
    settings: Settings
    text_path: str | None = None  # the file the text came from, if the learner chose one
    report: Report | None = None  # the last good report; it stays on screen while a new one is computed
    attempt: Attempt | None = None
    generation: int = 0  # counts attempts, so a late answer to an old one is ignored
    seen: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)  # "lesson:check" -> answered correctly
    first_tries: dict[str, bool] = field(default_factory=dict)  # "lesson:check" -> its first answer was right
    row: int = 0  # which batch row the tables show
    outcome: Outcome = Outcome()
    lesson_id: str | None = None  # the lesson in view (None: no lesson is loaded); where the next start resumes
    attempt_place: int | None = None  # what a shared engine last said of the attempt's place (see `queue_place`)
    suggested_lesson: str | None = None  # where a workshop's instructor is, while the learner is not there
    model: str = UNTRAINED  # the model every lesson's numbers come from (tutor/core/jobs.py)

    @property
    def problem(self) -> str | None:
        """Why the last finished attempt failed; None once one succeeds."""
        return self.outcome.problem

    @property
    def busy(self) -> bool:
        return self.attempt is not None

    def begin(
        self, *, text: LoadedText | None = None, settings: Settings | None = None, text_path: str | None = None,
        model: str | None = None,
    ) -> Attempt:
        self.generation += 1
        self.attempt_place = None
        self.attempt = Attempt(
            generation=self.generation,
            text=text or self.text,
            settings=settings or self.settings,
            text_path=text_path if text is not None else self.text_path,
            model=model or self.model,
        )
        return self.attempt

    def succeed(self, generation: int, report: Report) -> bool:
        if self.attempt is None or generation != self.attempt.generation:
            return False
        self.text, self.settings, self.text_path = self.attempt.text, self.attempt.settings, self.attempt.text_path
        self.model = self.attempt.model
        self.report, self.attempt = report, None
        self.outcome = Outcome(generation)
        self.row = min(self.row, report.batch_size - 1)
        return True

    def fail(self, generation: int, reason: str) -> bool:
        if self.attempt is None or generation != self.attempt.generation:
            return False
        self.attempt = None
        self.outcome = Outcome(generation, reason)
        return True

    def abandon(self, generation: int) -> bool:
        """Forget an attempt the learner cancelled; its answer will be ignored."""
        if self.attempt is None or generation != self.attempt.generation:
            return False
        self.attempt = None
        return True

    def forget_problem(self, generation: int) -> bool:
        """The learner cancelled the form whose attempt `generation` failed: what is in force stays, so why that
        attempt failed is shown no more. Kept while nothing is in force (no report): then it is all there is to show."""
        if self.report is None or self.outcome.generation != generation or self.outcome.problem is None:
            return False
        self.outcome = Outcome(generation)
        return True

    def queued(self, place: int) -> bool:
        """A shared engine says where the attempt is in its queue. False (and ignored) with no attempt waiting."""
        if self.attempt is None:
            return False
        self.attempt_place = place
        return True

    @property
    def queue_place(self) -> int | None:
        """Where a shared engine has the attempt in progress: 1 is next, 0 computing; None: no attempt, or not said."""
        return self.attempt_place if self.attempt is not None else None

    @property
    def waiting_words(self) -> str:
        """What the attempt is waiting for, in a few words."""
        if self.queue_place:
            return f"waiting for the shared model: place {self.queue_place} in the queue…"
        if self.queue_place == 0:
            return "the shared model is computing your numbers…"
        if self.report is None:
            return "loading the model…"
        return "computing…"

    @property
    def attempt_words(self) -> str:
        """What the attempt is at, for the form that waits on it: its place in a shared queue, the model loading,
        or the batch it computes ("" with no attempt)."""
        if self.attempt is None:
            return ""
        if self.queue_place or self.report is None:
            return self.waiting_words
        settings = self.attempt.settings
        return f"computing the ({settings.batch_size}, {settings.context_length}) batch…"

    def show_lesson(self, lesson_id: str | None) -> None:
        """`lesson_id` is the lesson in view now, and counts as seen; None: no lesson is loaded. A suggestion
        to go there has been followed."""
        self.lesson_id = lesson_id
        if lesson_id is not None:
            self.mark_seen(lesson_id)
            if lesson_id == self.suggested_lesson:
                self.suggested_lesson = None

    def suggest_lesson(self, lesson_id: str) -> None:
        """A workshop's instructor is on `lesson_id` and offers to take the learner there: pending until the
        learner is on it (nothing is pending if they are already)."""
        self.suggested_lesson = lesson_id if lesson_id != self.lesson_id else None

    def record_answer(self, key: str, correct: bool) -> None:
        """An answer to check `key` ("lesson:check"): it counts as right once one answer was; whether the very
        first answer was right is kept apart (not known for a check answered before that was kept)."""
        if key not in self.checks:
            self.first_tries.setdefault(key, correct)
        self.checks[key] = self.checks.get(key, False) or correct

    def mark_seen(self, lesson_id: str) -> None:
        if lesson_id not in self.seen:
            self.seen.append(lesson_id)

    @property
    def source(self) -> str:
        return describe(self.text)


def lesson_to_show(lessons: LessonSet, lesson_id: str | None, nearest: int = 0) -> int | None:
    """Where lesson `lesson_id` is in `lessons`; if it is not there (or None), the index nearest `nearest`.
    None if there are no lessons. At start-up `lesson_id` is the saved one; after the files are read again it is
    the one in view, and `nearest` its index before."""
    if not lessons.lessons:
        return None
    found = lessons.index_of(lesson_id) if lesson_id is not None else None
    return found if found is not None else min(max(nearest, 0), len(lessons.lessons) - 1)
