import fcntl
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from tutor.core import progress as progress_module
from tutor.core import texts
from tutor.core.progress import Progress, ProgressError, ProgressStore, state_dir


def sample_progress() -> Progress:
    return (
        Progress()
        .with_lesson("tokens")
        .with_lesson("logits")
        .with_check("tokens:count", True)
        .with_check("logits:argmax", False)
        .with_settings({"batch_size": 4, "context_length": 64, "stride": 64, "seed": 1, "shuffle": True})
        .with_settings({"batch_index": 2})
        .with_text(text="Once upon a time…")
    )


def test_with_methods_return_updated_copies():
    fresh = Progress()
    seen = fresh.with_lesson("a").with_lesson("b").with_lesson("a")
    assert fresh == Progress()
    assert seen.current_lesson == "a"
    assert seen.lessons_seen == ("a", "b")
    assert seen.with_check("a:1", True).with_check("a:1", False).checks_answered == {"a:1": False}
    assert seen.with_settings({"seed": 1}).with_settings({"shuffle": False}).settings == {"seed": 1, "shuffle": False}


def test_with_text_replaces_text_and_path():
    typed = Progress().with_text(text="hi")
    from_file = typed.with_text(path="~/story.txt")
    assert (typed.text, typed.text_path) == ("hi", None)
    assert (from_file.text, from_file.text_path) == (None, "~/story.txt")


