import codecs
import os
import tracemalloc
from pathlib import Path

import pytest

from tutor.core import texts
from tutor.core.texts import LoadedText, TextError, describe, read_text_file, text_from_string

MB = 1_000_000


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_a_small_file(tmp_path):
    path = write(tmp_path, "story.txt", "Once upon a time — café.\n".encode())
    loaded = read_text_file(path)
    assert loaded == LoadedText(text="Once upon a time — café.\n", source="story.txt", truncated=False,
                                total_bytes=path.stat().st_size)


def test_accepts_a_string_path(tmp_path):
    path = write(tmp_path, "story.txt", b"hello")
    assert read_text_file(str(path)).text == "hello"


def test_missing_file(tmp_path):
    with pytest.raises(TextError, match="no such file: .*nope.txt"):
        read_text_file(tmp_path / "nope.txt")


def test_missing_parent_is_also_no_such_file(tmp_path):
    parent = write(tmp_path, "plain", b"x")
    with pytest.raises(TextError, match="no such file"):
        read_text_file(parent / "child.txt")


def test_directory(tmp_path):
    with pytest.raises(TextError, match="is a directory, not a text file"):
        read_text_file(tmp_path)


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.txt", b"hidden")

    real_open = os.open

    def refuse(name, *args, **kwargs):
        if Path(name) == path:
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)  # tests run as root, so chmod would not block reading
    with pytest.raises(TextError, match="permission denied: cannot read .*secret.txt"):
        read_text_file(path)


def test_binary_file(tmp_path):
    path = write(tmp_path, "model.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(TextError, match="looks like a binary file"):
        read_text_file(path)


def test_not_utf8_reports_byte_and_offset(tmp_path):
    path = write(tmp_path, "latin1.txt", "naïve".encode("latin-1"))
    with pytest.raises(TextError, match=r"is not UTF-8 text \(invalid byte 0xef at byte offset 2\)"):
        read_text_file(path)


def test_invalid_byte_offset_in_a_later_chunk(tmp_path):
    offset = texts.CHUNK_BYTES * 2 + 5
    path = write(tmp_path, "late.txt", b"a" * offset + b"\xff" + b"b" * 10)
    with pytest.raises(TextError, match=f"invalid byte 0xff at byte offset {offset}\\)"):
        read_text_file(path, max_chars=None)


def test_invalid_continuation_after_a_chunk_boundary_reports_the_lead_byte(tmp_path):
    offset = texts.CHUNK_BYTES - 1
    # A 2-byte lead at the end of chunk one, followed by a byte that cannot continue it.
    path = write(tmp_path, "split.txt", b"a" * offset + b"\xc3" + b"z" * 10)
    with pytest.raises(TextError, match=f"invalid byte 0xc3 at byte offset {offset}\\)"):
        read_text_file(path)


def test_file_ending_inside_a_multibyte_char(tmp_path):
    path = write(tmp_path, "cut.txt", b"abc" + "é".encode()[:1])
    with pytest.raises(TextError, match="invalid byte 0xc3 at byte offset 3"):
        read_text_file(path)


def test_multibyte_char_across_chunk_boundary(tmp_path):
    prefix = "a" * (texts.CHUNK_BYTES - 1)
    text = prefix + "€" + "b" * 10  # "€" is 3 bytes, so it straddles the first chunk boundary
    path = write(tmp_path, "euro.txt", text.encode())
    assert read_text_file(path).text == text


def test_empty_file(tmp_path):
    with pytest.raises(TextError, match="empty.txt is empty"):
        read_text_file(write(tmp_path, "empty.txt", b""))


def test_bom_only_file_is_empty(tmp_path):
    with pytest.raises(TextError, match="is empty"):
        read_text_file(write(tmp_path, "bom.txt", b"\xef\xbb\xbf"))


def test_whitespace_only_file(tmp_path):
    with pytest.raises(TextError, match="blank.txt contains only whitespace"):
        read_text_file(write(tmp_path, "blank.txt", b" \n\t\r\n  "))


def test_bom_is_stripped(tmp_path):
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfhello")
    assert read_text_file(path).text == "hello"


def test_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, "notes.txt", b"from home")
    assert read_text_file("~/notes.txt").text == "from home"


