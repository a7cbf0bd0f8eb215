"""Repair encoding damage: ftfy, configured deliberately, plus what ftfy misses.

Which ftfy fixes are on, and why (see also the README):

* mojibake repair (``fix_encoding`` and its helpers), HTML entities outside of
  HTML (``unescape_html="auto"``), terminal escapes, control characters, C1
  controls, surrogates, line breaks, Latin ligatures (``ﬁ`` is a PDF/OCR
  artefact) and fullwidth Latin letters: on — they are damage, not content;
* ``uncurl_quotes``: **off** — typographic quotes and apostrophes are real text
  that a dataset should keep; deduplication folds them when it compares;
* normalisation: NFC, not NFKC — NFKC rewrites meaningful characters
  (superscripts, ``ℓ``, ``½``).

ftfy cannot see mojibake whose lead byte was lost: UTF-8 ``“`` is ``E2 80 9C``,
read as cp1252 it is ``â€œ``, and scrapers that strip ``â`` leave ``€œ``. We
rebuild such ``€`` + continuation-character pairs when the result is a General
Punctuation character, the only block that starts with ``E2 80``.

Every change is an :class:`~corpusclean.edits.Edit` with stage ``encoding``
and a rule naming the fix (``ftfy:unescape_html``,
``ftfy:mojibake:sloppy-windows-1252>utf-8``, ``lost-lead-byte``).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Iterable, Sequence

import ftfy
from ftfy import chardata
from ftfy.badness import is_bad
import numba
import numpy as np
import regex

from corpusclean.edits import Edit, sequence_edits
from corpusclean.token_diff import opcodes as token_opcodes
from corpusclean.word_scan import text_code_points

STAGE = "encoding"

FTFY_CONFIG = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC", explain=True)

# Text that is printable ASCII without '&' cannot need any of the fixes below.
_WORDS_AND_SPACES = re.compile(r"\S+|\s+")
# Text that is printable ASCII without '&' cannot need any of the fixes below.
_MAY_NEED_FIX = re.compile(r"[^\x09\x0a\x20-\x25\x27-\x7e]")  # re scans one class ~3x faster than regex


def _suspect_characters() -> frozenset[str]:
    """Characters that one of the enabled ftfy fixes (or ours) rewrites, whatever surrounds them."""
    chars = set(chardata.LIGATURES) | set(chardata.WIDTH_MAP) | set(chardata.CONTROL_CHARS)
    chars = {chr(c) if isinstance(c, int) else c for c in chars}
    chars |= {chr(c) for c in range(0x80, 0xA0)}  # C1 controls
    chars |= {chr(c) for c in range(0xD800, 0xE000)}  # surrogates
    chars |= set("&\x1b\r\u2028\u2029\x85€\ufffd")
    return frozenset(chars)


def _byte_renderings(first: int, last: int) -> frozenset[str]:
    """How bytes ``first``–``last`` look in every single-byte encoding ftfy tries."""
    chars: set[str] = set()
    for encoding in chardata.CHARMAP_ENCODINGS:
        for byte in range(first, last + 1):
            try:
                chars.add(bytes([byte]).decode(encoding))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


def _char_class(chars: Iterable[str]) -> str:
    """A regex character class matching exactly ``chars`` (code-point ranges, every one escaped)."""
    codes = sorted({ord(c) for c in chars})
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


_SUSPECT = _suspect_characters()
# One compiled scan instead of a set lookup per character: matches where a character of _SUSPECT is.
_SUSPECT_RE = re.compile(_char_class(_SUSPECT))
# Mojibake of a multi-byte UTF-8 character is a lead byte (C2–F4) followed by
# continuation bytes (80–BF) read in a single-byte encoding; text with no such
# pair cannot be mojibake and skips ftfy's (slow) detectors.
_MOJIBAKE_LEAD = _byte_renderings(0xC2, 0xF4)
_MOJIBAKE_CONTINUATION = _byte_renderings(0x80, 0xBF)
_LATIN1_LEAD = frozenset(chr(c) for c in range(0xC2, 0xF5))
# In a look-ahead so that pairs overlap: "À×¤" holds the pair "×¤".
_NON_ASCII_PAIR = re.compile("(?=([\u0080-\U0010ffff][\u0080-\U0010ffff ?]))")
# Where _could_be_mojibake holds for a pair of _NON_ASCII_PAIR, in one compiled scan:
# a non-ASCII lead then a non-ASCII continuation (other than " ?"), or a Latin-1 lead then " " or "?".
# (One leading class, then look-behinds: ~3x faster to scan than an alternation of two pairs.)
_NON_ASCII_LEAD = {c for c in _MOJIBAKE_LEAD if c >= "\x80"}
_MOJIBAKE_PAIR_RE = re.compile(
    _char_class(_NON_ASCII_LEAD | _LATIN1_LEAD)
    + f"(?:(?<={_char_class(_NON_ASCII_LEAD)}){_char_class(c for c in _MOJIBAKE_CONTINUATION if c >= chr(0x80))}"
    + f"|(?<={_char_class(_LATIN1_LEAD)})[ ?])"
)


def _lost_lead_byte_table() -> dict[str, str]:
    table: dict[str, str] = {}
    # From 0x81: 0x80 is cp1252's "€" itself, and E2 80 80 is U+2000, which NFC rewrites anyway.
    for byte in range(0x81, 0xC0):
        try:
            shown = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            continue  # 0x81, 0x8D, 0x8F, 0x90, 0x9D have no cp1252 character and are lost anyway
        target = bytes([0xE2, 0x80, byte]).decode("utf-8")
        # Only visible punctuation: spaces, separators and format characters are
        # not what scrapers damage, and ftfy itself rewrites some (U+2028 → "\n").
        if unicodedata.category(target)[0] in "PS" and ftfy.fix_text(target, FTFY_CONFIG) == target:
            table["€" + shown] = target
    return table


LOST_LEAD_BYTE = _lost_lead_byte_table()
# Not after a digit or followed by one: "5€–10€" is a price range, not mojibake.
_LOST_LEAD_BYTE_RE = regex.compile(
    r"(?<![\d€])€([" + regex.escape("".join(k[1] for k in LOST_LEAD_BYTE)) + r"])(?!\d)"
)


def fix_lost_lead_byte(text: str) -> tuple[str, list[Edit]]:
    """Rebuild ``€œ`` → ``“``, ``€¦`` → ``…``, ``€™`` → ``’`` and the rest of that family."""
    if "€" not in text:
        return text, []
    edits: list[Edit] = []
    parts: list[str] = []
    pos = 0
    for match in _LOST_LEAD_BYTE_RE.finditer(text):
        fixed = LOST_LEAD_BYTE[match.group(0)]
        edits.append(Edit(STAGE, "lost-lead-byte", match.start(), match.group(0), fixed))
        parts.append(text[pos : match.start()])
        parts.append(fixed)
        pos = match.end()
    parts.append(text[pos:])
    return "".join(parts), edits


def diff_edits(before: str, after: str, rule: str) -> list[Edit]:
    """Localised edits that turn ``before`` into ``after``, one per changed run of words.

    The diff runs over words and the spaces between them, not characters: it
    is readable (``&amp;`` → ``&``, not "delete ``amp;``") and, on 2,000-character
    paragraphs, a hundred times cheaper than a character diff.
    """
    a, b = _WORDS_AND_SPACES.findall(before), _WORDS_AND_SPACES.findall(after)
    # Most repairs touch a word or two: align only what lies between the common ends.
    shorter = min(len(a), len(b))
    head = 0
    while head < shorter and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < shorter - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    a_at = _offsets(a[:head], a_mid)
    b_at = _offsets(b[:head], b_mid)
    # difflib.SequenceMatcher(str.isspace, a_mid, b_mid, autojunk=False), compiled: spaces
    # may not anchor a match (they are everywhere), which keeps the alignment cheap.
    return [
        Edit(STAGE, rule, a_at[i1], before[a_at[i1] : a_at[i2]], after[b_at[j1] : b_at[j2]])
        for tag, i1, i2, j1, j2 in token_opcodes(a_mid, b_mid)
        if tag != "equal"
    ]


def _offsets(prefix: list[str], tokens: list[str]) -> list[int]:
    """Start offset of each of ``tokens`` (which follow ``prefix``), plus the end."""
    return list(itertools.accumulate(map(len, tokens), initial=sum(map(len, prefix))))


def fix_with_ftfy(text: str) -> tuple[str, list[list[Edit]]]:
    """``ftfy.fix_and_explain(text, FTFY_CONFIG)``, one step at a time; returns the text and each step's edits.

    Each step's edits are positioned in the text as it was before that step.
    The result is ftfy's own (a test compares them on real and random text);
    driving its steps here, rather than replaying its plan afterwards, is
    what lets us see each step's text before and after, and skip what cannot
    change anything. ftfy repeats its whole pass until nothing changes: a
    second pass is only needed if something after the mojibake repair acted
    or an ``&`` is left, since ftfy's fixes are deterministic functions of
    the text and its encoding repair already stopped on a step that changed
    nothing. The fixers after the encoding repair act only on characters of
    :data:`_SUSPECT`, so text without one skips them.
    """
    config = FTFY_CONFIG if "<" not in text else _FTFY_CONFIG_IN_HTML
    steps: list[list[Edit]] = []
    while True:
        start = text
        if "&" in text:
            text = _fixer_step("unescape_html", text, config, steps)
        while True:  # ftfy.fix_encoding_and_explain
            fixed, plan = ftfy._fix_encoding_one_step_and_explain(text, config)
            if fixed == text:
                break
            steps.append(diff_edits(text, fixed, _encoding_rule(plan)))
            text = fixed
            if not needs_repair(text):  # ftfy's next step would change nothing: spare its detectors
                break
        repaired = text
        if _SUSPECT_RE.search(text):
            for name in _LATER_FIXERS:
                text = _fixer_step(name, text, config, steps)
        if not unicodedata.is_normalized("NFC", text):
            normalized = unicodedata.normalize("NFC", text)
            steps.append(diff_edits(text, normalized, "ftfy:normalize"))
            text = normalized
        if text == start or (text == repaired and "&" not in text):
            return text, steps


# ftfy.fix_and_explain's fixers after the encoding repair, in its order (uncurl_quotes is off: see above).
_LATER_FIXERS = tuple(
    name
    for name in ("fix_c1_controls", "fix_latin_ligatures", "fix_character_width", "uncurl_quotes",
                 "fix_line_breaks", "fix_surrogates", "remove_terminal_escapes", "remove_control_chars")
    if getattr(FTFY_CONFIG, name)
)  # fmt: skip
# ftfy leaves HTML entities alone in text that holds a "<" (it may be HTML): decided once, on the input.
_FTFY_CONFIG_IN_HTML = FTFY_CONFIG._replace(unescape_html=False)


def _fixer_step(name: str, text: str, config: ftfy.TextFixerConfig, steps: list[list[Edit]]) -> str:
    """Apply one of ftfy's fixers (if ``config`` enables it) and record its edits as a step."""
    if not getattr(config, name):
        return text
    fixed = ftfy.FIXERS[name](text)
    if fixed != text:
        steps.append(diff_edits(text, fixed, f"ftfy:{name}"))
    return fixed


