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
from typing import Callable, Iterable, Mapping

import regex

from corpusclean.edits import Edit

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
"""Most confusions assumed in one word."""
MIN_CONFUSION = 1e-4
"""Rarer learned confusions are not used: they cost search time and only add noise."""
MIN_CHANNEL = 1e-9
"""Candidates whose confusions are jointly less likely than this are not generated."""
MIN_LETTERS = 3
"""Shorter tokens are too ambiguous to correct without context."""
CHAR_LM_WORDS = 60_000
"""Most frequent lexicon words the character model learns word shapes from."""

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
        if float(probability) >= MIN_CONFUSION:
            table[observed].append((intended, float(probability)))
    return {observed: tuple(sorted(pairs, key=lambda p: -p[1])) for observed, pairs in table.items()}


@functools.cache
def load_lexicon(language: str) -> dict[str, float]:
    """wordfreq's word frequencies for ``language`` (its large list where there is one)."""
    import wordfreq

    wordlist = "large" if language in wordfreq.available_languages("large") else "best"
    return wordfreq.get_frequency_dict(language, wordlist)


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

    def log_prob(self, word: str) -> float:
        """Natural log of P(word) under the model, end of word included."""
        w3, w2, w1 = self.WEIGHTS
        padded = "^^" + word + "$"
        total = 0.0
        for i in range(len(padded) - 2):
            gram = padded[i : i + 3]
            ctx2 = self._bi_ctx.get(gram[:2], 0)
            ctx1 = self._uni_ctx.get(gram[1], 0)
            p3 = self._tri.get(gram, 0) / ctx2 if ctx2 else 0.0
            p2 = self._bi.get(gram[1:], 0) / ctx1 if ctx1 else 0.0
            p1 = (self._uni.get(gram[2], 0) + 0.5) / (self._total + 0.5 * self._alphabet)
            total += math.log(w3 * p3 + w2 * p2 + w1 * p1)
        return total


def prefixes(words: Iterable[str]) -> frozenset[str]:
    """Every non-empty prefix of ``words``: the candidate search stops at any other."""
    return frozenset(w[:i] for w in words for i in range(1, len(w) + 1))


@functools.cache
def lexicon_prefixes(language: str) -> frozenset[str]:
    return prefixes(load_lexicon(language))


@functools.cache
def load_char_model(language: str) -> CharModel:
    lexicon = load_lexicon(language)
    # dict order is by descending frequency in wordfreq
    shapes = [w for w in lexicon if w.isalpha()][:CHAR_LM_WORDS]
    return CharModel(shapes)


def fold_vocabulary(vocabulary: Mapping[str, int] | None) -> dict[str, int]:
    """Case-folded counts (``Chalidze`` and ``CHALIDZE`` vouch for each other)."""
    folded: dict[str, int] = collections.defaultdict(int)
    for word, count in (vocabulary or {}).items():
        folded[word.lower()] += count
    return dict(folded)


