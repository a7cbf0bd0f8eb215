"""The automatic OCR corrector: a noisy-channel model over whole words.

For a token ``w`` the model compares the hypothesis "``w`` is what was
printed" with every candidate ``c`` that learned OCR confusions turn into
``w`` (``c`` -> ``e``, ``rn`` -> ``m``, ...)::

    score(c) = prior(c) * P(w | c)         P(w | c) = product of confusion probabilities
    score(w) = prior(w)                    (no confusion needed)
    confidence(c) = score(c) / (score(w) + sum of all candidate scores)

and makes the change only when the best candidate's confidence reaches
``min_confidence``. Priors:

* a word the lexicon (wordfreq) knows: its frequency (times ``LEXICON_TRUST``
  when it is the token itself: without context, a real word stays);
* a word the lexicon does not know: ``OOV_RATE * P_char(word)``, a character
  trigram model of the language's word shapes (``Pctrograd`` and ``Chalidzc``
  are unlikely shapes; ``Tammerfors`` is an ordinary one);
* the run's own frequency of a word, where higher (``Chalidze`` spelled right
  elsewhere), for candidates spelled at least as plausibly as the token. A
  token's own first occurrences are no evidence for itself: they are what is
  in question.

Everything derived from the lexicon is cached per process (``functools.cache``),
so building a model per shard is cheap and pickling a corrector carries only
its settings.
"""

from __future__ import annotations

import collections
import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import regex

from corpusclean import disk_cache
from corpusclean.edits import Edit
from corpusclean.ocr_search import CandidateSearch, ConfusionArrays, Trie, rule_name

STAGE = "ocr"

# --- tuning constants (set on the bench dev data, see bench/ocr_bench.py) -----
OOV_RATE = 0.02
"""Share of running tokens that are genuine words the lexicon lacks."""
CORPUS_WEIGHT = 0.1
"""Weight of a word's frequency in the run against its frequency in the lexicon."""
TRUSTED_FREQUENCY = 1e-6
"""Lexicon words at least this frequent are never questioned (no context model yet)."""
SHAPE_TOLERANCE = math.log(0.05)
"""A run-only candidate may look this much less word-like than the token it replaces."""
LEXICON_TRUST = 300.0
"""A token the lexicon knows needs this much stronger evidence to change (no context model)."""
SELF_DISCOUNT = 2
"""A token's own occurrences beyond this many count as evidence that it is a real word."""
MAX_CONFUSIONS = 3
"""Most confusions assumed in one word (see :func:`confusion_budget`)."""
MIN_CONFUSION = 1e-4
"""Rarer learned confusions are not used: they cost search time and only add noise."""
MIN_INDEL = 3e-7
"""Rarer learned drops and additions of a character are not used (they are spread over every position).
Just below the add-one estimate of a letter the learn data never adds (1 in 2.5 million places)."""
MIN_CHANNEL = 1e-9
"""Candidates whose confusions are jointly less likely than this are not generated."""
MIN_CANDIDATE_FREQUENCY = 0.0
"""Rarer lexicon words are never proposed as corrections (they still count as words when seen).
Zero: real names sit at the bottom of the list (``Scheidemann`` 1.7e-8, ``Rowohlt`` 1.3e-8)."""
COMMON_CANDIDATE = 1e-5
"""Candidates at least this frequent need no shape evidence (see looks_like_a_fix)."""
SHAPE_GAIN = -1.5
"""How much more word-like (log char-model probability) a rarer candidate must be than the token."""
MIN_LETTERS = 3
"""Shorter tokens are too ambiguous to correct without context."""
CHAR_LM_WORDS = 60_000
"""Most frequent lexicon words the character model learns word shapes from."""
RAW_FLOOR = 0.5
"""Candidates whose raw posterior reaches this are kept for calibration (see :class:`Calibration`)."""
ANCHOR_FREQUENCY = 0.0
"""First-pass fixes to a candidate at least this frequent, with raw posterior >= ANCHOR_POSTERIOR,
are the run's anchors: the confusions they use estimate how this corpus's OCR errs."""
ANCHOR_POSTERIOR = 0.95
MIN_LIFT = -0.3
"""A change whose rarest confusion this run makes clearly less often than OCR in general (log lift below
this: under about three quarters as often) is not made."""
PROFILE_OVERRIDE_POSTERIOR = 0.99999
"""A change this certain on its own (odds 100,000 to 1: ``insensiblc`` -> ``insensible``) is made whatever the run
profile says of its confusion: the profile is an estimate from the run's first pass. At 0.9999 the changes it let
through were 0.66-0.85 precise; at this bar ICDAR, BLN600 and GHT gain 0.08, 0.05 and 0.03 points at the same precision."""
CAPITALISED_RARE_LIFT = 1.5
"""The log lift a capitalised word needs to become a rare candidate (a name for a name)."""
INLINE_JOIN_FREQUENCY = 1e-7
"""A hyphenated token is joined into a lexicon word at least this frequent (or one the run writes whole, below)."""
FRAGMENT_FREQUENCY = 1e-6
"""A hyphen's half rarer than this is a fragment of a broken word (``ridi``, ``culous``), not a word."""
RUN_JOIN_MIN_COUNT = 3
"""A broken word rarer than :data:`INLINE_JOIN_FREQUENCY` is joined if the run writes it whole this often."""
INLINE_JOIN_CONFIDENCE = 0.95
"""Share of such joins the ICDAR 2017 learn part's gold text confirms (bench/ocr_bench.py measures it)."""
SPACE_LOST = 1e-3
"""Probability that OCR drops the space between two words (merged tokens are about 1 in 1,000 in the dev sets)."""
SPLIT_MIN_FREQUENCY = 1e-6
"""Each half of a split must be a lexicon word at least this frequent."""
SPLIT_COMMON_WORD = 1e-3
"""One half of a split must be this frequent (a function word: OCR loses the space beside ``of``, ``the``, ``was``)."""
SPLIT_MIN_FIT = 0.3
"""A split's two words must be seen together at least this share of what chance has it (see ocr_context)."""
SPLIT_MIN_LENGTH = 4
"""Shorter tokens are not split."""
ONE_LETTER_WORD = 1e-2
"""A one-letter half must be this frequent a word (English ``a`` and ``I``)."""
MIXED_CASE_CONFIDENCE = 0.95
"""Confidence of writing an OCR mixed-case spelling of a known word in its case (``waS`` -> ``was``)."""
NOISE_JOIN_FREQUENCY = 1e-6
"""A word with a stray mark inside is rejoined only into a lexicon word at least this frequent."""
NOISE_JOIN_CONFIDENCE = 0.9
"""Share of such joins the dev sets' gold text confirms (bench/ocr_bench.py)."""
RUN_EXCESS = 10.0
"""A lexicon word the run has more than this many times the count its candidate's misreadings would give
(plus one) is a word of the run's own, never a misreading of that candidate."""
RUN_EXCESS_FREQUENCY = 1e-4
"""RUN_EXCESS applies to lexicon words rarer than this (wilt, forgat, shewed; not he, be)."""
REFERENCE_CHANGED_SHARE = 0.0044
"""Share of token occurrences the word-level pass changes on the ICDAR 2017 learn part (bench/ocr_bench.py data)."""
MIN_NOISE, MAX_NOISE = 0.05, 4.0
"""Bounds of a run's noise relative to the reference."""
REAL_WORD_TRUST = 0.3
"""With context, how much likelier a word the lexicon knows is to be what was printed than its frequency says."""
CONTEXT_CANDIDATES = 5
"""Corrections of one token that context chooses among at most."""
CONTEXT_MIN_ODDS = 1e-3
"""A token is weighed in context only if its best candidate scores at least this share of keeping it
(and only candidates scoring that share of the likeliest reading are weighed)."""

