"""The offline GPT-2 tokenizer: the known encodings, its one instance, and the checked rank file."""

import shutil
import socket
import tempfile

import pytest

from tutor.lm import tokenizer
from tutor.lm.tokenizer import (
    END_OF_TEXT_ID,
    RANK_FILE,
    RANK_FILE_SHA256,
    RankFileError,
    build_encoding,
    decode,
    encode,
    get_tokenizer,
    token_text,
)

KNOWN = [
    (" returned to Lab 42 as if nothing had happened", [4504, 284, 3498, 5433, 355, 611, 2147, 550, 3022]),
    ("The following weeks were chaos.\nEquations", [464, 1708, 2745, 547, 11918, 13, 198, 23588, 602]),
]


@pytest.mark.parametrize(("text", "ids"), KNOWN)
def test_known_encodings(text, ids):
    assert encode(text) == ids
    assert get_tokenizer().encode(text) == ids


@pytest.mark.parametrize(
    "text", [text for text, _ in KNOWN] + ["naïve café — 東京 🙂\n\tend", "  two  spaces", "it's we'll"]
)
def test_decode_round_trip(text):
    assert decode(encode(text)) == text


def test_token_texts_of_a_known_encoding():
    ids = KNOWN[1][1]
    assert [token_text(i) for i in ids] == ["The", " following", " weeks", " were", " chaos", ".", "\n", "Equ", "ations"]


def test_end_of_text_is_one_special_token():
    assert END_OF_TEXT_ID == 50256
    assert encode("<|endoftext|>") == [50256]
    assert encode("a<|endoftext|>b") == [64, 50256, 65]
    assert decode([50256]) == "<|endoftext|>"


def test_vocabulary_size():
    assert get_tokenizer().n_vocab == 50257
    assert get_tokenizer().max_token_value == 50256


def test_one_instance_per_process():
    assert get_tokenizer() is get_tokenizer()


def test_missing_rank_file(tmp_path):
    missing = tmp_path / "nowhere" / "gpt2.tiktoken"
    with pytest.raises(RankFileError) as caught:
        build_encoding(missing)
    message = str(caught.value)
    assert str(missing) in message
    assert RANK_FILE_SHA256 in message


def test_altered_rank_file(tmp_path):
    altered = tmp_path / "gpt2.tiktoken"
    shutil.copyfile(RANK_FILE, altered)
    data = bytearray(altered.read_bytes())
    data[100] ^= 0x01
    altered.write_bytes(bytes(data))
    with pytest.raises(RankFileError) as caught:
        build_encoding(altered)
    message = str(caught.value)
    assert str(altered) in message
    assert RANK_FILE_SHA256 in message
    assert "altered or corrupted" in message


def test_an_unaltered_copy_is_accepted(tmp_path):
    copy = tmp_path / "gpt2.tiktoken"
    shutil.copyfile(RANK_FILE, copy)
    assert build_encoding(copy).encode(KNOWN[0][0]) == KNOWN[0][1]


def test_building_writes_nothing_and_opens_no_socket(tmp_path, monkeypatch):
    empty = tmp_path / "tmp"
    empty.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(empty))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("the tokenizer tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    # build from scratch as the first use in a process would
    monkeypatch.setattr(tokenizer, "_encoding", None)

    fresh = get_tokenizer()
    assert fresh.encode(KNOWN[1][0]) == KNOWN[1][1]
    assert build_encoding().encode(KNOWN[0][0]) == KNOWN[0][1]
    assert list(empty.iterdir()) == []
