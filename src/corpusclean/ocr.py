"""OCR correction: repair character-substitution damage the way a proofreader would.

The stage works one paragraph at a time and returns the fixed text with one
:class:`~corpusclean.edits.Edit` (stage ``ocr``) per change. Two sources of
changes, in this order of authority:

1. The user's substitution table (rule ``table``) and protected-word list.
   They always win: a protected word is never touched, a table entry is
   always applied.
2. The automatic corrector (``automatic=True``, see :mod:`corpusclean.ocr_model`):
   a noisy-channel model that proposes a change only when a learned OCR
   confusion turns an implausible token into a word that the lexicon or the
   run's own vocabulary vouches for, and the posterior clears
   ``min_confidence``. It also rejoins words hyphenated across line breaks.

Tokens that are numbers, URLs, e-mail addresses or look like code are never
touched by either.
"""

from __future__ import annotations

import collections
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np
import regex

from corpusclean.edits import Edit
from corpusclean.word_scan import (
    CHANGED, CONTEXT, CONTEXT_ONLY, HYPHEN_HINT, KEPT, NOISE_HINT, NOISE_MARKS, ORDINARY, SKIP_HINT, SKIP_MARKS, WORD,
    TokenTable, WordScan, scan_words,
)

if TYPE_CHECKING:
    from corpusclean.ocr_context import BigramContext
    from corpusclean.ocr_model import ContextCandidates

STAGE = "ocr"

# A word: letters/digits joined by internal apostrophes or hyphens (``don't``,
# ``Trotsky's``, ``twenty-seven``). Digits are part of the token so that
# ``bro1ught`` is one token and never becomes ``bro`` + ``ught``. The patterns
# are defined once, in word_scan, whose compiled scan finds the same words.
_WORD = WORD
# Whitespace-delimited chunks that are never prose: URLs, e-mail addresses and
# code-like strings (identifiers with ``_``, paths, markup, assignments).
_SKIP = rf"(?<!\S)(?:(?:[a-z][a-z0-9+.\-]*://|www\.)\S+|[^\s@]+@[^\s@]+\.\S+|\S*{SKIP_MARKS}\S*)"
TOKEN_RE = regex.compile(rf"(?P<skip>{_SKIP})|(?P<word>{_WORD})", regex.IGNORECASE)
WORD_RE = regex.compile(rf"^{_WORD}$")
# Text with none of these cannot hold a skipped chunk with a word in it, so its
# words are simply the matches of ``_WORD`` (a far cheaper pattern than
# ``TOKEN_RE``): a code-like mark with a non-space neighbour, or ``www.``. A mark
# standing alone between spaces (``Home | News``, ``Books > History``, common in
# scraped pages) is a skipped chunk of its own that holds no word.
_SKIP_HINT_RE = regex.compile(SKIP_HINT)
_PLAIN_WORD_RE = regex.compile(_WORD)
# Lower-to-upper case boundaries inside a token: ``collectionNicolaevsky`` is
# two words run together by OCR (or by joining lines); counting the halves lets
# the run's vocabulary vouch for ``Nicolaevsky``.
_CAMEL_SPLIT_RE = regex.compile(r"(?<=\p{Ll}{2})(?=\p{Lu}\p{Ll})")
_POSSESSIVE_RE = regex.compile(r"^(?P<stem>.+?)(?P<suffix>['’][sS])$")
# Only text with a letter, a hyphen and then a space or line break may hold a
# word broken across lines (the full pattern is in ocr_model.HYPHEN_BREAK_RE).
HYPHEN_HINT_RE = regex.compile(HYPHEN_HINT)
# A stray mark between two letter runs with no space: OCR noise inside a word (``stra.ngers``, ``l)oard``).
_NOISE_MARKS = NOISE_MARKS
NOISE_HINT_RE = regex.compile(NOISE_HINT)
NOISE_CHUNK_RE = regex.compile(rf"(?<![\p{{L}}\p{{N}}.'’\-])(\p{{L}}+)({_NOISE_MARKS})(\p{{L}}+)(?![\p{{L}}\p{{N}}.'’\-])")

Decision = tuple[str, str, float]
"""A token's verdict in the decision map: (replacement, rule, confidence)."""
TokenEdit = tuple[int, str, str, str, float]
"""One change inside a token: (offset in the token, before, after, rule, confidence)."""


def load_substitutions(path: str | Path) -> dict[str, str]:
    """Parse a user substitution table.

    The file is UTF-8 text, one ``wrong<TAB>right`` pair a line. Blank lines
    and lines starting with ``#`` are ignored. ``wrong`` must be a single word
    (letters, digits, internal apostrophes or hyphens); ``right`` may be any
    non-empty text without tabs.

    Raises:
        ValueError: naming the file and the 1-based line number of the first
            malformed line, or of a ``wrong`` word given twice with different
            replacements.
    """
    path = Path(path)
    table: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise ValueError(
                    f"{path}:{number}: expected 'wrong<TAB>right', got {len(fields)} tab-separated field(s): {line!r}"
                )
            wrong, right = fields[0].strip(), fields[1].strip()
            if not WORD_RE.match(wrong):
                raise ValueError(f"{path}:{number}: {wrong!r} is not a single word")
            if not right:
                raise ValueError(f"{path}:{number}: empty replacement for {wrong!r}")
            if table.get(wrong, right) != right:
                raise ValueError(f"{path}:{number}: {wrong!r} already maps to {table[wrong]!r}, not {right!r}")
            table[wrong] = right
    return table


def iter_words(text: str) -> Iterable[regex.Match[str]]:
    """Yield the match of each correctable word in ``text``, in order.

    URLs, e-mail addresses and code-like chunks are skipped whole, so no word
    inside them is ever yielded.
    """
    if _SKIP_HINT_RE.search(text) is None:
        yield from _PLAIN_WORD_RE.finditer(text)
        return
    for match in TOKEN_RE.finditer(text):
        if match.lastgroup == "word":
            yield match


def word_tokens(text: str) -> list[str]:
    """The correctable words of ``text`` as strings (what :func:`iter_words` matches)."""
    if _SKIP_HINT_RE.search(text) is None:
        return _PLAIN_WORD_RE.findall(text)
    return [m.group() for m in iter_words(text)]


