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

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numba
import numpy as np

from corpusclean.parallel import usable_cores

_SPAN_SHIFT = 21  # code points fit in 21 bits: a two-character key is (c1 + 1) << 21 | c2
STACK_CAPACITY = 4096
"""Pending search states at most; a token needing more keeps the candidates found so far."""
LOG_CAPACITY = 1 << 14
"""Confusions applied in one search at most (each is recorded to explain the winner)."""
OUT_CAPACITY = 4096
"""Candidates reported for one token at most."""


DROPPED = -1
"""Key of the confusions whose observed side is empty: characters OCR dropped (``difcult``)."""
SPURIOUS = -2
"""Intended code point of confusions whose intended side is empty: characters OCR added (``witlh``)."""
USED_MASK = 0xFF
"""A search state's confusion count; above it, :data:`INDEL_USED` marks a state that dropped or added a character."""
INDEL_USED = 0x100
INDEL_MAX_CONFUSIONS = 2
"""A path that dropped or added a character takes at most this many confusions in all."""
INDEL_MIN_CHANNEL = 3e-7
"""Paths that drop or add a character are followed only while at least this likely (``ocr_model.MIN_INDEL``)."""


def rule_name(observed: str, intended: str) -> str:
    """A confusion as rules name it: ``c>e``; ``∅`` for an empty side (``∅>fi``: OCR dropped ``fi``)."""
    return f"{observed or '∅'}>{intended or '∅'}"


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


@numba.njit(inline="always")
def _spell(first, second, a, b, c1, c2):  # pragma: no cover - compiled
    """Follow one or two intended code points (``c2`` -1 for one) from nodes ``a`` and ``b`` of the two tries."""
    ta = _child(first, a, c1) if a >= 0 else -1
    tb = _child(second, b, c1) if b >= 0 else -1
    if c2 >= 0:
        ta = _child(first, ta, c2) if ta >= 0 else -1
        tb = _child(second, tb, c2) if tb >= 0 else -1
    return ta, tb


