"""Compiled candidate search for the OCR corrector: a trie walk under learned confusions.

The noisy-channel model (:mod:`corpusclean.ocr_model`) needs, for an OCR
token, every word that learned confusions (``c`` -> ``e``, ``rn`` -> ``m``)
turn into that token. Enumerating spellings in Python and testing each
against the lexicon visits hundreds to thousands of strings per token; here
the search walks a trie of the word list instead, so a spelling no word
starts with is abandoned after one array lookup, and the walk runs as
numba-compiled code (tens of microseconds per token).

Strings cross into compiled code as ``int32`` arrays of code points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numba
import numpy as np

_SPAN_SHIFT = 21  # code points fit in 21 bits: a two-character key is (c1 + 1) << 21 | c2
STACK_CAPACITY = 4096
"""Pending search states at most; a token needing more keeps the candidates found so far."""
LOG_CAPACITY = 1 << 14
"""Confusions applied in one search at most (each is recorded to explain the winner)."""
OUT_CAPACITY = 4096
"""Candidates reported for one token at most."""


def encode(text: str) -> np.ndarray:
    """``text`` as an ``int32`` array of code points."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int32)


# Columns of the packed trie array (one row of four per node, so a node's
# fields share a cache line): a node's children are the contiguous nodes
# [START, END), in ascending order of CHAR; WORD is the word id ending there or -1.
START, END, CHAR, WORD = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def _build_trie(codes: np.ndarray, offsets: np.ndarray, max_len: int) -> np.ndarray:
    """The packed trie of sorted, distinct words (word ``k`` is ``codes[offsets[k]:offsets[k+1]]``).

    Built first as first-child/next-sibling lists (sorted input means each
    word only adds nodes after its common prefix with its predecessor, and
    siblings arrive in ascending order), then laid out breadth-first so that
    each node's children sit next to each other in memory: the search scans
    them without chasing pointers across the array.
    """
    capacity = len(codes) + 1
    first = np.full(capacity, -1, np.int32)
    sibling = np.full(capacity, -1, np.int32)
    last = np.full(capacity, -1, np.int32)
    char = np.zeros(capacity, np.int32)
    word = np.full(capacity, -1, np.int32)
    path = np.zeros(max_len + 1, np.int32)
    nodes = 1
    for k in range(len(offsets) - 1):
        start, end = offsets[k], offsets[k + 1]
        common = 0
        if k > 0:
            prev = offsets[k - 1]
            prev_len = start - prev
            while common < end - start and common < prev_len and codes[start + common] == codes[prev + common]:
                common += 1
        node = path[common]
        for depth in range(common, end - start):
            new = nodes
            nodes += 1
            char[new] = codes[start + depth]
            if last[node] == -1:
                first[node] = new
            else:
                sibling[last[node]] = new
            last[node] = new
            node = new
            path[depth + 1] = new
        word[node] = k
    packed = np.empty((nodes, 4), np.int32)
    queue = np.empty(nodes, np.int32)
    queue[0] = 0
    packed[0, CHAR] = 0
    packed[0, WORD] = word[0]
    filled = 1
    for at in range(nodes):  # ``at`` is both the queue position and the node's new id
        packed[at, START] = filled
        child = first[queue[at]]
        while child != -1:
            queue[filled] = child
            packed[filled, CHAR] = char[child]
            packed[filled, WORD] = word[child]
            filled += 1
            child = sibling[child]
        packed[at, END] = filled
    return packed


@numba.njit(inline="always")
def _child(trie: np.ndarray, node: int, c: int) -> int:
    """The child of ``node`` reached by code point ``c``, or -1 (binary search over wide fan-outs)."""
    lo, end = trie[node, START], trie[node, END]
    hi = end
    while hi - lo > 8:  # lower bound: every child before lo spells less than c
        mid = (lo + hi) >> 1
        if trie[mid, CHAR] < c:
            lo = mid + 1
        else:
            hi = mid
    for child in range(lo, end):
        found = trie[child, CHAR]
        if found == c:
            return child
        if found > c:
            return -1
    return -1