def count_vocabulary(texts: Iterable[str]) -> collections.Counter[str]:
    """Count word tokens in ``texts``, keeping their case.

    This is the run's own vocabulary the automatic corrector uses as evidence
    (a name the corpus spells right elsewhere). Counters from shards merge by
    addition. Possessive ``'s`` is stripped, hyphenated compounds count as
    their parts, and run-together words split at a lower-to-upper case change
    (``collectionNicolaevsky``) count as their halves.
    """
    # Count whole tokens first (one C-level pass per text), then split each
    # distinct token once: corpora are Zipfian, so most of the Python work goes.
    raw: collections.Counter[str] = collections.Counter()
    for text in texts:
        raw.update(word_tokens(text))
    return count_token_words(raw)


def count_token_words(tokens: Mapping[str, int]) -> collections.Counter[str]:
    """The vocabulary counts of word tokens counted whole: each distinct token split once into the words it counts as.

    Possessive ``'s`` off, hyphenated compounds as their parts, run-together
    words at a lower-to-upper case change (see :func:`count_vocabulary`).
    """
    counts: collections.Counter[str] = collections.Counter()
    get = counts.get
    for token, n in tokens.items():
        for part in token.split("-"):
            possessive = _POSSESSIVE_RE.match(part)
            if possessive:
                part = possessive.group("stem")
            for piece in _CAMEL_SPLIT_RE.split(part):
                if piece:
                    counts[piece] = get(piece, 0) + n
    return counts


def word_parts(token: str) -> Iterable[tuple[int, str]]:
    """The bare words of one word token that may be corrected, as ``(offset in token, word)``.

    Hyphenated compounds are split and a possessive ``'s`` taken off (the
    same bare words :func:`count_vocabulary` counts); elisions (``work'd``,
    ``o'clock``, ``M'Lean``) are spelled on purpose and never yielded.
    """
    offset = 0
    for part in token.split("-"):
        stem = part
        possessive = _POSSESSIVE_RE.match(part)
        if possessive:
            stem = possessive.group("stem")
        if stem and "'" not in stem and "’" not in stem:
            yield offset, stem
        offset += len(part) + 1


def transfer_case(source: str, target: str) -> str:
    """Give ``target`` the capitalisation pattern of ``source``.

    ALL CAPS stays all caps, a capitalised word gets a capitalised
    replacement, lower case keeps ``target`` as written (so a table entry
    ``mcdonald -> McDonald`` keeps its inner capital). Mixed case is left to
    ``target``. A correction that only drops one or two leading characters
    (a stray mark read as a letter: ``lNorth``, ``Iwas``) takes the case of
    the characters it keeps: ``North``, ``was``.
    """
    for dropped in (1, 2):
        if len(source) > dropped + 1 and source[dropped:].lower() == target.lower():
            source = source[dropped:]
            break
    letters = [ch for ch in source if ch.isalpha()]
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return target.upper()
    if letters and letters[0].isupper() and not any(ch.isupper() for ch in letters[1:]):
        return target[:1].upper() + target[1:]
    return target


_VETO = object()
"""A context verdict: withdraw the word-level change."""
_UNDECIDED = object()
VERDICT_MEMO_SIZE = 1 << 20
"""Context verdicts remembered per corrector ((token, left, right) repeats a lot in real text)."""
CONTEXT_WEIGHT = 0.75
"""Exponent on the neighbours' evidence (web bigram counts are not this corpus: below 1 tempers them)."""
CONTEXT_VETO = 0.5
"""A word-level change is withdrawn when its neighbours at least halve its posterior (and leave it below min_confidence)."""
CONTEXT_EVIDENCE = 2.0
"""The neighbours must favour one reading of a token at least this much over another to be heard."""
DIGIT_FOR_I = "1"
"""A lone ``1`` is OCR's commonest misreading of the pronoun ``I`` (``that 1 have``): on the ICDAR learn part,
584 lone ``1`` tokens are ``I`` in the gold text and 38 are ``1``. See :meth:`OcrCorrector._pronoun_verdict`."""
PRONOUN_RULE = "confusion 1>I"
PRONOUN_MIN_NOISE = 0.25
"""The pronoun reading is made only in a run at least this noisy (see ``NoisyChannelModel.set_noise``): the
dev sets are 0.8-3.2, the King James Bible 0.1; a clean run's ``Step 1 should`` is a number."""
PRONOUN_LEFT_ASSOCIATION = 0.2
"""The word before the ``1`` (if any in its clause) must precede ``I`` at least this share of what chance has it
(``version 1 was`` 0.07, ``chapter 1`` 0.19 are left; ``and 1 have`` 0.25, ``but 1 am`` 2.3 are read)."""
PRONOUN_RIGHT_ASSOCIATION = 0.25
"""The word after the ``1`` must follow ``I`` at least this share of what chance has it: ``I will`` is 0.83, ``I
must`` 0.50, ``I shall`` 0.26 (``I`` and ``will`` are both so common), ``I may`` 0.13. Chosen on the ICDAR learn
part's lone ``1`` tokens (772 ``I`` and 38 ``1`` in its gold): 1.0 read 508 of the ``I`` and none of the ``1``;
0.5, 576 and 1; 0.25, 634 and 1; 0.1, 663 and 3. A pair the counts do not list passes only if the word never
follows ``the`` or ``one`` either (``I beseech``, ``I pray``; not ``1 decade``): 614 and 0."""
PRONOUN_CONFIDENCE = 0.99
"""Share of the pronoun readings the ICDAR learn part's gold confirms among those it aligns to ``I`` or ``1``
(614 and 0 with these settings, the whole learn part corrected as bench/ocr_bench.py corrects; kept below that
0.998 for the sources the learn part does not show)."""
_NUMBER_LABEL_BEFORE_RE = regex.compile(r"(?:^|[^\p{L}])(?:[Nn]os?|[Vv]ols?|pp?|[Ff]igs?|[Aa]rts?|[Cc]h|[Ss]ec|[Pp]t)\.?[ \t]+$|[§#№][ \t]*$")
"""``No. 1``, ``vol. 1``, ``p. 1``, ``§ 1``: a number however its next word reads."""


def has_context_shape(token: str) -> bool:
    """Whether a vocabulary token is a plain word the context pass may weigh (two letters will do: ``ot the``)."""
    return len(token) >= 2 and token.isalpha() and (token.islower() or token.istitle())


