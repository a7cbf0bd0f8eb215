"""MinHash LSH banding as arrays: candidate pairs by sorting band hashes.

A signature of ``num_perm`` values is cut into ``bands`` bands of ``rows``
values; two texts are a candidate pair when they agree on every value of at
least one band, which happens with probability ``1 - (1 - s**rows)**bands``
for Jaccard similarity ``s``.

Choosing the banding. Every candidate is verified by exact Jaccard later, so
a false positive costs one set intersection while a false negative is a
duplicate left in the corpus. :func:`optimal_bands` therefore does not use
datasketch's symmetric weighting (which, at 0.8 with 128 permutations, picks
9 bands x 13 rows and misses ~10% of true pairs); it picks the banding with
the fewest expected false positives among those whose miss probability *at
the threshold itself* is at most ``max_miss`` (default 1e-4). For 0.8 and 128
permutations that is 24 bands x 5 rows (miss probability 7e-5 at J = 0.8,
less above it; a pair at J = 0.5 becomes a candidate with probability 0.53). ``bands``/``rows`` can always be given explicitly.

Buckets are found per band with one lexicographic sort of (band hash,
priority) and a linear scan, never a dict per entry. A bucket holding more
than ``max_bucket`` texts (boilerplate that survived exact dedup) does not
emit all its pairs: each member is paired with the ``max_bucket`` members of
highest priority only, which are the ones likely to be kept, so the cost
stays linear while every member is still compared with the bucket's likely
cluster heads.
"""

from __future__ import annotations

from typing import Callable

import numba
import numpy as np
from corpusclean.hashing import fmix64 as _fmix64


DEFAULT_MAX_MISS = 1e-4
DEFAULT_MAX_BUCKET = 16


