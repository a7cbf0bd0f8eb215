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


_WORDS = st.sampled_from(["he", "be", "the", "tbe", "Lord's", "well-known", "é", "e\u0301", "٣", "x", "X", "hc"])
_CLASSES = st.dictionaries(_WORDS, st.sampled_from([word_scan.ORDINARY, word_scan.CONTEXT, word_scan.CHANGED]))
_PARAGRAPHS = st.lists(st.lists(st.tuples(_WORDS, st.sampled_from([" ", ", ", "\n", ". ", "-", "|", "—", "\x1c", " \u2028\xa0"])), max_size=12)
                       .map(lambda pairs: "".join(w + s for w, s in pairs)), max_size=6)  # fmt: skip


@settings(max_examples=800, deadline=None)
@given(_CLASSES, _PARAGRAPHS, st.integers(0, 3))
def test_what_a_paragraph_needs_follows_its_words_classes(classes, texts, split):
    table = word_scan.TokenTable()
    by_class: dict[int, list[str]] = {}
    for token, token_class in classes.items():
        by_class.setdefault(token_class, []).append(token)
    items = sorted(by_class.items())
    for token_class, tokens in items[:split]:  # in two rounds: what is added later is found too
        table.add(tokens, token_class)
    for token_class, tokens in items[split:]:
        table.add(tokens, token_class)
    scan = scan_words(texts, table)
    for i, text in enumerate(texts):
        words = [m.group() for m in _WORD_RE.finditer(text)]
        found = [classes.get(w, 0) for w in words]
        plain = scan.plain_words(i) is not None
        if not plain or any(c in (0, word_scan.CHANGED) for c in found):
            assert scan.needs[i] == word_scan.NEEDS_WORDS and scan.context_indexes(i) == []
        else:
            contexts = [j for j, c in enumerate(found) if c == word_scan.CONTEXT]
            assert scan.needs[i] == (word_scan.CONTEXT_ONLY if contexts else word_scan.KEPT)
            assert scan.context_indexes(i) == contexts
            # each context word's token, and its neighbours' where only spaces (str.isspace) stand between
            spans = [m.span() for m in _WORD_RE.finditer(text)]
            expected = [
                (words[j], words[j - 1] if j and text[spans[j - 1][1] : spans[j][0]].isspace() else None,
                 words[j + 1] if j + 1 < len(words) and text[spans[j][1] : spans[j + 1][0]].isspace() else None)
                for j in contexts
            ]  # fmt: skip
            rows = scan.context_neighbours[scan.context_offsets[i] : scan.context_offsets[i + 1]].tolist()
            assert [tuple(table.tokens[t] if t >= 0 else None for t in row) for row in rows] == expected


def test_a_table_grows_and_keeps_what_it_holds():
    table = word_scan.TokenTable()
    words = [f"w{i}" for i in range(5000)]
    for start in range(0, len(words), 700):
        table.add(words[start : start + 700], word_scan.ORDINARY)
    table.add(["w42"], word_scan.CONTEXT)
    assert table.size == 5000 and len(table.classes) >= 2 * table.size
    scan = scan_words([" ".join(words), "w42 w1", "w1 w2 unknown"], table)
    assert list(scan.needs) == [word_scan.CONTEXT_ONLY, word_scan.CONTEXT_ONLY, word_scan.NEEDS_WORDS]
    assert scan.context_indexes(0) == [42] and scan.context_indexes(1) == [0]


def test_a_token_keeps_its_first_id_when_added_again():
    table = word_scan.TokenTable()
    table.add(["he", "be"], word_scan.ORDINARY)
    table.add(["be"] + [f"w{i}" for i in range(3000)], word_scan.CONTEXT)  # grows the table, moving every slot
    scan = scan_words(["he be w7"], table)
    assert [table.tokens[t] for t in scan.context_neighbours[0]] == ["be", "he", "w7"]