@numba.njit(inline="always")
def _push(stack, stack_prob, log, top, logged, i, ta, tb, used, chain, k, q):  # pragma: no cover - compiled
    """Log confusion ``k`` after ``chain`` and push the state it leads to; returns the new (top, logged)."""
    log[0, logged], log[1, logged] = chain, k
    stack[0, top], stack[1, top], stack[2, top], stack[3, top], stack[4, top], stack_prob[top] = (
        i, ta, tb, used, logged, q
    )
    return top + 1, logged + 1


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
    # characters OCR dropped (observed nothing): the first key row, key DROPPED, if the table has any
    drop_lo, drop_hi = 0, 0
    if keys.shape[1] and keys[0, 0] == DROPPED:
        drop_lo, drop_hi = keys[1, 0], keys[2, 0]
    # single dropped ASCII letters are found from the trie node's children (few) rather than
    # by trying every such confusion (many) at every state; the rest are tried one by one
    drop_one = np.full(128, -1, np.int64)
    for k in range(drop_lo, drop_hi):
        if intended[1, k] < 0 and 0 <= intended[0, k] < 128:
            drop_one[intended[0, k]] = k
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
        if i == n and used > 0:
            if a >= 0 and first[a, WORD] >= 0 and found < out_capacity:
                out[0, found], out[1, found], out[2, found], out_prob[found] = 0, first[a, WORD], chain, p
                found += 1
            if b >= 0 and second[b, WORD] >= 0 and found < out_capacity:
                out[0, found], out[1, found], out[2, found], out_prob[found] = 1, second[b, WORD], chain, p
                found += 1
        confusions = used & USED_MASK
        # a path that dropped or added a character goes on only while it stays likely: such
        # paths branch at every position, and unlikely ones cost most of the search
        floor = min_channel if not used & INDEL_USED else max(min_channel, INDEL_MIN_CHANNEL)
        if confusions < max_confusions and not used & INDEL_USED:
            # a dropped character: walk the intended letters without reading the token (one per word)
            for side in range(2):
                node = a if side == 0 else b
                trie = first if side == 0 else second
                if node < 0:
                    continue
                for child in range(trie[node, START], trie[node, END]):
                    ch = trie[child, CHAR]
                    if ch >= 128 or drop_one[ch] < 0:
                        continue
                    k = drop_one[ch]
                    q = p * probability[k]
                    if q < max(min_channel, INDEL_MIN_CHANNEL) or top >= stack_capacity or logged >= log_capacity:
                        continue
                    if side == 0:
                        ta, tb = child, (_child(second, b, ch) if b >= 0 else -1)
                    elif a >= 0 and _child(first, a, ch) >= 0:
                        continue  # reached from the first trie's side already
                    else:
                        ta, tb = -1, child
                    top, logged = _push(
                        stack, stack_prob, log, top, logged, i, ta, tb, (used + 1) | INDEL_USED, chain, k, q
                    )
            for k in range(drop_lo, drop_hi):
                if intended[1, k] < 0 and 0 <= intended[0, k] < 128:
                    continue  # found from the children above
                q = p * probability[k]
                if q < max(min_channel, INDEL_MIN_CHANNEL):
                    break
                ta, tb = _spell(first, second, a, b, intended[0, k], intended[1, k])
                if (ta == -1 and tb == -1) or top >= stack_capacity or logged >= log_capacity:
                    continue
                top, logged = _push(stack, stack_prob, log, top, logged, i, ta, tb, (used + 1) | INDEL_USED, chain, k, q)
        if i == n:
            continue
        c = token[i]
        ka = _child(first, a, c) if a >= 0 else -1
        kb = _child(second, b, c) if b >= 0 else -1
        if (ka != -1 or kb != -1) and top < stack_capacity:
            stack[0, top], stack[1, top], stack[2, top], stack[3, top], stack[4, top], stack_prob[top] = (
                i + 1, ka, kb, used, chain, p
            )
            top += 1
        if confusions >= max_confusions or (used & INDEL_USED and confusions >= INDEL_MAX_CONFUSIONS):
            continue
        for span in range(2):
            for k in range(ranges[i, span, 0], ranges[i, span, 1]):
                q = p * probability[k]
                if q < floor:
                    break  # sorted by probability: the rest are rarer
                next_used = used + 1
                if intended[0, k] == SPURIOUS:  # a character OCR added: read it, spell nothing (one per word)
                    if used & INDEL_USED or q < INDEL_MIN_CHANNEL:
                        continue
                    ta, tb = a, b
                    next_used |= INDEL_USED
                else:
                    ta, tb = _spell(first, second, a, b, intended[0, k], intended[1, k])
                if (ta == -1 and tb == -1) or top >= stack_capacity or logged >= log_capacity:
                    continue
                top, logged = _push(stack, stack_prob, log, top, logged, i + span + 1, ta, tb, next_used, chain, k, q)
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
            if not observed:
                return DROPPED
            if len(observed) == 1:
                return ord(observed)
            return ((ord(observed[0]) + 1) << _SPAN_SHIFT) | ord(observed[1])

        keys: list[tuple[int, int, int]] = []
        intended: list[tuple[int, int]] = []
        probs: list[float] = []
        rules: list[str] = []
        for observed in sorted((o for o in confusions if len(o) <= 2), key=key):
            pairs = sorted(
                (p for p in confusions[observed] if len(p[0]) <= 2 and (p[0] or observed)), key=lambda p: -p[1]
            )
            start = len(probs)
            for right, q in pairs:
                if not right:
                    intended.append((SPURIOUS, -1))
                else:
                    intended.append((ord(right[0]), ord(right[1]) if len(right) == 2 else -1))
                probs.append(q)
                rules.append(rule_name(observed, right))
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
        self._prefetched: dict[bool, dict[str, tuple[int, _Batch, int]]] = {}

    def prefetch(
        self, tokens: Sequence[str], max_confusions: Sequence[int], min_channel: float, prior: np.ndarray,
        use_run: bool = True,
    ) -> None:
        """Search all of ``tokens`` in compiled calls; :meth:`search` then answers them from the results.

        Same candidates, scores and confusions as searching each token on its
        own (the batch runs the same compiled search and scoring): only the
        per-call overhead and the Python-side bookkeeping go. Large batches
        are cut into one contiguous part per core, searched on threads (the
        compiled search releases the GIL); each token's search is
        independent, so the parts change nothing in the results.
        """
        pairs = [(t, limit) for t, limit in zip(tokens, max_confusions) if t]
        if not pairs or max(limit for _, limit in pairs) > MAX_CHAIN:
            return
        parts = max(1, min(usable_cores(), len(pairs) // PREFETCH_PART_TOKENS))
        bounds = np.linspace(0, len(pairs), parts + 1).astype(int)
        chunks = [pairs[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
        self.lexicon.word_id("")  # builds the lookup table once, before any thread needs it
        if parts == 1:
            batches = [self._search_part(chunks[0], min_channel, prior, use_run)]
        else:
            with ThreadPoolExecutor(max_workers=parts) as pool:
                batches = list(pool.map(lambda c: self._search_part(c, min_channel, prior, use_run), chunks))
        index = self._prefetched.setdefault(use_run, {})
        for chunk, batch in zip(chunks, batches):
            for t, (token, limit) in enumerate(chunk):
                index[token] = (limit, batch, t)

    def _search_part(
        self, pairs: Sequence[tuple[str, int]], min_channel: float, prior: np.ndarray, use_run: bool
    ) -> "_Batch":
        """One compiled :func:`_search_batch` call over ``(token, max_confusions)`` pairs."""
        tokens = [t for t, _ in pairs]
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        offsets = np.zeros(len(tokens) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        word_id = self.lexicon.word_id
        exclude = np.fromiter((word_id(t) for t in tokens), np.int64, len(tokens))
        run_nodes = self.run.nodes if use_run else _EMPTY_TRIE
        result = _search_batch(
            encode("".join(tokens)), offsets, np.fromiter((m for _, m in pairs), np.int64, len(pairs)), exclude,
            self.lexicon.nodes, run_nodes, self.confusions.keys, self.confusions.intended,
            self.confusions.probability, min_channel, prior, len(self.run.words) if use_run else 0,
            STACK_CAPACITY, LOG_CAPACITY, OUT_CAPACITY,
        )
        return _Batch(prior, min_channel, use_run, *result)

    def prefetched_run_words(self, tokens: Sequence[str]) -> Iterable[tuple[str, list[str]]]:
        """(token, the run's words its prefetched search found) for each of ``tokens`` that has any."""
        index = self._prefetched.get(True, {})
        words = self.run.words
        for token in tokens:
            hit = index.get(token)
            if hit is None:
                continue
            _, batch, t = hit
            lo, hi = batch.run_offsets[t], batch.run_offsets[t + 1]
            if hi > lo:
                yield token, [words[w] for w in batch.run_word[lo:hi].tolist()]

    def _from_batch(self, batch: "_Batch", t: int) -> SearchResult:
        if not batch.found_any[t]:
            return SearchResult(None, 0.0, 0.0, [], _no_rules)
        lo, hi = int(batch.run_offsets[t]), int(batch.run_offsets[t + 1])
        best = int(batch.best[t])
        if best < 0 and lo == hi:
            return SearchResult(None, 0.0, 0.0, [], _no_rules)
        names = self.confusions.rules
        # chain handles: 0 is the best lexicon word, 1 + j the run's j-th word
        spelled = [batch.best_rules[t]]
        run_words: list[tuple[str, float, int]] = []
        if hi > lo:
            words = self.run.words
            spelled.extend(batch.run_rules[lo:hi])
            run_words = [
                (words[w], p, 1 + j)
                for j, (w, p) in enumerate(zip(batch.run_word[lo:hi].tolist(), batch.run_prob[lo:hi].tolist()))
            ]

        def explain(chain: int) -> tuple[str, ...]:
            if chain < 0:
                return ()
            return tuple(names[r] for r in spelled[chain].tolist() if r >= 0)

        return SearchResult(
            self.lexicon.words[best] if best >= 0 else None, float(batch.best_score[t]), float(batch.total[t]),
            run_words, explain, 0 if best >= 0 else -1,
        )

    def ranked(
        self, token: str, max_confusions: int, min_channel: float, prior: np.ndarray, limit: int
    ) -> list[tuple[str, float, tuple[str, ...]]]:
        """The ``limit`` lexicon words with the highest ``prior * channel`` that confusions turn into ``token``.

        Returns (word, P(token | word) by its most probable path, that path's
        confusions), best first; the token itself and words with no prior are
        left out. The context model (:mod:`corpusclean.ocr_context`) chooses
        among these per occurrence, so it needs more than the single best.
        """
        names = self.confusions.rules
        for use_run in (True, False):  # the run's trie changes nothing about the lexicon words found
            hit = self._prefetched.get(use_run, {}).get(token)
            if hit is None:
                continue
            searched_with, batch, t = hit
            if searched_with == max_confusions and batch.prior is prior and batch.min_channel == min_channel and limit <= TOP_K:
                words = batch.top_word[t]
                rows = [j for j in range(TOP_K) if words[j] >= 0]
                rows.sort(key=lambda j: -prior[words[j]] * batch.top_prob[t, j])
                return [
                    (
                        self.lexicon.words[int(words[j])], float(batch.top_prob[t, j]),
                        tuple(names[r] for r in batch.top_rules[t, j].tolist() if r >= 0),
                    )
                    for j in rows[:limit]
                ]
        found, logged = _search(
            encode(token), self.lexicon.nodes, _EMPTY_TRIE, self.confusions.keys, self.confusions.intended,
            self.confusions.probability, max_confusions, min_channel,
            self._stack, self._stack_prob, self._log, self._out, self._out_prob,
        )
        if not found:
            return []
        words = self._out[1, :found].astype(np.int64)
        channel = self._out_prob[:found]
        keep = (self._out[0, :found] == 0) & (words != self.lexicon.word_id(token)) & (prior[words] > 0.0)
        rows = np.flatnonzero(keep)
        if not len(rows):
            return []
        # each word once, by its most probable path
        rows = rows[np.lexsort((-channel[rows], words[rows]))]
        rows = rows[np.r_[True, words[rows][1:] != words[rows][:-1]]]
        rows = rows[np.argsort(-(prior[words[rows]] * channel[rows]), kind="stable")[:limit]]
        return [
            (self.lexicon.words[words[k]], float(channel[k]), _chain_rules(self._log, names, int(self._out[2, k])))
            for k in rows.tolist()
        ]

    def search(
        self, token: str, max_confusions: int, min_channel: float, prior: np.ndarray, use_run: bool = True
    ) -> SearchResult:
        """Words that at most ``max_confusions`` confusions, jointly at least ``min_channel`` likely, turn into ``token``.

        Lexicon words are scored in compiled code with ``prior`` (by lexicon
        word id); the run's own words are returned for the caller to judge.
        Tokens searched ahead by :meth:`prefetch` are answered from its results.
        """
        hit = self._prefetched.get(use_run, {}).get(token)
        if hit is not None:
            limit, batch, t = hit
            if limit == max_confusions and batch.prior is prior and batch.min_channel == min_channel:
                return self._from_batch(batch, t)
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
        explain = functools.partial(_chain_rules, log, self.confusions.rules)
        return SearchResult(
            self.lexicon.words[best] if best >= 0 else None, score, total, list(run_words.values()), explain, chain
        )


@dataclass
class _Batch:
    """The arrays :func:`_search_batch` returned, with the settings they were searched under."""

    prior: np.ndarray
    min_channel: float
    use_run: bool
    best: np.ndarray
    best_score: np.ndarray
    total: np.ndarray
    found_any: np.ndarray
    best_rules: np.ndarray
    run_offsets: np.ndarray
    run_word: np.ndarray
    run_prob: np.ndarray
    run_rules: np.ndarray
    top_word: np.ndarray
    """Per token, the :data:`TOP_K` lexicon words with the highest ``prior * channel`` (-1 padded, unordered)."""
    top_prob: np.ndarray
    top_rules: np.ndarray


def _no_rules(chain: int) -> tuple[str, ...]:
    return ()


def _chain_rules(log: np.ndarray, names: Sequence[str], chain: int) -> tuple[str, ...]:
    """The confusions of ``chain`` in a search's ``log`` (rows: parent chain, confusion id), first applied first."""
    named: list[str] = []
    while chain >= 0:
        named.append(names[log[1, chain]])
        chain = int(log[0, chain])
    return tuple(reversed(named))


_EMPTY_TRIE = np.array([[1, 1, 0, -1]], np.int32)  # a root with no children and no word



MAX_CHAIN = 4
"""Confusions a batched result spells out per candidate (``max_confusions`` must not exceed it)."""
TOP_K = 5
"""Lexicon candidates a batched search keeps per token for :meth:`CandidateSearch.ranked`."""
PREFETCH_PART_TOKENS = 4096
"""A batched search is cut into parts for threads only when each part gets at least this many tokens."""


@numba.njit(cache=True, nogil=True)
def _spell_chain(log: np.ndarray, chain: int, into: np.ndarray) -> None:
    """Write the confusion ids of ``chain`` into ``into`` in order (first applied first; -1 padded)."""
    length = 0
    c = chain
    while c >= 0:
        length += 1
        c = log[0, c]
    into[:] = -1
    c = chain
    while c >= 0:
        length -= 1
        into[length] = log[1, c]
        c = log[0, c]


@numba.njit(cache=True, nogil=True)
def _search_batch(
    codes: np.ndarray,
    offsets: np.ndarray,
    max_confusions: np.ndarray,
    exclude: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    keys: np.ndarray,
    intended: np.ndarray,
    probability: np.ndarray,
    min_channel: float,
    prior: np.ndarray,
    run_size: int,
    stack_capacity: int,
    log_capacity: int,
    out_capacity: int,
):
    """:func:`_search` and :func:`_score` for many tokens in one compiled call (token ``t`` is ``codes[offsets[t]:offsets[t+1]]``).

    Per token: whether anything was found, the best lexicon word (or -1),
    its score, the total score and the best word's confusions (ids, -1
    padded). The run's words, each with its most probable path, in order of
    first appearance (exactly what :meth:`CandidateSearch.search` keeps), go
    to flat arrays, token ``t``'s at ``run_offsets[t]:run_offsets[t+1]``.
    """
    n_tokens = len(offsets) - 1
    stack = np.empty((5, stack_capacity), np.int32)
    stack_prob = np.empty(stack_capacity, np.float64)
    log = np.empty((2, log_capacity), np.int32)
    out = np.empty((3, out_capacity), np.int32)
    out_prob = np.empty(out_capacity, np.float64)
    stamp = np.zeros(len(prior), np.int32)
    slot = np.zeros(len(prior), np.int32)
    run_stamp = np.full(max(run_size, 1), -1, np.int64)
    run_slot = np.zeros(max(run_size, 1), np.int64)
    best = np.full(n_tokens, -1, np.int64)
    best_score = np.zeros(n_tokens, np.float64)
    total = np.zeros(n_tokens, np.float64)
    found_any = np.zeros(n_tokens, np.bool_)
    best_rules = np.full((n_tokens, MAX_CHAIN), -1, np.int32)
    run_offsets = np.zeros(n_tokens + 1, np.int64)
    capacity = max(16, n_tokens)
    run_word = np.empty(capacity, np.int32)
    run_prob = np.empty(capacity, np.float64)
    run_chain = np.empty(capacity, np.int32)
    run_rules = np.empty((capacity, MAX_CHAIN), np.int32)
    top_word = np.full((n_tokens, TOP_K), -1, np.int64)
    top_prob = np.zeros((n_tokens, TOP_K), np.float64)
    top_rules = np.full((n_tokens, TOP_K, MAX_CHAIN), -1, np.int32)
    top_score = np.zeros(TOP_K, np.float64)
    top_chain = np.zeros(TOP_K, np.int64)
    n_run = 0
    calls = 0
    for t in range(n_tokens):
        run_offsets[t] = n_run
        found, logged = _search(
            codes[offsets[t]:offsets[t + 1]], first, second, keys, intended, probability, max_confusions[t],
            min_channel, stack, stack_prob, log, out, out_prob,
        )
        if found == 0:
            continue
        found_any[t] = True
        calls += 1
        b, chain, score, tot = _score(out, out_prob, found, prior, exclude[t], stamp, slot, calls)
        best[t], best_score[t], total[t] = b, score, tot
        _spell_chain(log, chain, best_rules[t])
        # the TOP_K best lexicon words, each by its most probable path
        top_score[:] = 0.0
        kept = 0
        for k in range(found):
            w = out[1, k]
            if out[0, k] != 0 or w == exclude[t] or prior[w] <= 0.0:
                continue
            q = prior[w] * out_prob[k]
            at = -1
            for j in range(kept):
                if top_word[t, j] == w:
                    at = j
                    break
            if at >= 0:
                if q > top_score[at]:
                    top_score[at], top_prob[t, at], top_chain[at] = q, out_prob[k], out[2, k]
                continue
            if kept < TOP_K:
                at = kept
                kept += 1
            else:
                at = 0
                for j in range(1, TOP_K):
                    if top_score[j] < top_score[at]:
                        at = j
                if q <= top_score[at]:
                    continue
            top_word[t, at], top_score[at], top_prob[t, at], top_chain[at] = w, q, out_prob[k], out[2, k]
        for j in range(kept):
            _spell_chain(log, top_chain[j], top_rules[t, j])
        start = n_run
        for k in range(found):
            if out[0, k] != 1:
                continue
            w = out[1, k]
            p = out_prob[k]
            if run_stamp[w] != t:
                run_stamp[w] = t
                if n_run == len(run_word):
                    grown = 2 * n_run
                    run_word = np.concatenate((run_word, np.empty(grown - n_run, np.int32)))
                    run_prob = np.concatenate((run_prob, np.empty(grown - n_run, np.float64)))
                    run_chain = np.concatenate((run_chain, np.empty(grown - n_run, np.int32)))
                    more = np.empty((grown, MAX_CHAIN), np.int32)
                    more[:n_run] = run_rules
                    run_rules = more
                run_slot[w] = n_run
                run_word[n_run], run_prob[n_run], run_chain[n_run] = w, p, out[2, k]
                n_run += 1
            elif p > run_prob[run_slot[w]]:
                run_prob[run_slot[w]], run_chain[run_slot[w]] = p, out[2, k]
        for j in range(start, n_run):  # the log is reused by the next token: spell the chains out now
            _spell_chain(log, run_chain[j], run_rules[j])
    run_offsets[n_tokens] = n_run
    return (
        best, best_score, total, found_any, best_rules, run_offsets, run_word[:n_run], run_prob[:n_run],
        run_rules[:n_run], top_word, top_prob, top_rules,
    )
