"""GPT-2's byte-pair encoding, built offline from the rank file shipped with this package.

`tiktoken.get_encoding("gpt2")` downloads its files on first use; a workshop server has no internet,
so we build the same `tiktoken.Encoding` from `assets/gpt2.tiktoken` (the `r50k_base` ranks, which
are GPT-2's) and check its SHA-256 before trusting it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import tiktoken

RANK_FILE = Path(__file__).parent.parent / "assets" / "gpt2.tiktoken"
RANK_FILE_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 50256
VOCAB_SIZE = 50257

# GPT-2's pre-tokenizer: contractions, letters, digits, punctuation runs, whitespace.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


class RankFileError(RuntimeError):
    """The bundled GPT-2 rank file is missing or is not the file we expect."""


def read_ranks(path: Path = RANK_FILE, expected_sha256: str = RANK_FILE_SHA256) -> dict[bytes, int]:
    """Read a `.tiktoken` rank file (one `base64-token rank` pair a line) after checking its hash."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RankFileError(
            f"cannot read the GPT-2 rank file {path}: {error.strerror or error}. "
            f"Reinstall loss-tutor; the file must have sha256 {expected_sha256}."
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise RankFileError(
            f"the GPT-2 rank file {path} has sha256 {actual}, expected {expected_sha256}. "
            "It has been altered or corrupted; reinstall loss-tutor."
        )
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def build_encoding(path: Path = RANK_FILE, expected_sha256: str = RANK_FILE_SHA256) -> tiktoken.Encoding:
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=read_ranks(path, expected_sha256),
        special_tokens={END_OF_TEXT: END_OF_TEXT_ID},
        explicit_n_vocab=VOCAB_SIZE,
    )


_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def get_tokenizer() -> tiktoken.Encoding:
    """The process-wide GPT-2 tokenizer, built on first use."""
    global _encoding
    if _encoding is not None:
        return _encoding
    with _lock:
        if _encoding is None:
            _encoding = build_encoding()
        return _encoding


def encode(text: str) -> list[int]:
    return get_tokenizer().encode(text, allowed_special={END_OF_TEXT})


def decode(ids: list[int]) -> str:
    return get_tokenizer().decode(ids)


def token_text(token_id: int) -> str:
    """The text of one token; a token that is only part of a UTF-8 character shows as U+FFFD."""
    return get_tokenizer().decode_single_token_bytes(token_id).decode("utf-8", errors="replace")
