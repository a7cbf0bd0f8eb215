"""Candidate pairs for containment: a short text whose shingles lie inside a longer one.

MinHash LSH cannot find these: if a 20-shingle paragraph sits inside a
350-shingle one their Jaccard similarity is ~0.06. Instead each text is
represented by a *sample* of its shingles, its ``sample_size`` smallest
64-bit shingle hashes (a bottom-k sketch, i.e. a uniform random sample of
the set), and looked up in an inverted index of the full shingle sets of all
texts. A text ``A`` with containment ``c`` in ``B`` has each sampled shingle
in ``B`` with probability ``c``, so requiring ``min_hits`` sampled shingles
found in ``B`` (default 7 of 16) misses a pair with ``c >= 0.9`` with
probability below 1e-6 (binomial bound; sampling without replacement is
tighter); all candidates are then verified exactly. (It was 2 of 8, miss
probability ~7e-7 too, but on repetitive prose -- the 200 MB bench corpus
-- sharing 2 of 8 sampled 5-grams with unrelated larger paragraphs was
common: 5.2 M candidates from 67 M postings, 4.5 GB and ~17 s to list and
verify, quadratic in the corpus size.)

Only the sampled hashes are indexed (the full sets are only *scanned* for
them, with a hash-set lookup), so memory stays proportional to the number of
texts. A sampled shingle present in more than ``max_postings`` texts is
boilerplate and is skipped (counts as a miss), bounding the output. Each row
reads only the postings of its rarest samples (a prefix filter, see
:func:`_join`), and pairs are counted row by row, never materialised per posting.
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

import numba
import numpy as np

from corpusclean.lsh import sorted_unique
from corpusclean.shingles import ShingleSets

T = TypeVar("T")

DEFAULT_SAMPLE_SIZE = 16
DEFAULT_MIN_HITS = 7
DEFAULT_MAX_POSTINGS = 256
JOIN_PIECES = 8
"""Row ranges the containment join is cut into (see :meth:`SampleIndex.pairs`): enough for two or more threads
to share it evenly, beside the LSH's banding, which runs at the same time (``dedup``)."""


def candidate_pairs(
    sets: ShingleSets,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    min_hits: int = DEFAULT_MIN_HITS,
    max_postings: int = DEFAULT_MAX_POSTINGS,
) -> np.ndarray:
    """Pairs ``(container, contained)`` of rows of ``sets`` worth verifying.

    ``contained`` has strictly fewer shingles than ``container`` and shares at
    least ``min(min_hits, sample)`` of its sampled shingles with it (sampled
    shingles with more than ``max_postings`` postings count as misses).

    Returns:
        ``int64[k, 2]`` distinct pairs, sorted.
    """
    n = len(sets)
    if n < 2 or len(sets.hashes) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    sizes = sets.sizes()
    samples = np.zeros((n, sample_size), dtype=np.uint32)
    fill_samples(sets.offsets, sets.hashes, samples)
    index = SampleIndex(samples, np.minimum(sizes, sample_size))
    del samples
    hit_index, hit_counts = index.hits(sets.offsets, sets.hashes, np.ones(n, dtype=np.bool_))
    posting_offsets, posting_rows = index.postings(hit_index, hit_counts)
    return index.pairs(posting_offsets, posting_rows, sizes, min_hits=min_hits, max_postings=max_postings)


@numba.njit(cache=True, nogil=True)
def fill_samples(offsets, hashes, out):  # pragma: no cover - compiled
    """Row ``i`` of ``uint32`` ``out``: the sample *keys* of sorted set ``i``, the high 32 bits
    of its ``k`` smallest hashes (fewer: the rest untouched).

    Samples are matched on these keys: another shingle with the same high
    half only adds a hit, hence at most an extra candidate, which exact
    verification rejects; half the memory of 64-bit samples and tables.
    """
    k = out.shape[1]
    for i in range(offsets.size - 1):
        for j in range(min(k, offsets[i + 1] - offsets[i])):
            out[i, j] = np.uint32(hashes[offsets[i] + j] >> np.uint64(32))


