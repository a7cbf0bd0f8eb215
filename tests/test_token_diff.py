"""The compiled token diff gives difflib's opcodes exactly."""

from __future__ import annotations

import difflib
import re

import ftfy
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusclean.encoding import FTFY_CONFIG, needs_repair
from corpusclean.token_diff import opcodes
from _seed_paragraphs import seed_paragraphs

WORDS_AND_SPACES = re.compile(r"\S+|\s+")


def _difflib(a: list[str], b: list[str]):
    return difflib.SequenceMatcher(str.isspace, a, b, autojunk=False).get_opcodes()


# Few distinct tokens, spaces among them: many equal-length ties and junk to extend over.
_TOKENS = st.lists(st.sampled_from(["the", "a", "b", "c", "cafe", "café", " ", "  ", "\n", "x"]), max_size=60)


@settings(max_examples=2000, deadline=None)
@given(_TOKENS, _TOKENS)
def test_opcodes_equal_difflibs_on_any_token_lists(a: list[str], b: list[str]) -> None:
    assert opcodes(a, b) == _difflib(a, b)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_opcodes_equal_difflibs_on_any_text(a: str, b: str) -> None:
    a_tokens, b_tokens = WORDS_AND_SPACES.findall(a), WORDS_AND_SPACES.findall(b)
    assert opcodes(a_tokens, b_tokens) == _difflib(a_tokens, b_tokens)


def _damage(text: str) -> str:
    """Seed text as a cp1252 reader of its UTF-8 would show it, with a few words dropped."""
    words = text.split(" ")
    kept = " ".join(w for i, w in enumerate(words) if i % 17 != 5)
    return kept.encode("utf-8").decode("cp1252", errors="replace")


def test_opcodes_equal_difflibs_on_real_repairs() -> None:
    texts = seed_paragraphs().column("text").to_pylist()
    compared = 0
    for text in texts:
        for before in (text, _damage(text)):
            after = ftfy.fix_text(before, FTFY_CONFIG) if needs_repair(before) else text
            for a, b in ((before, after), (text, before), (before, text)):
                a_tokens, b_tokens = WORDS_AND_SPACES.findall(a), WORDS_AND_SPACES.findall(b)
                assert opcodes(a_tokens, b_tokens) == _difflib(a_tokens, b_tokens)
                compared += 1
    assert compared > 100
