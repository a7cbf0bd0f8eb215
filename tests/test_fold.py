import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from _seed_paragraphs import seed_paragraphs
from corpusclean.fold import CHARACTER_CLASSES, DIGRAPHS, fold_batch, fold_text
from corpusclean.normalize import tokenize

SEED_TEXTS = seed_paragraphs().column("text").to_pylist()

# Letters, the confusable ones over-represented, digits, marks, spaces and non-ASCII text.
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from("rnmlicdhuaeotb10 RNMLICDHUAEOTB'’.-\n"),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=60,
)


def test_seed_misreadings_fold_like_the_words_they_misread():
    # The seeds' own OCR errors (issue 3) and their corrections.
    for wrong, right in [("Licbknccht", "Liebknecht"), ("Pctrograd", "Petrograd"), ("Radck", "Radek"),
                         ("Iastitutc", "Institute"), ("Rowohll", "Rowohlt"), ("Wilhclm", "Wilhelm")]:  # fmt: skip
        assert fold_text(wrong) == fold_text(right)
    assert fold_text("modern") == fold_text("modem")  # rn read as m
    assert fold_text("Tammerfors") != fold_text("Oktiabria")


def test_each_confusion_folds_both_ways_in_a_word():
    for members in CHARACTER_CLASSES:
        for ch in members:
            assert fold_text(f"w{ch}rd") == fold_text(f"w{members[0]}rd")
            assert fold_text(f"W{ch.upper()}RD") == fold_text(f"w{members[0]}rd")
    for pair, letter in DIGRAPHS.items():
        assert fold_text(f"o{pair}s") == fold_text(f"o{letter}s")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(texts, st.none()), max_size=8), st.integers(0, 3))
def test_batch_equals_reference_on_any_text_including_slices_and_nulls(items, start):
    array = pa.array(items, pa.large_string()).slice(min(start, len(items)))
    expected = [None if t is None else fold_text(t) for t in array.to_pylist()]
    assert fold_batch(array).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(texts)
def test_folding_keeps_every_token_boundary(text):
    assert len(tokenize(fold_text(text))) == len(tokenize(text))


def test_seed_text_batch_equals_reference():
    assert fold_batch(SEED_TEXTS).to_pylist() == [fold_text(t) for t in SEED_TEXTS]
