"""Tests for the OCR corrector's word-bigram context (``corpusclean.ocr_context``)."""

from __future__ import annotations

import itertools
from pathlib import Path

from corpusclean.ocr_context import MAX_ASSOCIATION, load_bigram_context

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def test_associations_say_which_words_go_together() -> None:
    context = load_bigram_context("en")
    assert context.association("of", "the") > 5.0
    assert context.association("to", "he") < context.association("to", "be")
    assert context.association("thou", "wilt") == MAX_ASSOCIATION
    # words the counts do not know, or no neighbour at all: no evidence
    assert context.association("chalidze", "the") == 1.0
    assert context.association(None, "the") == 1.0
    assert context.fit("for", "the", None) == context.association("for", "the")


def test_no_context_for_languages_without_counts() -> None:
    assert load_bigram_context("de") is None


def test_a_run_restricted_copy_gives_the_same_associations() -> None:
    context = load_bigram_context("en")
    words = sorted({context.key(w) for w in SEEDS.joinpath("003_d2c8fecce16cc85c.txt").read_text().split() if w.isalpha()})
    small = context.restricted(words)
    assert small.pairs < context.pairs / 5 and len(small.unigrams) < len(context.unigrams) / 100
    listed = 0
    for left, right in itertools.islice(itertools.product(words, repeat=2), 20000):
        assert small.association(left, right) == context.association(left, right)
        assert small.has_pair(left, right) == context.has_pair(left, right)
        listed += context.has_pair(left, right)
    assert listed > 100  # the packed pairs are looked up, not only the unlisted bound
