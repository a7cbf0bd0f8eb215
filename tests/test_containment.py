import numpy as np
import pytest

from corpusclean import containment
from corpusclean.shingles import ShingleSets


def brute_force(sets: ShingleSets, sample_size: int, min_hits: int, max_postings: int) -> set[tuple[int, int]]:
    """Count every posting of every sample key (the definition the prefix filter must reproduce).

    A sample key is the high 32 bits of one of a set's ``sample_size`` smallest hashes."""
    hashes = [sorted(sets.row(i).tolist()) for i in range(len(sets))]
    rows = [{h >> 32 for h in row} for row in hashes]
    postings: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        for h in row:
            postings.setdefault(h, []).append(i)
    out = set()
    for i in range(len(sets)):
        sample = [h >> 32 for h in hashes[i][:sample_size]]
        needed = min(min_hits, len(sample))
        hits: dict[int, int] = {}
        for h in sample:
            if len(postings[h]) <= max_postings:
                for j in postings[h]:
                    if len(rows[j]) > len(rows[i]):
                        hits[j] = hits.get(j, 0) + 1
        out |= {(j, i) for j, c in hits.items() if needed > 0 and c >= needed}
        assert len(rows[i]) == len(hashes[i])  # no two hashes of a row share a key here
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sample_size, min_hits, max_postings", [(16, 7, 256), (8, 2, 256), (8, 2, 3), (4, 4, 5)])
def test_prefix_filter_equals_counting_every_posting(seed, sample_size, min_hits, max_postings):
    rng = np.random.default_rng(seed)
    vocabulary = rng.integers(1, 2**63, 400, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    rows = []
    for _ in range(120):
        size = int(rng.integers(0, 60))
        rows.append(np.unique(rng.choice(vocabulary[: int(rng.integers(20, 400))], size)))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    sets = ShingleSets(offsets, np.concatenate(rows).astype(np.uint64))
    pairs = containment.candidate_pairs(sets, sample_size=sample_size, min_hits=min_hits, max_postings=max_postings)
    assert {tuple(p) for p in pairs.tolist()} == brute_force(sets, sample_size, min_hits, max_postings)
    assert pairs.tolist() == sorted(pairs.tolist())


def test_a_contained_paragraph_is_a_candidate():
    big = np.arange(1, 301, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    small = np.sort(big[::3][:90])  # all inside big
    other = np.sort(np.arange(1000, 1100, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    rows = [np.sort(big), small, other]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    pairs = containment.candidate_pairs(ShingleSets(offsets, np.concatenate(rows)))
    assert pairs.tolist() == [[0, 1]]
