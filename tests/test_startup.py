"""Start-up from saved progress, without an app: what `load_progress` and `session_from_progress` restore, and
the notice for each thing that could not be restored (the tutor starts either way)."""

from __future__ import annotations

from tutor.core.lessons import LessonSet, load_lessons
from tutor.core.progress import Progress, ProgressError, ProgressStore
from tutor.core.session import lesson_to_show
from tutor.core.settings import Settings
from tutor.core.startup import load_progress, session_from_progress
from tutor.core.texts import SAMPLE_TEXT_PATH, read_text_file, text_from_string

LESSONS = load_lessons()
NO_LESSONS = LessonSet(lessons=())
TYPED = "A typed text, long enough for several windows of six tokens, stored with the progress file."


def restore(progress, *, overrides=None, text_path=None, loaded_text=None, lessons=LESSONS):
    return session_from_progress(
        progress, lessons, overrides=overrides or {}, text_path=text_path, loaded_text=loaded_text
    )


# ----- session_from_progress ------------------------------------------------------------------------------

def test_nothing_saved_gives_the_sample_story_the_defaults_and_the_first_lesson():
    session, notices, text_resumed = restore(Progress())
    assert notices == [] and not text_resumed
    assert session.text == read_text_file(SAMPLE_TEXT_PATH) and session.text_path is None
    assert session.settings == Settings()
    assert session.lesson_id == "overview" and session.seen == ["overview"]
    assert session.checks == {} and session.report is None and not session.busy


def test_saved_progress_is_restored_and_the_lesson_in_view_counts_as_seen():
    saved = Progress(
        current_lesson="gather",
        lessons_seen=("overview", "tokenize"),
        checks_answered={"tokenize:inputs-shape": True},
        settings={**Settings().to_dict(), "batch_size": 3, "context_length": 6},
        text=TYPED,
    )
    session, notices, text_resumed = restore(saved)
    assert notices == []
    assert text_resumed
    assert session.text == text_from_string(TYPED) and session.text_path is None
    assert session.settings == Settings(batch_size=3, context_length=6)
    assert session.lesson_id == "gather"
    assert session.seen == ["overview", "tokenize", "gather"]
    assert session.checks == {"tokenize:inputs-shape": True}


def test_a_saved_text_file_is_read_again(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(TYPED, encoding="utf-8")
    session, notices, text_resumed = restore(Progress(text_path=str(path)))
    assert notices == [] and text_resumed
    assert session.text.text == TYPED and session.text.source == "mine.txt" and session.text_path == str(path)


def test_saved_settings_that_are_not_valid_give_the_defaults_with_a_notice():
    saved = Progress(settings={**Settings().to_dict(), "batch_size": 0, "stride": 3})
    session, notices, _ = restore(saved, overrides={"seed": 7})
    assert notices == ["your saved settings were not valid; using the defaults"]
    assert session.settings == Settings(seed=7)  # what the command line asked for still counts


def test_a_saved_text_file_that_cannot_be_read_gives_the_sample_story_with_a_notice(tmp_path):
    gone = tmp_path / "gone.txt"
    session, notices, text_resumed = restore(Progress(text_path=str(gone)))
    assert notices == [f"could not reopen your text: no such file: {gone}; using the sample story"]
    assert not text_resumed
    assert session.text == read_text_file(SAMPLE_TEXT_PATH) and session.text_path is None


def test_saved_typed_text_over_the_limit_gives_the_sample_story_with_a_notice():
    session, notices, text_resumed = restore(Progress(text="word " * 30_000))
    [notice] = notices
    assert notice.startswith("your saved text could not be used (typed text is 150,000 characters long; ")
    assert notice.endswith("; using the sample story")
    assert not text_resumed and session.text == read_text_file(SAMPLE_TEXT_PATH)


def test_the_command_line_wins_over_saved_progress(tmp_path):
    given = tmp_path / "given.txt"
    given.write_text("A text named on the command line, long enough for a batch of windows.", encoding="utf-8")
    saved = Progress(settings={**Settings().to_dict(), "batch_size": 3, "context_length": 6}, text=TYPED)
    session, notices, text_resumed = restore(
        saved, overrides={"batch_size": 5}, text_path=str(given), loaded_text=read_text_file(given)
    )
    assert notices == []
    assert session.settings == Settings(batch_size=5, context_length=6)  # the saved ones it does not name stay
    assert session.text.source == "given.txt" and session.text_path == str(given)
    assert not text_resumed  # so a start-up that does not fit never swaps it for the sample story


def test_a_saved_lesson_that_is_gone_gives_the_first_and_no_lessons_give_none():
    session, _, _ = restore(Progress(current_lesson="no-such-lesson", lessons_seen=("gather",)))
    assert session.lesson_id == "overview" and session.seen == ["gather", "overview"]
    session, _, _ = restore(Progress(current_lesson="gather"), lessons=NO_LESSONS)
    assert session.lesson_id is None and session.seen == []


def test_lesson_to_show_stays_on_the_lesson_or_takes_the_nearest_one():
    last = len(LESSONS.lessons) - 1
    assert lesson_to_show(LESSONS, "gather", nearest=0) == LESSONS.index_of("gather") != 0
    assert lesson_to_show(LESSONS, "no-such-lesson", nearest=3) == 3
    assert lesson_to_show(LESSONS, "no-such-lesson", nearest=last + 5) == last
    assert lesson_to_show(LESSONS, None) == 0
    assert lesson_to_show(NO_LESSONS, "gather", nearest=2) is None


# ----- load_progress ----------------------------------------------------------------------------------------

def test_load_progress_reads_what_was_saved_and_reset_deletes_it():
    store = ProgressStore()
    saved = Progress(current_lesson="gather", lessons_seen=("overview", "gather"))
    assert load_progress(store) == (Progress(), [])
    store.save(saved)
    assert load_progress(store) == (saved, [])
    assert load_progress(store, reset=True) == (Progress(), [])
    assert not store.path.exists()
    assert load_progress(store) == (Progress(), [])


def test_a_progress_file_that_cannot_be_read_is_a_fresh_start_with_a_notice():
    store = ProgressStore()
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{ not json", encoding="utf-8")
    progress, [notice] = load_progress(store)
    assert progress == Progress()
    assert notice.startswith("your saved progress could not be read (") and notice.endswith("; starting fresh")


def test_a_reset_that_fails_is_a_fresh_start_with_a_notice(monkeypatch):
    store = ProgressStore()
    store.save(Progress(current_lesson="gather"))

    def refuse() -> None:
        raise ProgressError(f"could not delete your saved progress ({store.path}): permission denied")

    monkeypatch.setattr(store, "reset", refuse)
    progress, notices = load_progress(store, reset=True)
    assert progress == Progress()  # the old progress is not used, though it could not be deleted
    assert notices == [f"could not delete your saved progress ({store.path}): permission denied"]
