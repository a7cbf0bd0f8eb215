"""OCR folding: a comparison form under which common OCR misreadings agree.

One wrong letter changes every word shingle that holds the word, so a copy
with OCR noise on 5% of its words loses about a fifth of its 5-word shingles
and falls below a 0.8 Jaccard threshold. Deduplication therefore compares
texts after *folding*: each class of characters that OCR engines confuse is
written as one representative, and each digraph that OCR reads as one letter
(or the reverse) as that letter: ``Licbknccht`` and ``Liebknecht`` both fold
to ``hchkncchl``, so their shingles agree.

The classes are the classic OCR confusions (Kukich 1992; the ``c↔e``,
``n↔a``, ``l↔t``, ``rn↔m``, ``li↔h``, ``cl↔d``, ``ii↔u``, ``1↔l``, ``0↔o``
of issue 3) and the two most frequent single-letter confusions of the ICDAR
2017 English training data in ``data/ocr_confusions.tsv`` (``b↔h``,
``u↔n``). Folding only ever makes two texts *more* alike, so it can raise
recall but also join different words (``ten`` and ``tea``); with 5-word
shingles and a 0.8 threshold that never decides a pair on the benchmark
corpus (``docs/dedup.md`` has the measurement). Deduplication never writes
the folded form; it only compares it.

:func:`fold_text` is the reference definition, one string at a time;
:func:`fold_batch` computes the same for many texts in one compiled pass.
"""

from __future__ import annotations

from typing import Sequence

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusclean.parallel import as_text_array, utf8_buffers

CHARACTER_CLASSES: tuple[str, ...] = ("ce", "nau", "lt1", "o0", "hb")
"""Letters OCR confuses one for another; each folds to its class's first letter."""

DIGRAPHS: dict[str, str] = {"rn": "m", "li": "h", "cl": "d", "ii": "u"}
"""Letter pairs OCR reads as one letter (or the reverse), as written *before* folding."""


def _single_table() -> np.ndarray:
    """Byte → folded byte: ASCII lower-cased, then each class member to its representative."""
    table = np.arange(256, dtype=np.uint8)
    for members in CHARACTER_CLASSES:
        for ch in members:
            table[ord(ch)] = ord(members[0])
    for b in range(ord("A"), ord("Z") + 1):
        table[b] = table[b + 32]
    return table


_SINGLE = _single_table()


def _digraph_table() -> np.ndarray:
    """``[first, second]`` folded bytes → folded replacement byte, 0 where the pair is no digraph.

    Digraphs are matched on the folded letters, so a confusion inside a digraph
    (``el`` read ``cl``) still meets it: both fold to ``cl`` and then to ``d``.
    """
    table = np.zeros((256, 256), dtype=np.uint8)
    for pair, letter in DIGRAPHS.items():
        a, b = (int(_SINGLE[ord(ch)]) for ch in pair)
        table[a, b] = _SINGLE[ord(letter)]
    return table


_DIGRAPH = _digraph_table()
_SINGLE_TRANSLATION = {i: chr(int(_SINGLE[i])) for i in range(128) if _SINGLE[i] != i}


def fold_text(text: str) -> str:
    """``text`` in folded form: ASCII letters lower-cased and folded, then digraphs
    replaced left to right without overlap. Other characters are kept as they are."""
    folded = text.translate(_SINGLE_TRANSLATION)
    out: list[str] = []
    i = 0
    while i < len(folded):
        ch = folded[i]
        if i + 1 < len(folded) and ch < "\x80" and folded[i + 1] < "\x80":
            letter = _DIGRAPH[ord(ch), ord(folded[i + 1])]
            if letter:
                out.append(chr(letter))
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def fold_batch(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """``[fold_text(t) for t in texts]`` as one ``large_string`` array (nulls kept as nulls)."""
    array = as_text_array(texts)
    n = len(array)
    if n == 0:
        return array
    offsets, data = utf8_buffers(array)
    out_data, out_offsets = _fold(data, offsets, _SINGLE, _DIGRAPH)
    folded = pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out_data))
    return folded if array.null_count == 0 else pc.if_else(pc.is_valid(array), folded, pa.scalar(None, pa.large_string()))


@numba.njit(cache=True, nogil=True)
def _fold(data, offsets, single, digraph):  # pragma: no cover - compiled
    """Folded UTF-8 bytes and ``int64`` offsets (rebased to 0) of each text.

    Non-ASCII bytes (every byte of a multi-byte character is >= 0x80) are copied
    and never part of a digraph, so the output stays valid UTF-8.
    """
    n = offsets.size - 1
    base = offsets[0]
    out = np.empty(offsets[n] - base, dtype=np.uint8)
    out_offsets = np.empty(n + 1, dtype=np.int64)
    k = 0
    for t in range(n):
        out_offsets[t] = k
        i = offsets[t]
        end = offsets[t + 1]
        while i < end:
            a = single[data[i]]
            if a < 128 and i + 1 < end:
                b = single[data[i + 1]]
                letter = digraph[a, b] if b < 128 else 0
                if letter != 0:
                    out[k] = letter
                    k += 1
                    i += 2
                    continue
            out[k] = a
            k += 1
            i += 1
    out_offsets[n] = k
    return out[:k].copy(), out_offsets