def _encoding_rule(plan: Iterable[tuple[str, str]]) -> str:
    """The rule of one encoding-repair step: ``ftfy:mojibake:ENC>DEC`` for a re-decoding, else the fix's name."""
    encoded = decoded = ""
    names: list[str] = []
    for action, name in plan:
        if action == "encode":
            encoded = name
        elif action == "decode":
            decoded = name
        else:
            names.append(name)
    return f"ftfy:mojibake:{encoded}>{decoded}" if decoded else f"ftfy:{names[0]}"


def _could_be_mojibake(pair: str) -> bool:
    lead, follower = pair
    if follower in " ?":  # damaged mojibake ftfy still repairs: a lost U+00A0 or a lost byte
        return lead in _LATIN1_LEAD
    return lead in _MOJIBAKE_LEAD and follower in _MOJIBAKE_CONTINUATION


def needs_repair(text: str) -> bool:
    """Whether any enabled fix could change ``text``: the cheap gate before ftfy's full pipeline.

    Running every ftfy fixer costs ~0.4 µs a character; most scraped text
    needs none of them. A fixer only acts on a character it rewrites (controls,
    ligatures, fullwidth forms, entities, line separators…), on mojibake
    (which ftfy itself only fixes where ``is_bad`` says so, or where its UTF-8
    detector matches), or on text that is not NFC.
    """
    if not _MAY_NEED_FIX.search(text):
        return False
    if _SUSPECT_RE.search(text) or not unicodedata.is_normalized("NFC", text):
        return True
    if not _MOJIBAKE_PAIR_RE.search(text):  # any(_could_be_mojibake(pair) for each _NON_ASCII_PAIR)
        return False
    return bool(is_bad(text) or chardata.UTF8_DETECTOR_RE.search(text))


