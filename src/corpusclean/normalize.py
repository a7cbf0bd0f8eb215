"""Normalisation: the form under which two paragraphs are compared.

Deduplication never writes this form; it only compares it. A paragraph's
*normalised tokens* are obtained by

1. Unicode NFKC (ligatures, full-width forms, compatibility spaces fold),
2. ``str.casefold`` (case, including ``ß`` -> ``ss`` and final sigma),
3. deleting apostrophes and single quotes (``don't`` == ``dont``; OCR often
   drops or mangles them, and curly vs straight quotes then cannot matter),
4. splitting on every run of characters that are not letters, numbers or
   combining marks (punctuation, double quotes, dashes, whitespace).

:func:`tokenize` is the reference definition, one string at a time.
:func:`tokenize_batch` computes the same tokens for many texts at once: Arrow
splits on whitespace in C++, and the Python reference runs only once per
*distinct* whitespace-separated chunk, which is a small fraction of the
chunks in real text. Because whitespace is itself a separator in step 4,
tokenising chunk by chunk gives the same tokens as tokenising the whole text.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from corpusclean.parallel import as_text_array

_QUOTES = regex.compile(r"['\u2018\u2019\u201a\u201b\u02bc\u02bb\u0060\u00b4\u2032]")
_SEPARATORS = regex.compile(r"[^\p{L}\p{N}\p{M}]+")
# Chunks made only of these characters tokenise to themselves after ASCII
# lowercasing, so the batch path can skip the Python reference for them.
_PLAIN_ASCII = r"^[A-Za-z0-9]+$"


def tokenize(text: str) -> list[str]:
    """The normalised tokens of ``text`` (see the module docstring)."""
    folded = _QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return [token for token in _SEPARATORS.split(folded) if token]


def normalize_text(text: str) -> str:
    """The normalised form of ``text``: its tokens joined by single spaces."""
    return " ".join(tokenize(text))


def token_hash(token: str) -> int:
    """A deterministic 64-bit hash of one normalised token (BLAKE2b, 8 bytes)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class TokenBatch:
    """Normalised tokens of many texts, as arrays.

    Attributes:
        offsets: ``int64[n + 1]``; text ``i`` owns ``token_ids[offsets[i]:offsets[i + 1]]``.
        token_ids: ``int64`` indices into ``vocabulary``.
        vocabulary: The distinct normalised tokens, in first-seen order.
        vocabulary_hashes: ``uint64`` :func:`token_hash` of each vocabulary entry.
    """

    offsets: np.ndarray
    token_ids: np.ndarray
    vocabulary: list[str]
    vocabulary_hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        """Number of tokens of each text."""
        return np.diff(self.offsets)

    def hashes(self) -> np.ndarray:
        """``uint64`` token hash of every token, aligned with ``token_ids``."""
        return self.vocabulary_hashes[self.token_ids]

    def tokens(self, i: int) -> list[str]:
        """The normalised tokens of text ``i`` (for tests and debugging)."""
        return [self.vocabulary[t] for t in self.token_ids[self.offsets[i] : self.offsets[i + 1]]]


def tokenize_batch(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> TokenBatch:
    """Tokenise many texts at once; text ``i`` gets exactly ``tokenize(texts[i])``.

    Nulls tokenise as the empty string.
    """
    array = pc.fill_null(as_text_array(texts), "")
    chunk_lists = pc.utf8_split_whitespace(array)
    chunk_offsets = chunk_lists.offsets.to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(chunk_lists.flatten())
    occurrences = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    chunk_tokens, chunk_token_offsets, vocabulary = _tokenize_distinct_chunks(encoded.dictionary)

    # Expand each chunk occurrence into its tokens without a Python loop.
    lengths = np.diff(chunk_token_offsets)[occurrences]
    ends = np.cumsum(lengths)
    starts_in_output = ends - lengths
    positions = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
    positions += np.repeat(chunk_token_offsets[:-1][occurrences] - starts_in_output, lengths)
    token_ids = chunk_tokens[positions]
    offsets = np.concatenate([[0], ends])[chunk_offsets].astype(np.int64)
    hashes = np.fromiter((token_hash(t) for t in vocabulary), dtype=np.uint64, count=len(vocabulary))
    return TokenBatch(offsets, token_ids, vocabulary, hashes)


def _tokenize_distinct_chunks(chunks: pa.Array) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tokenise each distinct whitespace chunk once.

    Returns the concatenated token ids, the per-chunk offsets into them and the
    vocabulary those ids index.
    """
    plain = pc.match_substring_regex(chunks, _PLAIN_ASCII).to_numpy(zero_copy_only=False)
    lowered = pc.ascii_lower(chunks).to_pylist()
    raw = chunks.to_pylist()
    vocabulary: dict[str, int] = {}
    ids: list[int] = []
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    for i, chunk in enumerate(raw):
        if plain[i]:
            ids.append(vocabulary.setdefault(lowered[i], len(vocabulary)))
        else:
            for token in tokenize(chunk):
                ids.append(vocabulary.setdefault(token, len(vocabulary)))
        offsets[i + 1] = len(ids)
    return np.asarray(ids, dtype=np.int64), offsets, list(vocabulary)
