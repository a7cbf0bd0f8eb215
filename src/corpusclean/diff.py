"""Word-level diffs for auditing: what a removed paragraph shares with its kept twin.

Tokens are words *with* their trailing whitespace, so joining the tokens of
either side gives that side's text back exactly; a diff is a list of
:class:`DiffOp` runs that the terminal view and the tests render or check.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import regex

_TOKEN = regex.compile(r"\S+\s*|\s+")

OpKind = Literal["equal", "delete", "insert", "replace"]


@dataclass(frozen=True, slots=True)
class DiffOp:
    """One run of a word diff: ``a`` is the left text's words, ``b`` the right's."""

    kind: OpKind
    a: str
    b: str


def tokenize(text: str) -> list[str]:
    """Split ``text`` into words with their trailing whitespace (``"".join`` gives it back)."""
    return _TOKEN.findall(text)


def word_diff(a: str, b: str) -> list[DiffOp]:
    """Word-level diff of ``a`` against ``b``; ``"".join(op.a)`` is ``a``, likewise for ``b``.

    Words are compared with surrounding whitespace stripped, so a reflowed
    line does not show as a change; autojunk is off because paragraphs are
    short and a frequent word ("the") must still anchor the alignment.
    """
    ta, tb = tokenize(a), tokenize(b)
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb], autojunk=False)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append(DiffOp(tag, "".join(ta[i1:i2]), "".join(tb[j1:j2])))  # type: ignore[arg-type]
    return ops


def diff_stats(ops: list[DiffOp]) -> dict[str, int]:
    """Words the two sides share, and words only on the left / only on the right."""
    shared = sum(len(op.a.split()) for op in ops if op.kind == "equal")
    only_a = sum(len(op.a.split()) for op in ops if op.kind != "equal")
    only_b = sum(len(op.b.split()) for op in ops if op.kind != "equal")
    return {"shared_words": shared, "only_left": only_a, "only_right": only_b}