class SampleIndex:
    """The distinct sampled hashes of many texts, for finding the texts that hold them.

    The hashes may be scanned for in the full sets one shard at a time
    (:meth:`hits`), so the full sets of all texts need never be in memory at
    once; :meth:`postings` groups the hits by hash and :meth:`pairs` joins
    them with the samples. Row ``i``'s samples are ``samples[i, :counts[i]]``
    (:func:`fill_samples`); the index keeps no reference to ``samples``.
    """

    def __init__(self, samples: np.ndarray, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=np.int64)
        self.sample_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.sample_offsets[1:])
        self.distinct, self.keys, self.slots, self.bitmap, self.shift, self.query_index = _build_table(
            samples, counts, self.sample_offsets
        )

    def hits(self, offsets: np.ndarray, hashes: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sampled hashes in each (CSR, possibly repeating) row ``i`` with ``eligible[i]``:
        ``(distinct index int32[h], hits per row int32[n])``, once per row and hash, in row order."""
        return _hits(self.keys, self.slots, self.bitmap, self.shift, offsets, hashes, eligible)

    def postings(self, hit_index: np.ndarray, hit_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding each distinct sampled hash, from every row's :meth:`hits` (rows
        concatenated in order): ``(posting_offsets int64[d + 1], posting_rows int32)``, rows ascending."""
        return _group_by_hash(hit_index, hit_counts, self.distinct)

    def pairs(
        self,
        posting_offsets: np.ndarray,
        posting_rows: np.ndarray,
        sizes: np.ndarray,
        *,
        min_hits: int = DEFAULT_MIN_HITS,
        max_postings: int = DEFAULT_MAX_POSTINGS,
        map_pieces: Callable[[Callable[[tuple[int, int]], T], Iterable[tuple[int, int]]], Iterable[T]] = map,
    ) -> np.ndarray:
        """Candidate ``(container, contained)`` pairs, sorted (see :func:`candidate_pairs`).

        The rows are joined in :data:`JOIN_PIECES` ranges through ``map_pieces``
        (``map``, or an executor's ``map`` to join them on its threads: the join
        is compiled code that releases the GIL); the pairs do not depend on it.
        """
        n = len(self.sample_offsets) - 1
        cuts = np.linspace(0, n, JOIN_PIECES + 1).astype(np.int64)
        ranges = [(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]

        def join(rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            return _join(self.sample_offsets, self.query_index, posting_offsets, posting_rows, sizes, min_hits, max_postings, *rows)

        found = list(map_pieces(join, ranges))
        if not found:
            return np.zeros((0, 2), dtype=np.int64)
        container = np.concatenate([piece[0] for piece in found])
        contained = np.concatenate([piece[1] for piece in found])
        del found
        if len(contained) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        keys = sorted_unique(container * n + contained)
        return np.stack([keys // n, keys % n], axis=1)


@numba.njit(cache=True, nogil=True)
def _build_table(samples, counts, sample_offsets):  # pragma: no cover - compiled
    """Open-addressing table of the distinct sampled hashes (uniform: their low bits
    index it), fronted by a bitmap on their high bits that rejects most other values in
    one cache-friendly probe. Returns ``(distinct, slot_keys, slots, bitmap, shift, query_index)``:
    ``slots`` hold a distinct key's index + 1 (0 = empty) and ``slot_keys`` that key,
    ``query_index`` is the index of each sample (CSR by ``sample_offsets``)."""
    values = np.empty(sample_offsets[-1], dtype=np.uint32)
    for i in range(counts.size):
        for j in range(counts[i]):
            values[sample_offsets[i] + j] = samples[i, j]
    values.sort()
    distinct = 0
    for q in range(values.size):
        if distinct == 0 or values[distinct - 1] != values[q]:
            values[distinct] = values[q]
            distinct += 1
    keys = values[:distinct].copy()
    values = keys  # frees the sorted copy of every sample
    size = 2
    while size < distinct + distinct // 2 + 2:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.zeros(size, dtype=np.int32)
    slot_keys = np.zeros(size, dtype=np.uint32)  # the key of each used slot: one probe, no dependent load
    bits = 6
    while (1 << bits) < 16 * distinct and bits < 32:
        bits += 1
    shift = np.uint64(32 - bits)
    bitmap = np.zeros(((1 << bits) + 7) // 8, dtype=np.uint8)
    for x in range(distinct):
        value = np.uint64(keys[x])
        slot = value & mask
        while slots[slot] != 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = x + 1
        slot_keys[slot] = value
        top = np.int64(value >> shift)
        bitmap[top >> 3] |= np.uint8(1 << (top & 7))
    query_index = np.empty(sample_offsets[-1], dtype=np.int32)
    for i in range(counts.size):
        for j in range(counts[i]):
            query_index[sample_offsets[i] + j] = _find(slot_keys, slots, bitmap, shift, mask, np.uint64(samples[i, j]))
    return distinct, slot_keys, slots, bitmap, shift, query_index


@numba.njit(cache=True, nogil=True)
def _hits(keys, slots, bitmap, shift, offsets, hashes, eligible):  # pragma: no cover - compiled
    mask = np.uint64(slots.size - 1)
    capacity = 1024
    out_index = np.empty(capacity, dtype=np.int32)
    row_counts = np.zeros(offsets.size - 1, dtype=np.int32)
    k = 0
    for i in range(offsets.size - 1):
        if not eligible[i]:
            continue
        start = k
        for j in range(offsets[i], offsets[i + 1]):
            x = _find(keys, slots, bitmap, shift, mask, hashes[j] >> np.uint64(32))
            if x < 0:
                continue
            if k == capacity:
                capacity *= 2
                grown = np.empty(capacity, dtype=np.int32)
                grown[:k] = out_index[:k]
                out_index = grown
            # insertion into the row's sorted run, once per hash (window hashes repeat)
            q = k - 1
            while q >= start and out_index[q] > x:
                q -= 1
            if q >= start and out_index[q] == x:
                continue
            for m in range(k, q + 1, -1):
                out_index[m] = out_index[m - 1]
            out_index[q + 1] = x
            k += 1
        row_counts[i] = k - start
    return out_index[:k].copy(), row_counts


@numba.njit(cache=True, nogil=True)
def _group_by_hash(hit_index, hit_counts, distinct):  # pragma: no cover - compiled
    """Counting sort of the hits by hash (rows ascending within a hash): ``(posting_offsets, posting_rows)``."""
    counts = np.zeros(distinct + 1, dtype=np.int64)
    for j in range(hit_index.size):
        counts[hit_index[j] + 1] += 1
    for x in range(distinct):
        counts[x + 1] += counts[x]
    fill = counts[:-1].copy()
    rows = np.empty(hit_index.size, dtype=np.int32)
    j = 0
    for row in range(hit_counts.size):
        for _ in range(hit_counts[row]):
            x = hit_index[j]
            rows[fill[x]] = row
            fill[x] += 1
            j += 1
    return counts, rows


@numba.njit(cache=True, nogil=True)
def _find(keys, slots, bitmap, shift, mask, value):  # pragma: no cover - compiled
    """Distinct index of the 32-bit key ``value`` in the table of :func:`_build_table`, or -1."""
    top = np.int64(value >> shift)
    if not bitmap[top >> 3] & (1 << (top & 7)):
        return -1
    slot = value & mask
    while slots[slot] != 0:
        if keys[slot] == value:
            return slots[slot] - 1
        slot = (slot + np.uint64(1)) & mask
    return -1


@numba.njit(cache=True, nogil=True)
def _join(sample_offsets, sample_index, posting_offsets, posting_rows, sizes, min_hits, max_postings, first, last):  # pragma: no cover
    """For each row of ``first:last``, the larger rows holding at least ``min(min_hits, samples)`` of its sampled
    hashes (hashes with more than ``max_postings`` postings count as misses): ``(container, contained)``.

    Prefix filter: a row with ``u`` usable samples needing ``m`` hits shares at
    least one of any ``u - m + 1`` of them with each answer, so only the
    postings of its ``u - m + 1`` rarest samples are read; each row found there
    is then looked up (binary search) in the other samples' postings. The
    answer is the same as counting every posting of every sample.
    """
    n = sample_offsets.size - 1
    capacity = 1024
    out_container = np.empty(capacity, dtype=np.int64)
    out_contained = np.empty(capacity, dtype=np.int64)
    k = 0
    longest = 0
    for r in range(first, last):
        longest = max(longest, sample_offsets[r + 1] - sample_offsets[r])
    usable = np.empty(longest, dtype=np.int64)
    counts = np.empty(longest, dtype=np.int64)
    order = np.empty(longest, dtype=np.int64)
    seen_by = np.full(n, -1, dtype=np.int64)  # the row whose prefix last found this row
    hits = np.zeros(n, dtype=np.int64)
    found = np.empty(longest * max_postings, dtype=np.int64)
    for r in range(first, last):
        total = sample_offsets[r + 1] - sample_offsets[r]
        needed = min(min_hits, total)
        u = 0
        for j in range(sample_offsets[r], sample_offsets[r + 1]):
            x = sample_index[j]
            c = posting_offsets[x + 1] - posting_offsets[x]
            if c <= max_postings:
                usable[u] = x
                counts[u] = c
                u += 1
        if u < needed or needed <= 0:
            continue
        for a in range(u):  # order the usable samples by posting count (insertion sort: u <= sample size)
            q = a
            while q > 0 and counts[order[q - 1]] > counts[a]:
                order[q] = order[q - 1]
                q -= 1
            order[q] = a
        prefix = u - needed + 1
        f = 0
        for a in range(prefix):
            x = usable[order[a]]
            for b in range(posting_offsets[x], posting_offsets[x + 1]):
                other = posting_rows[b]
                if sizes[other] > sizes[r]:
                    if seen_by[other] != r:
                        seen_by[other] = r
                        hits[other] = 0
                        found[f] = other
                        f += 1
                    hits[other] += 1
        for i in range(f):
            other = found[i]
            count = hits[other]
            for a in range(prefix, u):
                if count >= needed or count + (u - a) < needed:
                    break
                x = usable[order[a]]
                lo = posting_offsets[x]
                hi = posting_offsets[x + 1]
                while lo < hi:  # rows are ascending within a hash
                    mid = (lo + hi) // 2
                    if posting_rows[mid] < other:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < posting_offsets[x + 1] and posting_rows[lo] == other:
                    count += 1
            if count >= needed:
                if k == capacity:
                    capacity *= 2
                    grown = np.empty(capacity, dtype=np.int64)
                    grown[:k] = out_container
                    out_container = grown
                    grown = np.empty(capacity, dtype=np.int64)
                    grown[:k] = out_contained
                    out_contained = grown
                out_container[k] = other
                out_contained[k] = r
                k += 1
    return out_container[:k].copy(), out_contained[:k].copy()
