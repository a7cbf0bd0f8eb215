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

_WORD, _JOINER, _LETTER, _NOISE, _SKIP, _SPACE, _PY_SPACE = 1, 2, 4, 8, 16, 32, 64


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
    # What str.isspace calls a space (the context pass asks it of the text between two words).
    table[[c for c in range(0x10000) if chr(c).isspace()]] |= _PY_SPACE
    return table


# What a paragraph needs, by the classes of its words (see :class:`TokenTable`).
NEEDS_WORDS = 0
"""A hint, an unknown word or one the run changes: the corrector looks at every word."""
KEPT = 1
"""Every word is one the run keeps and no neighbour weighs on: the paragraph stays as it is."""
CONTEXT_ONLY = 2
"""As :data:`KEPT`, but some words are ones whose neighbours the context pass weighs."""

# Token classes in a TokenTable (0: not in it).
ORDINARY, CONTEXT, CHANGED = 1, 2, 3


class TokenTable:
    """The classes of a run's tokens, for :func:`scan_words` to look each word up as it finds it.

    Keys are two independent 64-bit hashes of a token's code points: a word
    whose 128 bits match a key it is not would be taken for it, which at a
    million distinct tokens happens once in ~10^25 runs. Each token also
    has an id, its index in :attr:`tokens`, by which the scan names the
    neighbours of the words the context pass weighs.
    """

    def __init__(self, expected: int = 0) -> None:
        self.size = 0
        self.tokens: list[str] = []
        """The tokens added, in order (one added twice is listed twice; its id is the first)."""
        self._allocate(max(1024, 4 * expected))

    def _allocate(self, capacity: int) -> None:
        capacity = 1 << (capacity - 1).bit_length()
        self.keys_a = np.zeros(capacity, np.uint64)
        self.keys_b = np.zeros(capacity, np.uint64)
        self.classes = np.zeros(capacity, np.uint8)
        self.ids = np.zeros(capacity, np.int32)

    def add(self, tokens: Sequence[str], token_class: int) -> None:
        """Give ``tokens`` the class ``token_class`` (a token added twice keeps its last class)."""
        if not tokens:
            return
        if 2 * (self.size + len(tokens)) > len(self.classes):  # keep probes short: at most half full
            old = (self.keys_a, self.keys_b, self.classes, self.ids)
            self._allocate(4 * (self.size + len(tokens)))
            self.size = _reinsert(*old, self.keys_a, self.keys_b, self.classes, self.ids)
        code_points, bounds = text_code_points(tokens)
        self.size += _insert(code_points, bounds, np.uint8(token_class), len(self.tokens), self.keys_a, self.keys_b,
                             self.classes, self.ids)  # fmt: skip
        self.tokens.extend(tokens)


@dataclass
class WordScan:
    """Where the words of each of a batch's paragraphs are, which hints each paragraph holds, and what it needs."""

    flags: np.ndarray
    """Per paragraph: ``HAS_HYPHEN_HINT | HAS_NOISE_HINT | HAS_SKIP_HINT | BEYOND_BMP``."""
    word_offsets: list[int]
    """Paragraph ``i``'s words are ``starts[word_offsets[i]:word_offsets[i + 1]]`` (and ``ends``)."""
    starts: np.ndarray
    ends: np.ndarray
    """(Arrays: made Python lists only for the paragraphs that need their words, by :meth:`plain_words`.)"""
    needs: np.ndarray
    """Per paragraph: :data:`NEEDS_WORDS`, :data:`KEPT` or :data:`CONTEXT_ONLY` (all the first without a table)."""
    context_offsets: list[int]
    """Paragraph ``i``'s :data:`CONTEXT` words are words ``context_words[context_offsets[i]:context_offsets[i + 1]]``."""
    context_words: list[int]
    context_neighbours: np.ndarray
    """``int32[k, 3]``, a row per entry of ``context_words``: the ids (:attr:`TokenTable.tokens`) of the word, of
    the word before it and of the word after it, a neighbour being ``-1`` unless only spaces (``str.isspace``)
    stand between them."""

    def plain_words(self, i: int) -> tuple[list[int], list[int]] | None:
        """Paragraph ``i``'s word starts and ends if it holds no hint (and no character past the BMP), else ``None``."""
        if self.flags[i]:
            return None
        lo, hi = self.word_offsets[i], self.word_offsets[i + 1]
        return self.starts[lo:hi].tolist(), self.ends[lo:hi].tolist()

    def context_indexes(self, i: int) -> list[int]:
        """The indexes, among paragraph ``i``'s words, of its :data:`CONTEXT` words."""
        return self.context_words[self.context_offsets[i] : self.context_offsets[i + 1]]


def scan_words(texts: Sequence[str], table: TokenTable | None = None) -> WordScan:
    """Find the words (matches of :data:`WORD`) and the hints of each of ``texts``; with ``table``, what each needs.

    Word offsets are ``str`` indices into each text, as ``regex`` reports them.
    """
    code_points, bounds = text_code_points(texts)
    if table is None:
        table = _NO_TABLE
    flags, counts, starts, ends, needs, context_counts, context_words, context_neighbours = _scan(
        code_points, bounds, character_classes(), table.keys_a, table.keys_b, table.classes, table.ids, table is not _NO_TABLE
    )
    word_offsets = _offsets(counts)
    context_offsets = _offsets(context_counts)
    total, context_total = word_offsets[-1], context_offsets[-1]
    return WordScan(flags, word_offsets, starts[:total], ends[:total], needs, context_offsets,
                    context_words[:context_total].tolist(), context_neighbours[:context_total])  # fmt: skip


