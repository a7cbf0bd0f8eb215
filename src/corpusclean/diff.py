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


def _elide(text: str, keep: int) -> str:
    words = tokenize(text)
    n_words = sum(1 for w in words if w.strip())
    if n_words <= 2 * keep + 4:
        return text
    head, tail = "".join(words[:keep]), "".join(words[-keep:])
    return f"{head}… [{n_words - 2 * keep} words] … {tail}"


def condense(ops: list[DiffOp], keep: int = 12) -> list[DiffOp]:
    """The diff with the middle of the right side's long runs of its own words elided, for reading side by side.

    A contained paragraph's twin can be 300 words around the 20 it shares;
    what matters is where they match and differ, so a run of words only the
    right (kept) side has keeps its first and last ``keep`` words (a run at
    either end keeps only the part next to the rest). Shared runs and the
    left (removed) side are never cut.
    """
    out: list[DiffOp] = []
    for n, op in enumerate(ops):
        if op.kind == "equal":  # shared text, and the left (removed) side, are always shown whole
            out.append(op)
            continue
        b = _elide(op.b, keep)
        if n == 0 and len(ops) > 1:  # leading run: only its end touches the rest
            b = _lead(op.b, keep)
        elif n == len(ops) - 1 and len(ops) > 1:
            b = _trail(op.b, keep)
        out.append(DiffOp(op.kind, op.a, b))
    return out


def _lead(text: str, keep: int) -> str:
    words = tokenize(text)
    n_words = sum(1 for w in words if w.strip())
    return text if n_words <= keep + 4 else f"[{n_words - keep} words] … " + "".join(words[-keep:])


def _trail(text: str, keep: int) -> str:
    words = tokenize(text)
    n_words = sum(1 for w in words if w.strip())
    return text if n_words <= keep + 4 else "".join(words[:keep]) + f"… [{n_words - keep} words]"
