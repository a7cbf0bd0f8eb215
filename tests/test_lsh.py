import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH

from _seed_paragraphs import seed_paragraphs
from corpusclean.lsh import band_hashes, candidate_pairs, candidate_pairs_from_bands, miss_probability, optimal_bands
from corpusclean.minhash import batch_signatures

TEXTS = [t for t in seed_paragraphs().column("text").to_pylist() if len(t.split()) > 30]


def perturbed(text: str, every: int) -> str:
    """Drop every ``every``-th word: a near duplicate whose similarity falls with ``every``."""
    return " ".join(w for k, w in enumerate(text.split()) if k % every != 1)


@pytest.fixture(scope="module")
def signatures():
    texts = TEXTS + [perturbed(t, 40) for t in TEXTS] + [perturbed(t, 6) for t in TEXTS[:10]]
    return batch_signatures(texts)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_optimal_bands_meet_the_recall_target(threshold):
    bands, rows = optimal_bands(threshold, 128)
    assert bands * rows <= 128
    assert miss_probability(threshold, bands, rows) <= 1e-4


def test_optimal_bands_at_08_recall_more_than_datasketch():
    from datasketch.lsh import _optimal_param

    ours = optimal_bands(0.8, 128)
    theirs = _optimal_param(0.8, 128, 0.5, 0.5)
    assert miss_probability(0.8, *ours) < miss_probability(0.8, *theirs) / 100


def test_candidates_equal_datasketch_minhashlsh(signatures):
    bands, rows = 16, 6
    index = MinHashLSH(num_perm=128, params=(bands, rows))
    sketches = [LeanMinHash(seed=1, hashvalues=s, scheme="affine32") for s in signatures]
    for i, sketch in enumerate(sketches):
        index.insert(i, sketch)
    expected = {(min(i, j), max(i, j)) for i, s in enumerate(sketches) for j in index.query(s) if j != i}
    ours = candidate_pairs(signatures, bands, rows, max_bucket=len(signatures))
    assert set(map(tuple, ours.tolist())) == expected
    n = len(TEXTS)
    found_twins = sum((i, i + n) in expected for i in range(n))
    assert found_twins >= 0.9 * n  # real near duplicates were candidates


def test_pairs_are_oriented_by_priority_and_distinct(signatures):
    priority = np.random.default_rng(0).permutation(len(signatures))
    pairs = candidate_pairs(signatures, 24, 5, priority=priority)
    assert len(pairs) > 0
    assert (priority[pairs[:, 0]] < priority[pairs[:, 1]]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)


def test_pairs_from_band_keys_equal_pairs_from_signatures(signatures):
    """What deduplication does without holding the signatures: band keys hashed shard by shard."""
    rng = np.random.default_rng(1)
    members = np.sort(rng.choice(len(signatures), size=len(signatures) - 7, replace=False))
    priority = rng.permutation(len(members))
    keys = np.empty((len(signatures), 24), dtype=np.uint64)
    for start in range(0, len(signatures), 13):  # written into slices, as each shard does
        band_hashes(signatures[start : start + 13], 24, 5, out=keys[start : start + 13])
    from_keys = candidate_pairs_from_bands(keys, priority=priority, members=members, max_bucket=2)
    from_signatures = candidate_pairs(signatures, 24, 5, priority=priority, members=members, max_bucket=2)
    assert len(from_keys) > len(TEXTS) // 2 and np.array_equal(from_keys, from_signatures)


def test_huge_bucket_is_linear_and_pairs_with_its_top_members():
    signatures = np.zeros((500, 128), dtype=np.uint32)  # one bucket in every band
    pairs = candidate_pairs(signatures, 24, 5, max_bucket=8)
    assert len(pairs) == sum(min(p, 8) for p in range(500))
    assert set(pairs[:, 0].tolist()) == set(range(8))


def test_band_hash_depends_on_value_order():
    a = np.array([[1, 2, 3, 4]], dtype=np.uint32)
    assert band_hashes(a, 1, 4)[0, 0] != band_hashes(a[:, ::-1].copy(), 1, 4)[0, 0]
    assert band_hashes(a, 2, 2)[0, 0] != band_hashes(a, 2, 2)[0, 1]


def test_too_many_bands_are_refused():
    with pytest.raises(ValueError):
        band_hashes(np.zeros((2, 16), np.uint32), 5, 4)
