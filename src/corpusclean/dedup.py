"""Paragraph deduplication: exact, near (MinHash LSH) and contained duplicates.

Comparison is on the normalised form (:mod:`corpusclean.normalize`) of the
OCR-folded text (:mod:`corpusclean.fold`, unless ``fold_ocr=False``); the
clean ``text`` is what is kept and written. Three kinds of duplicate:

* **exact**: same normalised token sequence of the unfolded text (any length; texts without a
  single token compare by their NFKC-casefolded, whitespace-collapsed text).
  Found by a 128-bit hash of the token sequence.
* **near**: shingle sets (word n-grams, or with ``shingle="char"`` character
  n-grams of the normalised text; :mod:`corpusclean.shingles`) with exact
  Jaccard >= ``threshold``. Candidates
  come from MinHash LSH (:mod:`corpusclean.lsh`), banded *below* the
  threshold; every candidate is verified on the shingle sets.
* **contained**: at least ``containment_threshold`` of a paragraph's shingles
  lie in a paragraph with more shingles. Candidates come from
  :mod:`corpusclean.containment`; every candidate is verified exactly.

Texts with fewer tokens (word) or normalised characters (char) than
``shingle_size`` have no shingles and can only be exact duplicates; they are
never dropped for being short.

**Which paragraph is kept**: every candidate pair is verified first; then a
greedy cover repeatedly keeps the paragraph whose cluster would remove the
most rows now (itself, its exact twins, its not-yet-removed verified
partners) and removes those partners into it. Ties go to the *priority*
order (a total order computed from row content only, so results do not
depend on input order, shards or workers): longest clean ``text``
(characters) first, then fewest OCR edits (the optional
:data:`OCR_EDITS_COLUMN`, if the input has it), then earliest ``(source,
paragraph_index)``, then ``paragraph_id``. The cover keeps an original that
several edited copies resemble, where "longest first" kept one copy, removed
the original into it and stranded the other copies (see ``docs/dedup.md``).

**Clustering without chains**: a removal always points at a kept paragraph
and its similarity to that paragraph is verified; A~B and B~C never puts C
under A unless C~A. A paragraph contained in a larger undecided one waits
for it, so no two kept paragraphs are duplicates of each other. An exact
twin follows its group's best member: if that member is kept the twin is
removed as ``exact``, otherwise it inherits the member's kept partner,
method and similarity (its shingle set is the same).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusclean import containment, lsh
from corpusclean.arrow_io import release_mapped_pages
from corpusclean.fold import fold_batch
from corpusclean.minhash import signatures_from_hashes
from corpusclean.normalize import CharBatch, TokenBatch, normalize_batch, tokenize_batch
from corpusclean.parallel import as_text_array, map_shards, release_freed_memory
from corpusclean.shingles import (
    SHINGLINGS,
    ShingleSets,
    char_window_hashes,
    hash32,
    intersection_size,
    sets_from_windows,
    window_hashes,
)
from corpusclean.hashing import fmix64 as _fmix64
from corpusclean.verdicts import METHODS, VERDICT_SCHEMA, split_rows

MIN_CONTAINED_SHINGLES = {"word": 1, "char": 50}
"""Fewest shingles a paragraph needs to be removed as *contained*. Character
5-grams of a short heading ("Stalin and lenin relationship": 25 of them) lie
mostly inside any long paragraph on the same subject; fifty is about ten words."""

FOLDED_KEY_TAG = np.uint64(0x5BD1E9955BD1E995)
"""Marks an exact key taken over the folded form (see :func:`_shard_windows`)."""
KEEP_SETS_BYTES = {"word": 48 << 20, "char": 8 << 20}
"""Inputs with at most this much text keep every shingle set in memory
(~1.5x the text for word 5-grams, ~8x for char 5-grams); larger ones drop
them after the first pass and recompute what candidates need (two more
passes over the text, memory ~independent of the shingle count). Same result."""

OCR_EDITS_COLUMN = "ocr_edits"
"""Optional integer input column: number of OCR corrections (fewer wins ties)."""
REQUIRED_COLUMNS = ("paragraph_id", "source", "paragraph_index", "text")
_EXACT, _NEAR, _CONTAINED = 0, 1, 2


@dataclass(frozen=True)
class DedupResult:
    """Outcome of :func:`deduplicate`; every input row is in exactly one of kept/duplicates.

    Attributes:
        verdicts: One row per input row, in input order (:data:`VERDICT_SCHEMA`):
            all a caller needs to split the input itself, e.g. while streaming it out.
        signatures: ``paragraph_id`` and ``hashvalues``
            (``fixed_size_list<uint32>[num_perm]``) of every paragraph that has
            shingles (of the folded text if ``fold_ocr``), usable as
            ``datasketch.LeanMinHash(seed=seed, hashvalues=..., scheme="affine32")``;
            None if deduplicated with ``keep_signatures=False``.
        paragraphs: The input.
        kept: Input rows kept, plus ``cluster_id`` (string; null if nothing was
            removed in its favour, else its own ``paragraph_id``) and
            ``duplicates_removed`` (int64).
        duplicates: Input rows removed, plus ``cluster_id``,
            ``kept_paragraph_id``, ``method`` (``exact``/``near``/``contained``),
            ``similarity`` (exact Jaccard or containment on the shingle sets;
            1.0 for exact) and ``estimated_similarity`` (MinHash estimate of
            the same quantity; null for exact).
    """

    verdicts: pa.Table
    signatures: pa.Table | None
    paragraphs: pa.Table = field(repr=False)

    @functools.cached_property
    def _split(self) -> tuple[pa.Table, pa.Table]:
        # Built on first access: a copy of the input, which a caller that streams the verdicts never pays for.
        return split_rows(self.paragraphs, self.verdicts)

    @property
    def kept(self) -> pa.Table:
        return self._split[0]

    @property
    def duplicates(self) -> pa.Table:
        return self._split[1]


def _shard_windows(texts: pa.Array, shingle: str, shingle_size: int, fold_ocr: bool, with_keys: bool):
    """Window hashes of one shard (CSR, with repeats) and, if asked, exact keys and token counts.

    Windows are taken over the OCR-folded text if ``fold_ocr``. The exact key
    hashes the normalised token sequence (word) or, equivalently (tokens never
    contain a space), the normalised text's code points (char), so each
    shingling needs one normalisation pass only. With ``fold_ocr`` that is the
    folded form, marked by :data:`FOLDED_KEY_TAG`: :func:`_unfold_shared_keys`
    then replaces the keys of the few rows that share one by unfolded keys.
    Folding keeps every token boundary, so the counts are those of either form.
    """
    compared = _normalised(fold_batch(texts) if fold_ocr else texts, shingle)
    if shingle == "word":
        offsets, hashes = window_hashes(compared, shingle_size)
    else:
        offsets, hashes = char_window_hashes(compared, shingle_size)
    if not with_keys:
        return offsets, hashes
    return offsets, hashes, *_batch_keys(compared, FOLDED_KEY_TAG if fold_ocr else np.uint64(0))


def _normalised(texts: pa.Array, shingle: str) -> TokenBatch | CharBatch:
    """The normalised form the shingling works on: token hashes (word) or code points (char)."""
    return tokenize_batch(texts) if shingle == "word" else normalize_batch(texts)


def _batch_keys(batch: TokenBatch | CharBatch, tag: np.uint64 = np.uint64(0)) -> tuple[np.ndarray, np.ndarray]:
    """Exact keys (:func:`_keys`) and token (word) or character (char) counts of a normalised batch."""
    if isinstance(batch, TokenBatch):
        return _keys(batch.offsets, batch.hashes, tag), batch.counts()
    return _keys(batch.offsets, batch.codes.astype(np.uint64), tag), batch.lengths()


def _unfold_shared_keys(texts: pa.ChunkedArray, keys: np.ndarray, shingle: str, workers: int) -> None:
    """Replace, in place, the folded exact keys that several rows share by the rows' unfolded keys.

    Texts equal when unfolded are equal when folded, so only rows sharing a
    folded key can be exact twins; every other row keeps its folded key, which
    the tag keeps apart from any unfolded one. This tokenises a few rows
    (boilerplate, exact copies and OCR-noised ones) a second time instead of all.
    """
    first = keys[:, 0]
    order = np.argsort(first, kind="stable")
    same = first[order][1:] == first[order][:-1]
    shared = np.zeros(len(first), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    rows = np.sort(order[shared])
    if len(rows):
        map_shards(_unfold_pass, texts, workers, with_start=True, rows=rows, keys=keys, shingle=shingle)


def _rows_in_shard(texts: pa.Array, start: int, rows: np.ndarray) -> tuple[int, int, pa.Array | None]:
    """``(lo, hi, texts)``: the positions ``rows[lo:hi]`` of the sorted run-wide ``rows`` that fall
    in this shard (which starts at run row ``start``), and their texts (None if there are none)."""
    lo, hi = np.searchsorted(rows, [start, start + len(texts)])
    return lo, hi, texts.take(pa.array(rows[lo:hi] - start, pa.int64())) if hi > lo else None


def _unfold_pass(texts: pa.Array, start: int, *, rows: np.ndarray, keys: np.ndarray, shingle: str) -> None:
    """Unfolded exact keys of the ``rows`` (sorted) that fall in this shard, written into ``keys``."""
    lo, hi, subset = _rows_in_shard(texts, start, rows)
    if subset is None:
        return
    subset = as_text_array(subset)
    unfolded, counts = _batch_keys(_normalised(subset, shingle))
    has_tokens = counts > 0  # the others already hold raw-text keys, which do not fold
    keys[rows[lo:hi][has_tokens]] = unfolded[has_tokens]


def _first_pass(texts: pa.Array, start: int, *, shingle: str, shingle_size: int, fold_ocr: bool, seed: int,
                keys: np.ndarray, sizes: np.ndarray, signatures: np.ndarray | None, band_keys: np.ndarray | None,
                banding: tuple[int, int], num_perm: int, samples: np.ndarray,
                keep_sets: bool) -> ShingleSets | None:  # fmt: skip
    """Exact keys, set sizes, containment samples and either signatures or LSH band keys of one
    shard (whichever array is given), written in place.

    The shard's shingle sets are returned only if ``keep_sets``: holding every
    set costs 8 B per distinct shingle (more than the text itself), so on a
    large input they are dropped and recomputed for what needs them
    (:func:`_second_pass`, :func:`_third_pass`).
    """
    end = start + len(texts)
    offsets, hashes, shard_keys, counts = _shard_windows(texts, shingle, shingle_size, fold_ocr, with_keys=True)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        shard_keys[empty] = _raw_keys(texts.take(pa.array(empty)).to_pylist())
    keys[start:end] = shard_keys
    shard_signatures = signatures_from_hashes(offsets, hash32(hashes), num_perm, seed,
                                              out=None if signatures is None else signatures[start:end])  # fmt: skip
    if band_keys is not None:
        lsh.band_hashes(shard_signatures, *banding, out=band_keys[start:end])
    del shard_signatures
    sets = sets_from_windows(offsets, hashes)
    del offsets, hashes
    sizes[start:end] = sets.sizes()
    containment.fill_samples(sets.offsets, sets.hashes, samples[start:end])
    return sets if keep_sets else None


def _second_pass(texts: pa.Array, start: int, *, shingle: str, shingle_size: int, fold_ocr: bool, index: containment.SampleIndex,
                 eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Containment postings of one shard: every sampled hash each eligible row holds."""
    offsets, hashes = _shard_windows(texts, shingle, shingle_size, fold_ocr, with_keys=False)
    return index.hits(offsets, hashes, eligible[start : start + len(texts)])