TALL_LOWER = frozenset("bdfhkl")
"""Lower-case letters with an ascender, which OCR reads as capitals (``l`` as ``I``)."""

_ROMAN_RE = regex.compile(r"^(?=[mdclxvi]+$)m*(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
_POSSESSIVE_RE = regex.compile(r"^(?P<stem>.+?)(?P<suffix>['’][sS])$")
# A line-break hyphen as it reaches the stage: hard-wrapped lines joined with a space.
HYPHEN_BREAK_RE = regex.compile(r"(?<![\p{L}\p{N}\-])(\p{L}+)-([ \t]*\n?[ \t]*)(\p{L}+)(?![\p{L}\p{N}])")
# Second halves that show the hyphen was a real one left dangling ("pre- and post-war").
_DANGLING_HYPHEN_NEXT = frozenset({"and", "or", "nor", "to", "und", "et", "ou", "y", "o"})


@dataclass(frozen=True, slots=True)
class Correction:
    """The model's verdict on one lower-cased word."""

    word: str
    rule: str
    confidence: float


@functools.cache
def load_confusions() -> dict[str, tuple[tuple[str, float], ...]]:
    """The shipped confusion table: observed string -> ((intended, P(observed | intended)), ...)."""
    table: dict[str, list[tuple[str, float]]] = collections.defaultdict(list)
    text = resources.files("corpusclean").joinpath("data/ocr_confusions.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("observed\t"):
            continue
        observed, intended, _count, _total, probability = line.split("\t")
        if float(probability) >= (MIN_CONFUSION if observed and intended else MIN_INDEL):
            table[observed].append((intended, float(probability)))
    return {observed: tuple(sorted(pairs, key=lambda p: -p[1])) for observed, pairs in table.items()}


@functools.cache
def load_lexicon(language: str) -> dict[str, float]:
    """wordfreq's word frequencies for ``language`` (its large list where there is one)."""
    import wordfreq

    wordlist = "large" if language in wordfreq.available_languages("large") else "best"
    key = disk_cache.entry_key("lexicon", ["wordfreq"], [], [language, wordlist])
    return disk_cache.cached(key, lambda: wordfreq.get_frequency_dict(language, wordlist))


JOIN_LEXICON_FREQUENCY = min(INLINE_JOIN_FREQUENCY, NOISE_JOIN_FREQUENCY)


@functools.cache
def load_join_lexicon(language: str) -> dict[str, float]:
    """The lexicon's words at least :data:`JOIN_LEXICON_FREQUENCY` frequent: all that joining a broken word asks.

    :func:`join_inline_hyphen` and the stray-mark joins only compare
    frequencies with thresholds at or above that one, so they decide alike
    with this as with the whole lexicon; it is a third of its size, and it is
    what an OCR worker loads (the whole list was 32 MB of each worker's Python objects).
    """
    key = disk_cache.entry_key("join-lexicon", ["wordfreq"], [], [language, JOIN_LEXICON_FREQUENCY])
    return disk_cache.cached(key, lambda: {w: f for w, f in load_lexicon(language).items() if f >= JOIN_LEXICON_FREQUENCY})


class CharModel:
    """An interpolated character-trigram model of word shapes (lower case).

    Trained on the lexicon's most frequent word *types*, so it says how
    ordinary a spelling looks, not how common the word is.
    """

    BOUNDARY = "^"
    END = "$"
    WEIGHTS = (0.75, 0.2, 0.05)  # trigram, bigram, unigram

    def __init__(self, words: Iterable[str]) -> None:
        tri: collections.Counter[str] = collections.Counter()
        bi: collections.Counter[str] = collections.Counter()
        uni: collections.Counter[str] = collections.Counter()
        for word in words:
            padded = "^^" + word + "$"
            uni.update(padded[2:])
            bi.update(padded[i : i + 2] for i in range(1, len(padded) - 1))
            tri.update(padded[i : i + 3] for i in range(len(padded) - 2))
        # context counts: how often each history was followed by anything
        self._tri = tri
        self._bi = bi
        self._uni = uni
        self._bi_ctx: collections.Counter[str] = collections.Counter()
        for gram, n in tri.items():
            self._bi_ctx[gram[:2]] += n
        self._uni_ctx: collections.Counter[str] = collections.Counter()
        for gram, n in bi.items():
            self._uni_ctx[gram[:1]] += n
        self._total = sum(uni.values())
        self._alphabet = max(len(uni), 1)
        self._gram_cache: dict[str, float] = {}
        self._word_cache: dict[str, float] = {}

    def log_prob(self, word: str) -> float:
        """Natural log of P(word) under the model, end of word included (memoised per word)."""
        cached = self._word_cache.get(word)
        if cached is None:
            padded = "^^" + word + "$"
            gram_cache = self._gram_cache
            cached = 0.0
            for i in range(len(padded) - 2):
                gram = padded[i : i + 3]
                logp = gram_cache.get(gram)
                if logp is None:
                    logp = gram_cache[gram] = self._gram_log_prob(gram)
                cached += logp
            self._word_cache[word] = cached
        return cached

    def _gram_log_prob(self, gram: str) -> float:
        """Interpolated log P(gram[2] | gram[:2])."""
        w3, w2, w1 = self.WEIGHTS
        ctx2 = self._bi_ctx.get(gram[:2], 0)
        ctx1 = self._uni_ctx.get(gram[1], 0)
        p3 = self._tri.get(gram, 0) / ctx2 if ctx2 else 0.0
        p2 = self._bi.get(gram[1:], 0) / ctx1 if ctx1 else 0.0
        p1 = (self._uni.get(gram[2], 0) + 0.5) / (self._total + 0.5 * self._alphabet)
        return math.log(w3 * p3 + w2 * p2 + w1 * p1)


@functools.cache
def load_lexicon_trie(language: str) -> Trie:
    """The lexicon words that may be proposed as corrections, as a search trie (built once per process).

    Words rarer than :data:`MIN_CANDIDATE_FREQUENCY` are left out (each one
    widens the search).
    """
    key = disk_cache.entry_key("lexicon-trie", ["wordfreq"], _BUILD_SOURCES, [language, MIN_CANDIDATE_FREQUENCY])
    return disk_cache.cached(key, lambda: Trie(w for w, f in load_lexicon(language).items() if f >= MIN_CANDIDATE_FREQUENCY))


@functools.cache
def lexicon_frequencies(language: str) -> np.ndarray:
    """Lexicon frequency of each word of :func:`load_lexicon_trie`, by word id."""
    lexicon = load_lexicon(language)
    return np.array([lexicon[w] for w in load_lexicon_trie(language).words], np.float64)


@functools.cache
def load_confusion_arrays() -> ConfusionArrays:
    return ConfusionArrays.build(load_confusions())


@functools.cache
def load_char_model(language: str) -> CharModel:
    def build() -> CharModel:
        # dict order is by descending frequency in wordfreq
        return CharModel([w for w in load_lexicon(language) if w.isalpha()][:CHAR_LM_WORDS])

    return disk_cache.cached(disk_cache.entry_key("char-model", ["wordfreq"], _BUILD_SOURCES, [language, CHAR_LM_WORDS]), build)


_BUILD_SOURCES = [Path(__file__), Path(__file__).with_name("ocr_search.py")]
"""The modules whose code shapes what :func:`load_lexicon_trie` and :func:`load_char_model` build."""


def fold_vocabulary(vocabulary: Mapping[str, int] | None) -> dict[str, int]:
    """Case-folded counts (``Chalidze`` and ``CHALIDZE`` vouch for each other)."""
    folded: dict[str, int] = collections.defaultdict(int)
    for word, count in (vocabulary or {}).items():
        folded[word.lower()] += count
    return dict(folded)


@functools.lru_cache(maxsize=1 << 18)
def confusion_budget(word: str) -> int:
    """How many confusions a word of this length may hold: ``tbe`` 1, ``tlic`` 2, ``Licbkncchl`` :data:`MAX_CONFUSIONS`."""
    return min(MAX_CONFUSIONS, 1 + len(word) // 4)


def has_correctable_shape(token: str) -> bool:
    """Whether a bare word is shaped like prose the model may judge (decided without any model data).

    Too short to judge without context, numbers, ordinals and codes, mixed
    case (``VChK``, ``McDonald``, ``collectionNicolaevsky``; but see
    :func:`ocr_mixed_case`) and short acronyms are left alone.
    """
    if token.isalpha():  # the usual word: all letters, no digit (no character is both), counted at once
        if len(token) < MIN_LETTERS:
            return False
    else:
        if sum(ch.isalpha() for ch in token) < MIN_LETTERS:
            return False
        digits = sum(ch.isdigit() for ch in token)
        if digits > 1 or (digits and (token[0].isdigit() or token[-1].isdigit())):
            return False
    if not (token.islower() or token.isupper() or token.istitle()):
        return ocr_mixed_case(token) is not None
    return not (token.isupper() and len(token) <= 5)


_LOWER_WITH_CAPITALS_RE = regex.compile(r"^(?![ie]\p{Lu})\p{Ll}+\p{Lu}[\p{L}]*$")
_TWO_CAPITALS_RE = regex.compile(r"^\p{Lu}{2}\p{Ll}{3,}$")
_RUN_TOGETHER_RE = regex.compile(r"\p{Ll}{2}\p{Lu}\p{Ll}")  # as ocr.count_vocabulary splits tokens


def ocr_mixed_case(token: str) -> str | None:
    """How a word OCR wrote in mixed case is written: ``"lower"`` (``waS``, ``shaU``), ``"title"`` (``FRench``), or ``None``.

    A lower-case word with capitals inside is OCR's doing (``U`` for
    ``ll``, ``H`` for ``li``), except the ``iPhone``/``eBay`` pattern; so
    is a capitalised word whose second letter is a capital too. Names and
    codes (``McDonald``, ``VChK``, ``PhD``, ``MPs``) match neither.
    """
    if _RUN_TOGETHER_RE.search(token):
        return None  # two words run together (inBoris): the run's vocabulary counts them as two
    if _LOWER_WITH_CAPITALS_RE.match(token):
        # mostly capitals (tRAGEDY) is a capitalised heading with one misread letter: not ours to guess
        return "lower" if 2 * sum(ch.isupper() for ch in token) < len(token) else None
    if _TWO_CAPITALS_RE.match(token):
        return "title"
    return None


PLURAL_STEM_RATIO = 10.0
"""A word this many times as frequent as itself without its last ``s`` is no plural of it (``this``, ``his``, ``was``)."""


def is_plural_guess(token: str, candidate: str, lexicon: Mapping[str, float] | None = None) -> bool:
    """Whether the correction only turns the token's last letter into ``s``, making a plural or third person.

    A stray last character (``speakl``, ``queeni``) or an archaic ``-e``
    (``meane``) is as likely as a misread ``s``, and the plural or third
    person is a different word from the one printed. With ``lexicon``, a
    candidate :data:`PLURAL_STEM_RATIO` times as frequent as its stem is
    a word of its own, not an inflection (``thia`` -> ``this``, ``hie`` ->
    ``his``, ``waa`` -> ``was``; but ``ita`` -> ``its`` stays a guess).
    """
    if not (len(token) == len(candidate) and candidate.endswith("s") and not token.endswith("s")
            and token[:-1] == candidate[:-1]):
        return False
    if lexicon is None:
        return True
    return lexicon.get(candidate, 0.0) < PLURAL_STEM_RATIO * lexicon.get(candidate[:-1], 0.0)


INFLECTION_ENDINGS = frozenset({"s", "es", "e", "d", "ed", "t", "st", "est", "th", "eth", "n", "en", "r", "er", "y", "ly"})
"""Endings that make another form of a word (plural, old -e, past, -est/-eth verbs, comparatives): not misreadings."""


def is_variant_spelling(token: str, candidate: str, lexicon: Mapping[str, float] | None = None) -> bool:
    """Whether ``candidate`` is another form of the word ``token`` spells rather than what OCR misread.

    A plural guess (:func:`is_plural_guess`); one of the two is the other
    with an ending of :data:`INFLECTION_ENDINGS` added (an inflection or old spelling:
    ``Grandchamps``/``Grandchamp``, ``leavest``/``leaves``, ``muche``/``much``);
    or they differ by one ``e`` (``rendred``/``rendered``). Dropped and added
    characters make such guesses possible, and print has all these forms.
    """
    if is_plural_guess(token, candidate, lexicon):
        return True
    short, long = sorted((token, candidate), key=len)
    if len(long) > len(short) and long.startswith(short) and long[len(short):] in INFLECTION_ENDINGS:
        return True
    if len(long) == len(short) + 1:
        return any(long[k] == "e" and long[:k] + long[k + 1 :] == short for k in range(len(long)))
    return False


def join_inline_hyphen(token: str, lexicon: Mapping[str, float], vocabulary: Mapping[str, int] | None = None) -> str | None:
    """``ridi-culous`` -> ``ridiculous``: a word broken by a line-end hyphen whose line break was lost.

    Joined only when one half is no word of its own (rarer than
    :data:`FRAGMENT_FREQUENCY`: ``to-day`` and ``note-book`` are compounds
    of their time and stay) and the joined word is known: to the lexicon, at
    least :data:`INLINE_JOIN_FREQUENCY`, or to the run's ``vocabulary``,
    which writes it joined at least :data:`RUN_JOIN_MIN_COUNT` times
    (``coun-tenances``: ``countenances`` is rarer than the lexicon's bar).
    Needs only the lexicon, so a worker that ships the decision map alone
    never builds the model for it.
    """
    left, sep, right = token.partition("-")
    if not sep or len(left) < 2 or len(right) < 2 or not left.isalpha() or not right.isalpha():
        return None
    if not right.islower() or not (left.islower() or left.istitle() or left.isupper()):
        return None
    joined = left + right
    if min(lexicon.get(left.lower(), 0.0), lexicon.get(right, 0.0)) >= FRAGMENT_FREQUENCY:
        return None
    if lexicon.get(joined.lower(), 0.0) >= INLINE_JOIN_FREQUENCY:
        return joined
    return joined if vocabulary and _run_count(vocabulary, joined) >= RUN_JOIN_MIN_COUNT else None


def _run_count(vocabulary: Mapping[str, int], word: str) -> int:
    """How often the run writes ``word`` as it stands, in lower case or capitalised."""
    return sum(vocabulary.get(form, 0) for form in {word, word.lower(), word[:1].upper() + word[1:].lower()})


@dataclass(frozen=True, slots=True)
class ContextCandidates:
    """A token's hypotheses for the context pass: the unigram score of keeping it and of each candidate."""

    keep: float
    candidates: tuple[tuple[str, float, str], ...]
    """(candidate, score, rule), best score first."""
    known: bool = False
    """Whether the token is a lexicon word (a real-word error if wrong): no word-level verdict to defer to."""

    def __reduce__(self):
        # A constructor call: a slots dataclass's own pickling looks its fields up for every object, which
        # was 0.2 s of each OCR worker's start (a run's 10,000 of them in the settings it loads).
        return ContextCandidates, (self.keep, self.candidates, self.known)


@dataclass
class NoisyChannelModel:
    """The automatic corrector for one run (see the module docstring)."""

    lexicon: dict[str, float]
    char_model: CharModel
    confusions: dict[str, tuple[tuple[str, float], ...]]
    corpus: dict[str, int]
    min_confidence: float
    corpus_total: int = 1
    language: str = "en"
    lexicon_trie: Trie | None = None
    searcher: CandidateSearch | None = None
    """Candidates for a token the run writes once: the lexicon and the run's words (see :data:`RUN_ONCE_CANDIDATES`)."""
    repeated_searcher: CandidateSearch | None = None
    """Candidates for a token the run repeats: the lexicon and every word of the run."""
    lexicon_priors: np.ndarray | None = None
    cased: Mapping[str, int] = field(default_factory=dict)
    _cache: dict[str, Correction | None] = field(default_factory=dict)
    _lexicon_errors: dict[str, bool] = field(default_factory=dict)
    _context_cache: dict[str, "ContextCandidates | None"] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        language: str,
        corpus_vocabulary: Mapping[str, int] | None,
        protected: Iterable[str],
        min_confidence: float,
    ) -> "NoisyChannelModel":
        confusions = load_confusions()
        corpus = fold_vocabulary(corpus_vocabulary)
        lexicon = load_lexicon(language)
        lexicon_trie = load_lexicon_trie(language)
        corpus_total = max(1, sum(corpus.values()))
        # A lexicon word's prior is its lexicon or run frequency, whichever is
        # higher (see candidate_prior); precomputed so the compiled search scores it.
        priors = lexicon_frequencies(language).copy()
        for word, count in corpus.items():
            k = lexicon_trie.word_id(word)
            if k >= 0:
                priors[k] = max(priors[k], CORPUS_WEIGHT * count / corpus_total)
        return cls(
            lexicon=lexicon,
            char_model=load_char_model(language),
            confusions=confusions,
            corpus=corpus,
            min_confidence=min_confidence,
            corpus_total=corpus_total,
            cased=corpus_vocabulary or {},
            language=language,
            lexicon_priors=priors,
            lexicon_trie=lexicon_trie,
            **_run_searchers(lexicon_trie, {w: n for w, n in corpus.items() if w not in lexicon}),
        )

    def adapt_channel(self, confusions: Mapping[str, tuple[tuple[str, float], ...]]) -> None:
        """Search with ``confusions`` (the run's re-estimated table) from now on, forgetting every verdict made without it."""
        shipped, given = (
            {rule_name(o, i): p for o, pairs in table.items() for i, p in pairs} for table in (load_confusions(), confusions)
        )
        self.run_systematic = frozenset(rule for rule, p in given.items() if p > shipped.get(rule, p))
        self.confusions = dict(confusions)
        arrays = ConfusionArrays.build(confusions)
        rebuilt = {id(s): CandidateSearch(s.lexicon, s.run, arrays) for s in self.searchers()}
        self.searcher, self.repeated_searcher = rebuilt[id(self.searcher)], rebuilt[id(self.repeated_searcher)]
        self._cache.clear()
        self._lexicon_errors.clear()
        self._context_cache.clear()

    def searchers(self) -> list[CandidateSearch]:
        """:attr:`searcher` and :attr:`repeated_searcher`, once each (a small run has one search for both)."""
        return list({id(s): s for s in (self.searcher, self.repeated_searcher)}.values())

    def searcher_for(self, word: str) -> CandidateSearch:
        """The search whose run words may correct lower-case ``word`` (see :data:`RUN_ONCE_CANDIDATES`)."""
        return self.repeated_searcher if self.corpus.get(word, 0) > 1 else self.searcher

    # --- word-level decision -------------------------------------------------

    def corpus_rate(self, word: str, discount: int = 0) -> float:
        """The word's frequency in this run, damped by :data:`CORPUS_WEIGHT` (the run has OCR noise)."""
        count = self.corpus.get(word, 0) - discount
        return CORPUS_WEIGHT * count / self.corpus_total if count > 0 else 0.0

    def prior(self, word: str) -> float:
        """Prior probability that the token ``word`` (lower case) is what was printed.

        A known word repeated often in the run is likelier real (archaic
        ``whan``); its first :data:`SELF_DISCOUNT` occurrences are not
        counted, as an OCR error can repeat too. For unknown tokens,
        :meth:`_decide` adds the run's evidence only against candidates
        spelled less plausibly than the token (``Licbknccht`` repeated eleven
        times is still an error).
        """
        frequency = self.lexicon.get(word)
        if frequency is not None:
            return LEXICON_TRUST * max(frequency, self.corpus_rate(word, SELF_DISCOUNT))
        return OOV_RATE * math.exp(self.char_model.log_prob(word))

    def is_systematic(self, rules: Iterable[str]) -> bool:
        """Whether ``rules`` (one correction's confusions) are all confusions this run makes systematically (:attr:`run_systematic`)."""
        rules = set(rules)
        return bool(rules) and rules <= self.run_systematic

    def unknown_keep(self, word: str, best: str, rules: Iterable[str]) -> float:
        """The score of keeping a token the lexicon lacks, against its best correction ``best`` (by confusions ``rules``).

        Its shape prior, or its frequency in the run where higher and the
        token is spelled at least as plausibly as ``best`` (the run's
        repetitions vouch for a name, not for ``Licbknccht``), unless the
        run makes ``rules`` systematically (:attr:`run_systematic`).
        """
        keep = self.prior(word)
        if self.is_systematic(rules):
            return keep
        repeated = self.corpus_rate(word, SELF_DISCOUNT)
        if repeated > keep and self.char_model.log_prob(word) >= self.char_model.log_prob(best):
            return repeated
        return keep

    def candidate_prior(self, word: str, token: str) -> float:
        """Prior of ``word`` as the intended spelling of the OCR token ``token``.

        Its frequency in the lexicon or in this run, whichever is higher (a
        name the run's topic uses often). A word only the run knows must also
        be spelled at least as plausibly as the token: the run's vocabulary
        holds the OCR errors too.
        """
        frequency = self.lexicon.get(word)
        rate = self.corpus_rate(word)
        if frequency is not None:
            return max(frequency, rate)
        if not rate:
            return 0.0
        # The rarer of two spellings in the run must look more word-like to
        # win, by at least the log of how much rarer it is: the counts are
        # evidence too (Chalidzc x2 -> Chalidze x1, never Dzerzhinskii x2 ->
        # Dzerzhiaskii x1, nor a name the run spells Grandchamps eight times
        # -> Grandehamps x1).
        word_count, token_count = self.corpus.get(word, 0), self.corpus.get(token, 0)
        if word_count >= token_count:
            tolerance = SHAPE_TOLERANCE
        else:
            tolerance = math.log(token_count / word_count)
        if self.char_model.log_prob(word) < self.char_model.log_prob(token) + tolerance:
            return 0.0
        if self.is_lexicon_error(word):
            return 0.0  # itself an OCR error of a known word (Licbkncchl is not Licbknccht)
        return rate

    def is_lexicon_error(self, word: str) -> bool:
        """Whether the lexicon alone would correct ``word`` (cached; no run evidence, so no recursion)."""
        try:
            return self._lexicon_errors[word]
        except KeyError:
            verdict = self._decide(word, use_corpus=False) is not None
            self._lexicon_errors[word] = verdict
            return verdict

    def best_candidate(self, word: str, use_corpus: bool = True) -> tuple[str | None, float, float, Callable[[], tuple[str, ...]]]:
        """The likeliest intended spelling of OCR token ``word`` among those confusions turn into it.

        Candidates are words that at most :data:`MAX_CONFUSIONS` learned
        confusions (fewer in short words), jointly at least
        :data:`MIN_CHANNEL` likely, turn into ``word``, scored
        ``candidate_prior * P(word | candidate)``. Returns (best candidate or
        ``None``, its score, the sum of all candidates' scores, its
        confusions as a thunk). Without ``use_corpus`` only the lexicon
        counts, by its frequencies alone.
        """
        max_confusions = confusion_budget(word)
        priors = self.lexicon_priors if use_corpus else lexicon_frequencies(self.language)
        searcher = self.searcher_for(word) if use_corpus else self.searcher
        found = searcher.search(word, max_confusions, MIN_CHANNEL, priors, use_run=use_corpus)
        best, best_score, total = found.best, found.best_score, found.total
        best_chain = found.best_chain
        for candidate, channel, chain in found.run_words:
            if candidate == word:
                continue
            prior = self.candidate_prior(candidate, word)
            if not prior:
                continue
            score = prior * channel
            total += score
            if score > best_score:
                best, best_score, best_chain = candidate, score, chain
        return best, best_score, total, functools.partial(found.explain, best_chain)

    def prefetch(self, words: Iterable[str]) -> None:
        """Search ahead, in one compiled call each, for every lower-cased word :meth:`correct_word` would ask about.

        Then the lexicon-only searches that :meth:`is_lexicon_error` will
        need for the run's own candidates, likewise batched. A pure speed-up:
        :meth:`best_candidate` gets the same results it would search for.
        """
        if self.searcher is None:
            return
        wanted: dict[str, None] = {}
        trusted, cache = self.is_trusted, self._cache
        for word in words:
            if not has_correctable_shape(word):
                continue
            lower = word.lower()
            if lower in wanted or lower in cache or trusted(lower) or _ROMAN_RE.match(lower):
                continue
            wanted[lower] = None
        if not wanted:
            return
        # run-only candidates that pass candidate_prior's shape test are checked for being lexicon errors
        errors: dict[str, None] = {}
        known = self._lexicon_errors
        for searcher in self.searchers():
            tokens = [w for w in wanted if self.searcher_for(w) is searcher]
            searcher.prefetch(
                tokens, [confusion_budget(w) for w in tokens], MIN_CHANNEL, self.lexicon_priors, True
            )
            for token, candidates in searcher.prefetched_run_words(tokens):
                for candidate in candidates:
                    if candidate == token or candidate in errors or candidate in known:
                        continue
                    if self._passes_shape(candidate, token):
                        errors[candidate] = None
        if errors:
            more = list(errors)
            self.searcher.prefetch(
                more, [confusion_budget(w) for w in more], MIN_CHANNEL,
                lexicon_frequencies(self.language), False,
            )

    def _passes_shape(self, word: str, token: str) -> bool:
        """Whether a run-only ``word`` passes :meth:`candidate_prior`'s tests before the lexicon-error check."""
        if word in self.lexicon or not self.corpus_rate(word):
            return False
        word_count, token_count = self.corpus.get(word, 0), self.corpus.get(token, 0)
        tolerance = SHAPE_TOLERANCE if word_count >= token_count else math.log(token_count / word_count)
        return self.char_model.log_prob(word) >= self.char_model.log_prob(token) + tolerance

    def decide(self, word: str) -> Correction | None:
        """The correction for lower-case ``word``, or ``None`` to keep it (cached)."""
        try:
            return self._cache[word]
        except KeyError:
            pass
        verdict = self._decide(word)
        self._cache[word] = verdict
        return verdict

    def _decide(self, word: str, use_corpus: bool = True) -> Correction | None:
        if use_corpus and self.is_archaic_spelling(word):
            return None
        best, best_score, total, rules = self.best_candidate(word, use_corpus)
        if best is None:
            return None
        total += self.unknown_keep(word, best, rules()) if use_corpus and word not in self.lexicon else self.prior(word)
        confidence = best_score / total
        # With the run's evidence the raw posterior only shortlists: the
        # corrector calibrates it (ocr.OcrCorrector) and applies min_confidence.
        if confidence < (RAW_FLOOR if use_corpus else self.min_confidence):
            return None
        if use_corpus and (not self.looks_like_a_fix(word, best) or is_variant_spelling(word, best, self.lexicon)):
            return None
        return Correction(best, "confusion " + " ".join(rules()), confidence)

    def prefetch_context(self, words: Iterable[str]) -> None:
        """Search ahead, in one compiled call, for the lexicon words among ``words`` (lower case) :meth:`context_candidates` will weigh.

        The run's other tokens were searched by :meth:`prefetch` already,
        with the same settings context uses. A pure speed-up.
        """
        if self.searcher is None:
            return
        known = [w for w in dict.fromkeys(words) if w in self.lexicon and w not in self._context_cache]
        if known:
            self.searcher.prefetch(known, [1] * len(known), MIN_CHANNEL, lexicon_frequencies(self.language), False)

    noise: float = 1.0
    """How much noisier this run's OCR is than the ICDAR learn part's (see :meth:`set_noise`); scales real-word readings."""
    run_systematic: frozenset[str] = frozenset()
    """Confusions this run makes far more often than OCR in general (those :meth:`adapt_channel` was given likelier).

    A token whose likeliest correction uses only these gets no credit for
    the run repeating it: HathiTrust text that loses every ``fi`` writes
    ``condence`` as often as the book says ``confidence``, and ``oor`` (a
    word to the lexicon) as often as ``floor``."""

    def set_noise(self, changed_share: float) -> None:
        """Tell the model what share of the run's tokens the word-level pass changes.

        Real-word errors (``he`` for ``be``) come at the rate of the run's
        other OCR errors: a clean run gets fewer real-word changes than a
        noisy one, whose every occurrence is otherwise judged alike.
        """
        self.noise = min(max(changed_share / REFERENCE_CHANGED_SHARE, MIN_NOISE), MAX_NOISE)
        self._context_cache.clear()

    def context_candidates(self, word: str) -> ContextCandidates | None:
        """What context may choose among for lower-case ``word``: keeping it, or its likeliest corrections.

        Scores are the unigram model's (prior times channel; the token's own
        prior for keeping it), so with no context evidence the choice is the
        one :meth:`decide` would make before its filters. A word the lexicon
        knows (a real-word error, ``tor`` for ``for``) is weighed against
        frequent words one confusion away, and keeping it is
        :data:`REAL_WORD_TRUST` times likelier than its frequency says.
        ``None`` when no candidate could win even with the strongest context
        (see :data:`CONTEXT_MIN_ODDS`). Cached per word.
        """
        try:
            return self._context_cache[word]
        except KeyError:
            pass
        found = self._context_candidates(word)
        self._context_cache[word] = found
        return found

    def _context_candidates(self, word: str) -> ContextCandidates | None:
        known = word in self.lexicon
        if known:
            keep = REAL_WORD_TRUST * max(self.lexicon[word], self.corpus_rate(word, SELF_DISCOUNT))
            ranked = self.searcher.ranked(word, 1, MIN_CHANNEL, lexicon_frequencies(self.language), CONTEXT_CANDIDATES)
            # only for a word rare in the language at large: two common words (he/be) are left to context
            count = self.corpus.get(word, 0) if self.lexicon[word] < RUN_EXCESS_FREQUENCY else 0
            scored = [
                (c, lexicon_frequencies(self.language)[self.lexicon_trie.word_id(c)] * p * self.noise, rules)
                for c, p, rules in ranked
                if self.lexicon.get(c, 0.0) >= COMMON_CANDIDATE and not is_variant_spelling(word, c, self.lexicon)
                # misreadings of c cannot explain this many of the word: the run writes it (thou wilt, forgat)
                and not self.is_run_word(count, c, p)
            ]
        else:
            if self.is_archaic_spelling(word):
                return None
            max_confusions = confusion_budget(word)
            searcher = self.searcher_for(word)
            ranked = searcher.ranked(word, max_confusions, MIN_CHANNEL, self.lexicon_priors, CONTEXT_CANDIDATES)
            channels = [(c, self.lexicon_priors[self.lexicon_trie.word_id(c)], p, rules) for c, p, rules in ranked]
            found = searcher.search(word, max_confusions, MIN_CHANNEL, self.lexicon_priors)
            for candidate, channel, chain in found.run_words:
                prior = self.candidate_prior(candidate, word) if candidate != word else 0.0
                if prior:
                    channels.append((candidate, prior, channel, found.explain(chain)))
            count = self.corpus.get(word, 0)
            scored = [
                (c, prior * p, r) for c, prior, p, r in channels
                if self.looks_like_a_fix(word, c) and not is_variant_spelling(word, c, self.lexicon)
                and not self.is_run_word(count, c, p)  # the run's own word (forgat)
            ]
        scored.sort(key=lambda item: -item[1])
        scored = scored[:CONTEXT_CANDIDATES]
        if not known:
            keep = self.unknown_keep(word, scored[0][0], scored[0][2]) if scored else 0.0
        elif scored and self.is_systematic(scored[0][2]):
            keep = REAL_WORD_TRUST * self.lexicon[word]  # the run's repetitions of oor are its lost fl, not a word
        if not scored or scored[0][1] < CONTEXT_MIN_ODDS * keep:
            return None
        floor = CONTEXT_MIN_ODDS * max(keep, scored[0][1])
        scored = [item for item in scored if item[1] >= floor]
        return ContextCandidates(
            float(keep), tuple((c, float(s), "confusion " + " ".join(r)) for c, s, r in scored), known
        )

    def is_run_word(self, count: int, candidate: str, channel: float) -> bool:
        """Whether a token the run writes ``count`` times is a word of its own, not a misreading of ``candidate``.

        It is when misreadings of ``candidate`` (``channel`` of its occurrences,
        times the run's :attr:`noise`) cannot explain :data:`RUN_EXCESS` times
        as many (``thou wilt``, ``forgat``, ``shewed`` in the King James Bible;
        not ``lie`` for ``he`` in newspapers three times as noisy as the ICDAR
        learn part). The candidate's
        occurrences are the run's count, or what its lexicon frequency gives a
        run this size where that is more: a run that drops every ``fi``
        writes ``nd`` far more often than ``find``, whose count its own damage
        keeps down.
        """
        occurrences = max(self.corpus.get(candidate, 0), self.lexicon.get(candidate, 0.0) * self.corpus_total)
        return count > RUN_EXCESS * (channel * self.noise * occurrences + 1)

    def is_archaic_spelling(self, word: str) -> bool:
        """Whether ``word`` is an early-modern spelling of a common word, not OCR damage.

        Older print writes ``u`` for ``v`` (``giuen``, ``haruest``), ``v``
        for a first ``u`` (``vnderstood``), ``y`` for ``i`` (``ryght``) and
        adds a final ``e`` (``towarde``, ``meane``); the gold keeps such
        spellings, while confusions would turn them into other words
        (``gillen``, ``fyght``, ``towards``).
        """
        common = self.is_trusted
        if "u" in word and common(word.replace("u", "v")):
            return True
        if word.startswith("v") and common("u" + word[1:]):
            return True
        if "y" in word[1:] and common(word[0] + word[1:].replace("y", "i")):
            return True
        return len(word) > 3 and word.endswith("e") and common(word[:-1])

    def looks_like_a_fix(self, token: str, candidate: str) -> bool:
        """Whether replacing ``token`` by a rare ``candidate`` makes the spelling clearly more ordinary.

        Names and archaic words the lexicon lacks (``Osbaldiston``,
        ``bygane``) sit one confusion away from some rare word just as OCR
        damage does; what tells them apart is that damage produces shapes
        the language does not make (``Licbknccht``). Candidates at least
        :data:`COMMON_CANDIDATE` frequent are exempt: their prior carries
        the evidence.
        """
        if self.lexicon.get(candidate, 0.0) >= COMMON_CANDIDATE:
            return True
        gain = self.char_model.log_prob(candidate) - self.char_model.log_prob(token)
        return gain >= SHAPE_GAIN

    def mostly_lower(self, word: str) -> bool:
        """Whether the run writes ``word`` in lower case more often than capitalised."""
        return self.cased.get(word, 0) > self.cased.get(word.title(), 0)

    def is_trusted(self, word: str) -> bool:
        """A lexicon word common enough that no unigram evidence could overturn it."""
        return self.lexicon.get(word, 0.0) >= TRUSTED_FREQUENCY

    # --- tokens in text ------------------------------------------------------

    def correct_word(self, token: str) -> Correction | None:
        """Correct one bare word (no possessive, no hyphen), case carried over."""
        from corpusclean.ocr import transfer_case

        if not has_correctable_shape(token):
            return None
        lower = token.lower()
        mixed = ocr_mixed_case(token)
        if mixed is not None:
            cased = lower if mixed == "lower" else lower.title()
            if self.lexicon.get(lower, 0.0) >= COMMON_CANDIDATE:
                return Correction(cased, "case", MIXED_CASE_CONFIDENCE)  # waS -> was
            if self.lexicon.get(lower, 0.0) >= TRUSTED_FREQUENCY:
                return None  # a rare word (hrs, wai): the capital was likely another letter; no evidence which
            verdict = self.decide(lower)  # shaU -> shall
            if verdict is None:
                return None
            return Correction(
                verdict.word if mixed == "lower" else verdict.word.title(), verdict.rule, verdict.confidence
            )
        if self.is_trusted(lower) or _ROMAN_RE.match(lower):
            return None
        verdict = self.decide(lower)
        if verdict is None:
            return None
        if (
            token.istitle() and len(token) > 1 and verdict.word[0] != lower[0]
            and verdict.word[0] in TALL_LOWER and self.mostly_lower(verdict.word)
        ):
            # The capital was itself the misread (Iabour, Httle: a tall
            # lower-case letter read as a capital), so its case is no evidence
            # of a capitalised word; the run says how it is written. Other
            # misread capitals stay capitals (Vhen -> When, not when).
            return Correction(verdict.word, verdict.rule, verdict.confidence)
        return Correction(transfer_case(token, verdict.word), verdict.rule, verdict.confidence)

    def split_run_together(self, token: str) -> Correction | None:
        """``theevening`` -> ``the evening``: two words OCR ran together (a lost space).

        Every split into two lexicon words (each at least
        :data:`SPLIT_MIN_FREQUENCY`, one of them a common word of at least
        :data:`SPLIT_COMMON_WORD`, one-letter words only as frequent as ``a``
        and ``I``, not seen together far less often than chance) is scored ``SPACE_LOST * f(left) * f(right) *
        association(left, right)``; keeping the token scores its prior (a
        rare lexicon entry such as ``inthe`` at its frequency), and a
        confusion fix its noisy-channel score. The best split is returned
        when its posterior reaches ``min_confidence``. Common words
        (``today``, ``anything``) are never split.
        """
        from corpusclean.ocr import transfer_case
        from corpusclean.ocr_context import load_bigram_context

        lower = token.lower()
        if len(lower) < SPLIT_MIN_LENGTH or not lower.isalpha() or self.is_trusted(lower):
            return None
        if not (token.islower() or token.istitle() or token.isupper()):
            return None
        lexicon = self.lexicon
        context = load_bigram_context(self.language)
        scores: list[tuple[float, int]] = []
        for k in range(1, len(lower)):
            left, right = lower[:k], lower[k:]
            f_left, f_right = lexicon.get(left, 0.0), lexicon.get(right, 0.0)
            if min(f_left, f_right) < SPLIT_MIN_FREQUENCY:
                continue
            if (len(left) == 1 and f_left < ONE_LETTER_WORD) or (len(right) == 1 and f_right < ONE_LETTER_WORD):
                continue
            if max(f_left, f_right) < SPLIT_COMMON_WORD:
                continue  # two content words: a compound (streamlet, technostructure), not a lost space
            fit = context.association(left, right) if context is not None else 1.0
            if fit < SPLIT_MIN_FIT:
                continue  # the two are seen together far less than chance has it
            scores.append((SPACE_LOST * f_left * f_right * fit, k))
        if not scores:
            return None
        best_score, k = max(scores)
        keep = lexicon.get(lower) or self.prior(lower)
        _, fix_score, _, _ = self.best_candidate(lower)
        confidence = best_score / (sum(score for score, _ in scores) + keep + fix_score)
        if confidence < self.min_confidence:
            return None
        split = transfer_case(token, lower[:k]) + " " + (lower[k:].upper() if token.isupper() else lower[k:])
        return Correction(split, "split", round(confidence, 4))

    def correct_hyphenation(
        self, text: str, is_frozen: Callable[[str], bool]
    ) -> tuple[list[Edit], list[tuple[int, int]]]:
        """Rejoin words hyphenated across a line break.

        ``revolu- tionary`` becomes ``revolutionary`` when the joined word is
        known (lexicon or the run's vocabulary, or one confident correction
        away from one); ``twenty- seven`` becomes ``twenty-seven`` when both
        halves are words but the join is not. Returns the edits and the spans
        they cover, so the word pass leaves those tokens alone.
        """
        edits: list[Edit] = []
        spans: list[tuple[int, int]] = []
        if "-" not in text:
            return edits, spans
        for match in HYPHEN_BREAK_RE.finditer(text):
            left, gap, right = match.group(1), match.group(2), match.group(3)
            if not gap or min(len(left), len(right)) < 2 or is_frozen(left + right):
                continue
            if right.istitle() and not left[0].isupper():
                continue  # a dash before a new sentence or name, not a broken word
            joined = left + right
            lower = joined.lower()
            after: str | None = None
            rule = "hyphenation"
            confidence = 1.0
            joined_prior = self.lexicon.get(lower, 0.0) + (1e-6 * self.corpus.get(lower, 0))
            compound_prior = min(self.lexicon.get(left.lower(), 0.0), self.lexicon.get(right.lower(), 0.0))
            if joined_prior > 0 and joined_prior >= compound_prior * 1e-2:
                after = joined
            elif right.lower() in _DANGLING_HYPHEN_NEXT:
                continue
            elif min(len(left), len(right)) >= 3 and TRUSTED_FREQUENCY <= compound_prior <= 1e-3:
                after, rule = f"{left}-{right}", "hyphenation compound"
            else:
                fix = self.correct_word(joined)
                if fix is not None and fix.confidence >= self.min_confidence:
                    after, rule, confidence = fix.word, f"hyphenation {fix.rule}", round(fix.confidence, 4)
            if after is None:
                continue
            edits.append(Edit(STAGE, rule, match.start(), match.group(), after, confidence))
            spans.append(match.span())
        return edits, spans


# --- calibration -------------------------------------------------------------

CALIBRATION_FEATURES = (
    "bias", "logit_raw", "log_freq", "run_only", "capitalised", "capitalised_rare", "confusions",
    "shape_gain", "run_support", "length", "token_run", "candidate_run", "token_known", "run_error_rate", "edit_at_start", "edit_at_end",
)


RUN_PRIOR_WEIGHT = 20.0
"""Anchors' worth of the learned confusion shares mixed into a run's own (small runs lean on the shares)."""


@functools.cache
def confusion_shares() -> dict[str, float]:
    """Share of all learned OCR errors made by each confusion (``c>e``), from the shipped table's counts."""
    counts: dict[str, float] = {}
    text = resources.files("corpusclean").joinpath("data/ocr_confusions.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("observed\t"):
            continue
        observed, intended, count, _total, _probability = line.split("\t")
        counts[rule_name(observed, intended)] = max(float(count), 1.0)  # a prior-only row counts once
    total = sum(counts.values()) or 1.0
    return {rule: n / total for rule, n in counts.items()}


RUN_ONCE_CANDIDATES = 20_000
"""Most words a run may write once and still offer all of them as candidates for tokens it also writes once.

A noisy run's vocabulary is mostly spellings it writes once (88% of the
42,000 run-only words in 8 MB of the OCR dev sets), and the number of them
a token lies a few confusions from grows with the run: searching them all
for every such token made building the decision map grow with the square of
the run (the three dev sets together, 8 MB: 148,000 run candidates weighed
for 60,000 tokens, against 10,000 for a quarter of the text). Beyond this
many, a word the run writes once is a candidate only for tokens it repeats
(``Chalidzc`` twice, ``Chalidze`` once); one garble of a rare word no longer
corrects another. At 8 MB that builds the map in 17-18 s instead of 20-23 s
(25-27 CPU s instead of 31-34; 7 of 7,250 changes fewer;
``scripts/measure_ocr_build.py --fractions 1 [--once-seen-bound 1000000000]``). The dev sets'
600,000-character samples (5,000-8,000 such words) are below the bound;
leaving the words out there too moved the improvement by +0.03, +0.02 and
0.00 points at the same or higher precision.
"""


def _run_searchers(lexicon: Trie, run_words: Mapping[str, int]) -> dict[str, CandidateSearch]:
    """``searcher`` and ``repeated_searcher`` for :class:`NoisyChannelModel` (one search when the run is small)."""
    every = CandidateSearch(lexicon, Trie(run_words), load_confusion_arrays())
    if sum(1 for n in run_words.values() if n == 1) <= RUN_ONCE_CANDIDATES:
        return {"searcher": every, "repeated_searcher": every}
    repeated = CandidateSearch(lexicon, Trie(w for w, n in run_words.items() if n > 1), load_confusion_arrays())
    return {"searcher": repeated, "repeated_searcher": every}


RUN_DROP_MIN_ANCHORS = 3
"""Confident fixes a run needs with a dropped string (``∅>fi``) before its probability is re-estimated."""
RUN_DROP_MIN_LIFT = 2.0
"""Log lift a dropped string needs to be re-estimated: the run drops it e² (7.4) times as often as OCR in general.

At e (2.7) times, BLN600 re-estimated ``∅>c`` for nothing gained but a second search."""
RUN_DROP_MAX_LIFT = math.log(50.0)
"""Cap on the log lift applied to a drop's probability (the MAP estimate of a rare drop runs to hundreds)."""


RUN_ESTIMATED: dict[str, tuple[str, ...] | None] = {"": None, "f": ("s",)}
"""Confusions a run re-estimates (observed -> intended strings, ``None`` for all): every drop, and the long s read as ``f``."""


def run_adapted_confusions(
    confusions: Mapping[str, tuple[tuple[str, float], ...]], counts: Mapping[str, int], anchors: int
) -> dict[str, tuple[tuple[str, float], ...]] | None:
    """``confusions`` with the :data:`RUN_ESTIMATED` ones this run makes far more often than OCR in general made likelier, or ``None``.

    A second EM step for dropped strings and the long s: ``P(∅ | fi)`` is
    multiplied by its lift in this run (:func:`run_support`, capped at
    :data:`RUN_DROP_MAX_LIFT`) when at least :data:`RUN_DROP_MIN_ANCHORS`
    confident fixes use it and the lift is at least :data:`RUN_DROP_MIN_LIFT`.
    The learn data barely has drops (HathiTrust scans lose every ``fi``
    ligature: ``rst``, ``gures``), so their shipped estimates are add-one
    guesses and the run is the better evidence; ``f`` for ``s`` is the long s
    (``ſ``) of eighteenth-century print, every ``s`` of a book or none
    (``mistrefs``, ``compafs``: lift 130 in the ICDAR eval sample). Other
    substitutions keep their learned probabilities: adapting them all
    (measured) traded precision for recall along the same curve as lowering
    the bar.
    """
    adapted_table = dict(confusions)
    changed = False
    for observed, pairs in confusions.items():
        if observed not in RUN_ESTIMATED:
            continue
        adapted: list[tuple[str, float]] = []
        for intended, probability in pairs:
            rule = rule_name(observed, intended)
            estimated = RUN_ESTIMATED[observed] is None or intended in RUN_ESTIMATED[observed]
            enough = estimated and _family_count(rule, counts) >= RUN_DROP_MIN_ANCHORS
            lift = run_support([rule], counts, anchors) if enough else 0.0
            if lift >= RUN_DROP_MIN_LIFT:
                probability *= math.exp(min(lift, RUN_DROP_MAX_LIFT))
                changed = True
            adapted.append((intended, probability))
        adapted_table[observed] = tuple(sorted(adapted, key=lambda pair: -pair[1]))
    return adapted_table if changed else None


def run_support(rules: Iterable[str], counts: Mapping[str, int], anchors: int, own: Mapping[str, int] | None = None) -> float:
    """Log lift of the least supported of ``rules`` in this run: its share of the run's confident fixes over its learned share (one EM step, MAP-smoothed).

    The run's own counts, the token's own use discounted, mixed with
    :data:`RUN_PRIOR_WEIGHT` anchors' worth of the learned shares: a small
    run says little about its OCR, a large one overrides the table.
    """
    own = own or {}
    shares = confusion_shares()
    discount = 1 if own else 0
    denominator = anchors - discount + RUN_PRIOR_WEIGHT
    # lift: how much more often this run makes the confusion than OCR in general does
    values = []
    for r in set(rules):
        share = _family_count(r, shares, 1e-5)
        values.append((_family_count(r, counts) - _family_count(r, own) + RUN_PRIOR_WEIGHT * share) / denominator / share)
    return math.log(max(min(values), 1e-9)) if values else 0.0


LIGATURE_DROPS = frozenset(rule_name("", ligature) for ligature in ("fi", "fl", "ff"))
"""Drops of ligature glyphs: one failure (the font's ligatures unread), so a run's profile counts them together.

A HathiTrust scan that loses ``fi`` (``gures``, ``condence``) loses ``fl``
too, but ``fl`` is rarer: in the GHT dev sample 13 confident ``fi`` fixes
and 5 ``ff`` against no ``fl``, whose lone lift then vetoed ``inuences``."""


def _family_count(rule: str, counts: Mapping[str, float], default: float = 0) -> float:
    """``counts[rule]``, or the sum over its family for a ligature drop (:data:`LIGATURE_DROPS`)."""
    if rule in LIGATURE_DROPS:
        return sum(counts.get(r, 0) for r in LIGATURE_DROPS) or default
    return counts.get(rule, default)


def calibration_features(
    model: "NoisyChannelModel", token: str, candidate: str, rules: Iterable[str], raw: float, support: float,
    error_rate: float = -4.0,
) -> list[float]:
    """The features :class:`Calibration` maps to a probability that changing ``token`` to ``candidate`` is right."""
    rules = list(rules)
    lower, cand = token.lower(), candidate.lower()
    frequency = model.lexicon.get(cand, 0.0)
    log_freq = math.log10(max(frequency, 1e-9))
    capitalised = float(token[:1].isupper())
    raw = min(max(raw, 1e-4), 1.0 - 1e-6)
    gain = model.char_model.log_prob(cand) - model.char_model.log_prob(lower)
    return [
        1.0, math.log(raw / (1.0 - raw)), log_freq, float(frequency == 0.0), capitalised,
        capitalised * float(frequency < COMMON_CANDIDATE), float(len(rules)),
        max(-10.0, min(10.0, gain)), support, float(min(len(token), 15)),
        math.log1p(model.corpus.get(lower, 0)), math.log1p(model.corpus.get(cand, 0)), float(lower in model.lexicon),
        error_rate, float(lower[:1] != cand[:1]), float(lower[-1:] != cand[-1:]),
    ]


class Calibration:
    """Raw posterior (and a few facts about the change) -> empirical precision: a logistic map.

    Learned on the ICDAR 2017 learn part by ``scripts/learn_ocr_calibration.py``
    and shipped as ``data/ocr_calibration.json``; only these few weights, no words.
    """

    def __init__(self, weights: Mapping[str, float], default_support: float = math.log(0.05)) -> None:
        self.default_support = default_support
        self.weights = np.array([weights.get(name, 0.0) for name in CALIBRATION_FEATURES], np.float64)

    def __call__(self, features: list[float]) -> float:
        z = float(np.dot(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@functools.cache
def load_calibration() -> Calibration | None:
    """The shipped calibration, or ``None`` before one has been learned (raw posteriors then stand)."""
    import json

    path = resources.files("corpusclean").joinpath("data/ocr_calibration.json")
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(data["weights"], data.get("default_support", math.log(0.05)))
