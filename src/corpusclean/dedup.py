"""Paragraph deduplication: exact, near (MinHash LSH) and contained duplicates.

Comparison is on the normalised form (:mod:`corpusclean.normalize`); the
clean ``text`` is what is kept and written. Three kinds of duplicate:

* **exact**: same normalised token sequence (any length; texts without a
  single token compare by their NFKC-casefolded, whitespace-collapsed text).
  Found by a 128-bit hash of the token sequence.
* **near**: word-shingle sets with exact Jaccard >= ``threshold``. Candidates
  come from MinHash LSH (:mod:`corpusclean.lsh`), banded *below* the
  threshold; every candidate is verified on the shingle sets.
* **contained**: at least ``containment_threshold`` of a paragraph's shingles
  lie in a paragraph with more shingles. Candidates come from
  :mod:`corpusclean.containment`; every candidate is verified exactly.

Texts with fewer tokens than ``shingle_size`` have no shingles and can only be
exact duplicates; they are never dropped for being short.

**Which paragraph is kept** (the *priority* order, a total order computed from
row content only, so results do not depend on input order, shards or
workers): longest clean ``text`` (characters) first, then fewest OCR edits
(the optional :data:`OCR_EDITS_COLUMN`, if the input has it), then earliest
``(source, paragraph_index)``, then ``paragraph_id``.

**Clustering without chains**: paragraphs are visited in priority order; one
not yet removed becomes *kept*, and removes every not-yet-removed candidate
partner of lower priority that is an exact/near/contained duplicate *of it*.
A removal therefore always points at a kept paragraph and its similarity to
that paragraph is verified; A~B and B~C never puts C under A unless C~A.
An exact twin follows its group's best member: if that member is kept the
twin is removed as ``exact``, otherwise it inherits the member's kept partner,
method and similarity (its shingle set is the same).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusclean import containment, lsh
from corpusclean.minhash import signatures_from_hashes
from corpusclean.normalize import TokenBatch, tokenize_batch
from corpusclean.parallel import as_text_array, map_shards
from corpusclean.shingles import ShingleSets, hash32, intersection_size, sets_from_windows, window_hashes

OCR_EDITS_COLUMN = "ocr_edits"
"""Optional integer input column: number of OCR corrections (fewer wins ties)."""
REQUIRED_COLUMNS = ("paragraph_id", "source", "paragraph_index", "text")
METHODS = ("exact", "near", "contained")
_EXACT, _NEAR, _CONTAINED = 0, 1, 2


@dataclass(frozen=True)
class DedupResult:
    """Outcome of :func:`deduplicate`; every input row is in exactly one of kept/duplicates.

    Attributes:
        kept: Input rows kept, plus ``cluster_id`` (string; null if nothing was
            removed in its favour, else its own ``paragraph_id``) and
            ``duplicates_removed`` (int64).
        duplicates: Input rows removed, plus ``cluster_id``,
            ``kept_paragraph_id``, ``method`` (``exact``/``near``/``contained``),
            ``similarity`` (exact Jaccard or containment on the shingle sets;
            1.0 for exact) and ``estimated_similarity`` (MinHash estimate of
            the same quantity; null for exact).
        signatures: ``paragraph_id`` and ``hashvalues``
            (``fixed_size_list<uint32>[num_perm]``) of every paragraph that has
            shingles, usable as ``datasketch.LeanMinHash(seed=seed,
            hashvalues=..., scheme="affine32")``.
    """

    kept: pa.Table
    duplicates: pa.Table
    signatures: pa.Table


@dataclass(frozen=True)
class Features:
    """What dedup needs to know about each text of a batch.

    Attributes:
        keys: ``uint64[n, 2]`` hash of the normalised token sequence.
        token_counts: ``int64[n]``.
        sets: Shingle sets.
        signatures: ``uint32[n, num_perm]`` MinHash of the shingle sets.
    """

    keys: np.ndarray
    token_counts: np.ndarray
    sets: ShingleSets
    signatures: np.ndarray

    @staticmethod
    def concatenate(parts: list["Features"], num_perm: int) -> "Features":
        if not parts:
            return Features(np.zeros((0, 2), np.uint64), np.zeros(0, np.int64), ShingleSets.concatenate([]), np.zeros((0, num_perm), np.uint32))
        return Features(
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.token_counts for p in parts]),
            ShingleSets.concatenate([p.sets for p in parts]),
            np.concatenate([p.signatures for p in parts]),
        )


def featurize(texts: pa.Array, *, num_perm: int, seed: int, shingle_size: int) -> Features:
    """Tokens, exact keys, shingle sets and signatures of one shard of texts."""
    tokens = tokenize_batch(texts)
    keys = sequence_keys(tokens)
    empty = np.flatnonzero(tokens.counts() == 0)
    if len(empty):
        keys[empty] = _raw_keys(texts.take(pa.array(empty)).to_pylist())
    offsets, hashes = window_hashes(tokens, shingle_size)
    signatures = signatures_from_hashes(offsets, hash32(hashes), num_perm, seed)
    return Features(keys, tokens.counts(), sets_from_windows(offsets, hashes), signatures)


def sequence_keys(tokens: TokenBatch) -> np.ndarray:
    """``uint64[n, 2]``: a 128-bit hash of each text's normalised token sequence."""
    out = np.empty((len(tokens), 2), dtype=np.uint64)
    _sequence_keys(tokens.offsets, tokens.hashes, out)
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
    keys = pa.table(
        {
            "length": pc.utf8_length(pc.fill_null(paragraphs.column("text"), "")),
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


def deduplicate(
    paragraphs: pa.Table,
    *,
    threshold: float = 0.8,
    containment_threshold: float = 0.9,
    num_perm: int = 128,
    shingle_size: int = 5,
    seed: int = 1,
    workers: int = 1,
    bands: int | None = None,
    rows: int | None = None,
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
        shingle_size: Words per shingle.
        seed: MinHash seed (datasketch's ``seed``).
        workers: Processes for tokenising and signatures (used only on large inputs).
        bands, rows: LSH banding; by default :func:`corpusclean.lsh.optimal_bands`.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in paragraphs.column_names]
    if missing:
        raise ValueError(f"paragraphs table lacks columns {missing}")
    if not 0.0 < threshold <= 1.0 or not 0.0 < containment_threshold <= 1.0:
        raise ValueError("threshold and containment_threshold must be in (0, 1]")
    if bands is None or rows is None:
        default_bands, default_rows = lsh.optimal_bands(threshold, num_perm)
        bands, rows = bands or default_bands, rows or default_rows

    n = paragraphs.num_rows
    texts = as_text_array(paragraphs.column("text"))
    features = Features.concatenate(
        map_shards(featurize, texts, workers, num_perm=num_perm, seed=seed, shingle_size=shingle_size), num_perm
    )
    rank = priority(paragraphs)
    order = np.argsort(rank)
    representative = _exact_representatives(features.keys, order)
    sizes = features.sets.sizes()

    candidates = _rep_candidates(features, representative, sizes, rank, bands, rows)
    assigned = np.full(n, -1, dtype=np.int64)
    method = np.full(n, -1, dtype=np.int8)
    similarity = np.zeros(n, dtype=np.float64)
    cand_offsets = np.concatenate([[0], np.cumsum(np.bincount(candidates[:, 0], minlength=n))]).astype(np.int64)
    _cluster(
        order, representative == np.arange(n), cand_offsets, candidates[:, 1].copy(),
        features.sets.offsets, features.sets.hashes, threshold, containment_threshold,
        assigned, method, similarity,
    )  # fmt: skip
    _assign_twins(representative, assigned, method, similarity)
    estimated = _estimates(features.signatures, sizes, assigned, method)
    return _result(paragraphs, features, assigned, method, similarity, estimated, num_perm)


def _exact_representatives(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each row, the highest-priority row with the same exact key."""
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    best = np.full(group.max() + 1 if len(group) else 0, -1, dtype=np.int64)
    # Visiting rows from lowest to highest priority leaves the best one.
    best[group[order[::-1]]] = order[::-1]
    return best[group]


def _rep_candidates(
    features: Features, representative: np.ndarray, sizes: np.ndarray, rank: np.ndarray, bands: int, rows: int
) -> np.ndarray:
    """Candidate ``(higher priority, lower priority)`` row pairs among exact-group
    representatives that have shingles, sorted by row of the first, then rank of the second."""
    reps = np.flatnonzero((representative == np.arange(len(representative))) & (sizes > 0))
    near = lsh.candidate_pairs(features.signatures[reps], bands, rows, priority=rank[reps])
    contained = containment.candidate_pairs(features.sets.take(reps))
    pairs = reps[np.concatenate([near, contained])]
    # Orient by priority; a containment candidate whose container ranks lower
    # than the contained text is reachable only as a near pair.
    pairs = pairs[rank[pairs[:, 0]] < rank[pairs[:, 1]]]
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    n = len(representative)
    keys = lsh.sorted_unique(pairs[:, 0] * n + rank[pairs[:, 1]])
    by_rank = np.argsort(rank)
    return np.stack([keys // n, by_rank[keys % n]], axis=1)


@numba.njit(cache=True, nogil=True)
def _cluster(order, is_rep, cand_offsets, cand_targets, set_offsets, set_hashes,
             threshold, containment_threshold, assigned, method, similarity):  # pragma: no cover  # fmt: skip
    """Greedy clustering around kept paragraphs, in priority order."""
    for r in range(order.size):
        p = order[r]
        if not is_rep[p] or assigned[p] >= 0:
            continue
        size_p = set_offsets[p + 1] - set_offsets[p]
        for c in range(cand_offsets[p], cand_offsets[p + 1]):
            q = cand_targets[c]
            if assigned[q] >= 0:
                continue
            size_q = set_offsets[q + 1] - set_offsets[q]
            inter = intersection_size(set_hashes, set_offsets[p], set_offsets[p + 1], set_offsets[q], set_offsets[q + 1])
            jaccard = inter / (size_p + size_q - inter)
            if jaccard >= threshold:
                assigned[q] = p
                method[q] = 1
                similarity[q] = jaccard
            elif size_q < size_p and inter / size_q >= containment_threshold:
                assigned[q] = p
                method[q] = 2
                similarity[q] = inter / size_q


def _assign_twins(representative: np.ndarray, assigned: np.ndarray, method: np.ndarray, similarity: np.ndarray) -> None:
    twins = np.flatnonzero(representative != np.arange(len(representative)))
    reps = representative[twins]
    rep_kept = assigned[reps] < 0
    assigned[twins] = np.where(rep_kept, reps, assigned[reps])
    method[twins] = np.where(rep_kept, _EXACT, method[reps])
    similarity[twins] = np.where(rep_kept, 1.0, similarity[reps])


def _estimates(signatures: np.ndarray, sizes: np.ndarray, assigned: np.ndarray, method: np.ndarray) -> np.ndarray:
    """MinHash estimate of each removal's similarity (NaN for exact)."""
    estimated = np.full(len(assigned), np.nan)
    rows = np.flatnonzero(method > _EXACT)
    kept = assigned[rows]
    jaccard = (signatures[rows] == signatures[kept]).mean(axis=1)
    # Containment of A in B from Jaccard and set sizes: |A n B| = J (|A| + |B|) / (1 + J).
    contained = jaccard * (sizes[rows] + sizes[kept]) / ((1.0 + jaccard) * sizes[rows])
    estimated[rows] = np.where(method[rows] == _CONTAINED, np.minimum(contained, 1.0), jaccard)
    return estimated


def _result(
    paragraphs: pa.Table,
    features: Features,
    assigned: np.ndarray,
    method: np.ndarray,
    similarity: np.ndarray,
    estimated: np.ndarray,
    num_perm: int,
) -> DedupResult:
    ids = paragraphs.column("paragraph_id").combine_chunks() if paragraphs.num_rows else pa.array([], pa.string())
    ids = ids.cast(pa.string())
    kept_rows = np.flatnonzero(assigned < 0)
    removed_rows = np.flatnonzero(assigned >= 0)
    removed_count = np.bincount(assigned[removed_rows], minlength=len(assigned))[kept_rows]

    kept_ids = ids.take(pa.array(kept_rows, pa.int64()))
    kept = paragraphs.take(pa.array(kept_rows, pa.int64()))
    kept = kept.append_column("cluster_id", pc.if_else(pa.array(removed_count > 0), kept_ids, pa.scalar(None, pa.string())))
    kept = kept.append_column("duplicates_removed", pa.array(removed_count.astype(np.int64), pa.int64()))

    target_ids = ids.take(pa.array(assigned[removed_rows], pa.int64()))
    duplicates = paragraphs.take(pa.array(removed_rows, pa.int64()))
    duplicates = duplicates.append_column("cluster_id", target_ids)
    duplicates = duplicates.append_column("kept_paragraph_id", target_ids)
    duplicates = duplicates.append_column("method", pa.array(np.asarray(METHODS, dtype=object)[method[removed_rows]].tolist() if len(removed_rows) else [], pa.string()))
    duplicates = duplicates.append_column("similarity", pa.array(similarity[removed_rows], pa.float64()))
    estimate = estimated[removed_rows]
    duplicates = duplicates.append_column("estimated_similarity", pa.array(estimate, pa.float64(), mask=np.isnan(estimate)))

    shingled = np.flatnonzero(features.sets.sizes() > 0)
    values = pa.array(features.signatures[shingled].ravel(), pa.uint32())
    signatures = pa.table(
        {
            "paragraph_id": ids.take(pa.array(shingled, pa.int64())),
            "hashvalues": pa.FixedSizeListArray.from_arrays(values, num_perm),
        }
    )
    return DedupResult(kept, duplicates, signatures)


@numba.njit(cache=True, nogil=True)
def _fmix64(h):  # pragma: no cover - compiled
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


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