def _third_pass(texts: pa.Array, start: int, *, shingle: str, shingle_size: int, fold_ocr: bool, needed: np.ndarray,
                offsets: np.ndarray, hashes: np.ndarray) -> None:  # fmt: skip
    """Shingle sets of the rows of ``needed`` (sorted) that fall in this shard, written into
    their place of the CSR ``(offsets, hashes)`` over ``needed``."""
    lo, hi, rows = _rows_in_shard(texts, start, needed)
    if rows is None:
        return
    sets = sets_from_windows(*_shard_windows(rows, shingle, shingle_size, fold_ocr, with_keys=False))
    hashes[offsets[lo] : offsets[hi]] = sets.hashes


def _signature_pass(texts: pa.Array, start: int, *, shingle: str, shingle_size: int, fold_ocr: bool, seed: int,
                    needed: np.ndarray, out: np.ndarray) -> None:  # fmt: skip
    """Signatures of the rows of ``needed`` (sorted) that fall in this shard, written into their rows of ``out``."""
    lo, hi, rows = _rows_in_shard(texts, start, needed)
    if rows is None:
        return
    offsets, hashes = _shard_windows(rows, shingle, shingle_size, fold_ocr, with_keys=False)
    signatures_from_hashes(offsets, hash32(hashes), out.shape[1], seed, out=out[lo:hi])


