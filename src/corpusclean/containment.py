"""Candidate pairs for containment: a short text whose shingles lie inside a longer one.

MinHash LSH cannot find these: if a 20-shingle paragraph sits inside a
350-shingle one their Jaccard similarity is ~0.06. Instead each text is
represented by a *sample* of its shingles, its ``sample_size`` smallest
64-bit shingle hashes (a bottom-k sketch, i.e. a uniform random sample of
the set), and looked up in an inverted index of the full shingle sets of all
texts. A text ``A`` with containment ``c`` in ``B`` has each sampled shingle
in ``B`` with probability ``c``, so requiring ``min_hits`` sampled shingles
found in ``B`` (default 2 of 8) misses a pair with ``c >= 0.9`` with
probability below 1e-6; all candidates are then verified exactly.

Only the sampled hashes are indexed (the full sets are only *scanned* for
them, with a hash-set lookup), so memory stays proportional to the number of
texts. A sampled shingle present in more than ``max_postings`` texts is
boilerplate and is skipped, bounding the output.
"""

from __future__ import annotations

import numba
import numpy as np

from corpusclean.lsh import sorted_unique
from corpusclean.shingles import ShingleSets

DEFAULT_SAMPLE_SIZE = 8
DEFAULT_MIN_HITS = 2
DEFAULT_MAX_POSTINGS = 256


def candidate_pairs(
    sets: ShingleSets,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    min_hits: int = DEFAULT_MIN_HITS,
    max_postings: int = DEFAULT_MAX_POSTINGS,
) -> np.ndarray:
    """Pairs ``(container, contained)`` of rows of ``sets`` worth verifying.

    ``contained`` has strictly fewer shingles than ``container`` and shares at
    least ``min(min_hits, sample)`` of its sampled shingles with it.

    Returns:
        ``int64[k, 2]`` distinct pairs, sorted.
    """
    n = len(sets)
    sizes = sets.sizes()
    if n < 2 or len(sets.hashes) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    sample_offsets, sample_hashes = _bottom_k(sets.offsets, sets.hashes, sample_size)
    sample_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(sample_offsets))
    order = np.argsort(sample_hashes, kind="stable")
    query_hashes = sample_hashes[order]
    query_rows = sample_rows[order]
    # Every occurrence of a sampled hash in any full set: (hash, row).
    hit = _member(sets.hashes, np.unique(query_hashes))
    posting_hashes = sets.hashes[hit]
    posting_rows = _rows_of(sets.offsets, hit)
    posting_order = np.argsort(posting_hashes, kind="stable")
    posting_hashes = posting_hashes[posting_order]
    posting_rows = posting_rows[posting_order]

    contained, container = _join(query_hashes, query_rows, posting_hashes, posting_rows, sizes, max_postings)
    if len(contained) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    keys, hits = sorted_unique(container * n + contained, return_counts=True)
    needed = np.minimum(min_hits, np.diff(sample_offsets))[keys % n]
    keys = keys[hits >= needed]
    return np.stack([keys // n, keys % n], axis=1)


@numba.njit(cache=True, nogil=True)
def _member(values, distinct):  # pragma: no cover - compiled
    """Boolean mask of ``values`` found in ``distinct`` (open addressing; the
    hashes are already uniform, so their low bits index the table)."""
    size = 1
    while size < 2 * distinct.size + 2:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.zeros(size, dtype=np.uint64)
    used = np.zeros(size, dtype=np.bool_)
    for value in distinct:
        slot = value & mask
        while used[slot] and table[slot] != value:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = value
        used[slot] = True
    out = np.zeros(values.size, dtype=np.bool_)
    for i in range(values.size):
        slot = values[i] & mask
        while used[slot]:
            if table[slot] == values[i]:
                out[i] = True
                break
            slot = (slot + np.uint64(1)) & mask
    return out


@numba.njit(cache=True, nogil=True)
def _rows_of(offsets, mask):  # pragma: no cover - compiled
    """Row of each ``True`` position of ``mask`` (a mask over the flat CSR values),
    without an ``int64`` row number per value."""
    out = np.empty(np.count_nonzero(mask), dtype=np.int64)
    k = 0
    for row in range(offsets.size - 1):
        for j in range(offsets[row], offsets[row + 1]):
            if mask[j]:
                out[k] = row
                k += 1
    return out


@numba.njit(cache=True, nogil=True)
def _bottom_k(offsets, hashes, k):  # pragma: no cover - compiled
    """The ``k`` smallest hashes of each (sorted) set, as CSR."""
    n = offsets.size - 1
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        out_offsets[i + 1] = out_offsets[i] + min(k, offsets[i + 1] - offsets[i])
    out = np.empty(out_offsets[n], dtype=np.uint64)
    for i in range(n):
        for j in range(out_offsets[i + 1] - out_offsets[i]):
            out[out_offsets[i] + j] = hashes[offsets[i] + j]
    return out_offsets, out


@numba.njit(cache=True, nogil=True)
def _join(query_hashes, query_rows, posting_hashes, posting_rows, sizes, max_postings):  # pragma: no cover
    """Merge-join sorted queries with sorted postings; emit (contained, container)
    for every larger container, skipping hashes with too many postings."""
    contained = []
    container = []
    p = 0
    q = 0
    nq = query_hashes.size
    np_ = posting_hashes.size
    while q < nq and p < np_:
        h = query_hashes[q]
        while p < np_ and posting_hashes[p] < h:
            p += 1
        p_end = p
        while p_end < np_ and posting_hashes[p_end] == h:
            p_end += 1
        q_end = q
        while q_end < nq and query_hashes[q_end] == h:
            q_end += 1
        if p_end - p <= max_postings:
            for a in range(q, q_end):
                row = query_rows[a]
                for b in range(p, p_end):
                    other = posting_rows[b]
                    if sizes[other] > sizes[row]:
                        contained.append(row)
                        container.append(other)
        q = q_end
        p = p_end
    return np.array(contained, dtype=np.int64), np.array(container, dtype=np.int64)
