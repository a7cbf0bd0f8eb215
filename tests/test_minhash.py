import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from _seed_paragraphs import seed_paragraphs
from corpusclean import parallel
from corpusclean.minhash import batch_signatures, char_shingle_hashfunc, permutations, shingle_hashfunc
from corpusclean.normalize import tokenize_batch
from corpusclean.shingles import char_shingle_strings, hash32, shingle_sets, shingle_strings, text_window_hashes, window_hashes

TEXTS = seed_paragraphs().column("text").to_pylist()


def datasketch_signature(text: str, num_perm: int, seed: int, size: int = 5) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hashfunc)
    m.update_batch(shingle_strings(text, size))
    return LeanMinHash(m).hashvalues


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42)])
def test_batched_signatures_equal_datasketch_on_seed_text(num_perm, seed):
    ours = batch_signatures(TEXTS, num_perm=num_perm, seed=seed)
    assert ours.shape == (len(TEXTS), num_perm) and ours.dtype == np.uint32
    theirs = np.stack([datasketch_signature(t, num_perm, seed) for t in TEXTS])
    np.testing.assert_array_equal(ours, theirs)
    shingled = [i for i, t in enumerate(TEXTS) if shingle_strings(t)]
    assert len(shingled) > 40  # the comparison covered real sets, not only empty ones


def test_permutations_are_datasketchs():
    a, b = permutations(128, 7)
    expected = MinHash(num_perm=128, seed=7).permutations
    np.testing.assert_array_equal(a, expected[0])
    np.testing.assert_array_equal(b, expected[1])


def test_hashfunc_is_the_window_hash():
    text = TEXTS[5]
    _, hashes = window_hashes(tokenize_batch([text]), 5)
    assert hash32(hashes).tolist() == [shingle_hashfunc(s) for s in shingle_strings(text)]


def test_exact_jaccard_on_hashes_equals_jaccard_on_shingle_strings():
    sets = shingle_sets(tokenize_batch(TEXTS), 5)
    for i, j in [(3, 4), (5, 5), (40, 41)]:
        a, b = set(shingle_strings(TEXTS[i])), set(shingle_strings(TEXTS[j]))
        assert sets.sizes()[i] == len(a)
        assert sets.jaccard(i, j) == pytest.approx(len(a & b) / len(a | b))


def test_estimate_tracks_exact_jaccard():
    base = TEXTS[5].split()
    variant = " ".join(w.upper() if k % 17 == 0 else w for k, w in enumerate(base)).replace(" the ", " teh ", 3)
    sigs = batch_signatures([" ".join(base), variant])
    sets = shingle_sets(tokenize_batch([" ".join(base), variant]), 5)
    assert abs((sigs[0] == sigs[1]).mean() - sets.jaccard(0, 1)) < 0.15


def test_short_text_has_empty_signature():
    sig = batch_signatures(["only four words here", ""])
    assert (sig == np.uint32(0xFFFFFFFF)).all()


def test_worker_count_does_not_change_signatures(monkeypatch):
    monkeypatch.setattr(parallel, "SHARD_CHARS", 2000)
    one = batch_signatures(TEXTS, workers=1)
    np.testing.assert_array_equal(batch_signatures(TEXTS, workers=2), one)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=5), st.data())
def test_signature_of_a_text_does_not_depend_on_its_batch(texts, data):
    perm = data.draw(st.permutations(range(len(texts))))
    together = batch_signatures(texts)
    shuffled = batch_signatures([texts[i] for i in perm])
    np.testing.assert_array_equal(shuffled, together[perm])


def datasketch_char_signature(text: str, num_perm: int, seed: int, size: int = 5) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=char_shingle_hashfunc)
    m.update_batch(char_shingle_strings(text, size))
    return LeanMinHash(m).hashvalues


@pytest.mark.parametrize("num_perm,seed,size", [(128, 1, 5), (64, 42, 7)])
def test_char_signatures_equal_datasketch_on_real_text(num_perm, seed, size):
    # Seed text plus OCR-noise / mojibake variants of it (non-ASCII chunks take the reference path).
    texts = TEXTS + [t.replace("e", "c").replace("'", "â€™") for t in TEXTS[::7]] + ["Äußerst “naïve” café", "abc"]
    ours = batch_signatures(texts, num_perm=num_perm, seed=seed, shingle="char", shingle_size=size)
    theirs = np.stack([datasketch_char_signature(t, num_perm, seed, size) for t in texts])
    np.testing.assert_array_equal(ours, theirs)
    assert sum(1 for t in texts if char_shingle_strings(t, size)) > 60
    assert (ours[-1] == np.uint32(0xFFFFFFFF)).all()  # "abc": shorter than a shingle


def test_char_hashfunc_is_the_char_window_hash():
    text = "Don’t stop — Ленин ﬁne"
    _, hashes = text_window_hashes([text], "char", 5)
    assert hash32(hashes).tolist() == [char_shingle_hashfunc(s) for s in char_shingle_strings(text)]


def test_worker_count_does_not_change_char_signatures(monkeypatch):
    monkeypatch.setattr(parallel, "SHARD_CHARS", 2000)
    one = batch_signatures(TEXTS, workers=1, shingle="char")
    np.testing.assert_array_equal(batch_signatures(TEXTS, workers=2, shingle="char"), one)