def sequence_keys(tokens: TokenBatch) -> np.ndarray:
    """``uint64[n, 2]``: a 128-bit hash of each text's normalised token sequence."""
    return _keys(tokens.offsets, tokens.hashes)


def _keys(offsets: np.ndarray, items: np.ndarray, tag: np.uint64 = np.uint64(0)) -> np.ndarray:
    """``uint64[n, 2]``: a 128-bit hash of each CSR row of ``uint64`` items (first word xor ``tag``)."""
    out = np.empty((len(offsets) - 1, 2), dtype=np.uint64)
    _sequence_keys(offsets, items, out)
    out[:, 0] ^= tag
    return out


def _raw_keys(texts: list[str | None]) -> np.ndarray:
    """Keys of texts without tokens: their NFKC-casefolded, whitespace-collapsed form."""
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for i, text in enumerate(texts):
        folded = " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())
        digest = hashlib.blake2b(folded.encode("utf-8"), digest_size=16, person=b"no-tokens").digest()
        out[i] = np.frombuffer(digest, dtype="<u8")
    return out


def priority(paragraphs: pa.Table) -> np.ndarray:
    """Rank of each row in the kept-first order (0 = kept first); see the module docstring."""
    # shard by shard, so a memory-mapped text is not all paged in at once (see map_shards)
    lengths = map_shards(_char_lengths, paragraphs.column("text"))
    keys = pa.table(
        {
            "length": pa.chunked_array([c for shard in lengths for c in shard.chunks], pa.int64()),
            "ocr_edits": paragraphs.column(OCR_EDITS_COLUMN)
            if OCR_EDITS_COLUMN in paragraphs.column_names
            else pa.nulls(paragraphs.num_rows, pa.int64()),
            "source": paragraphs.column("source"),
            "paragraph_index": paragraphs.column("paragraph_index"),
            "paragraph_id": paragraphs.column("paragraph_id"),
        }
    )
    order = pc.sort_indices(
        keys,
        sort_keys=[
            ("length", "descending"),
            ("ocr_edits", "ascending"),
            ("source", "ascending"),
            ("paragraph_index", "ascending"),
            ("paragraph_id", "ascending"),
        ],
    ).to_numpy()
    rank = np.empty(paragraphs.num_rows, dtype=np.int64)
    rank[order] = np.arange(paragraphs.num_rows)
    return rank