# needs_repair over many texts at once: each code point's part in the gate, one compiled scan.
_MAY, _SUSPECT_BIT, _NON_ASCII_LEAD_BIT, _LATIN1_LEAD_BIT, _CONTINUATION_BIT = 1, 2, 4, 8, 16
_CLEAN, _TO_FIX, _PAIRED, _UNPAIRED = 0, 1, 2, 3  # what the scan says of a text


def _gate_table() -> np.ndarray:
    table = np.full(0x110000, _MAY, np.uint8)
    table[[0x09, 0x0A, *range(0x20, 0x26), *range(0x27, 0x7F)]] = 0
    for bit, chars in (
        (_SUSPECT_BIT, _SUSPECT), (_NON_ASCII_LEAD_BIT, _NON_ASCII_LEAD), (_LATIN1_LEAD_BIT, _LATIN1_LEAD),
        (_CONTINUATION_BIT, {c for c in _MOJIBAKE_CONTINUATION if c >= "\x80"}),
    ):  # fmt: skip
        table[[ord(c) for c in chars]] |= bit
    return table


_GATE_TABLE = _gate_table()


def needs_repair_many(texts: Sequence[str]) -> list[bool]:
    """:func:`needs_repair` of each of ``texts``: its three scans done for all of them in one compiled pass."""
    if not texts:
        return []
    code_points, bounds = text_code_points(texts)
    verdicts = np.empty(len(texts), np.uint8)
    _gate_scan(code_points, bounds, _GATE_TABLE, verdicts)
    out = []
    for text, verdict in zip(texts, verdicts.tolist()):
        if verdict == _CLEAN:
            out.append(False)
        elif verdict == _TO_FIX or not unicodedata.is_normalized("NFC", text):
            out.append(True)
        else:
            out.append(verdict == _PAIRED and bool(is_bad(text) or chardata.UTF8_DETECTOR_RE.search(text)))
    return out