_LOWER_WORD_BEFORE_RE = regex.compile(r"(?:\p{Ll}[\p{L}'’]*|(?<!\p{L})I|[,;])[ \t]+$")


def _lower_misread_capital(text: str, edit: Edit, vocabulary: Mapping[str, int]) -> Edit:
    """``Avith`` after a lower-case word is ``with``: a capital that was itself misread starts no sentence or name.

    Applies to automatic changes of a capitalised word whose first letter
    the change replaced, when what comes before it, in the same line, goes
    on a clause: a word that starts lower case, the pronoun ``I`` (``and I
    Avas``) or a comma or semicolon (``one man , Avhen``), unless the run's
    ``vocabulary`` has the word capitalised more often than in lower case
    (``Olayton`` -> ``Clayton``, a name the run writes, keeps its capital; a
    word the run never writes is lowered). The capital of a word whose
    first letter stands (``Woll``) is left to the word-level rules.
    """
    before, after = edit.before, edit.after
    if (
        edit.rule == "table" or not before[:1].isupper() or not after[:1].isupper() or not before[1:].islower()
        or before[:1] == after[:1] or not after[1:].islower()
    ):
        return edit
    if _LOWER_WORD_BEFORE_RE.search(text, max(0, edit.position - 40), edit.position) is None:
        return edit
    lower = after[:1].lower() + after[1:]
    if vocabulary.get(lower, 0) < vocabulary.get(after, 0):
        return edit
    return Edit(edit.stage, edit.rule, edit.position, before, lower, edit.confidence)


class _SpanTokens(Sequence[str]):
    """A paragraph's words as a sequence, each cut from the text only when asked for (the context pass asks for few)."""

    def __init__(self, text: str, starts: list[int], ends: list[int]) -> None:
        self._text, self._starts, self._ends = text, starts, ends

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._text[a:b] for a, b in zip(self._starts[i], self._ends[i])]
        return self._text[self._starts[i] : self._ends[i]]


