import pyarrow as pa
from hypothesis import given, settings, strategies as st

from corpusclean.text_stats import _SPACE_CODES, word_counts
from conftest import SEED_000, SEED_003

_SPACES = "".join(map(chr, _SPACE_CODES))
_TEXT = st.text(alphabet=st.one_of(st.sampled_from(_SPACES), st.sampled_from("ab é€"), st.characters(exclude_categories=["Cs"])), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=12), st.integers(0, 3), st.booleans())
def test_word_counts_are_pythons_split(texts, skip, large):
    array = pa.array(texts, pa.large_string() if large else pa.string()).slice(min(skip, len(texts)))
    expected = [None if t is None else len(t.split()) for t in texts[min(skip, len(texts)):]]
    assert word_counts(pa.chunked_array([array], array.type)).to_pylist() == expected


def test_word_counts_on_the_seeds_and_every_space_character():
    paragraphs = [p for seed in (SEED_000, SEED_003) for p in seed.read_text(encoding="utf-8").split("\n\n")]
    paragraphs += [f"one{space}two" for space in _SPACES]  # NBSP, ideographic space, line separator, …
    counts = word_counts(pa.chunked_array([pa.array(paragraphs[:7]), pa.array(paragraphs[7:])]))
    assert counts.type == pa.int64() and counts.to_pylist() == [len(p.split()) for p in paragraphs]