@dataclass
class NoisyChannelModel:
    """The automatic corrector for one run (see the module docstring)."""

    lexicon: dict[str, float]
    char_model: CharModel
    confusions: dict[str, tuple[tuple[str, float], ...]]
    corpus: dict[str, int]
    min_confidence: float
    corpus_total: int = 1
    known_prefixes: frozenset[str] = frozenset()
    corpus_prefixes: frozenset[str] = frozenset()
    max_observed: int = 2
    _cache: dict[str, Correction | None] = field(default_factory=dict)
    _lexicon_errors: dict[str, bool] = field(default_factory=dict)

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
        return cls(
            lexicon=lexicon,
            char_model=load_char_model(language),
            confusions=confusions,
            corpus=corpus,
            min_confidence=min_confidence,
            max_observed=max(map(len, confusions), default=1),
            corpus_total=max(1, sum(corpus.values())),
            known_prefixes=lexicon_prefixes(language),
            corpus_prefixes=prefixes(w for w in corpus if w not in lexicon),
        )

    def _is_prefix(self, prefix: str) -> bool:
        """Whether some lexicon or corpus word starts with ``prefix`` (prunes the search)."""
        return prefix in self.known_prefixes or prefix in self.corpus_prefixes

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
        # The rarer of two spellings in the run must look more word-like to win
        # (Chalidzc x2 -> Chalidze x1, never Dzerzhinskii x2 -> Dzerzhiaskii x1).
        tolerance = SHAPE_TOLERANCE if self.corpus.get(word, 0) >= self.corpus.get(token, 0) else 0.0
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

    def candidates(self, word: str) -> Iterable[tuple[str, float, tuple[str, ...]]]:
        """Every spelling that learned confusions turn into ``word``.

        Yields ``(candidate, P(word | candidate), confusions)``; at most
        :data:`MAX_CONFUSIONS` confusions, none below :data:`MIN_CHANNEL`.
        """
        confusions = self.confusions
        max_observed = self.max_observed
        n = len(word)
        max_confusions = min(MAX_CONFUSIONS, 1 + n // 4)  # tbe: 1, tlic: 2, Licbkncchl: 3
        is_prefix = self._is_prefix
        # Depth-first over (position in word, spelling so far); a spelling no
        # known word starts with is abandoned at once, which keeps the search
        # to a few dozen states for most words.
        stack: list[tuple[int, str, float, tuple[str, ...]]] = [(0, "", 1.0, ())]
        while stack:
            i, built, p, rules = stack.pop()
            if i == n:
                if rules:
                    yield built, p, rules
                continue
            if rules:  # with no confusion yet, the prefix is the word's own
                kept = built + word[i]
                if is_prefix(kept):
                    stack.append((i + 1, kept, p, rules))
            else:
                stack.append((i + 1, built + word[i], p, rules))
            if len(rules) >= max_confusions:
                continue
            for span in range(1, min(max_observed, n - i) + 1):
                observed = word[i : i + span]
                for intended, q in confusions.get(observed, ()):
                    if p * q < MIN_CHANNEL:
                        break  # sorted by probability: the rest are rarer
                    spelled = built + intended
                    if is_prefix(spelled):
                        stack.append((i + span, spelled, p * q, rules + (f"{observed}>{intended}",)))

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
        keep = self.prior(word)
        best: tuple[float, str, tuple[str, ...]] | None = None
        total = keep
        seen: set[str] = set()
        for candidate, channel, rules in self.candidates(word):
            if candidate in seen or candidate == word:
                continue
            seen.add(candidate)
            prior = self.candidate_prior(candidate, word) if use_corpus else self.lexicon.get(candidate, 0.0)
            if not prior:
                continue
            score = prior * channel
            total += score
            if best is None or score > best[0]:
                best = (score, candidate, rules)
        if best is None:
            return None
        if use_corpus and word not in self.lexicon:
            repeated = self.corpus_rate(word, SELF_DISCOUNT)
            if repeated > keep and self.char_model.log_prob(word) >= self.char_model.log_prob(best[1]):
                total += repeated - keep
        confidence = best[0] / total
        if confidence < self.min_confidence:
            return None
        return Correction(best[1], "confusion " + " ".join(best[2]), confidence)

    def is_trusted(self, word: str) -> bool:
        """A lexicon word common enough that no unigram evidence could overturn it."""
        return self.lexicon.get(word, 0.0) >= TRUSTED_FREQUENCY

    # --- tokens in text ------------------------------------------------------

    def correct_word(self, token: str) -> Correction | None:
        """Correct one bare word (no possessive, no hyphen), case carried over."""
        from corpusclean.ocr import transfer_case

        letters = sum(ch.isalpha() for ch in token)
        if letters < MIN_LETTERS:
            return None
        digits = sum(ch.isdigit() for ch in token)
        if digits > 1 or (digits and (token[0].isdigit() or token[-1].isdigit())):
            return None  # numbers, ordinals and codes
        if not (token.islower() or token.isupper() or token.istitle()):
            return None  # mixed case: VChK, McDonald, iPhone
        if token.isupper() and len(token) <= 5:
            return None  # acronyms
        lower = token.lower()
        if self.is_trusted(lower) or _ROMAN_RE.match(lower):
            return None
        verdict = self.decide(lower)
        if verdict is None:
            return None
        return Correction(transfer_case(token, verdict.word), verdict.rule, verdict.confidence)

    def correct_token(self, text: str, match: regex.Match[str], is_frozen: Callable[[str], bool]) -> list[Edit]:
        """Edits for one word token of ``text`` (possessives and compounds split off)."""
        token = match.group()
        if self.is_trusted(token.lower()):
            return []  # the common case, decided before any splitting
        start = match.start()
        edits: list[Edit] = []
        offset = 0
        for part in token.split("-"):
            stem = part
            possessive = _POSSESSIVE_RE.match(part)
            if possessive:
                stem = possessive.group("stem")
            if "'" in stem or "’" in stem:
                continue  # elisions (work'd, o'clock, M'Lean) are spelled on purpose
            if stem and not is_frozen(stem):
                fix = self.correct_word(stem)
                if fix is not None and fix.word != stem:
                    edits.append(Edit(STAGE, fix.rule, start + offset, stem, fix.word, round(fix.confidence, 4)))
            offset += len(part) + 1
        return edits

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
                if fix is not None:
                    after, rule, confidence = fix.word, f"hyphenation {fix.rule}", round(fix.confidence, 4)
            if after is None:
                continue
            edits.append(Edit(STAGE, rule, match.start(), match.group(), after, confidence))
            spans.append(match.span())
        return edits, spans