class OcrCorrector:
    """The OCR-correction stage for one language and one run's settings.

    Build it once per shard; it is picklable (heavy lexicon data is loaded
    lazily in each process and shared through a module-level cache).

    Args:
        language: A wordfreq language code for the lexicon.
        substitutions: The user's ``wrong -> right`` table (whole words,
            case-preserving: a lower-case key also matches its capitalised and
            upper-case forms).
        protected_words: Words never changed (compared case-insensitively).
        min_confidence: Automatic corrections below this posterior are not
            made. Higher means fewer, safer changes.
        corpus_vocabulary: Token counts of the whole run (see
            :func:`count_vocabulary`), used as evidence for words no lexicon
            knows.
        automatic: Whether to run the automatic corrector; with ``False``
            only the table and protected words act.
        calibrated: Report and threshold the calibrated confidence (the
            precision changes like this one had on held-out ICDAR data, see
            ``scripts/learn_ocr_calibration.py``) instead of the raw posterior.
        context: Weigh each occurrence of a doubtful token against its
            neighbours (:mod:`corpusclean.ocr_context`): real-word errors
            (``tor the`` -> ``for the``) and a second opinion on the
            word-level verdicts. English only; needs a run vocabulary.

    Raises:
        ValueError: if a word is both protected and in the table, or
            ``min_confidence`` is outside ``[0, 1]``.
    """

    def __init__(
        self,
        *,
        language: str = "en",
        substitutions: Mapping[str, str] | None = None,
        protected_words: Iterable[str] = (),
        min_confidence: float = 0.9,
        corpus_vocabulary: Mapping[str, int] | None = None,
        automatic: bool = True,
        calibrated: bool = False,
        context: bool = True,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.language = language
        self.min_confidence = min_confidence
        self.automatic = automatic
        self.calibrated = calibrated
        self.context = context
        self.protected = frozenset(word.casefold() for word in protected_words)
        self.substitutions = dict(substitutions or {})
        clashes = sorted(w for w in self.substitutions if w.casefold() in self.protected)
        if clashes:
            raise ValueError(f"words both protected and in the substitution table: {', '.join(clashes)}")
        # Lower-case keys also match other capitalisations of the same word.
        self._folded_table = {k: v for k, v in self.substitutions.items() if k == k.lower()}
        self.corpus_vocabulary = corpus_vocabulary
        self._model = None
        self._decisions: dict[str, Decision] | None = None
        self._contexts: dict[str, "ContextCandidates"] = {}
        self._bigrams: "BigramContext | None" = None  # the counts the context map's verdicts can ask about
        # The run's confusion profile (see prepare): how many of its confident
        # first-pass fixes use each confusion, and how many such fixes there are.
        self._run_counts: dict[str, int] | None = None
        self._anchors = 0
        self._anchor_words: set[str] = set()
        self._first_pass: dict[str, tuple[str, str, float]] | None = None
        self._collect: dict[str, tuple[list[float], float]] | None = None  # calibration learning hook
        self._adapted_confusions: dict | None = None  # the run's re-estimated table (see _adapt_to_run), for rebuilt models
        self._batched = True  # prepare() searches the run's tokens in one compiled call (False: one call each)
        self._reset_memo()

    def _reset_memo(self) -> None:
        # Verdicts on tokens outside the decision map (compounds, possessives,
        # words the run's vocabulary never counted): a token's edits depend on
        # the token and the run alone, so each is decided once per process.
        self._unchanged: set[str] = set()
        self._token_memo: dict[str, list[TokenEdit]] = {}
        self._verdict_memo: dict[tuple[str, str | None, str | None, str | None], object] = {}
        self._context_screen: dict[int, bool] = {}  # by the scan table's ids: reset with it
        self._unchanged_new: list[str] = []  # added to _unchanged since the scan table last heard
        self._scan_table: TokenTable | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_model"] = None  # rebuilt lazily from the shared cache in the worker, if ever needed
        state["_unchanged"] = set()
        state["_token_memo"] = {}
        state["_verdict_memo"] = {}
        state["_context_screen"] = {}
        state["_unchanged_new"] = []
        state["_scan_table"] = None  # rebuilt in each process from the map it ships with
        return state

    @property
    def model(self):
        """The automatic corrector, built on first use."""
        if self._model is None:
            from corpusclean.ocr_model import NoisyChannelModel

            self._model = NoisyChannelModel.build(
                language=self.language,
                corpus_vocabulary=self.corpus_vocabulary,
                protected=self.protected,
                min_confidence=self.min_confidence,
            )
            if self._adapted_confusions is not None:  # a worker's model decides as the run's did
                self._model.adapt_channel(self._adapted_confusions)
        return self._model

    def prepare(self) -> dict[str, Decision]:
        """Decide every distinct token of the run's vocabulary once; return the decision map.

        The map holds only the tokens that change, ``{token: (replacement,
        rule, confidence)}``; every other vocabulary token stays as it is.
        After this, correcting a paragraph is a tokenisation and dictionary
        lookups (plus hyphenation repair), and the corrector pickles with the
        map, so worker processes need not rebuild the model. Call it once per
        run, before shipping the corrector. Two passes: the first learns the
        run's confusion profile from its confident fixes (see
        :meth:`_learn_run_profile`), the second decides with it. A corrector
        with a run vocabulary calls it on its first paragraph if the caller
        did not; without a vocabulary, tokens are decided lazily as
        paragraphs arrive. Idempotent.
        """
        if self._decisions is None:
            # Only tokens the first pass found something to change in can change.
            self._pending = None
            if self.automatic and self.corpus_vocabulary:
                self._learn_run_profile()
                if self._adapt_to_run():
                    self._pending = None  # a likelier drop can give any token a candidate
            decisions: dict[str, Decision] = {}
            pending, self._pending = self._pending, None
            for token in pending if pending is not None else (self.corpus_vocabulary or ()):
                edits = self._decide_token(token)
                if edits:
                    after, rule, confidence = _as_decision(token, edits)
                    # One string object per rule, so pickle writes each rule once.
                    decisions[token] = (after, sys.intern(rule), confidence)
            self._decisions = _without_chains(decisions)
            if self.automatic and self.context and self.corpus_vocabulary:
                self._contexts = self._context_map()
        return self._decisions

    def _context_map(self) -> dict[str, "ContextCandidates"]:
        """The vocabulary tokens whose occurrences the context pass weighs, with their hypotheses."""
        from corpusclean.ocr_context import load_bigram_context
        from corpusclean.ocr_model import ContextCandidates

        full = load_bigram_context(self.language)
        if full is None:
            return {}
        model = self.model
        vocabulary = self.corpus_vocabulary or {}
        changed = sum(vocabulary.get(t, 0) for t, (_, rule, _) in (self._decisions or {}).items() if rule != "table")
        model.set_noise(changed / max(1, sum(vocabulary.values())))
        contexts: dict[str, ContextCandidates] = {}
        tokens = [t for t in self.corpus_vocabulary or () if has_context_shape(t) and not self._is_frozen(t)]
        if self._batched:
            model.prefetch_context(t.lower() for t in tokens)
        for token in tokens:
            found = model.context_candidates(token.lower())
            if found is not None:
                contexts[token] = found
        if DIGIT_FOR_I in vocabulary and model.noise >= PRONOUN_MIN_NOISE and not self._is_frozen(DIGIT_FOR_I):
            # its verdict is _pronoun_verdict's; the entry makes the scan and the context pass visit it
            contexts[DIGIT_FOR_I] = ContextCandidates(0.0, (("I", 1.0, PRONOUN_RULE),), known=True)
        # the words any verdict can ask about: the run's, their corrections, and the candidates
        words = {full.key(t) for t in vocabulary}
        words.update(full.key(after) for after, _, _ in (self._decisions or {}).values())
        words.update(full.key(c) for entry in contexts.values() for c, _, _ in entry.candidates)
        self._bigrams = full.restricted(words)
        return contexts

    def _learn_run_profile(self) -> None:
        """First pass (one EM step): which confusions this run's confident fixes use.

        Every vocabulary token gets the model's raw verdict; fixes to common
        words with a high raw posterior are the anchors, and the share of
        anchors using a confusion estimates how often this corpus's OCR makes
        it (``c`` -> ``e`` in one book, ``R`` -> ``C`` almost never in
        another). The second pass calibrates each change with that share.
        """
        from corpusclean.ocr_model import ANCHOR_FREQUENCY, ANCHOR_POSTERIOR

        self._first_pass = {}
        pending: list[str] = []
        self._prefetch_vocabulary()
        try:
            for token in self.corpus_vocabulary or ():
                self._first_pass_hit = False
                if self._decide_token(token) or self._first_pass_hit:
                    pending.append(token)
            raw = self._first_pass
        finally:
            self._first_pass = None
        self._pending = pending
        counts: collections.Counter[str] = collections.Counter()
        anchors = 0
        seen: set[str] = set()
        lexicon = self.model.lexicon
        for word, (after, rule, confidence) in raw.items():
            lower = word.lower()
            if lower in seen or confidence < ANCHOR_POSTERIOR or lexicon.get(after.lower(), 0.0) < ANCHOR_FREQUENCY:
                continue
            seen.add(lower)
            anchors += 1
            counts.update(set(_rules_of(rule)))
        self._run_counts, self._anchors = dict(counts), anchors
        self._anchor_words = seen

    def _prefetch_vocabulary(self) -> None:
        """Search for every word of the run's vocabulary in one compiled call (a pure speed-up)."""
        if self._batched:
            self.model.prefetch(word for token in self.corpus_vocabulary or () for _, word in word_parts(token))

    def _adapt_to_run(self) -> bool:
        """Re-estimate the drops (and long s) this run makes far more often than OCR in general (see ``run_adapted_confusions``).

        Returns whether the model's table changed; its verdicts are then
        forgotten and the vocabulary searched again.
        """
        from corpusclean.ocr_model import run_adapted_confusions

        adapted = run_adapted_confusions(self.model.confusions, self._run_counts or {}, self._anchors)
        if adapted is None:
            return False
        self._adapted_confusions = adapted
        self.model.adapt_channel(adapted)
        self._reset_memo()
        self._prefetch_vocabulary()
        return True

    def _support(self, word: str, rules: list[str]) -> float | None:
        """Log lift of the least supported confusion of ``rules`` in this run (``None`` before a profile)."""
        from corpusclean.ocr_model import run_support

        if self._run_counts is None:
            return None
        own = collections.Counter(set(rules)) if word.lower() in self._anchor_words else None
        return run_support(rules, self._run_counts, self._anchors, own)

    def _judge(self, word: str, after: str, rule: str, raw: float) -> float | None:
        """The confidence of changing ``word`` to ``after`` (raw posterior ``raw``), or ``None`` to keep it.

        With a run profile, a change whose confusion this run makes less
        often than OCR in general does is not made (unless its raw posterior
        is at least :data:`PROFILE_OVERRIDE_POSTERIOR`), and a capitalised word
        turned into a rare one needs the run to make its confusion clearly
        more often (``R`` -> ``C`` in ``Rogliano`` -> ``Cogliano``). With
        ``calibrated``, the confidence is the calibration's estimate of the
        change's precision; otherwise the raw posterior.
        """
        from corpusclean.ocr_model import (
            CAPITALISED_RARE_LIFT, COMMON_CANDIDATE, MIN_LIFT, PROFILE_OVERRIDE_POSTERIOR, RUN_PRIOR_WEIGHT,
            calibration_features, load_calibration,
        )

        rules = _rules_of(rule)
        support = self._support(word, rules)
        if self._collect is None and support is not None:
            if support < MIN_LIFT and raw < PROFILE_OVERRIDE_POSTERIOR:
                return None
            rare = self.model.lexicon.get(after.lower(), 0.0) < COMMON_CANDIDATE
            # a run with few confident fixes has no profile to speak of: the bar rises with the evidence
            evidence = self._anchors / (self._anchors + RUN_PRIOR_WEIGHT)
            if word[:1].isupper() and rare and support < CAPITALISED_RARE_LIFT * evidence:
                return None
        calibration = load_calibration() if (self.calibrated or self._collect is not None) else None
        if calibration is None and self._collect is None:
            return raw
        if support is None:
            support = calibration.default_support if calibration is not None else 0.0
        error_rate = math.log((self._anchors + 1) / (len(self.model.corpus) + 1)) if self._run_counts is not None else -4.0
        features = calibration_features(self.model, word, after, rules, raw, support, error_rate)
        if self._collect is not None:
            self._collect[word] = (features, raw)
            return raw
        return calibration(features)

    def _table_lookup(self, token: str) -> str | None:
        """The table's replacement for ``token`` (case carried over), if any."""
        if not self.substitutions:
            return None
        right = self.substitutions.get(token)
        if right is not None:
            return right
        right = self._folded_table.get(token.lower())
        if right is not None:
            return transfer_case(token, right)
        possessive = _POSSESSIVE_RE.match(token)
        if possessive:
            stem_right = self._table_lookup(possessive.group("stem"))
            if stem_right is not None:
                return stem_right + possessive.group("suffix")
        return None

    def __call__(self, text: str) -> tuple[str, list[Edit]]:
        """Correct one paragraph; return the new text and its edits (in order)."""
        return self.correct_many([text])[0]

    def correct_many(self, texts: Sequence[str]) -> list[tuple[str, list[Edit]]]:
        """:meth:`__call__` for each of ``texts``: their words are found in one compiled scan (:mod:`corpusclean.word_scan`)."""
        # Without a run vocabulary, tokens are decided as they come (memoised).
        if self._decisions is None and self.automatic and self.corpus_vocabulary:
            self.prepare()  # the run's confusion profile needs the whole vocabulary
        table = self._token_table()
        scan = scan_words(texts, table)
        may_change = self._context_changes(scan, table) if table is not None else None
        results: list[tuple[str, list[Edit]]] = []
        for i, text in enumerate(texts):
            needs = scan.needs[i]
            if needs == KEPT or (needs == CONTEXT_ONLY and not may_change[i]):  # type: ignore[index]
                results.append((text, []))
            elif needs == CONTEXT_ONLY:
                starts, ends = scan.plain_words(i)  # type: ignore[misc]
                tokens = _SpanTokens(text, starts, ends)
                results.append(self._finish(text, self._weigh_context(text, starts, ends, tokens, [], [], scan.context_indexes(i))))
            else:
                results.append(self._correct(text, scan.plain_words(i)))
        if table is not None and self._unchanged_new:  # words outside the vocabulary found to stay, from now on in the table
            table.add(self._unchanged_new, ORDINARY)
            self._unchanged_new = []
        return results

    def _token_table(self) -> TokenTable | None:
        """The classes of the run's tokens for the word scan: what :meth:`_correct`'s fast path would conclude.

        A token of the vocabulary stays (``ORDINARY``) unless the map changes it
        (``CHANGED``) or the context pass weighs it (``CONTEXT``). Built once per
        process, after :meth:`prepare`; ``None`` without a run vocabulary.
        """
        if self._scan_table is None and self._decisions is not None and self.corpus_vocabulary:
            decisions, contexts = self._decisions, self._contexts
            table = TokenTable(len(self.corpus_vocabulary) + len(self._unchanged))
            vocabulary = [t for t in self.corpus_vocabulary if t not in decisions]
            table.add([t for t in vocabulary if t not in contexts], ORDINARY)
            table.add([t for t in vocabulary if t in contexts], CONTEXT)
            table.add(list(decisions), CHANGED)
            table.add(list(self._unchanged), ORDINARY)
            self._unchanged_new = []
            self._scan_table = table
        return self._scan_table

    def _correct(self, text: str, plain_words: tuple[list[int], list[int]] | None) -> tuple[str, list[Edit]]:
        """One paragraph; ``plain_words`` are its words' starts and ends when the scan found no hint in it."""
        decisions = self._decisions or {}
        vocabulary = (self.corpus_vocabulary or {}) if self._decisions is not None else {}
        # Hyphenation repairs come first: they span two tokens, which the
        # word loop below then leaves alone.
        edits: list[Edit] = []
        claimed: list[tuple[int, int]] = []
        if plain_words is not None:  # no hyphen before a space, no mark inside a word, no code-like chunk
            broken, plain = False, True
            starts, ends = plain_words
        else:
            broken = self.automatic and "-" in text and HYPHEN_HINT_RE.search(text) is not None
            if broken:
                edits, claimed = self.model.correct_hyphenation(text, self._is_frozen)
            if self.automatic and NOISE_HINT_RE.search(text):
                joins = self._join_noise(text, claimed)
                if joins:
                    edits = sorted(edits + joins, key=lambda e: e.position)
                    claimed = sorted(claimed + [(e.position, e.position + len(e.before)) for e in joins])
            plain = _SKIP_HINT_RE.search(text) is None  # no URL or code-like chunk: words are plain matches
            matches = list(_PLAIN_WORD_RE.finditer(text) if plain else iter_words(text))
            starts, ends = [m.start() for m in matches], [m.end() for m in matches]
        tokens = [text[a:b] for a, b in zip(starts, ends)]
        if not edits and not broken and vocabulary and plain:
            # Fast path: a paragraph whose every token the map decided to keep needs no per-token
            # loop, only (if it has any) the context map's tokens weighed against their neighbours.
            distinct = set(tokens)
            # Tokens the vocabulary counts only as parts (``Lord's``, ``well-known``) are decided once each.
            if decisions.keys().isdisjoint(distinct) and (distinct <= vocabulary.keys() or all(
                token in vocabulary or token in self._unchanged or not self._token_edits(token) for token in distinct
            )):
                if self._contexts.keys().isdisjoint(distinct):
                    return text, edits
                edits = self._weigh_context(text, starts, ends, tokens, edits, claimed)
                return self._finish(text, edits)
        claimed_iter = iter(claimed)
        next_claim = next(claimed_iter, None)
        for token, start, end in zip(tokens, starts, ends):
            decision = decisions.get(token)
            if decision is None and (token in vocabulary or token in self._unchanged):
                continue  # the common case: a token already decided to stay
            while next_claim is not None and next_claim[1] <= start:
                next_claim = next(claimed_iter, None)
            if next_claim is not None and next_claim[0] < end:
                continue  # part of a hyphenation repair already made
            if decision is not None:
                after, rule, confidence = decision
                edits.append(Edit(STAGE, rule, start, token, after, confidence))
                continue
            for offset, before, after, rule, confidence in self._token_edits(token):
                edits.append(Edit(STAGE, rule, start + offset, before, after, confidence))
        if tokens and self._contexts:
            edits = self._weigh_context(text, starts, ends, tokens, edits, claimed)
        return self._finish(text, edits)

    def _finish(self, text: str, edits: list[Edit]) -> tuple[str, list[Edit]]:
        """``text`` with ``edits`` applied (misread capitals lower-cased mid-clause), and the edits in order."""
        if not edits:
            return text, edits
        vocabulary = self.corpus_vocabulary or {}
        edits = [_lower_misread_capital(text, edit, vocabulary) for edit in edits]
        edits.sort(key=lambda e: e.position)
        return _apply_sorted(text, edits), edits

    def _memo_verdict(
        self, entry: "ContextCandidates", token: str, left: str | None, right: str | None, chosen: str | None
    ) -> tuple[str, str, float] | object | None:
        """:meth:`_context_verdict` of an occurrence of ``token``, memoised; ``None`` for a lexicon word alone in its clause."""
        if left is None and right is None and not entry.known:
            return None
        memo_key = (token, left, right, chosen)
        verdict = self._verdict_memo.get(memo_key, _UNDECIDED)
        if verdict is _UNDECIDED:
            verdict = self._context_verdict(entry, token.lower(), left, right, chosen)
            if len(self._verdict_memo) < VERDICT_MEMO_SIZE:
                self._verdict_memo[memo_key] = verdict
        return verdict

    def _context_changes(self, scan: WordScan, table: TokenTable) -> np.ndarray:
        """Per paragraph of ``scan``: whether the context pass may change it, if it is :data:`CONTEXT_ONLY`.

        Such a paragraph has no word-level edit, so each of its context words
        meets its neighbours as they stand in the text: it changes only if one
        of those occurrences gets a verdict (the same memoised one
        :meth:`_weigh_context` would ask for). Each distinct (word, word
        before, word after) of the batch, by the ids the scan found, is
        looked up once (and remembered by id for later batches); only
        paragraphs with a verdict go on to the context pass.
        """
        paragraphs = len(scan.needs)
        neighbours = scan.context_neighbours
        if len(neighbours) == 0:
            return np.zeros(paragraphs, np.bool_)
        word, left, right = neighbours[:, 0], neighbours[:, 1], neighbours[:, 2]
        order = np.lexsort((right, left, word))
        ordered = neighbours[order]
        first = np.ones(len(order), np.bool_)
        first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
        inverse = np.empty(len(order), np.int64)
        inverse[order] = np.cumsum(first) - 1
        memo, screen = self._context_screen, self._screen_occurrence
        ids = iter(ordered[first].ravel().tolist())  # one flat list: a list per row would wake the garbage collector
        acts = np.fromiter(
            (
                memo[key] if (key := (w << 64) | ((l + 1) << 32) | (r + 1)) in memo else screen(key, w, l, r, table)
                for w, l, r in zip(ids, ids, ids)
            ),
            np.bool_, int(first.sum()),
        )  # fmt: skip
        paragraph_of = np.repeat(np.arange(paragraphs), np.diff(scan.context_offsets))
        return np.bincount(paragraph_of, weights=acts[inverse], minlength=paragraphs) > 0

    def _screen_occurrence(self, key: int, word: int, left: int, right: int, table: TokenTable) -> bool:
        """Whether token ``word`` between tokens ``left`` and ``right`` (ids; -1: none) gets a verdict; remembered."""
        tokens, normal = table.tokens, self._bigrams.key
        token = tokens[word]
        verdict = self._memo_verdict(self._contexts[token], token, normal(tokens[left]) if left >= 0 else None,
                                     normal(tokens[right]) if right >= 0 else None, None)  # fmt: skip
        acts = verdict is not None
        if len(self._context_screen) < VERDICT_MEMO_SIZE:
            self._context_screen[key] = acts
        return acts

    def _context_verdict(
        self, entry: "ContextCandidates", lower: str, left: str | None, right: str | None, chosen: str | None
    ) -> tuple[str, str, float] | object | None:
        """What the neighbours ``left`` and ``right`` make of one occurrence of ``lower`` (memoised by the caller).

        ``(candidate, rule, confidence)`` to change it, :data:`_VETO` to
        withdraw the word-level change to ``chosen``, ``None`` to leave it
        as the word-level pass did. See :meth:`_weigh_context`.
        """
        if lower == DIGIT_FOR_I:
            return self._pronoun_verdict(left, right)
        bigram = self._bigrams
        key = bigram.key
        fits = [bigram.fit(left, key(w), right) ** CONTEXT_WEIGHT for w in (lower, *(c for c, _, _ in entry.candidates))]
        if max(fits) < CONTEXT_EVIDENCE * min(fits) and not entry.known:
            return None  # the neighbours fit every reading alike
        prior = [entry.keep] + [s for _, s, _ in entry.candidates]
        scores = [p * f for p, f in zip(prior, fits)]
        total, prior_total = sum(scores), sum(prior)
        best = max(range(len(scores)), key=scores.__getitem__)
        confidence = scores[best] / total
        # context must move the posterior itself, not stand in for the word-level filters
        if best and confidence >= self.min_confidence and (entry.known or confidence > prior[best] / prior_total):
            candidate, _, rule = entry.candidates[best - 1]
            return candidate, rule, round(confidence, 4)
        if chosen is not None:
            share = sum(s for (c, _, _), s in zip(entry.candidates, scores[1:]) if c == chosen) / total
            share_alone = sum(s for (c, _, _), s in zip(entry.candidates, prior[1:]) if c == chosen) / prior_total
            if share < self.min_confidence and share < CONTEXT_VETO * share_alone:
                return _VETO
        return None

    def _pronoun_verdict(self, left: str | None, right: str | None) -> tuple[str, str, float] | None:
        """A lone ``1`` between words is ``I`` when the word after it follows ``I`` (:data:`PRONOUN_RIGHT_ASSOCIATION`).

        ``1 have``, ``1 think``, ``but 1 am``; not ``1 of``, ``1 in``, ``1 day``,
        ``1 John`` (``I`` seldom precedes them), nor after a word that seldom
        precedes ``I`` (``version 1 was``) or a number. The word after must be
        in lower case (:meth:`_weigh_context` checks: the neighbours here are in
        :meth:`~corpusclean.ocr_context.BigramContext.key` form).
        """
        bigram = self._bigrams
        if right is None or not right.isalpha() or bigram.association("i", right) < PRONOUN_RIGHT_ASSOCIATION:
            return None
        if not bigram.has_pair("i", right) and (bigram.has_pair("the", right) or bigram.has_pair("one", right)):
            return None  # 1 decade, 1 inch: a noun, written after the or one but never after I (I beseech: after none)
        if left is not None and (not left.isalpha() or bigram.association(left, "i") < PRONOUN_LEFT_ASSOCIATION):
            return None
        return "I", PRONOUN_RULE, PRONOUN_CONFIDENCE

    def _join_noise(self, text: str, claimed: list[tuple[int, int]]) -> list[Edit]:
        """``stra.ngers`` -> ``strangers``: one stray mark inside a word, taken out when that makes a word.

        Only where the two letter runs joined are a lexicon word (at least
        :data:`~corpusclean.ocr_model.NOISE_JOIN_FREQUENCY`), the longer
        run has three letters or more (``e.g``, ``U.S`` stay), and the mark
        does not simply stand for a lost space between two words
        (``end.Next``, ``him,and``). Needs only the lexicon.
        """
        from corpusclean.ocr_model import NOISE_JOIN_CONFIDENCE, NOISE_JOIN_FREQUENCY, load_join_lexicon

        lexicon = load_join_lexicon(self.language)
        joins: list[Edit] = []
        for match in NOISE_CHUNK_RE.finditer(text):
            start, end = match.span()
            if any(a < end and start < b for a, b in claimed):
                continue
            left, right = match.group(1), match.group(3)
            if max(len(left), len(right)) < 3 or (right[0].isupper() and not left.isupper()):
                continue
            joined = left + right
            if lexicon.get(joined.lower(), 0.0) < NOISE_JOIN_FREQUENCY or self._is_frozen(joined):
                continue
            if min(lexicon.get(left.lower(), 0.0), lexicon.get(right.lower(), 0.0)) >= NOISE_JOIN_FREQUENCY and len(min(left, right, key=len)) > 1:
                continue  # two words with a mark between: a lost space, not a stray mark
            joins.append(Edit(STAGE, "noise", start, match.group(), joined, NOISE_JOIN_CONFIDENCE))
        return joins

    def _weigh_context(
        self, text: str, starts: list[int], ends: list[int], tokens: Sequence[str], edits: list[Edit],
        claimed: list[tuple[int, int]], context_indexes: Sequence[int] | None = None,
    ) -> list[Edit]:
        """Second opinion from the neighbours on each token of the context map (see :mod:`corpusclean.ocr_context`).

        Each hypothesis for the token (keep it, or one of its candidates)
        has its unigram score multiplied by its association with the words
        either side (as the word-level pass left them) and renormalised. A
        candidate reaching ``min_confidence`` is made (rule ``context ...``);
        a word-level change context leaves below it is withdrawn. For a token
        the lexicon does not know, context must raise the candidate's
        posterior itself, and where the neighbours say nothing (no neighbour
        in the same clause, or every hypothesis fits them alike) the
        word-level verdict stands. A lexicon word has no word-level verdict
        (the map never questions it): this posterior is its only judge.
        """
        key = self._bigrams.key
        contexts = self._contexts
        by_start = {edit.position: edit for edit in edits}
        replaced: dict[int, str] = {}  # match index -> the word as context left it

        def neighbour(j: int) -> str | None:
            if j in replaced:
                return replaced[j]
            edit = by_start.get(starts[j])
            word = edit.after if edit is not None and edit.before == tokens[j] else tokens[j]
            return key(word)

        changed = False
        last = len(tokens) - 1
        if context_indexes is None:
            context_indexes = [i for i, token in enumerate(tokens) if token in contexts]
        for i in context_indexes:
            token = tokens[i]
            entry = contexts[token]
            start, end = starts[i], ends[i]
            existing = by_start.get(start)
            if existing is not None and existing.before != token:
                continue  # a change to part of the token
            if any(a < end and start < b for a, b in claimed):
                continue
            left = neighbour(i - 1) if i and text[ends[i - 1] : start].isspace() else None
            right = neighbour(i + 1) if i < last and text[end : starts[i + 1]].isspace() else None
            chosen = existing.after.lower() if existing is not None else None
            verdict = self._memo_verdict(entry, token, left, right, chosen)
            if verdict is None:
                continue
            if verdict is _VETO:
                del by_start[start]
                replaced[i] = key(token)
                changed = True
                continue
            candidate, rule, confidence = verdict
            if token == DIGIT_FOR_I and (
                not tokens[i + 1][:1].islower() or _NUMBER_LABEL_BEFORE_RE.search(text, max(0, start - 8), start)
            ):
                continue  # 1 Kings, No. 1
            mid_clause = left is not None and tokens[i - 1][:1].islower()
            if existing is None and mid_clause and token[:1].isupper() and token[:1].lower() == candidate[:1]:
                continue  # a capital mid-clause that is no misread marks a name (Green and Woll)
            after = transfer_case(token, candidate)
            if existing is not None and chosen == candidate:
                if existing.after == after:
                    continue
                new = Edit(STAGE, existing.rule, start, token, after, existing.confidence)
            else:
                new = Edit(STAGE, "context " + rule, start, token, after, confidence)
            by_start[start] = new
            replaced[i] = key(candidate)
            changed = True
        if not changed:
            return edits
        return sorted(by_start.values(), key=lambda e: e.position)

    def _token_edits(self, token: str) -> list[TokenEdit]:
        """The edits for a token outside the decision map, relative to its start (memoised)."""
        memo = self._token_memo.get(token)
        if memo is not None:
            return memo
        edits = self._decide_token(token)
        if edits:
            self._token_memo[token] = edits
        else:
            self._unchanged.add(token)
            self._unchanged_new.append(token)
        return edits

    def _decide_token(self, token: str) -> list[TokenEdit]:
        """The edits for one word token, relative to its start: protection, then the table, then the model.

        The bare words of a compound or possessive are looked up in the
        decision map where it has them.
        """
        if token.casefold() in self.protected:
            return []
        right = self._table_lookup(token)
        if right is not None:
            return [(0, token, right, "table", 1.0)] if right != token else []
        if not self.automatic:
            return []
        if "-" in token:
            from corpusclean.ocr_model import INLINE_JOIN_CONFIDENCE, join_inline_hyphen, load_join_lexicon

            joined = join_inline_hyphen(token, load_join_lexicon(self.language), self.corpus_vocabulary)
            if joined is not None and not self._is_frozen(joined):
                return [(0, token, joined, "hyphenation inline", INLINE_JOIN_CONFIDENCE)]
        decided = self._decisions
        vocabulary = self.corpus_vocabulary or {}
        edits: list[TokenEdit] = []
        for offset, word in word_parts(token):
            decision = decided.get(word) if decided is not None else None
            if decision is None and decided is not None and word in vocabulary:
                continue  # a bare word the map already decided to keep
            if decision is None:
                decision = self._decide_word(word, token)
            if decision is not None:
                edits.append((offset, word, *decision))
        return edits

    def _decide_word(self, word: str, token: str) -> Decision | None:
        """The verdict on one bare word of ``token``: protection, the table, then the model.

        The model (built on first need) is asked only about words shaped like
        prose, in tokens that are not common compounds as a whole
        (``twenty-seven``).
        """
        from corpusclean.ocr_model import has_correctable_shape, ocr_mixed_case

        if word.casefold() in self.protected:
            return None
        right = self._table_lookup(word)
        if right is not None:
            return (right, "table", 1.0) if right != word else None
        if not has_correctable_shape(word):
            return None
        if self.model.is_trusted(token.lower()) and ocr_mixed_case(word) is None:
            return None
        fix = self.model.correct_word(word)
        if fix is None or fix.word == word:
            split = self.model.split_run_together(word)
            if split is None:
                return None
            if self._first_pass is not None:
                self._first_pass_hit = True  # decided in the second pass; no confusion to learn from
                return None
            return split.word, split.rule, split.confidence
        if self._first_pass is not None:
            self._first_pass[word] = (fix.word, fix.rule, fix.confidence)
            self._first_pass_hit = True
            return None
        confidence = self._judge(word, fix.word, fix.rule, fix.confidence)
        if confidence is None or confidence < self.min_confidence:
            return None
        return fix.word, fix.rule, round(confidence, 4)

    def _is_frozen(self, word: str) -> bool:
        """Whether the user forbids changing ``word`` (protected or fixed by the table)."""
        return word.casefold() in self.protected or self._table_lookup(word) is not None


def _rules_of(rule: str) -> list[str]:
    """The confusions named in an automatic rule (``confusion c>e c>e`` -> ``['c>e', 'c>e']``)."""
    return [part for part in rule.split() if ">" in part]


def _without_chains(decisions: dict[str, Decision]) -> dict[str, Decision]:
    """Drop automatic changes whose replacement the run would itself change.

    If the map turns ``A`` into ``B`` and also ``B`` into something, the run
    holds both spellings and the model doubts each: no evidence which one is
    right (``Montraville`` <-> ``Montreville``, ``difculty`` <-> ``diiculty``).
    The user's table is never second-guessed.
    """
    return {
        token: decision
        for token, decision in decisions.items()
        if decision[1] == "table" or decision[0] not in decisions
    }


def _as_decision(token: str, edits: list[TokenEdit]) -> Decision:
    """A token's edits as one whole-token verdict.

    :func:`count_vocabulary` keys are bare words, whose single edit covers
    the whole token already; any other key (a caller's own vocabulary with
    compounds in it) gets its edits folded into one replacement.
    """
    if len(edits) == 1 and edits[0][0] == 0 and edits[0][1] == token:
        return edits[0][2:]
    pieces: list[str] = []
    cursor = 0
    for offset, before, after, _rule, _confidence in edits:
        pieces += [token[cursor:offset], after]
        cursor = offset + len(before)
    pieces.append(token[cursor:])
    return "".join(pieces), " + ".join(e[3] for e in edits), min(e[4] for e in edits)


def _apply_sorted(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits sorted by position (one pass, no copying per edit)."""
    pieces: list[str] = []
    cursor = 0
    for edit in edits:
        pieces.append(text[cursor : edit.position])
        pieces.append(edit.after)
        cursor = edit.position + len(edit.before)
    pieces.append(text[cursor:])
    return "".join(pieces)