def test_max_chars_exact_length_is_not_truncated(tmp_path):
    path = write(tmp_path, "ten.txt", b"0123456789")
    loaded = read_text_file(path, max_chars=10)
    assert (loaded.text, loaded.truncated) == ("0123456789", False)


def test_max_chars_counts_characters_not_bytes(tmp_path):
    path = write(tmp_path, "greek.txt", "αβγδε".encode())
    loaded = read_text_file(path, max_chars=3)
    assert (loaded.text, loaded.truncated, loaded.total_bytes) == ("αβγ", True, 10)


def test_max_chars_none_reads_everything(tmp_path):
    text = "x" * (texts.CHUNK_BYTES * 3 + 7)
    loaded = read_text_file(write(tmp_path, "all.txt", text.encode()), max_chars=None)
    assert (loaded.text, loaded.truncated) == (text, False)


def test_huge_file_is_read_only_partially(tmp_path):
    path = tmp_path / "big.txt"
    block = b"the quick brown fox jumps over the lazy dog\n" * (MB // 44)
    with path.open("wb") as file:
        for _ in range(50):
            file.write(block)
    size = os.path.getsize(path)

    tracemalloc.start()
    try:
        loaded = read_text_file(path, max_chars=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert loaded.truncated
    assert len(loaded.text) == 1000
    assert loaded.text.startswith("the quick brown fox")
    assert loaded.total_bytes == size
    assert peak < 2 * MB  # nowhere near the 50 MB on disk
    assert "first 1,000 characters of 50.0 MB" in describe(loaded)


def test_huge_file_default_limit(tmp_path):
    path = tmp_path / "big.txt"
    with path.open("wb") as file:
        file.write(b"word " * (texts.MAX_TEXT_CHARS // 5 + texts.CHUNK_BYTES))
    loaded = read_text_file(path)
    assert loaded.truncated
    assert len(loaded.text) == texts.MAX_TEXT_CHARS


def test_whitespace_prefix_of_a_truncated_file(tmp_path):
    path = write(tmp_path, "spaces.txt", b" " * 100 + b"text")
    with pytest.raises(TextError, match="the first 10 characters of spaces.txt contain only whitespace"):
        read_text_file(path, max_chars=10)


def test_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(TextError, match="not a regular file"):
        read_text_file(fifo)


def test_text_from_string():
    assert text_from_string("hi there") == LoadedText("hi there", "typed text", False, 8)
    assert text_from_string("é", source="pasted").total_bytes == 2


@pytest.mark.parametrize(("text", "message"), [("", "typed text is empty"), ("  \n ", "typed text contains only whitespace")])
def test_text_from_string_rejects_blank(text, message):
    with pytest.raises(TextError, match=message):
        text_from_string(text)


def test_text_error_is_a_value_error():
    assert issubclass(TextError, ValueError)


def test_describe():
    assert describe(LoadedText("x" * 15234, "story.txt", False, 15234)) == "story.txt · 15,234 characters"
    assert describe(LoadedText("x", "one.txt", False, 1)) == "one.txt · 1 character"
    big = LoadedText("x" * 200_000, "big.txt", True, 52_428_800)
    assert describe(big) == (
        "big.txt · first 200,000 characters of 52.4 MB (the rest is not needed for one batch)"
    )


def test_sample_text_reads_the_bundled_path(tmp_path, monkeypatch):
    sample = write(tmp_path, "story.txt", "A little story.".encode())
    monkeypatch.setattr(texts, "SAMPLE_TEXT_PATH", sample)
    assert texts.sample_text() == "A little story."


def test_sample_text_path_is_in_the_assets_package():
    assert texts.SAMPLE_TEXT_PATH.name == "story.txt"
    assert texts.SAMPLE_TEXT_PATH.parent.name == "assets"


# ----- files that are not what they seem -------------------------------------------------------------

def test_a_fifo_swapped_in_after_any_check_is_refused_without_hanging(tmp_path, monkeypatch):
    from deadline import within

    fifo = tmp_path / "story.txt"
    os.mkfifo(fifo)
    regular = write(tmp_path, "regular.txt", b"text").stat()
    # What a check made before opening saw: a regular file, replaced by a FIFO before the open.
    monkeypatch.setattr(Path, "stat", lambda self, **kwargs: regular)
    with within(10, "opening a FIFO"), pytest.raises(TextError, match="is not a regular file"):
        read_text_file(fifo)


def test_a_socket_is_not_a_regular_file(tmp_path):
    import socket

    path = tmp_path / "socket.txt"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()
    with pytest.raises(TextError, match="socket.txt is not a regular file"):
        read_text_file(path)


TEXT = "Once upon a time — café, 🐉 and “quotes”.\n"


@pytest.mark.parametrize("codec,name", [("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"),
                                        ("utf-32-le", "UTF-32"), ("utf-32-be", "UTF-32")])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, codec, name):
    path = write(tmp_path, "wide.txt", ("\ufeff" + TEXT).encode(codec))
    loaded = read_text_file(path)
    assert loaded == LoadedText(TEXT, "wide.txt", False, path.stat().st_size, name)
    assert describe(loaded) == f"wide.txt ({name}) · {len(TEXT)} characters"


def test_utf16_across_chunks_is_read_to_the_limit(tmp_path):
    text = "αβγ😀 " * (texts.CHUNK_BYTES // 4)  # surrogate pairs straddle the chunk boundaries
    path = write(tmp_path, "long.txt", "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"))
    assert read_text_file(path, max_chars=None).text == text
    loaded = read_text_file(path, max_chars=1000)
    assert (loaded.text, loaded.truncated, loaded.encoding) == (text[:1000], True, "UTF-16")


def test_damaged_utf16_says_where(tmp_path):
    path = write(tmp_path, "odd.txt", codecs.BOM_UTF16_LE + "abc".encode("utf-16-le") + b"x")
    with pytest.raises(TextError, match=r"odd.txt is not UTF-16 text \(truncated data at byte offset 8\)"):
        read_text_file(path)


def test_utf16_without_a_byte_order_mark_is_named_as_a_likely_cause(tmp_path):
    path = write(tmp_path, "nobom.txt", "hello".encode("utf-16-le"))
    with pytest.raises(TextError, match=r"NUL character at byte offset 1, .*without a byte-order mark"):
        read_text_file(path)


@pytest.mark.parametrize("offset", [0, 5, texts.CHUNK_BYTES - 1, texts.CHUNK_BYTES, 70_000])
def test_a_nul_anywhere_in_what_is_read_is_refused_with_its_offset(tmp_path, offset):
    path = write(tmp_path, "nul.txt", b"a" * offset + b"\0" + b"b" * 100)
    with pytest.raises(TextError, match=f"nul.txt contains a NUL character at byte offset {offset}, so it looks "
                                        "like a binary file, not text$"):
        read_text_file(path)


@pytest.mark.parametrize("codec,unit", [("utf-16-le", 2), ("utf-16-be", 2), ("utf-32-le", 4)])
def test_a_nul_character_in_wide_text_is_refused_but_zero_bytes_inside_characters_are_not(tmp_path, codec, unit):
    fine = "A\u0100\u0001B" * 10  # "A\u0100" is 41 00 00 01 in UTF-16 LE: zero bytes, but no zero unit
    assert read_text_file(write(tmp_path, "fine.txt", ("\ufeff" + fine).encode(codec))).text == fine
    bad = write(tmp_path, "bad.txt", ("\ufeff" + "abc\0def").encode(codec))
    with pytest.raises(TextError, match=f"NUL character at byte offset {unit * 4}, "):
        read_text_file(bad)


def test_typed_text_over_the_limit_is_refused_naming_the_limit():
    assert text_from_string("x" * texts.MAX_TEXT_CHARS).text == "x" * texts.MAX_TEXT_CHARS
    with pytest.raises(TextError, match=f"typed text is {texts.MAX_TEXT_CHARS + 1:,} characters long; "
                                        f"the limit is {texts.MAX_TEXT_CHARS:,} characters"):
        text_from_string("x" * (texts.MAX_TEXT_CHARS + 1))


def test_typed_text_with_an_unpaired_surrogate_is_refused():
    with pytest.raises(TextError, match=r"unpaired surrogate \(U\+D800\) at character 3"):
        text_from_string("abc\ud800def")