def _offsets(counts: np.ndarray) -> list[int]:
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets.tolist()


def text_code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All of ``texts``' code points, one after another, and where each text starts (plus the end)."""
    bounds = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter((len(text) for text in texts), np.int64, len(texts)), out=bounds[1:])
    return np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32), bounds


_NO_TABLE = TokenTable()


@numba.njit(cache=True, nogil=True, inline="always")
def _hash_pair(code_points, start, end):  # pragma: no cover - compiled
    a = np.uint64(0xCBF29CE484222325)
    b = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(end - start)
    for k in range(start, end):
        c = np.uint64(code_points[k])
        a = (a ^ c) * np.uint64(0x100000001B3)
        b = (b + c) * np.uint64(0xBF58476D1CE4E5B9)
        b ^= b >> np.uint64(31)
    a ^= a >> np.uint64(33)
    a *= np.uint64(0xFF51AFD7ED558CCD)
    a ^= a >> np.uint64(33)
    if a == 0 and b == 0:  # (0, 0) marks an empty slot
        b = np.uint64(1)
    return a, b


@numba.njit(cache=True, nogil=True)
def _slot(keys_a, keys_b, a, b):  # pragma: no cover - compiled
    mask = np.uint64(len(keys_a) - 1)
    slot = a & mask
    while keys_a[slot] != 0 or keys_b[slot] != 0:
        if keys_a[slot] == a and keys_b[slot] == b:
            return slot
        slot = (slot + np.uint64(1)) & mask
    return slot


@numba.njit(cache=True, nogil=True)
def _insert(code_points, bounds, token_class, first_id, keys_a, keys_b, classes, ids):  # pragma: no cover - compiled
    added = 0
    for t in range(len(bounds) - 1):
        a, b = _hash_pair(code_points, bounds[t], bounds[t + 1])
        slot = _slot(keys_a, keys_b, a, b)
        if keys_a[slot] == 0 and keys_b[slot] == 0:
            keys_a[slot], keys_b[slot] = a, b
            ids[slot] = first_id + t
            added += 1
        classes[slot] = token_class
    return added


@numba.njit(cache=True, nogil=True)
def _reinsert(old_a, old_b, old_classes, old_ids, keys_a, keys_b, classes, ids):  # pragma: no cover - compiled
    size = 0
    for i in range(len(old_a)):
        if old_a[i] != 0 or old_b[i] != 0:
            slot = _slot(keys_a, keys_b, old_a[i], old_b[i])
            keys_a[slot], keys_b[slot], classes[slot], ids[slot] = old_a[i], old_b[i], old_classes[i], old_ids[i]
            size += 1
    return size


@numba.njit(cache=True, nogil=True, inline="always")
def _only_spaces(code_points, table, lo, hi):  # pragma: no cover - compiled
    if hi <= lo:
        return False
    for k in range(lo, hi):
        if (table[code_points[k]] & 64) == 0:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _scan(code_points, bounds, table, keys_a, keys_b, classes, ids, with_table):  # pragma: no cover - compiled
    paragraphs = len(bounds) - 1
    flags = np.zeros(paragraphs, np.uint8)
    counts = np.zeros(paragraphs, np.int64)
    needs = np.zeros(paragraphs, np.uint8)
    context_counts = np.zeros(paragraphs, np.int64)
    # A word is at least one character and words are apart: at most (n + 1) // 2 words in n characters.
    starts = np.empty(len(code_points) // 2 + paragraphs + 1, np.int64)
    ends = np.empty_like(starts)
    context_words = np.empty_like(starts)
    word_ids = np.empty(len(starts), np.int32)
    context_neighbours = np.empty((len(starts), 3), np.int32)  # pages are touched only as far as it is filled
    out = 0
    context_out = 0
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
        first_context = context_out
        worst = 1  # the highest class among the paragraph's words (0, an unknown word, counts as the highest)
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
                if with_table and worst != 0:
                    a, b = _hash_pair(code_points, start, k)
                    slot = _slot(keys_a, keys_b, a, b)
                    found = classes[slot]
                    word_ids[out] = ids[slot]
                    if found == 0 or found == 3:
                        worst = 0
                    elif found == 2:
                        worst = 2
                        context_words[context_out] = out - first
                        context_out += 1
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
        if with_table and flag == 0 and worst != 0:
            needs[p] = worst  # KEPT (1) or CONTEXT_ONLY (2)
            context_counts[p] = context_out - first_context
            for c in range(first_context, context_out):
                w = first + context_words[c]
                context_neighbours[c, 0] = word_ids[w]
                context_neighbours[c, 1] = -1
                context_neighbours[c, 2] = -1
                if w > first and _only_spaces(code_points, table, lo + ends[w - 1], lo + starts[w]):
                    context_neighbours[c, 1] = word_ids[w - 1]
                if w + 1 < out and _only_spaces(code_points, table, lo + ends[w], lo + starts[w + 1]):
                    context_neighbours[c, 2] = word_ids[w + 1]
        else:
            context_out = first_context
    return flags, counts, starts, ends, needs, context_counts, context_words, context_neighbours