@numba.njit(cache=True, nogil=True)
def _search(
    token: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    keys: np.ndarray,
    intended: np.ndarray,
    probability: np.ndarray,
    max_confusions: int,
    min_channel: float,
    stack: np.ndarray,
    stack_prob: np.ndarray,
    log: np.ndarray,
    out: np.ndarray,
    out_prob: np.ndarray,
) -> tuple[int, int]:
    """Depth-first walk of two tries at once along ``token``, taking either its next character or a confusion.

    A state follows the same spelling in both tries (-1 where one has no
    word starting so), so a run's own words cost little on top of the
    lexicon's. ``keys`` rows are (observed key, first, end) ranges into the
    ``intended`` rows (first, second code point or -1) and ``probability``,
    sorted by key, each range by descending probability. The other arrays
    are caller workspace. Fills ``out`` rows with (trie 0 or 1, word id,
    rule chain) and ``out_prob`` with P(token | word); ``log`` rows (parent
    chain, confusion id) name a chain's confusions. Returns (candidates
    found, chain entries used); states beyond the workspace are dropped.
    """
    n = len(token)
    stack_capacity = stack.shape[1]
    log_capacity = log.shape[1]
    out_capacity = out.shape[1]
    found = 0
    logged = 0
    # confusion ranges for each (position, span): looked up once, not per state
    ranges = np.zeros((n, 2, 2), np.int64)
    for i in range(n):
        for span in range(2):
            if i + span >= n:
                continue
            key = token[i] if span == 0 else ((token[i] + 1) << _SPAN_SHIFT) | token[i + 1]
            at = np.searchsorted(keys[0], key)
            if at < keys.shape[1] and keys[0, at] == key:
                ranges[i, span, 0] = keys[1, at]
                ranges[i, span, 1] = keys[2, at]
    stack[0, 0], stack[1, 0], stack[2, 0], stack[3, 0], stack[4, 0], stack_prob[0] = 0, 0, 0, 0, -1, 1.0
    top = 1
    while top > 0:
        top -= 1
        i, a, b, used, chain, p = (
            stack[0, top], stack[1, top], stack[2, top], stack[3, top], stack[4, top], stack_prob[top]
        )
        if i == n:
            if used > 0:
                if a >= 0 and first[a, WORD] >= 0 and found < out_capacity:
                    out[0, found], out[1, found], out[2, found], out_prob[found] = 0, first[a, WORD], chain, p
                    found += 1
                if b >= 0 and second[b, WORD] >= 0 and found < out_capacity:
                    out[0, found], out[1, found], out[2, found], out_prob[found] = 1, second[b, WORD], chain, p
                    found += 1
            continue
        c = token[i]
        ka = _child(first, a, c) if a >= 0 else -1
        kb = _child(second, b, c) if b >= 0 else -1
        if (ka != -1 or kb != -1) and top < stack_capacity:
            stack[0, top], stack[1, top], stack[2, top], stack[3, top], stack[4, top], stack_prob[top] = (
                i + 1, ka, kb, used, chain, p
            )
            top += 1
        if used >= max_confusions:
            continue
        for span in range(2):
            for k in range(ranges[i, span, 0], ranges[i, span, 1]):
                q = p * probability[k]
                if q < min_channel:
                    break  # sorted by probability: the rest are rarer
                ta = _child(first, a, intended[0, k]) if a >= 0 else -1
                tb = _child(second, b, intended[0, k]) if b >= 0 else -1
                if intended[1, k] >= 0:
                    ta = _child(first, ta, intended[1, k]) if ta >= 0 else -1
                    tb = _child(second, tb, intended[1, k]) if tb >= 0 else -1
                if (ta == -1 and tb == -1) or top >= stack_capacity or logged >= log_capacity:
                    continue
                log[0, logged], log[1, logged] = chain, k
                stack[0, top], stack[1, top], stack[2, top], stack[3, top], stack[4, top], stack_prob[top] = (
                    i + span + 1, ta, tb, used + 1, logged, q
                )
                logged += 1
                top += 1
    return found, logged


@numba.njit(cache=True, nogil=True)
def _score(
    out: np.ndarray, out_prob: np.ndarray, found: int, prior: np.ndarray, exclude: int,
    stamp: np.ndarray, slot: np.ndarray, call: int,
) -> tuple[int, int, float, float]:
    """Sum and best of ``prior[word] * channel`` over the distinct first-trie words a search found.

    A word reached by several confusion paths counts once, with its most
    probable path (``stamp``/``slot`` are per-word workspace, valid where
    ``stamp == call``). Words with no prior and ``exclude`` are left out.
    Returns (best word or -1, its chain, its score, total score).
    """
    for k in range(found):
        w = out[1, k]
        if out[0, k] != 0 or w == exclude or prior[w] <= 0.0:
            continue
        if stamp[w] != call:
            stamp[w] = call
            slot[w] = k
        elif out_prob[k] > out_prob[slot[w]]:
            slot[w] = k
    best, best_chain, best_score, total = -1, -1, 0.0, 0.0
    for k in range(found):
        w = out[1, k]
        if out[0, k] != 0 or w == exclude or prior[w] <= 0.0 or slot[w] != k:
            continue
        slot[w] = -1  # counted: a later entry of the same word is skipped
        score = prior[w] * out_prob[k]
        total += score
        if score > best_score:
            best, best_chain, best_score = w, out[2, k], score
    return best, best_chain, best_score, total


