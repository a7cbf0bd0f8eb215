"""Shingles: the sets whose Jaccard similarity and containment we measure.

Two shinglings (:data:`SHINGLINGS`), both of the normalised form
(:mod:`corpusclean.normalize`):

* ``"word"``: ``size`` consecutive normalised tokens (word n-gram, default 5);
* ``"char"``: ``size`` consecutive characters (code points) of the normalised
  text, i.e. the tokens joined by one space (:func:`char_shingle_strings`).

**Word shingles.** The identity is a 64-bit hash built from the tokens' hashes
(:func:`corpusclean.normalize.token_hash`)::

    h64(t_1 .. t_k) = fmix64(sum_j token_hash(t_j) * M ** (k - j)  mod 2**64)

i.e. a polynomial over the token hashes followed by the MurmurHash3 64-bit
finaliser. Being a function of per-token hashes, it is computed for every
window of a whole batch with a handful of vectorised NumPy operations.
The 64-bit value is what exact Jaccard/containment compare (collisions are
negligible); MinHash uses its high 32 bits (:func:`hash32`), which is what
:func:`corpusclean.minhash.shingle_hashfunc` returns for the shingle's bytes.

**Character shingles.** The identity is :func:`corpusclean.normalize.token_hash`
of the n-gram, i.e. FNV-1a over its UTF-8 bytes, xor the byte length, then
the MurmurHash3 64-bit finaliser; :func:`char_window_hashes` computes it for
every window of a batch in one compiled pass over the code points (UTF-8
encoding each on the fly). MinHash again uses the high 32 bits, which is
:func:`corpusclean.minhash.char_shingle_hashfunc` of the n-gram's bytes.

A text with fewer than ``size`` tokens (word) or characters (char) has *no*
shingles: it can only be an exact duplicate (the dedup stage handles it by
its normalised form).

Which shingling for which corpus (measured): see ``docs/dedup.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from corpusclean.hashing import fmix64 as _fmix64
from corpusclean.normalize import CharBatch, TokenBatch, normalize_batch, normalize_text, token_hash, tokenize, tokenize_batch

SHINGLINGS = ("word", "char")
"""Shingle kinds: word n-grams or character n-grams of the normalised text."""
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
"""Odd multiplier of the token-hash polynomial (2**64 / golden ratio)."""
_MASK64 = (1 << 64) - 1


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise on a ``uint64`` array."""
    h = values ^ (values >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def fmix64_int(value: int) -> int:
    """:func:`fmix64` of one Python int (the scalar reference)."""
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & _MASK64
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & _MASK64
    return value ^ (value >> 33)


def shingle_hash64(tokens: list[str]) -> int:
    """The 64-bit identity of the shingle made of ``tokens`` (scalar reference)."""
    h = 0
    for token in tokens:
        h = (h * int(MULTIPLIER) + token_hash(token)) & _MASK64
    return fmix64_int(h)


def hash32(hashes64: np.ndarray) -> np.ndarray:
    """The 32-bit shingle hashes MinHash consumes: the high half of the 64-bit ones."""
    return (hashes64 >> np.uint64(32)).astype(np.uint32)


def shingle_strings(text: str, size: int = 5) -> list[bytes]:
    """The shingles of ``text`` as UTF-8 bytes (tokens joined by one space), in order.

    The slow, obviously-correct form, for tests and for users who want to feed
    :class:`datasketch.MinHash` themselves.
    """
    tokens = tokenize(text)
    return [" ".join(tokens[i : i + size]).encode("utf-8") for i in range(len(tokens) - size + 1)]


def char_shingle_strings(text: str, size: int = 5) -> list[bytes]:
    """The character ``size``-grams of ``normalize_text(text)`` as UTF-8 bytes, in order.

    The reference for :func:`char_window_hashes`, and what to feed
    :class:`datasketch.MinHash` with ``hashfunc=char_shingle_hashfunc``.
    """
    normal = normalize_text(text)
    return [normal[i : i + size].encode("utf-8") for i in range(len(normal) - size + 1)]


def char_shingle_hash64(gram: bytes) -> int:
    """The 64-bit identity of one character shingle given as UTF-8 bytes (scalar reference)."""
    return token_hash(gram.decode("utf-8"))


@dataclass(frozen=True)
class ShingleSets:
    """The shingle set of each of ``n`` texts, as one CSR structure.

    Attributes:
        offsets: ``int64[n + 1]``; set ``i`` is ``hashes[offsets[i]:offsets[i + 1]]``.
        hashes: ``uint64`` 64-bit shingle hashes, sorted and distinct within each set.
    """

    offsets: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        """Number of distinct shingles of each text."""
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]

    def take(self, rows: np.ndarray) -> "ShingleSets":
        """The sets of ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        sizes = self.sizes()[rows]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        positions = np.arange(offsets[-1], dtype=np.int64) + np.repeat(self.offsets[rows] - offsets[:-1], sizes)
        return ShingleSets(offsets, self.hashes[positions])

    def jaccard(self, i: int, j: int) -> float:
        """Exact Jaccard similarity of sets ``i`` and ``j`` (0.0 if both are empty)."""
        inter = _intersection_size(self.hashes, self.offsets[i], self.offsets[i + 1], self.offsets[j], self.offsets[j + 1])
        union = self.sizes()[i] + self.sizes()[j] - inter
        return inter / union if union else 0.0

    def containment(self, i: int, j: int) -> float:
        """Share of set ``i`` found in set ``j`` (0.0 if ``i`` is empty)."""
        inter = _intersection_size(self.hashes, self.offsets[i], self.offsets[i + 1], self.offsets[j], self.offsets[j + 1])
        size = self.offsets[i + 1] - self.offsets[i]
        return inter / size if size else 0.0

    @staticmethod
    def concatenate(parts: list["ShingleSets"]) -> "ShingleSets":
        """Sets of several batches, one after another."""
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for part in parts:
            offsets.append(part.offsets[1:] + base)
            base += int(part.offsets[-1])
        hashes = np.concatenate([p.hashes for p in parts]) if parts else np.zeros(0, np.uint64)
        return ShingleSets(np.concatenate(offsets), hashes)


def window_hashes(tokens: TokenBatch, size: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every shingle of every text, in text order (with repeats).

    Returns ``(offsets, hashes)`` in the same CSR layout as :class:`ShingleSets`
    (but unsorted, not deduplicated).
    """
    if size < 1:
        raise ValueError(f"shingle size must be at least 1, got {size}")
    token_hashes = tokens.hashes
    counts = np.maximum(tokens.counts() - (size - 1), 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total_windows = max(len(token_hashes) - size + 1, 0)
    # Polynomial of every window of the flat token array (windows that cross
    # text boundaries are computed too, and dropped below).
    h = np.zeros(total_windows, dtype=np.uint64)
    for j in range(size):
        h = h * MULTIPLIER + token_hashes[j : j + total_windows]
    starts = np.repeat(tokens.offsets[:-1] - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
    return offsets, fmix64(h[starts])


def char_window_hashes(chars: CharBatch, size: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes (:func:`char_shingle_hash64`) of every character ``size``-gram, in text order.

    Returns ``(offsets, hashes)`` as :func:`window_hashes` does.
    """
    if size < 1:
        raise ValueError(f"shingle size must be at least 1, got {size}")
    counts = np.maximum(chars.lengths() - (size - 1), 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    hashes = np.empty(offsets[-1], dtype=np.uint64)
    _char_windows(chars.offsets, chars.codes, size, offsets, hashes)
    return offsets, hashes


@numba.njit(cache=True, nogil=True)
def _fnv_utf8(h, code):  # pragma: no cover - compiled
    """Fold the UTF-8 bytes of code point ``code`` into FNV-1a state ``h``; returns ``(h, bytes)``."""
    prime = np.uint64(0x100000001B3)
    if code < 0x80:
        return (h ^ np.uint64(code)) * prime, 1
    if code < 0x800:
        h = (h ^ np.uint64(0xC0 | (code >> 6))) * prime
        return (h ^ np.uint64(0x80 | (code & 0x3F))) * prime, 2
    if code < 0x10000:
        h = (h ^ np.uint64(0xE0 | (code >> 12))) * prime
        h = (h ^ np.uint64(0x80 | ((code >> 6) & 0x3F))) * prime
        return (h ^ np.uint64(0x80 | (code & 0x3F))) * prime, 3
    h = (h ^ np.uint64(0xF0 | (code >> 18))) * prime
    h = (h ^ np.uint64(0x80 | ((code >> 12) & 0x3F))) * prime
    h = (h ^ np.uint64(0x80 | ((code >> 6) & 0x3F))) * prime
    return (h ^ np.uint64(0x80 | (code & 0x3F))) * prime, 4


@numba.njit(cache=True, nogil=True)
def _char_windows(char_offsets, codes, size, offsets, out):  # pragma: no cover - compiled
    for t in range(char_offsets.size - 1):
        base = char_offsets[t]
        for w in range(offsets[t + 1] - offsets[t]):
            h = np.uint64(0xCBF29CE484222325)
            length = 0
            for m in range(base + w, base + w + size):
                h, nbytes = _fnv_utf8(h, np.int64(codes[m]))
                length += nbytes
            out[offsets[t] + w] = _fmix64(h ^ np.uint64(length))


def text_window_hashes(texts: pa.Array, shingle: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Window hashes of raw ``texts`` for shingling ``shingle`` (one of :data:`SHINGLINGS`)."""
    if shingle == "word":
        return window_hashes(tokenize_batch(texts), size)
    if shingle == "char":
        return char_window_hashes(normalize_batch(texts), size)
    raise ValueError(f"shingle must be one of {SHINGLINGS}, got {shingle!r}")


def shingle_sets(tokens: TokenBatch, size: int) -> ShingleSets:
    """The shingle set (sorted, distinct 64-bit hashes) of each text of ``tokens``."""
    offsets, hashes = window_hashes(tokens, size)
    return sets_from_windows(offsets, hashes)


def sets_from_windows(offsets: np.ndarray, hashes: np.ndarray) -> ShingleSets:
    """Sort and deduplicate each text's window hashes."""
    out = np.empty_like(hashes)
    new_offsets = np.empty_like(offsets)
    _sort_unique_rows(offsets, hashes, out, new_offsets)
    return ShingleSets(new_offsets, out[: new_offsets[-1]].copy())


@numba.njit(cache=True, nogil=True)
def _sort_unique_rows(offsets, hashes, out, new_offsets):  # pragma: no cover - compiled
    """Sort and deduplicate each row of ``hashes`` into ``out``.

    Shingle hashes are uniform 64-bit values, so a row is distributed into
    about ``m / 2`` buckets by its top bits (a counting sort, which leaves the
    buckets in order) and each bucket, ~2 values, is insertion-sorted: linear
    time, where a comparison sort of every row cost ~3x more on character
    shingles. A bucket that is unexpectedly large (adversarial input) is
    sorted with ``np.sort`` instead.
    """
    new_offsets[0] = 0
    k = 0
    longest = 0
    for i in range(offsets.size - 1):
        longest = max(longest, offsets[i + 1] - offsets[i])
    counts = np.zeros(longest + 2, dtype=np.int64)
    row = np.empty(longest, dtype=np.uint64)
    for i in range(offsets.size - 1):
        lo = offsets[i]
        m = offsets[i + 1] - lo
        if m == 0:
            new_offsets[i + 1] = k
            continue
        b = 1
        while (2 << b) < m:  # about two values per bucket (at least two buckets: a shift by 64 is undefined)
            b += 1
        shift = np.uint64(64 - b)
        nb = 1 << b
        counts[: nb + 1] = 0
        for j in range(m):
            counts[np.int64(hashes[lo + j] >> shift) + 1] += 1
        for x in range(nb):
            counts[x + 1] += counts[x]
        for j in range(m):
            h = hashes[lo + j]
            x = np.int64(h >> shift)
            row[counts[x]] = h
            counts[x] += 1
        # counts[x] is now the end of bucket x (and the start of bucket x + 1).
        start = 0
        for x in range(nb):
            end = counts[x]
            if end - start > 32:
                row[start:end] = np.sort(row[start:end])
            else:
                for j in range(start + 1, end):
                    v = row[j]
                    q = j - 1
                    while q >= start and row[q] > v:
                        row[q + 1] = row[q]
                        q -= 1
                    row[q + 1] = v
            start = end
        for j in range(m):
            if j == 0 or row[j] != row[j - 1]:
                out[k] = row[j]
                k += 1
        new_offsets[i + 1] = k


@numba.njit(cache=True, nogil=True)
def _intersection_size(hashes, a0, a1, b0, b1):  # pragma: no cover - compiled
    """Size of the intersection of two sorted distinct runs of ``hashes``."""
    count = 0
    while a0 < a1 and b0 < b1:
        x = hashes[a0]
        y = hashes[b0]
        if x == y:
            count += 1
            a0 += 1
            b0 += 1
        elif x < y:
            a0 += 1
        else:
            b0 += 1
    return count


intersection_size = _intersection_size
"""Compiled merge count, reusable from other Numba kernels."""
