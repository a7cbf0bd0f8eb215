"""Word context for the OCR corrector: how well a word fits beside its neighbours.

A word alone cannot tell ``sec the archive`` from ``see the archive``, nor
``tor`` (a hill) from ``for``: both spellings are words. Its neighbours can.
This module scores that with word bigram counts from the Google Web
Trillion Word Corpus as shipped by ``wordsegment`` (333k words, 286k word
pairs that occur at least 100,000 times; Apache 2.0), through one number per
neighbour, the *association* of two words::

    association(a, b) = count(a b) * N / (count(a) * count(b))

1 when the two are independent, above 1 when ``b`` follows ``a`` more often
than chance (``of the``), below 1 when less. A pair the list lacks occurred
fewer than the list's floor of times; that bounds its association from
above, so ``tor the`` (two words that would meet often by chance) is
evidence against ``tor``, while two rare words not listed together say
nothing. A word the list lacks has no evidence either way (1).

The corrector (:mod:`corpusclean.ocr`) multiplies each hypothesis for a
token, keeping it or one of its candidates, by its associations with the
words on either side and renormalises.
"""

from __future__ import annotations

import array
import bisect
import functools
from importlib import resources
from pathlib import Path
from typing import Iterable

from corpusclean import disk_cache

MAX_ASSOCIATION = 1e3
"""Cap on one neighbour's evidence either way: the counts are web text, ours is print."""
UNLISTED_SHARE = 0.5
"""An unlisted pair is taken to occur this share of the list's floor count (its upper bound)."""


class BigramContext:
    """Word and word-pair counts (lower case, apostrophes dropped) and the associations they imply."""

    def __init__(self, unigrams: dict[str, float], bigrams: dict[str, float], total: float) -> None:
        self.unigrams = unigrams
        self.bigrams: dict[str, float] | None = bigrams
        """The pairs' counts by ``"left right"``; ``None`` in a :meth:`restricted` copy, which holds them packed."""
        self.total = total
        self.floor = min(bigrams.values(), default=1.0)
        self._word_ids: dict[str, int] = {}
        self._pair_keys = array.array("q")
        self._pair_counts = array.array("d")

    def restricted(self, words: Iterable[str]) -> "BigramContext":
        """The same counts for ``words`` only (in :meth:`key` form), and the pairs among them.

        A run can only ask about its own words and their candidates: the
        corrector keeps this much smaller copy, which travels to worker
        processes with it instead of every worker loading the whole list.
        Associations between the kept words are unchanged (same counts,
        total and floor). The pairs are packed as sorted keys (two word ids)
        and counts, 16 bytes a pair: as a dict of ``"left right"`` strings
        the 200 MB bench run's 119,000 pairs took 21 MB of each OCR worker's
        memory, against ~2 MB packed; a lookup costs ~0.7 µs instead of ~0.1.
        """
        keep = {w: self.unigrams[w] for w in sorted(set(words)) if w in self.unigrams}
        ids = {w: i for i, w in enumerate(keep)}
        pairs: list[tuple[int, float]] = []
        for pair, count in (self.bigrams or {}).items():
            left, _, right = pair.partition(" ")
            if left in ids and right in ids:
                pairs.append((ids[left] * len(ids) + ids[right], count))
        pairs.sort()
        restricted = BigramContext(keep, {}, self.total)
        restricted.bigrams = None  # packed below
        restricted.floor = self.floor
        restricted._word_ids = ids
        restricted._pair_keys = array.array("q", [key for key, _ in pairs])
        restricted._pair_counts = array.array("d", [count for _, count in pairs])
        return restricted

    @property
    def pairs(self) -> int:
        """How many word pairs the counts list."""
        return len(self.bigrams) if self.bigrams is not None else len(self._pair_keys)

    def _pair_count(self, left: str, right: str) -> float | None:
        if self.bigrams is not None:
            return self.bigrams.get(left + " " + right)
        ids = self._word_ids
        left_id, right_id = ids.get(left), ids.get(right)
        if left_id is None or right_id is None:
            return None
        key = left_id * len(ids) + right_id
        keys = self._pair_keys
        at = bisect.bisect_left(keys, key)
        return self._pair_counts[at] if at < len(keys) and keys[at] == key else None

    @staticmethod
    def key(word: str) -> str:
        """A word as the counts spell it (``don't`` -> ``dont``)."""
        return word.lower().replace("'", "").replace("’", "")

    def association(self, left: str | None, right: str | None) -> float:
        """How much more often ``right`` follows ``left`` than chance would have it (1: no evidence).

        Both words must be in :meth:`key` form; ``None`` (no neighbour in
        the same clause) gives 1.
        """
        if left is None or right is None:
            return 1.0
        count_left = self.unigrams.get(left)
        count_right = self.unigrams.get(right)
        if not count_left or not count_right:
            return 1.0
        expected = count_left * count_right / self.total
        pair = self._pair_count(left, right)
        if pair is None:
            return max(min(1.0, UNLISTED_SHARE * self.floor / expected), 1.0 / MAX_ASSOCIATION)
        return max(min(pair / expected, MAX_ASSOCIATION), 1.0 / MAX_ASSOCIATION)

    def has_pair(self, left: str, right: str) -> bool:
        """Whether the counts list ``left right`` (both in :meth:`key` form): unlisted pairs get no more than no evidence."""
        return self._pair_count(left, right) is not None

    def fit(self, left: str | None, word: str, right: str | None) -> float:
        """``word``'s association with the word before it times that with the word after it."""
        return self.association(left, word) * self.association(word, right)


# wordsegment's own total: the number of word tokens its counts were taken from
WORDSEGMENT_TOTAL = 1024908267229.0


@functools.cache
def load_bigram_context(language: str) -> BigramContext | None:
    """The bigram context for ``language`` (English only: ``None`` for any other), loaded once per process."""
    if language != "en":
        return None
    key = disk_cache.entry_key("bigram-context", ["wordsegment"], [Path(__file__)], [language, WORDSEGMENT_TOTAL])
    return disk_cache.cached(key, _read_wordsegment_counts)


def _read_wordsegment_counts() -> BigramContext:
    files = resources.files("wordsegment")
    unigrams: dict[str, float] = {}
    for line in files.joinpath("unigrams.txt").read_text(encoding="utf-8").splitlines():
        word, _, count = line.partition("\t")
        unigrams[word] = unigrams.get(word, 0.0) + float(count)
    bigrams: dict[str, float] = {}
    for line in files.joinpath("bigrams.txt").read_text(encoding="utf-8").splitlines():
        pair, _, count = line.partition("\t")
        if pair.startswith("<s> "):
            continue  # sentence starts: the corrector has no reliable sentence boundaries
        # the file holds some pairs twice (two passes over the corpus): their counts add up
        bigrams[pair] = bigrams.get(pair, 0.0) + float(count)
    return BigramContext(unigrams, bigrams, WORDSEGMENT_TOTAL)