@dataclass(frozen=True)
class ConfusionArrays:
    """A confusion table as sorted arrays for :func:`_search`, with its rules spelled out."""

    keys: np.ndarray
    intended: np.ndarray
    probability: np.ndarray
    rules: tuple[str, ...]

    @classmethod
    def build(cls, confusions: Mapping[str, Sequence[tuple[str, float]]]) -> "ConfusionArrays":
        """From ``observed -> ((intended, P(observed | intended)), ...)`` (one or two characters each side)."""

        def key(observed: str) -> int:
            if len(observed) == 1:
                return ord(observed)
            return ((ord(observed[0]) + 1) << _SPAN_SHIFT) | ord(observed[1])

        keys: list[tuple[int, int, int]] = []
        intended: list[tuple[int, int]] = []
        probs: list[float] = []
        rules: list[str] = []
        for observed in sorted((o for o in confusions if 1 <= len(o) <= 2), key=key):
            pairs = sorted((p for p in confusions[observed] if 1 <= len(p[0]) <= 2), key=lambda p: -p[1])
            start = len(probs)
            for right, q in pairs:
                intended.append((ord(right[0]), ord(right[1]) if len(right) == 2 else -1))
                probs.append(q)
                rules.append(f"{observed}>{right}")
            keys.append((key(observed), start, len(probs)))
        return cls(
            np.array(keys, np.int64).reshape(-1, 3).T.copy(),
            np.array(intended, np.int32).reshape(-1, 2).T.copy(),
            np.array(probs, np.float64),
            tuple(rules),
        )


class Trie:
    """A word list as a packed trie; words are identified by their index in :attr:`words`."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: list[str] = sorted({w for w in words if w})
        offsets = np.zeros(len(self.words) + 1, np.int64)
        np.cumsum([len(w) for w in self.words], out=offsets[1:])
        max_len = max(map(len, self.words), default=0)
        self.nodes = _build_trie(encode("".join(self.words)), offsets, max_len)
        self._ids: dict[str, int] | None = None

    def word_id(self, word: str) -> int:
        """The id of ``word`` in this trie, or -1 (the lookup table is built on first use)."""
        if self._ids is None:
            self._ids = {w: k for k, w in enumerate(self.words)}
        return self._ids.get(word, -1)


@dataclass
class SearchResult:
    """What one search found: the best lexicon word and the run's own words, separately."""

    best: str | None
    """The lexicon candidate with the highest ``prior * channel`` (not the token itself)."""
    best_score: float
    total: float
    """Sum of ``prior * channel`` over all lexicon candidates."""
    run_words: list[tuple[str, float, int]]
    """(word, P(token | word), chain) for each word only the run knows, most probable path."""
    explain: Callable[[int], tuple[str, ...]]
    """The confusions of a chain, in order."""
    best_chain: int = -1


class CandidateSearch:
    """Candidate search over a lexicon trie and a run's trie, with its workspace (one per thread)."""

    def __init__(self, lexicon: Trie, run: Trie, confusions: ConfusionArrays) -> None:
        self.lexicon = lexicon
        self.run = run
        self.confusions = confusions
        self._stack = np.empty((5, STACK_CAPACITY), np.int32)
        self._stack_prob = np.empty(STACK_CAPACITY, np.float64)
        self._log = np.empty((2, LOG_CAPACITY), np.int32)
        self._out = np.empty((3, OUT_CAPACITY), np.int32)
        self._out_prob = np.empty(OUT_CAPACITY, np.float64)
        self._stamp = np.zeros(len(lexicon.words), np.int32)
        self._slot = np.zeros(len(lexicon.words), np.int32)
        self._calls = 0

    def search(
        self, token: str, max_confusions: int, min_channel: float, prior: np.ndarray, use_run: bool = True
    ) -> SearchResult:
        """Words that at most ``max_confusions`` confusions, jointly at least ``min_channel`` likely, turn into ``token``.

        Lexicon words are scored in compiled code with ``prior`` (by lexicon
        word id); the run's own words are returned for the caller to judge.
        """
        run_nodes = self.run.nodes if use_run else _EMPTY_TRIE
        found, logged = _search(
            encode(token), self.lexicon.nodes, run_nodes, self.confusions.keys, self.confusions.intended,
            self.confusions.probability, max_confusions, min_channel,
            self._stack, self._stack_prob, self._log, self._out, self._out_prob,
        )
        if not found:
            return SearchResult(None, 0.0, 0.0, [], _no_rules)
        self._calls += 1
        if self._calls >= 2**31 - 1:  # stamps would wrap: start afresh
            self._stamp[:] = 0
            self._calls = 1
        best, chain, score, total = _score(
            self._out, self._out_prob, found, prior, self.lexicon.word_id(token), self._stamp, self._slot, self._calls
        )
        run_words: dict[str, tuple[str, float, int]] = {}
        if use_run:
            out = self._out
            for k in np.flatnonzero(out[0, :found]).tolist():
                word, p = self.run.words[out[1, k]], float(self._out_prob[k])
                if word not in run_words or p > run_words[word][1]:
                    run_words[word] = (word, p, int(out[2, k]))
        if best < 0 and not run_words:
            return SearchResult(None, 0.0, 0.0, [], _no_rules)
        log = self._log[:, :logged].copy()  # the workspace is reused by the next search
        rules = self.confusions.rules

        def explain(chain: int) -> tuple[str, ...]:
            named: list[str] = []
            while chain >= 0:
                named.append(rules[log[1, chain]])
                chain = int(log[0, chain])
            return tuple(reversed(named))

        return SearchResult(
            self.lexicon.words[best] if best >= 0 else None, score, total, list(run_words.values()), explain, chain
        )


def _no_rules(chain: int) -> tuple[str, ...]:
    return ()


_EMPTY_TRIE = np.array([[1, 1, 0, -1]], np.int32)  # a root with no children and no word
