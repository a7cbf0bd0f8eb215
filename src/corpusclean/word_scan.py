"""The words of many paragraphs at once, found by one compiled scan.

The OCR stage looks at every word of every paragraph, and finding them with
``regex`` (``[\\p{L}\\p{M}\\p{N}]+`` runs joined by ``'``, ``’`` or ``-``),
then testing each paragraph for the marks that send it down a slower path
(a hyphen before a line break, a stray mark inside a word, a code-like chunk)
took half of its time per paragraph. :func:`scan_words` does both for a batch
of paragraphs in one Numba pass over their code points, with a table of each
Basic Multilingual Plane character's classes built by ``regex`` itself (so
the two cannot disagree on what a letter is). A paragraph with a character
beyond the BMP is left to the ``regex`` path.

The patterns below are the single definition: :mod:`corpusclean.ocr` builds
its regular expressions from them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np
import regex

WORD_CHAR = r"[\p{L}\p{M}\p{N}]"
WORD_JOINERS = "'’-"
WORD = rf"{WORD_CHAR}+(?:['’\-]{WORD_CHAR}+)*"
"""A word: letters/digits joined by internal apostrophes or hyphens (``don't``, ``Trotsky's``, ``twenty-seven``)."""
NOISE_MARKS = r"[.,;:!|()\[\]{}<>^~°■•*\\]"
"""Marks OCR strays between the letters of a word (``stra.ngers``, ``l)oard``)."""
SKIP_MARKS = r"[_\\/{}<>=|#$%^~`@]"
"""Marks of code-like chunks (identifiers, paths, markup, assignments)."""

HYPHEN_HINT = r"\p{L}-\s"
NOISE_HINT = rf"(?<=\p{{L}}){NOISE_MARKS}(?=\p{{L}})"
SKIP_HINT = rf"{SKIP_MARKS}(?:(?<=\S.)|(?=\S))|[wW][wW][wW]\."

# Per-paragraph flags of :class:`WordScan`.
HAS_HYPHEN_HINT = 1
HAS_NOISE_HINT = 2
HAS_SKIP_HINT = 4
BEYOND_BMP = 8
"""A code point past U+FFFF: the scan does not classify it, the paragraph takes the ``regex`` path."""

_WORD, _JOINER, _LETTER, _NOISE, _SKIP, _SPACE = 1, 2, 4, 8, 16, 32


@functools.lru_cache(maxsize=1)
def character_classes() -> np.ndarray:
    """Each BMP code point's classes (bits ``_WORD`` … ``_SPACE``), as ``regex`` matches them (~30 ms, once)."""
    chars = "".join(map(chr, range(0x10000)))
    table = np.zeros(0x10000, np.uint8)
    for bit, pattern in (
        (_WORD, WORD_CHAR), (_JOINER, "[" + regex.escape(WORD_JOINERS) + "]"), (_LETTER, r"\p{L}"),
        (_NOISE, NOISE_MARKS), (_SKIP, SKIP_MARKS), (_SPACE, r"\s"),
    ):  # fmt: skip
        for match in regex.finditer(f"{pattern}+", chars):
            table[match.start() : match.end()] |= bit
    return table


@dataclass
class WordScan:
    """Where the words of each of a batch's paragraphs are, and which hints each paragraph holds."""

    flags: np.ndarray
    """Per paragraph: ``HAS_HYPHEN_HINT | HAS_NOISE_HINT | HAS_SKIP_HINT | BEYOND_BMP``."""
    word_offsets: list[int]
    """Paragraph ``i``'s words are ``starts[word_offsets[i]:word_offsets[i + 1]]`` (and ``ends``)."""
    starts: list[int]
    ends: list[int]

    def plain_words(self, i: int) -> tuple[list[int], list[int]] | None:
        """Paragraph ``i``'s word starts and ends if it holds no hint (and no character past the BMP), else ``None``."""
        if self.flags[i]:
            return None
        lo, hi = self.word_offsets[i], self.word_offsets[i + 1]
        return self.starts[lo:hi], self.ends[lo:hi]


def scan_words(texts: Sequence[str]) -> WordScan:
    """Find the words (matches of :data:`WORD`) and the hints of each of ``texts``.

    Word offsets are ``str`` indices into each text, as ``regex`` reports them.
    """
    lengths = np.fromiter((len(text) for text in texts), np.int64, len(texts))
    bounds = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=bounds[1:])
    code_points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    flags, counts, starts, ends = _scan(code_points, bounds, character_classes())
    word_offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(counts, out=word_offsets[1:])
    total = int(word_offsets[-1])
    return WordScan(flags, word_offsets.tolist(), starts[:total].tolist(), ends[:total].tolist())


@numba.njit(cache=True, nogil=True)
def _scan(code_points, bounds, table):  # pragma: no cover - compiled
    paragraphs = len(bounds) - 1
    flags = np.zeros(paragraphs, np.uint8)
    counts = np.zeros(paragraphs, np.int64)
    # A word is at least one character and words are apart: at most (n + 1) // 2 words in n characters.
    starts = np.empty(len(code_points) // 2 + paragraphs + 1, np.int64)
    ends = np.empty_like(starts)
    out = 0
    for p in range(paragraphs):
        lo, hi = bounds[p], bounds[p + 1]
        flag = 0
        for k in range(lo, hi):
            if code_points[k] > 0xFFFF:
                flag |= 8
        if flag:
            flags[p] = flag
            continue
        first = out
        k = lo
        while k < hi:
            c = table[code_points[k]]
            if (c & 1) != 0:
                start = k
                while k < hi and (table[code_points[k]] & 1) != 0:
                    k += 1
                while k + 1 < hi and (table[code_points[k]] & 2) != 0 and (table[code_points[k + 1]] & 1) != 0:
                    k += 1
                    while k < hi and (table[code_points[k]] & 1) != 0:
                        k += 1
                starts[out] = start - lo
                ends[out] = k - lo
                out += 1
                continue
            # Not a word character: one of the marks?
            if (c & 8) != 0 and k > lo and k + 1 < hi and (table[code_points[k - 1]] & 4) != 0 and (table[code_points[k + 1]] & 4) != 0:
                flag |= 2
            if (c & 16) != 0 and (
                (k > lo and (table[code_points[k - 1]] & 32) == 0) or (k + 1 < hi and (table[code_points[k + 1]] & 32) == 0)
            ):
                flag |= 4
            if code_points[k] == 46 and k - 3 >= lo:  # "www." in any case
                w = 0
                for j in range(k - 3, k):
                    if code_points[j] == 119 or code_points[j] == 87:
                        w += 1
                if w == 3:
                    flag |= 4
            k += 1
        # A letter, a hyphen, a space: a word broken across lines (the hyphen is a joiner, so check it apart).
        for k in range(lo, hi - 2):
            if code_points[k + 1] == 45 and (table[code_points[k]] & 4) != 0 and (table[code_points[k + 2]] & 32) != 0:
                flag |= 1
                break
        flags[p] = flag
        counts[p] = out - first
    return flags, counts, starts, ends