def _char_lengths(texts: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.utf8_length(pc.fill_null(texts, "")), pa.int64())


def deduplicate(
    paragraphs: pa.Table,
    *,
    threshold: float = 0.8,
    containment_threshold: float = 0.9,
    num_perm: int = 128,
    shingle_size: int = 5,
    shingle: str = "word",
    fold_ocr: bool = True,
    seed: int = 1,
    workers: int = 1,
    bands: int | None = None,
    rows: int | None = None,
    keep_signatures: bool = True,
) -> DedupResult:
    """Split ``paragraphs`` into kept rows and removed duplicates (see the module docstring).

    Args:
        paragraphs: Arrow table with at least ``paragraph_id`` (unique),
            ``source``, ``paragraph_index`` and ``text``; other columns are
            carried through unchanged.
        threshold: Jaccard similarity of shingle sets at or above which two
            paragraphs are near duplicates.
        containment_threshold: Share of a paragraph's shingles inside a larger
            kept paragraph at or above which it is removed as contained.
        num_perm: MinHash permutations.
        shingle_size: Words (``shingle="word"``) or characters (``"char"``) per shingle.
        shingle: ``"word"`` (n-grams of normalised tokens, the default) or
            ``"char"`` (n-grams of the normalised text's characters, tokens
            joined by one space): far more tolerant of OCR noise and
            mojibake, ~4.6x more shingles (see ``docs/dedup.md``). Threshold,
            containment threshold and banding apply to whichever is chosen.
        fold_ocr: Compare the OCR-folded text (:mod:`corpusclean.fold`), so
            copies that differ by common OCR misreadings keep their shingles.
        seed: MinHash seed (datasketch's ``seed``).
        workers: Threads for tokenising, shingling and signatures (the result does not depend on it).
        bands, rows: LSH banding; by default :func:`corpusclean.lsh.optimal_bands`.
        keep_signatures: Return every row's signature (``DedupResult.signatures``). Without them
            each shard's signatures are hashed into the LSH's band keys and dropped: 8 bytes per
            band and row instead of 4 per permutation (73 instead of 194 MB at 380,000 paragraphs);
            the estimates compute the signatures of the removed rows and their kept partners
            again. The verdicts are the same.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in paragraphs.column_names]
    if missing:
        raise ValueError(f"paragraphs table lacks columns {missing}")
    if not 0.0 < threshold <= 1.0 or not 0.0 < containment_threshold <= 1.0:
        raise ValueError("threshold and containment_threshold must be in (0, 1]")
    if shingle not in SHINGLINGS:
        raise ValueError(f"shingle must be one of {SHINGLINGS}, got {shingle!r}")
    if bands is None or rows is None:
        default_bands, default_rows = lsh.optimal_bands(threshold, num_perm)
        bands, rows = bands or default_bands, rows or default_rows

    n = paragraphs.num_rows
    texts = paragraphs.column("text")  # sharded as it is: each shard is made contiguous, not the whole column
    shingling = dict(shingle=shingle, shingle_size=shingle_size, fold_ocr=fold_ocr)
    keys = np.empty((n, 2), dtype=np.uint64)
    sizes = np.empty(n, dtype=np.int64)
    signatures = np.empty((n, num_perm), dtype=np.uint32) if keep_signatures else None
    band_keys = None if keep_signatures else np.empty((n, bands), dtype=np.uint64)  # the LSH's input either way
    samples = np.zeros((n, containment.DEFAULT_SAMPLE_SIZE), dtype=np.uint32)  # containment sample keys
    keep_sets = int(pc.sum(pc.binary_length(texts)).as_py() or 0) <= KEEP_SETS_BYTES[shingle] if n else False
    parts = map_shards(_first_pass, texts, workers, with_start=True, seed=seed, keys=keys, sizes=sizes,
                       signatures=signatures, band_keys=band_keys, banding=(bands, rows), num_perm=num_perm,
                       samples=samples, keep_sets=keep_sets, **shingling)  # fmt: skip
    sets = ShingleSets.concatenate(parts) if keep_sets else None
    del parts
    if fold_ocr:
        _unfold_shared_keys(texts, keys, shingle, workers)
    # Small inputs (sets kept) skip the heap trimming: it only pays off when hundreds of MB were freed.
    release = (lambda: None) if keep_sets else release_freed_memory
    release()

    rank = priority(paragraphs)
    release_mapped_pages(paragraphs.column(name) for name in ("source", "paragraph_id"))  # sorted on, needed again at the end
    representative = _exact_representatives(keys, rank)
    del keys
    release()
    is_rep = representative == np.arange(n)
    weight = np.bincount(representative, minlength=n).astype(np.int64)
    eligible = is_rep & (sizes > 0)  # containment and LSH among exact-group representatives with shingles
    index = containment.SampleIndex(samples, np.where(eligible, np.minimum(sizes, samples.shape[1]), 0))
    del samples
    if band_keys is None:
        banded = functools.partial(lsh.candidate_pairs, signatures, bands, rows)
    else:
        banded = functools.partial(lsh.candidate_pairs_from_bands, band_keys)
    pairs = _rep_candidates(texts, workers, shingling, sets, banded, index, eligible, sizes, rank)
    del index, band_keys, banded
    release()
    edges = _verified_edges(texts, workers, shingling, sets, pairs, sizes, threshold, containment_threshold,
                            MIN_CONTAINED_SHINGLES[shingle])  # fmt: skip
    del pairs, sets
    assigned = np.full(n, -1, dtype=np.int64)
    method = np.full(n, -1, dtype=np.int8)
    similarity = np.zeros(n, dtype=np.float64)
    _cluster(is_rep, rank, weight, *edges, assigned, method, similarity)
    del edges, weight, is_rep, eligible, rank
    release()
    _assign_twins(representative, assigned, method, similarity)
    if signatures is None:  # only the rows the estimates compare, computed again
        estimated = _recomputed_estimates(texts, workers, shingling, seed, num_perm, sizes, assigned, method)
    else:
        estimated = _estimates(signatures, sizes, assigned, method)
    release()
    return _result(paragraphs, signatures, sizes, assigned, method, similarity, estimated, num_perm)


def _exact_representatives(keys: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each row, the highest-priority (lowest ``rank``) row with the same exact key."""
    by_key = np.lexsort((rank, keys[:, 1], keys[:, 0]))  # equal keys together, best first
    return _first_of_runs(keys, by_key)