def test_typed_text_is_saved_whole(tmp_path):
    assert Progress().with_text(text="x" * 100_010).text == "x" * 100_010  # it was cut to 100,000
    # The text form refuses more than MAX_TEXT_CHARS; what it accepts is saved and read back whole, even
    # at its longest in JSON (a control character is written as 6 bytes, a dragon as 4).
    limit = texts.MAX_TEXT_CHARS
    longest = "\x1b" * (limit // 2) + "🐉" * (limit // 2)
    store = ProgressStore(tmp_path / "progress.json")
    store.save(Progress().with_text(text=longest))
    assert store.load() == (Progress(text=longest), None)


def test_progress_is_immutable():
    progress = sample_progress()
    with pytest.raises(TypeError):
        progress.settings["seed"] = 2
    with pytest.raises(TypeError):
        progress.checks_answered["x:y"] = True


def test_caller_dict_is_copied():
    settings = {"seed": 1}
    progress = Progress(settings=settings)
    settings["seed"] = 2
    assert progress.settings["seed"] == 1


def test_json_round_trip():
    original = sample_progress()
    document = original.to_json()
    assert json.loads(document)["version"] == progress_module.FORMAT_VERSION
    assert Progress.from_json(document) == original


@pytest.mark.parametrize(
    "change",
    [
        {"version": 99},
        {"current_lesson": 3},
        {"lessons_seen": "tokens"},
        {"lessons_seen": ["tokens", 7]},
        {"checks_answered": [["a:b", True]]},
        {"checks_answered": {"a:b": "yes"}},
        {"settings": {"seed": [1, 2]}},
        {"settings": {"seed": {"nested": 1}}},
        {"text": 5},
        {"text_path": False},
        {"favourite_colour": "blue"},
    ],
)
def test_from_json_rejects_invalid_fields(change):
    data = json.loads(Progress().to_json()) | change
    with pytest.raises(ValueError):
        Progress.from_json(json.dumps(data))


@pytest.mark.parametrize("document", ["", "not json", "[]", '{"current_lesson": null}', "null"])
def test_from_json_rejects_non_progress_documents(document):
    with pytest.raises(ValueError):
        Progress.from_json(document)


def test_invalid_constructor_values_raise_value_error():
    with pytest.raises(ValueError):
        Progress(settings={"seed": float("nan")})
    with pytest.raises(ValueError):
        Progress().with_check("a:b", 1)


def test_store_round_trip(tmp_path):
    store = ProgressStore(tmp_path / "state" / "progress.json")
    store.save(sample_progress())
    assert store.load() == (sample_progress(), None)


def test_missing_file_gives_fresh_progress_without_notice(tmp_path):
    assert ProgressStore(tmp_path / "progress.json").load() == (Progress(), None)


@pytest.mark.parametrize("content", [b"{ not json", b"\xff\xfe garbage", b'{"version": 1, "lessons_seen": 5}'])
def test_corrupt_file_is_set_aside_with_notice(tmp_path, content):
    path = tmp_path / "progress.json"
    path.write_bytes(content)

    progress, notice = ProgressStore(path).load()

    assert progress == Progress()
    assert not path.exists()
    [aside] = tmp_path.glob("progress.json.corrupt-*")
    assert aside.read_bytes() == content
    assert notice.startswith("your saved progress could not be read (")
    assert f"it was set aside as {aside}" in notice
    assert notice.endswith("starting fresh")


def test_second_corrupt_file_does_not_overwrite_the_first(tmp_path):
    path = tmp_path / "progress.json"
    store = ProgressStore(path)
    for content in ("first", "second"):
        path.write_text(content)
        store.load()
    assert sorted(p.read_text() for p in tmp_path.glob("progress.json.corrupt-*")) == ["first", "second"]


def test_corrupt_file_that_cannot_be_moved_is_left(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    path.write_text("{ not json")

    def refuse(self, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "rename", refuse)
    progress, notice = ProgressStore(path).load()
    assert progress == Progress()
    assert "could not be set aside" in notice
    assert path.read_text() == "{ not json"


def test_parent_being_a_file_loads_fresh_without_notice(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file")
    assert ProgressStore(blocker / "progress.json").load() == (Progress(), None)


def test_unreadable_path_is_set_aside(tmp_path):
    path = tmp_path / "progress.json"
    path.mkdir()
    progress, notice = ProgressStore(path).load()
    assert progress == Progress()
    assert "set aside" in notice
    assert not path.exists()


def test_oversized_file_is_set_aside(tmp_path):
    path = tmp_path / "progress.json"
    path.write_bytes(b" " * (progress_module.MAX_FILE_BYTES + 1))
    progress, notice = ProgressStore(path).load()
    assert progress == Progress()
    assert "larger than" in notice


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    store = ProgressStore(tmp_path / "progress.json")
    store.save(Progress().with_lesson("a"))
    store.save(Progress().with_lesson("b"))
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"progress.json", "progress.json.lock"}
    assert Progress.from_json((tmp_path / "progress.json").read_text()).current_lesson == "b"


def test_failed_write_removes_temp_file_and_keeps_old_progress(tmp_path, monkeypatch):
    store = ProgressStore(tmp_path / "progress.json")
    store.save(Progress().with_lesson("old"))

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(progress_module.os, "replace", fail)
    with pytest.raises(ProgressError, match="No space left on device"):
        store.save(Progress().with_lesson("new"))
    assert {p.name for p in tmp_path.iterdir()} == {"progress.json", "progress.json.lock"}
    assert store.load()[0].current_lesson == "old"


def test_save_to_unwritable_location_raises_progress_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file")
    store = ProgressStore(blocker / "state" / "progress.json")
    with pytest.raises(ProgressError, match=r"could not save your progress \(.*progress.json\): Not a directory"):
        store.save(Progress())
    with pytest.raises(ProgressError):
        store.update(lambda p: p.with_lesson("a"))


def test_lock_held_too_long_raises_progress_error(tmp_path, monkeypatch):
    store = ProgressStore(tmp_path / "progress.json")
    monkeypatch.setattr(progress_module, "LOCK_TIMEOUT_SECONDS", 0.05)
    with store.lock_path.open("w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # flock locks are per open file, so this blocks the store too
        with pytest.raises(ProgressError, match="another loss-tutor kept"):
            store.save(Progress())


def test_reset_deletes_the_file(tmp_path):
    store = ProgressStore(tmp_path / "progress.json")
    store.save(sample_progress())
    store.reset()
    assert not store.path.exists()
    assert store.load() == (Progress(), None)
    store.reset()  # nothing to delete is fine


def test_update_applies_to_the_latest_saved_progress(tmp_path):
    path = tmp_path / "progress.json"
    first, second = ProgressStore(path), ProgressStore(path)
    first.update(lambda p: p.with_lesson("a"))
    result = second.update(lambda p: p.with_lesson("b"))
    assert result.lessons_seen == ("a", "b")
    assert first.load()[0] == result


def add_lessons(path: str, prefix: str, count: int) -> None:
    store = ProgressStore(Path(path))
    for number in range(count):
        store.update(lambda p: p.with_lesson(f"{prefix}-{number}").with_check(f"{prefix}:{number}", True))


def test_concurrent_updates_from_two_processes_all_land(tmp_path):
    path = tmp_path / "progress.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=add_lessons, args=(str(path), prefix, 50)) for prefix in ("left", "right")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]

    progress = Progress.from_json(path.read_text())
    expected = {f"{prefix}-{number}" for prefix in ("left", "right") for number in range(50)}
    assert set(progress.lessons_seen) == expected
    assert len(progress.checks_answered) == 100
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.corrupt-*"))


def test_state_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LOSS_TUTOR_STATE_DIR", str(tmp_path / "custom"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "custom"


def test_state_dir_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("LOSS_TUTOR_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "loss-tutor"


@pytest.mark.parametrize("xdg", [None, "", "relative/dir"])
def test_state_dir_default(monkeypatch, tmp_path, xdg):
    monkeypatch.delenv("LOSS_TUTOR_STATE_DIR", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_dir() == tmp_path / ".local" / "state" / "loss-tutor"


def test_store_defaults_to_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LOSS_TUTOR_STATE_DIR", str(tmp_path))
    assert ProgressStore().path == tmp_path / "progress.json"


# ----- files that are not what they seem -------------------------------------------------------------

def test_a_fifo_in_place_of_progress_is_set_aside_without_hanging(tmp_path):
    from deadline import within

    path = tmp_path / "progress.json"
    os.mkfifo(path)
    store = ProgressStore(path)
    with within(10, "reading a FIFO as progress.json"):
        progress, notice = store.load()
    assert progress == Progress()
    assert notice.startswith("your saved progress could not be read (not a regular file); it was set aside as ")
    [aside] = tmp_path.glob("progress.json.corrupt-*")
    assert stat.S_ISFIFO(aside.lstat().st_mode) and not path.exists()
    with within(10, "saving progress"):
        store.save(Progress().with_lesson("tokens"))
    assert store.load() == (Progress().with_lesson("tokens"), None)


def test_a_fifo_in_place_of_the_lock_file_is_refused_without_hanging(tmp_path):
    from deadline import within

    path = tmp_path / "progress.json"
    os.mkfifo(path.with_name("progress.json.lock"))
    with within(10, "locking progress"), pytest.raises(ProgressError, match="progress.json.lock is not a regular file"):
        ProgressStore(path).save(Progress().with_lesson("tokens"))
    assert not path.exists()
