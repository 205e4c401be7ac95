"""Starting up from the learner's saved progress: the session it restores, and what the app tries when its
first computation fails because that progress no longer fits.

`load_progress` and `session_from_progress` restore what can be restored and say, in a notice each, what could
not (settings that are not valid, a text file that cannot be reopened): the tutor starts either way.

Saved settings are checked on their own at start-up, but whether they fit the text is known only once the text
is tokenized: a saved batch number can outlive the text it was chosen for. The app must never sit without
numbers, so each such failure steps back once, with a notice: batch 0, then the default settings, then the
sample story (which the defaults always fit). Only what was saved is reset: what the learner asked for on the
command line stays, and if that is what does not fit, the failure is shown as it is (`start_up_fallback`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from tutor.core.lessons import LessonSet
from tutor.core.progress import Progress, ProgressError, ProgressStore
from tutor.core.session import Session, lesson_to_show
from tutor.core.settings import Settings
from tutor.core.texts import SAMPLE_TEXT_PATH, LoadedText, TextError, read_text_file, text_from_string
from tutor.core.workshop_texts import WorkshopTexts


def load_progress(store: ProgressStore, *, reset: bool = False) -> tuple[Progress, list[str]]:
    """The saved progress (fresh if there is none or it cannot be read) and notices for the learner. With
    `reset`, the saved progress is deleted and a fresh one returned."""
    if reset:
        try:
            store.reset()
        except ProgressError as error:
            return Progress(), [str(error)]
        return Progress(), []
    progress, notice = store.load()
    return progress, [notice] if notice else []


class Restored(NamedTuple):
    session: Session
    notices: list[str]
    text_resumed: bool  # the text came from saved progress (not the command line, nor the sample story)


def session_from_progress(
    progress: Progress,
    lessons: LessonSet,
    *,
    overrides: Mapping[str, object],
    text_path: str | None,
    loaded_text: LoadedText | None,
    workshop_texts: WorkshopTexts | None = None,
) -> Restored:
    """The session to start with: the saved settings with the command line's `overrides` over them, the
    command line's text (`loaded_text`, read from `text_path`) or else the saved one, or else the sample story,
    and the saved lesson (the first if it is gone), lessons seen and checks answered. In a workshop
    (`workshop_texts`), a saved file is reopened only if it is one of the workshop's texts."""
    notices: list[str] = []
    try:
        settings = Settings.from_dict({**Settings().to_dict(), **progress.settings, **overrides})
        settings.validate()
    except (TypeError, ValueError):
        notices.append("your saved settings were not valid; using the defaults")
        settings = Settings.from_dict({**Settings().to_dict(), **overrides})
    text = loaded_text
    if text is None and progress.text_path:
        try:
            if workshop_texts is not None:
                text = workshop_texts.reopen(progress.text_path)
            else:
                text = read_text_file(progress.text_path)
            text_path = progress.text_path
        except TextError as error:
            notices.append(f"could not reopen your text: {error}; using the sample story")
    if text is None and progress.text:
        try:
            text = text_from_string(progress.text)
        except TextError as error:
            notices.append(f"your saved text could not be used ({error}); using the sample story")
    text_resumed = text is not None and loaded_text is None
    if text is None:
        text = read_text_file(SAMPLE_TEXT_PATH)
    session = Session(text=text, settings=settings, text_path=text_path)
    session.seen = list(progress.lessons_seen)
    session.checks = dict(progress.checks_answered)
    session.first_tries = dict(progress.checks_first_try)
    start = lesson_to_show(lessons, progress.current_lesson)
    session.show_lesson(lessons.lessons[start].id if start is not None else None)
    return Restored(session, notices, text_resumed)


@dataclass(frozen=True)
class Fallback:
    settings: Settings
    use_sample_text: bool
    notice: str


def start_up_fallback(
    settings: Settings, reason: str, *, asked_for: Mapping[str, object], saved_text: bool
) -> Fallback | None:
    """What to compute after the start-up computation with `settings` failed with `reason` (a learner error),
    or None if nothing saved is left to reset. `asked_for`: the settings given on the command line.
    `saved_text`: the text was resumed from saved progress, not given on the command line or the sample."""
    if settings.batch_index != 0 and "batch_index" not in asked_for:
        return Fallback(
            replace(settings, batch_index=0), False,
            f"your saved settings do not fit this text ({reason}); "
            f"showing batch 0 instead of batch {settings.batch_index:,}",
        )
    defaults = Settings.from_dict({**Settings().to_dict(), **asked_for})
    if settings != defaults:
        return Fallback(
            defaults, False, f"your saved settings do not fit this text ({reason}); using the default settings instead"
        )
    if saved_text:
        return Fallback(
            defaults, True, f"your saved text does not fit these settings ({reason}); using the sample story instead"
        )
    return None