@numba.njit(cache=True, nogil=True)
def _first_of_runs(keys, by_key):  # pragma: no cover - compiled
    out = np.empty(by_key.size, dtype=np.int64)
    best = -1
    for j in range(by_key.size):
        row = by_key[j]
        if j == 0 or keys[row, 0] != keys[by_key[j - 1], 0] or keys[row, 1] != keys[by_key[j - 1], 1]:
            best = row
        out[row] = best
    return out


def _rep_candidates(
    texts: pa.ChunkedArray, workers: int, shingling: dict, sets: ShingleSets | None,
    banded: Callable[..., np.ndarray], index: containment.SampleIndex, eligible: np.ndarray, sizes: np.ndarray,
    rank: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Distinct candidate row pairs among exact-group representatives that have shingles.

    ``banded(priority=, members=)`` is the LSH (:func:`lsh.candidate_pairs` on the
    signatures, or :func:`lsh.candidate_pairs_from_bands` on their band keys).

    Each pair is ``(a, b)`` with ``a`` the row with more shingles, or the
    higher-priority one when both have as many (so ``a`` is the only
    possible container of ``b``); ``int64[k, 2]``, sorted.
    """
    n = len(eligible)
    reps = np.flatnonzero(eligible)
    # Containment: the eligible rows' samples, looked up in every eligible row's full set
    # (recomputed shard by shard unless ``sets`` holds them).
    if sets is not None:
        hits = [index.hits(sets.offsets, sets.hashes, eligible)]
    else:
        hits = map_shards(_second_pass, texts, workers, with_start=True, index=index, eligible=eligible, **shingling)
    hit_index = np.concatenate([h[0] for h in hits]) if hits else np.zeros(0, np.int32)
    hit_counts = np.concatenate([h[1] for h in hits]) if hits else np.zeros(0, np.int32)
    del hits
    # LSH banding and the containment join are compiled code and sorts, without the GIL, and need nothing
    # of each other: the banding runs on one thread while this one lists the postings, then the join's
    # pieces go to whichever thread is free (the join takes about twice as long as the banding).
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _InCaller() as pool:
        near_rows = pool.submit(banded, priority=rank[reps], members=reps)
        posting_offsets, posting_rows = index.postings(hit_index, hit_counts)
        del hit_index, hit_counts
        if sets is None:  # large input: trim the heap
            release_freed_memory()
        contained = index.pairs(posting_offsets, posting_rows, sizes, map_pieces=pool.map)
        del posting_offsets, posting_rows
        near = reps[near_rows.result()]
    if sets is None:  # large input: trim the heap
        release_freed_memory()
    pairs = np.concatenate([near, contained])
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    a, b = pairs[:, 0], pairs[:, 1]
    swap = (sizes[b] > sizes[a]) | ((sizes[b] == sizes[a]) & (rank[b] < rank[a]))
    keys = lsh.sorted_unique(np.where(swap, b, a) * n + np.where(swap, a, b))
    return np.stack([keys // n, keys % n], axis=1)


def _verified_edges(
    texts: pa.ChunkedArray, workers: int, shingling: dict, sets: ShingleSets | None, pairs: np.ndarray, sizes: np.ndarray,
    threshold: float, containment_threshold: float, min_contained: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Which candidate pairs are duplicates, as directed *may-absorb* edges in CSR form.

    The shingle sets of the rows in some pair are recomputed (shard by
    shard) unless ``sets`` holds every row's; a near pair (Jaccard >= ``threshold``) gives an edge each way; a
    pair that is not near but whose smaller set lies >= ``containment_threshold``
    inside the larger gives one edge, from the container to the contained row.

    Returns:
        ``(offsets int64[n + 1], targets int64[e], methods int8[e], similarities float64[e])``;
        the edges of row ``p`` are ``offsets[p]:offsets[p + 1]``.
    """
    n = len(sizes)
    if sets is not None:
        inter = _intersections(pairs, sets.offsets, sets.hashes)
    else:
        inter = _streamed_intersections(texts, workers, shingling, pairs, sizes)
    a, b = pairs[:, 0], pairs[:, 1]
    union = sizes[a] + sizes[b] - inter
    jaccard = np.divide(inter, union, out=np.zeros(len(pairs)), where=union > 0)
    inside = np.divide(inter, sizes[b], out=np.zeros(len(pairs)), where=sizes[b] > 0)
    near = jaccard >= threshold
    contained = ~near & (sizes[b] < sizes[a]) & (sizes[b] >= min_contained) & (inside >= containment_threshold)
    sources = np.concatenate([a[near], b[near], a[contained]])
    targets = np.concatenate([b[near], a[near], b[contained]])
    methods = np.concatenate([np.full(2 * int(near.sum()), _NEAR, np.int8), np.full(int(contained.sum()), _CONTAINED, np.int8)])
    similarities = np.concatenate([jaccard[near], jaccard[near], inside[contained]])
    order = np.argsort(sources, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sources, minlength=n))]).astype(np.int64)
    return offsets, targets[order], methods[order], similarities[order]


