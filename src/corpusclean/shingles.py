"""Shingles: the sets whose Jaccard similarity and containment we measure.

A shingle is ``size`` consecutive normalised tokens (word n-gram, default 5).
Its identity is a 64-bit hash built from the tokens' hashes
(:func:`corpusclean.normalize.token_hash`)::

    h64(t_1 .. t_k) = fmix64(sum_j token_hash(t_j) * M ** (k - j)  mod 2**64)

i.e. a polynomial over the token hashes followed by the MurmurHash3 64-bit
finaliser. Being a function of per-token hashes, it is computed for every
window of a whole batch with a handful of vectorised NumPy operations.
The 64-bit value is what exact Jaccard/containment compare (collisions are
negligible); MinHash uses its high 32 bits (:func:`hash32`), which is what
:func:`corpusclean.minhash.shingle_hashfunc` returns for the shingle's bytes.

A text with fewer than ``size`` tokens has *no* shingles: it can only be an
exact duplicate (the dedup stage handles it by its normalised form).

Why word 5-grams and not character n-grams: see ``docs/dedup.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from corpusclean.normalize import TokenBatch, token_hash, tokenize

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
    new_offsets[0] = 0
    k = 0
    for i in range(offsets.size - 1):
        row = np.sort(hashes[offsets[i] : offsets[i + 1]])
        for j in range(row.size):
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
