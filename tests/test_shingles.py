import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _seed_paragraphs import seed_paragraphs
from corpusclean.normalize import normalize_batch, normalize_text, token_hash
from corpusclean.shingles import (
    char_shingle_hash64,
    char_shingle_strings,
    char_window_hashes,
    sets_from_windows,
    text_window_hashes,
)

TEXTS = seed_paragraphs().column("text").to_pylist()


def reference_char_hashes(text: str, size: int) -> list[int]:
    return [char_shingle_hash64(g) for g in char_shingle_strings(text, size)]


def test_char_shingles_are_ngrams_of_the_normalised_text():
    assert char_shingle_strings("Don’t  STOP!", 5) == [b"dont ", b"ont s", b"nt st", b"t sto", b" stop"]
    assert char_shingle_strings("ﬁn", 5) == [] and char_shingle_strings("Ленин!", 5) == ["ленин".encode(), ]
    assert char_shingle_hash64("ленин".encode()) == token_hash("ленин")


@pytest.mark.parametrize("size", [1, 5, 9])
def test_char_window_hashes_match_reference_on_seed_text(size):
    offsets, hashes = char_window_hashes(normalize_batch(TEXTS), size)
    assert all(hashes[offsets[i] : offsets[i + 1]].tolist() == reference_char_hashes(t, size) for i, t in enumerate(TEXTS))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.text("ab é\u0301😀ß-") | st.none(), max_size=5))
def test_char_window_hashes_match_reference_on_any_text(texts):
    offsets, hashes = text_window_hashes(texts, "char", 3)
    assert [hashes[offsets[i] : offsets[i + 1]].tolist() for i in range(len(texts))] == [
        reference_char_hashes(t or "", 3) for t in texts
    ]


def test_unknown_shingling_is_rejected():
    with pytest.raises(ValueError):
        text_window_hashes(["some text here"], "byte", 5)
    with pytest.raises(ValueError):
        char_window_hashes(normalize_batch(["x"]), 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 40) | st.just(2**63), max_size=300), max_size=6))
def test_sets_are_sorted_distinct_rows_for_any_hashes(rows):
    # Small integers all fall in the first bucket: the adversarial case for the bucket sort.
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    hashes = np.array([h for r in rows for h in r], dtype=np.uint64)
    sets = sets_from_windows(offsets, hashes)
    assert [sets.row(i).tolist() for i in range(len(rows))] == [sorted(set(r)) for r in rows]


def test_char_sets_count_distinct_ngrams():
    text = "the the the the"
    sets = sets_from_windows(*char_window_hashes(normalize_batch([text]), 5))
    assert sets.sizes().tolist() == [len(set(char_shingle_strings(text, 5)))] == [4]
    assert normalize_text(text) == text