def _streamed_intersections(texts: pa.ChunkedArray, workers: int, shingling: dict, pairs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``|A n B|`` of each pair, recomputing sets shard by shard.

    Only one end of each pair is held: the one with fewer shingles (a
    container is never held for its contained rows), computed in a first
    sweep; the other ends are computed in a second sweep, one shard at a
    time, and intersected with their held partners as they come.
    """
    a, b = pairs[:, 0], pairs[:, 1]
    held_end = np.where(sizes[a] < sizes[b], a, np.where(sizes[b] < sizes[a], b, np.minimum(a, b)))
    other_end = np.where(held_end == a, b, a)
    held = lsh.sorted_unique(held_end)
    held_offsets = np.concatenate([[0], np.cumsum(sizes[held])]).astype(np.int64)
    held_hashes = np.empty(held_offsets[-1], dtype=np.uint64)  # filled in place, shard by shard
    map_shards(_third_pass, texts, workers, with_start=True, needed=held, offsets=held_offsets, hashes=held_hashes,
               **shingling)  # fmt: skip
    held_at = np.searchsorted(held, held_end)
    other_at = np.minimum(np.searchsorted(held, other_end), max(len(held) - 1, 0))
    both = held[other_at] == other_end if len(held) else np.zeros(len(pairs), dtype=bool)
    inter = np.empty(len(pairs), dtype=np.int64)
    inter[both] = _intersections(np.stack([held_at[both], other_at[both]], axis=1), held_offsets, held_hashes)
    streamed = np.flatnonzero(~both)
    streamed = streamed[np.argsort(other_end[streamed], kind="stable")]
    rows, first = np.unique(other_end[streamed], return_index=True)
    by_row = np.append(first, len(streamed)).astype(np.int64)  # pairs streamed[by_row[i]:by_row[i + 1]] have other end rows[i]
    map_shards(_stream_pass, texts, workers, with_start=True, rows=rows, by_row=by_row, pair_ids=streamed,
               held_at=held_at, held_offsets=held_offsets, held_hashes=held_hashes, out=inter, **shingling)  # fmt: skip
    del held_hashes
    release_freed_memory()
    return inter


def _stream_pass(texts: pa.Array, start: int, *, shingle: str, shingle_size: int, fold_ocr: bool, rows: np.ndarray, by_row: np.ndarray,
                 pair_ids: np.ndarray, held_at: np.ndarray, held_offsets: np.ndarray, held_hashes: np.ndarray,
                 out: np.ndarray) -> None:  # fmt: skip
    """Sets of the ``rows`` in this shard, intersected with their pairs' held ends into ``out``."""
    lo, hi, shard_rows = _rows_in_shard(texts, start, rows)
    if shard_rows is None:
        return
    sets = sets_from_windows(*_shard_windows(shard_rows, shingle, shingle_size, fold_ocr, with_keys=False))
    _intersect_streamed(sets.offsets, sets.hashes, by_row[lo : hi + 1], pair_ids, held_at, held_offsets, held_hashes, out)


@numba.njit(cache=True, nogil=True)
def _intersect_streamed(offsets, hashes, by_row, pair_ids, held_at, held_offsets, held_hashes, out):  # pragma: no cover
    for r in range(offsets.size - 1):
        for j in range(by_row[r], by_row[r + 1]):
            p = pair_ids[j]
            h = held_at[p]
            out[p] = _merge_count(hashes, offsets[r], offsets[r + 1], held_hashes, held_offsets[h], held_offsets[h + 1])


@numba.njit(cache=True, nogil=True)
def _merge_count(x, a0, a1, y, b0, b1):  # pragma: no cover - compiled
    """Size of the intersection of the sorted distinct runs ``x[a0:a1]`` and ``y[b0:b1]``."""
    count = 0
    while a0 < a1 and b0 < b1:
        if x[a0] == y[b0]:
            count += 1
            a0 += 1
            b0 += 1
        elif x[a0] < y[b0]:
            a0 += 1
        else:
            b0 += 1
    return count


@numba.njit(cache=True, nogil=True)
def _intersections(pairs, set_offsets, set_hashes):  # pragma: no cover - compiled
    out = np.empty(len(pairs), dtype=np.int64)
    for k in range(len(pairs)):
        p, q = pairs[k, 0], pairs[k, 1]
        out[k] = intersection_size(set_hashes, set_offsets[p], set_offsets[p + 1], set_offsets[q], set_offsets[q + 1])
    return out


@numba.njit(cache=True, nogil=True)
def _coverage(p, weight, edge_offsets, edge_targets, assigned):  # pragma: no cover - compiled
    """Rows a cluster around ``p`` would hold now: its own weight plus its unassigned absorbable partners'."""
    total = weight[p]
    for e in range(edge_offsets[p], edge_offsets[p + 1]):
        if assigned[edge_targets[e]] < 0:
            total += weight[edge_targets[e]]
    return total


@numba.njit(cache=True, nogil=True)
def _cluster(is_rep, rank, weight, edge_offsets, edge_targets, edge_methods, edge_similarities,
             assigned, method, similarity):  # pragma: no cover  # fmt: skip
    """Greedy cover: repeatedly keep the row whose cluster would remove the most
    rows (ties: priority rank), and remove its unassigned partners into it.

    A row that some unassigned row contains (a containment-only edge) waits
    until that container is kept or removed, so two kept rows are never
    duplicates of each other. Coverage only shrinks, so a lazily re-keyed
    heap of ``(-coverage, rank)`` finds the best row.
    """
    n = is_rep.size
    waiting = np.zeros(n, dtype=np.int64)
    for p in range(n):
        for e in range(edge_offsets[p], edge_offsets[p + 1]):
            if edge_methods[e] == 2:
                waiting[edge_targets[e]] += 1
    heap = [np.int64(0)]
    heap.pop()
    for p in range(n):
        if is_rep[p] and waiting[p] == 0:
            heapq.heappush(heap, -_coverage(p, weight, edge_offsets, edge_targets, assigned) * n + rank[p])
    by_rank = np.empty(n, dtype=np.int64)
    by_rank[rank] = np.arange(n)
    kept = np.zeros(n, dtype=np.bool_)
    while heap:
        key = heapq.heappop(heap)
        p = by_rank[key % n]  # Python (floor) modulo: key % n is the rank
        stored = -((key - rank[p]) // n)
        if assigned[p] >= 0 or kept[p]:
            continue
        now = _coverage(p, weight, edge_offsets, edge_targets, assigned)
        if now < stored:
            heapq.heappush(heap, -now * n + rank[p])
            continue
        kept[p] = True
        for e in range(edge_offsets[p], edge_offsets[p + 1]):
            q = edge_targets[e]
            if assigned[q] >= 0 or kept[q]:
                continue
            assigned[q] = p
            method[q] = edge_methods[e]
            similarity[q] = edge_similarities[e]
            for f in range(edge_offsets[q], edge_offsets[q + 1]):
                if edge_methods[f] == 2:
                    y = edge_targets[f]
                    waiting[y] -= 1
                    if waiting[y] == 0 and assigned[y] < 0 and not kept[y]:
                        heapq.heappush(heap, -_coverage(y, weight, edge_offsets, edge_targets, assigned) * n + rank[y])


def _assign_twins(representative: np.ndarray, assigned: np.ndarray, method: np.ndarray, similarity: np.ndarray) -> None:
    twins = np.flatnonzero(representative != np.arange(len(representative)))
    reps = representative[twins]
    rep_kept = assigned[reps] < 0
    assigned[twins] = np.where(rep_kept, reps, assigned[reps])
    method[twins] = np.where(rep_kept, _EXACT, method[reps])
    similarity[twins] = np.where(rep_kept, 1.0, similarity[reps])


@numba.njit(cache=True, nogil=True)
def _equal_share(signatures, rows, others):  # pragma: no cover - compiled
    """``(signatures[rows] == signatures[others]).mean(axis=1)``."""
    out = np.empty(rows.size, dtype=np.float64)
    m = signatures.shape[1]
    for i in range(rows.size):
        equal = 0
        for k in range(m):
            if signatures[rows[i], k] == signatures[others[i], k]:
                equal += 1
        out[i] = equal / m
    return out


def _estimates(signatures: np.ndarray, sizes: np.ndarray, assigned: np.ndarray, method: np.ndarray,
               signature_rows: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """MinHash estimate of each removal's similarity (NaN for exact).

    ``signatures`` holds every row's signature, or, if ``signature_rows`` (sorted)
    is given, those rows' only (which must include every removal and its kept row).
    """
    estimated = np.full(len(assigned), np.nan)
    rows = np.flatnonzero(method > _EXACT)
    kept = assigned[rows]
    at = (lambda r: r) if signature_rows is None else (lambda r: np.searchsorted(signature_rows, r))
    jaccard = _equal_share(signatures, at(rows), at(kept))  # no gathered copies of the two signature sets
    # Containment of A in B from Jaccard and set sizes: |A n B| = J (|A| + |B|) / (1 + J).
    contained = jaccard * (sizes[rows] + sizes[kept]) / ((1.0 + jaccard) * sizes[rows])
    estimated[rows] = np.where(method[rows] == _CONTAINED, np.minimum(contained, 1.0), jaccard)
    return estimated


def _recomputed_estimates(texts: pa.ChunkedArray, workers: int, shingling: dict, seed: int, num_perm: int,
                          sizes: np.ndarray, assigned: np.ndarray, method: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`_estimates`, computing the signatures it compares (removals that are not exact, and their kept rows) again."""
    removed = np.flatnonzero(method > _EXACT)
    needed = lsh.sorted_unique(np.concatenate([removed, assigned[removed]]))
    signatures = np.empty((len(needed), num_perm), dtype=np.uint32)
    map_shards(_signature_pass, texts, workers, with_start=True, seed=seed, needed=needed, out=signatures, **shingling)
    return _estimates(signatures, sizes, assigned, method, signature_rows=needed)


def _result(
    paragraphs: pa.Table,
    signatures: np.ndarray | None,
    sizes: np.ndarray,
    assigned: np.ndarray,
    method: np.ndarray,
    similarity: np.ndarray,
    estimated: np.ndarray,
    num_perm: int,
) -> DedupResult:
    ids = _ids(paragraphs)
    removed = assigned >= 0
    kept = pa.array(~removed)
    removed_count = np.bincount(assigned[removed], minlength=len(assigned))
    target_ids = ids.take(pa.array(assigned, pa.int64(), mask=~removed))
    verdicts = pa.table(
        {
            "cluster_id": pc.if_else(kept, pc.if_else(pa.array(removed_count > 0), ids, pa.scalar(None, pa.string())), target_ids),
            "kept_paragraph_id": target_ids,
            "method": pa.array(METHODS, pa.string()).take(pa.array(method, pa.int64(), mask=~removed)),
            "similarity": pa.array(similarity, pa.float64(), mask=~removed),
            "estimated_similarity": pa.array(estimated, pa.float64(), mask=~removed | np.isnan(estimated)),
            "duplicates_removed": pa.array(np.where(removed, 0, removed_count), pa.int64()),
        },
        schema=VERDICT_SCHEMA,
    )

    if signatures is None:
        return DedupResult(verdicts, None, paragraphs)
    shingled = np.flatnonzero(sizes > 0)
    if len(shingled) < len(sizes):  # compacted in place: no second copy of the signatures
        _compact_rows(signatures, shingled)
        signatures = signatures[: len(shingled)]
    values = pa.array(signatures.reshape(-1), pa.uint32())  # wraps the buffer as is
    signatures = pa.table(
        {
            "paragraph_id": ids.take(pa.array(shingled, pa.int64())),
            "hashvalues": pa.FixedSizeListArray.from_arrays(values, num_perm),
        }
    )
    return DedupResult(verdicts, signatures, paragraphs)


@numba.njit(cache=True, nogil=True)
def _compact_rows(array, rows):  # pragma: no cover - compiled
    """``array[:len(rows)] = array[rows]`` in place, for increasing ``rows``."""
    for i in range(rows.size):
        if rows[i] != i:
            array[i] = array[rows[i]]


def _ids(paragraphs: pa.Table) -> pa.Array:
    ids = paragraphs.column("paragraph_id").combine_chunks() if paragraphs.num_rows else pa.array([], pa.string())
    return ids.cast(pa.string())


@numba.njit(cache=True, nogil=True)
def _sequence_keys(offsets, token_hashes, out):  # pragma: no cover - compiled
    # Two independent non-linear chains (a polynomial mod 2**64 would collide
    # on Thue-Morse-like sequences).
    for i in range(offsets.size - 1):
        h1 = np.uint64(0x243F6A8885A308D3)
        h2 = np.uint64(0x13198A2E03707344)
        for t in range(offsets[i], offsets[i + 1]):
            h1 = _fmix64(h1 ^ token_hashes[t]) + np.uint64(0x9E3779B97F4A7C15)
            h2 = _fmix64(h2 + token_hashes[t]) ^ np.uint64(0xA4093822299F31D0)
        length = np.uint64(offsets[i + 1] - offsets[i])
        out[i, 0] = _fmix64(h1 ^ length)
        out[i, 1] = _fmix64(h2 + length)


class _InCaller:
    """An executor that runs what it is given at once, in the caller (for one worker)."""

    def __enter__(self) -> "_InCaller":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def map(self, fn, iterable):
        return map(fn, iterable)