def miss_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that a pair of Jaccard ``similarity`` shares no band."""
    return float((1.0 - similarity**rows) ** bands)


def false_positive_area(threshold: float, bands: int, rows: int, steps: int = 512) -> float:
    """Integral of the candidate probability over similarities below ``threshold``."""
    s = np.linspace(0.0, threshold, steps)
    return float(np.trapezoid(1.0 - (1.0 - s**rows) ** bands, s))


def optimal_bands(threshold: float, num_perm: int, max_miss: float = DEFAULT_MAX_MISS) -> tuple[int, int]:
    """``(bands, rows)`` with the fewest expected false positives whose miss
    probability at ``threshold`` is at most ``max_miss``.

    If no banding reaches ``max_miss`` (tiny ``num_perm`` or threshold), the
    one with the lowest miss probability is returned.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    options = [(b, r) for r in range(1, num_perm + 1) for b in range(1, num_perm // r + 1)]
    feasible = [(b, r) for b, r in options if miss_probability(threshold, b, r) <= max_miss]
    if not feasible:
        return min(options, key=lambda br: (miss_probability(threshold, *br), -br[1]))
    return min(feasible, key=lambda br: (false_positive_area(threshold, *br), -br[1], br[0]))


def band_hashes(signatures: np.ndarray, bands: int, rows: int, out: np.ndarray | None = None) -> np.ndarray:
    """``uint64[n, bands]``: one hash of each band's ``rows`` signature values (written into ``out`` if given)."""
    n, num_perm = signatures.shape
    if bands * rows > num_perm:
        raise ValueError(f"{bands} bands x {rows} rows needs {bands * rows} permutations, signatures have {num_perm}")
    signatures = np.ascontiguousarray(signatures, dtype=np.uint32)
    if out is None:
        out = np.empty((n, bands), dtype=np.uint64)
    every = np.arange(n, dtype=np.int64)
    for band in range(bands):
        out[:, band] = _band_hash(signatures, every, band * rows, rows)
    return out


@numba.njit(cache=True, nogil=True)
def _band_hash(signatures, members, start, rows):  # pragma: no cover - compiled
    """Hash of columns ``start .. start + rows - 1`` of each signature row in ``members``."""
    n = members.size
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        m = members[i]
        h = np.uint64(0)
        for j in range(rows):
            # A non-linear chain: band values (a, b) and (b, a) must not collide.
            h = _fmix64(h ^ np.uint64(signatures[m, start + j])) + np.uint64(j + 1)
        out[i] = h
    return out


def candidate_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    *,
    priority: np.ndarray | None = None,
    max_bucket: int = DEFAULT_MAX_BUCKET,
    members: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs of signature rows that share at least one band.

    Args:
        signatures: ``uint32[N, num_perm]``.
        members: Optional ``int64[n]`` signature rows to consider (the result is
            then as for ``signatures[members]``, without copying them); default all.
        priority: Optional ``int64[n]`` rank (lower = more likely kept, distinct).
            Defaults to the row index. Each pair is returned as
            ``(higher priority, lower priority)``.
        max_bucket: Bucket size above which a member is only paired with the
            ``max_bucket`` highest-priority members of its bucket.

    Returns:
        ``int64[k, 2]`` distinct pairs, sorted by (priority of first, priority of second).
    """
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows needs {bands * rows} permutations, signatures have {signatures.shape[1]}")
    signatures = np.ascontiguousarray(signatures, dtype=np.uint32)
    # One band at a time: 8 bytes per text alive, not 8 * bands (or the 8 * bands * rows of a widened
    # copy of the signatures). Hashed in row order (members ascending: sequential reads of the signatures).
    return _pairs(lambda band, members: _band_hash(signatures, members, band * rows, rows), bands, len(signatures),
                  priority, max_bucket, members)  # fmt: skip


def candidate_pairs_from_bands(
    band_keys: np.ndarray,
    *,
    priority: np.ndarray | None = None,
    max_bucket: int = DEFAULT_MAX_BUCKET,
    members: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`candidate_pairs` of the signatures whose :func:`band_hashes` are ``band_keys`` (``uint64[N, bands]``).

    The same pairs, from 8 bytes per band and text instead of the signatures'
    4 per permutation: a caller that hashes each shard's bands as it computes
    the signatures need not hold the signatures at all.
    """
    return _pairs(lambda band, members: band_keys[members, band], band_keys.shape[1], len(band_keys),
                  priority, max_bucket, members)  # fmt: skip


def _pairs(keys_of_band: Callable[[int, np.ndarray], np.ndarray], bands: int, size: int, priority: np.ndarray | None,
           max_bucket: int, members: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """Pairs of ``members`` (default ``0 .. size - 1``) sharing a key in one of the ``bands``;
    ``keys_of_band(band, members)`` gives each member's key in that band."""
    members = np.arange(size, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
    n = len(members)
    if priority is None:
        priority = np.arange(n, dtype=np.int64)
    priority = np.asarray(priority, dtype=np.int64)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    found = []
    # Members in priority order, so one stable sort by band hash per band leaves each bucket in priority order.
    by_priority = np.argsort(priority, kind="stable")
    for band in range(bands):
        keys = keys_of_band(band, members)[by_priority]
        order = np.argsort(keys, kind="stable")
        found.append(_bucket_pairs(keys[order], by_priority[order], max_bucket))
    pairs = np.concatenate(found)
    if len(pairs) == 0:
        return pairs.reshape(0, 2)
    rank = priority_rank(priority)
    keys = sorted_unique(rank[pairs[:, 0]] * n + rank[pairs[:, 1]])
    by_rank = np.empty(n, dtype=np.int64)
    by_rank[rank] = np.arange(n)
    return np.stack([by_rank[keys // n], by_rank[keys % n]], axis=1)


def sorted_unique(keys: np.ndarray, return_counts: bool = False):
    """``np.unique`` of an integer array by sorting (NumPy 2's hash-based
    unique is far slower on tens of millions of keys)."""
    keys = np.sort(keys)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    if not return_counts:
        return keys[first]
    starts = np.flatnonzero(first)
    return keys[starts], np.diff(np.append(starts, len(keys)))


def priority_rank(priority: np.ndarray) -> np.ndarray:
    """Dense 0..n-1 rank of each row under ``priority`` (which must be distinct)."""
    rank = np.empty(len(priority), dtype=np.int64)
    rank[np.argsort(priority, kind="stable")] = np.arange(len(priority))
    return rank


@numba.njit(cache=True, nogil=True)
def _bucket_pairs(sorted_keys, members, max_bucket):  # pragma: no cover - compiled
    """Pairs within runs of equal keys; member at run position p pairs with
    positions ``0 .. min(p, max_bucket) - 1`` (all pairs in small runs)."""
    n = sorted_keys.size
    count = 0
    start = 0
    for i in range(1, n + 1):
        if i == n or sorted_keys[i] != sorted_keys[start]:
            size = i - start
            for p in range(1, size):
                count += min(p, max_bucket)
            start = i
    out = np.empty((count, 2), dtype=np.int64)
    k = 0
    start = 0
    for i in range(1, n + 1):
        if i == n or sorted_keys[i] != sorted_keys[start]:
            for p in range(start + 1, i):
                for q in range(start, min(p, start + max_bucket)):
                    out[k, 0] = members[q]
                    out[k, 1] = members[p]
                    k += 1
            start = i
    return out