@numba.njit(cache=True, nogil=True)
def _gate_scan(code_points, bounds, table, out):  # pragma: no cover - compiled
    """Per text: _CLEAN (nothing but printable ASCII other than "&"), _TO_FIX (a character of _SUSPECT),
    else _PAIRED or _UNPAIRED (whether it holds a pair _MOJIBAKE_PAIR_RE matches)."""
    for p in range(len(bounds) - 1):
        lo, hi = bounds[p], bounds[p + 1]
        may = False
        suspect = False
        paired = False
        for k in range(lo, hi):
            c = table[code_points[k]]
            if (c & 1) != 0:
                may = True
            if (c & 2) != 0:
                suspect = True
                break
            if not paired and k + 1 < hi:
                follower = code_points[k + 1]
                if (c & 4) != 0 and (table[follower] & 16) != 0:
                    paired = True
                elif (c & 8) != 0 and (follower == 32 or follower == 63):
                    paired = True
        if not may:
            out[p] = 0
        elif suspect:
            out[p] = 1
        else:
            out[p] = 2 if paired else 3


def repair_encodings(texts: Sequence[str]) -> list[tuple[str, list[Edit]]]:
    """:func:`repair_encoding` of each of ``texts``, the cheap gate compiled over all of them."""
    return [_repair(text) if needed else (text, []) for text, needed in zip(texts, needs_repair_many(texts))]


def repair_encoding(text: str) -> tuple[str, list[Edit]]:
    """Repair one paragraph's encoding damage; returns the text and every edit.

    Edits are in replay order: :func:`corpusclean.edits.replay_edits` on
    ``text`` reproduces the output.
    """
    return _repair(text) if needs_repair(text) else (text, [])


def _repair(text: str) -> tuple[str, list[Edit]]:
    steps: list[list[Edit]] = []
    while True:
        text, ftfy_steps = fix_with_ftfy(text)
        steps.extend(ftfy_steps)
        text, lead_edits = fix_lost_lead_byte(text)
        if lead_edits:
            steps.append(lead_edits)
        # A rebuilt mark can complete mojibake for ftfy (C1 controls "\x80\x98\x86": "€˜" is "‘", and
        # "‘†" is then UTF-8 shown as cp1252): repair again until nothing changes, so a repaired text
        # repairs to itself. Each rebuilt mark shortens the text, so this ends.
        if not lead_edits or not needs_repair(text):
            break
    return text, [edit for step in steps for edit in sequence_edits(step)]
