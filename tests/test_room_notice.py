"""The room's notice (tutor/core/room_notice.py) and the server's board that writes it (tutor/workshop/room_board.py):
what is written is read back, anything else in its place is no notice at all, and a write is never seen half done."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from tutor.core.room_notice import (
    MAX_MESSAGE_CHARS,
    MAX_NOTICE_BYTES,
    ROOM_NOTICE_ENV,
    RoomNotice,
    read_room_notice,
)
from tutor.workshop.options import NoAuth, ServeOptions
from tutor.workshop.room_board import RoomBoard, RoomBoardError, room_notice_path
from tutor.workshop.session_command import session_environment

SENT_AT = 1_700_000_000.5
GOOD = {"id": 3, "message": "Back at 14:00", "lesson": None, "sent_at": SENT_AT}


@pytest.fixture
def board(tmp_path) -> RoomBoard:
    return RoomBoard(room_notice_path(tmp_path / "workshop"), clock=lambda: SENT_AT)


def test_what_the_board_writes_is_read_back_with_the_next_id(board):
    assert read_room_notice(board.path) is None  # nothing sent yet
    board.send_message("  Back at 14:00 \x1b[31m  ")
    assert read_room_notice(board.path) == RoomNotice(1, "Back at 14:00 \x1b[31m", None, SENT_AT)  # kept as sent
    board.suggest_lesson("softmax")
    assert read_room_notice(board.path) == RoomNotice(2, None, "softmax", SENT_AT)


def test_the_notice_lives_in_a_folder_only_the_server_user_may_enter(board, tmp_path):
    board.suggest_lesson("softmax")
    assert board.path == tmp_path / "workshop" / "room" / "notice.json"
    assert stat.S_IMODE(board.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(board.path.stat().st_mode) == 0o600
    assert os.listdir(board.path.parent) == ["notice.json"]  # no temporary file left behind

    board.path.parent.chmod(0o755)  # loosened by someone: tightened again at the next write
    board.send_message("hello")
    assert stat.S_IMODE(board.path.parent.stat().st_mode) == 0o700


def test_clearing_removes_an_earlier_runs_notice(board):
    board.send_message("from the last workshop")
    fresh = RoomBoard(board.path)
    fresh.clear()
    assert not board.path.exists() and board.path.parent.is_dir()
    fresh.clear()  # nothing there: fine
    assert fresh.send_message("hello").id == 1


def test_a_folder_that_is_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "workshop").mkdir()
    (tmp_path / "workshop" / "room").symlink_to(elsewhere)
    board = RoomBoard(room_notice_path(tmp_path / "workshop"))
    with pytest.raises(RoomBoardError, match="is not a folder of this user's"):
        board.send_message("hello")
    with pytest.raises(RoomBoardError):
        board.clear()
    assert list(elsewhere.iterdir()) == []


def test_a_notice_that_cannot_be_written_says_why_and_takes_no_id(board):
    board.send_message("first")
    board.path.unlink()
    (board.path / "in the way").mkdir(parents=True)  # a folder where the notice goes
    with pytest.raises(RoomBoardError, match="could not write the notice .*notice.json: Is a directory"):
        board.send_message("second")
    assert sorted(os.listdir(board.path.parent)) == ["notice.json"]  # the temporary file removed
    (board.path / "in the way").rmdir()
    board.path.rmdir()
    assert board.send_message("third").id == 2


@pytest.mark.parametrize("message", ["", "   ", "x" * (MAX_MESSAGE_CHARS + 1)])
def test_an_empty_or_too_long_message_is_refused_and_nothing_is_written(board, message):
    with pytest.raises(ValueError):
        board.send_message(message)
    assert not board.path.exists()
    assert board.send_message("x" * MAX_MESSAGE_CHARS).id == 1


def test_writes_from_many_threads_end_with_the_newest_and_are_never_seen_half_done(board):
    board.send_message("start")
    seen_broken = []
    stop = threading.Event()

    def read_all_the_time():
        while not stop.is_set():
            if read_room_notice(board.path) is None:
                seen_broken.append(True)

    def send_ten(number):
        for count in range(10):
            board.send_message(f"thread {number}, message {count}")

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    senders = [threading.Thread(target=send_ten, args=(number,)) for number in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    stop.set()
    reader.join()
    assert read_room_notice(board.path).id == 81
    assert seen_broken == []
    assert os.listdir(board.path.parent) == ["notice.json"]


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "change",
    [
        {"id": 0}, {"id": -1}, {"id": True}, {"id": 1.0}, {"id": "3"}, {"id": 2**53 + 1}, {"id": 10**400},
        {"message": ""}, {"message": "  "}, {"message": 7}, {"message": ["hi"]},
        {"message": "x" * (MAX_MESSAGE_CHARS + 1)},
        {"message": None},  # and no lesson either: nothing to show
        {"lesson": ""}, {"lesson": 5}, {"lesson": "x" * 501}, {"lesson": {"id": "softmax"}},
        {"sent_at": "noon"}, {"sent_at": -1}, {"sent_at": True}, {"sent_at": None}, {"sent_at": 1e11},
    ],
)
def test_a_notice_with_a_wrong_value_is_no_notice(tmp_path, change):
    path = write(tmp_path / "notice.json", json.dumps(GOOD | change))
    assert read_room_notice(path) is None


@pytest.mark.parametrize(
    "content",
    [
        b"", b"{", b"null", b"[]", b'"hello"', b"\xff\xfe{}", b"\x00" * 10,
        json.dumps({key: value for key, value in GOOD.items() if key != "sent_at"}),  # a field missing
        json.dumps(GOOD | {"colour": "red"}),  # one too many
        json.dumps(GOOD).replace(str(SENT_AT), "NaN"),
        json.dumps(GOOD).replace(str(SENT_AT), "Infinity"),
        "[" * 4000 + "]" * 4000,  # nested past the parser's depth
        json.dumps(GOOD) + " " * MAX_NOTICE_BYTES,  # too big, however valid
    ],
)
def test_a_file_that_is_not_a_notice_is_no_notice(tmp_path, content):
    assert read_room_notice(write(tmp_path / "notice.json", content)) is None


def test_only_a_regular_file_is_read_and_a_fifo_is_not_waited_on(tmp_path):
    assert read_room_notice(tmp_path / "none.json") is None
    assert read_room_notice(tmp_path) is None  # a folder
    os.mkfifo(tmp_path / "fifo.json")
    assert read_room_notice(tmp_path / "fifo.json") is None  # returns at once: nobody will ever write to it
    (tmp_path / "link.json").symlink_to(tmp_path / "fifo.json")
    assert read_room_notice(tmp_path / "link.json") is None


def test_a_notice_with_both_a_message_and_a_lesson_is_one(tmp_path):
    notice = RoomNotice(4, "Follow me", "softmax", SENT_AT)
    assert read_room_notice(write(tmp_path / "notice.json", notice.to_json())) == notice


def test_every_session_is_told_where_the_notice_is(tmp_path):
    options = ServeOptions(state_dir=tmp_path / "workshop", auth=NoAuth())
    env = session_environment(options, tmp_path / "workshop" / "participants" / "ada", "xterm", {})
    assert env[ROOM_NOTICE_ENV] == str(tmp_path / "workshop" / "room" / "notice.json")
