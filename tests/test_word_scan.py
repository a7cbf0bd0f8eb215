"""The compiled word scan finds exactly what the OCR stage's regular expressions find."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEEDS
from corpusclean import word_scan
from corpusclean.word_scan import BEYOND_BMP, HAS_HYPHEN_HINT, HAS_NOISE_HINT, HAS_SKIP_HINT, scan_words

_WORD_RE = regex.compile(word_scan.WORD)
_HINTS = ((HAS_HYPHEN_HINT, regex.compile(word_scan.HYPHEN_HINT)), (HAS_NOISE_HINT, regex.compile(word_scan.NOISE_HINT)),
          (HAS_SKIP_HINT, regex.compile(word_scan.SKIP_HINT)))  # fmt: skip

_PIECES = st.sampled_from(
    ["a", "Z", "é", "e\u0301", "ß", "Σ", "٣", "5", "²", "'", "’", "-", "--", " ", "\n", "\t", "\xa0", "\u2028", ".", ",", ";",
     "(", ")", "|", "~", "•", "■", "_", "/", "\\", "{", "<", "=", "#", "$", "%", "^", "`", "@", "www.", "WwW.", "ww.",
     "x@y.z", "http://", "revolu-\ntionary", "stra.ngers", "l)oard", "don't", "twenty-seven", "\ud800", "\U0001d400", "😀"]
)  # fmt: skip
_TEXTS = st.lists(st.lists(_PIECES, max_size=30).map("".join), max_size=6)


def _reference(text: str) -> tuple[int, list[tuple[int, int]]]:
    flags = sum(flag for flag, pattern in _HINTS if pattern.search(text))
    return flags, [m.span() for m in _WORD_RE.finditer(text)]


def _check(texts: list[str]) -> None:
    scan = scan_words(texts)
    assert len(scan.flags) == len(texts)
    for i, text in enumerate(texts):
        flags, spans = _reference(text)
        if any(ord(c) > 0xFFFF for c in text):
            assert scan.flags[i] & BEYOND_BMP and scan.plain_words(i) is None
            continue
        assert int(scan.flags[i]) == flags
        lo, hi = scan.word_offsets[i], scan.word_offsets[i + 1]
        assert list(zip(scan.starts[lo:hi], scan.ends[lo:hi])) == spans
        assert scan.plain_words(i) == (None if flags else ([a for a, _ in spans], [b for _, b in spans]))


@settings(max_examples=1500, deadline=None)
@given(_TEXTS)
def test_words_and_hints_are_the_regular_expressions(texts):
    _check(texts)


def test_on_real_text():
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    texts += [paragraph for text in texts for paragraph in text.split("\n\n")]
    _check(texts)
    scan = scan_words(texts)
    assert sum(len(scan.starts[scan.word_offsets[i] : scan.word_offsets[i + 1]]) for i in range(len(texts))) > 5000


def test_an_empty_batch_and_empty_texts():
    assert scan_words([]).word_offsets == [0]
    _check(["", "", "a"])
