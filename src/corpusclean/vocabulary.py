"""The run's vocabulary for OCR correction, counted in batches with Arrow.

:func:`count_vocabulary` gives exactly what :func:`corpusclean.ocr.count_vocabulary`
gives -- the same counts, in the same order -- at a fraction of the cost, by
moving the per-token work out of Python:

1. Arrow splits every text at spaces and counts the distinct space-delimited
   runs (C++, hash table, no Python object per token), one batch of texts at
   a time;
2. Python tokenises each *distinct* run once (``corpusclean.ocr.word_tokens``)
   and multiplies by its count;
3. each distinct token is split into its bare words once (hyphens, possessive
   ``'s``, run-together names), as :func:`corpusclean.ocr.count_vocabulary` does.

Why splitting at spaces is exact: every pattern of the tokeniser
(``corpusclean.ocr.TOKEN_RE``) stops at whitespace -- words are letters,
marks and digits joined by apostrophes or hyphens, and the URL/e-mail/code
chunks it skips are whitespace-delimited runs that begin after whitespace
(``(?<!\\S)``). So the tokens of a text are the tokens of its space-separated
pieces, in order. (A piece may still hold other whitespace, a newline say: it
is tokenised as the text would be. Splitting at *every* character Arrow calls
whitespace would not be exact: Arrow counts ``\\x1c``-``\\x1f`` as whitespace,
the tokeniser does not.)

Why the order is the same: Arrow's ``value_counts`` lists distinct values in
order of first occurrence, batches are merged in text order, and the tokens
and words of each distinct run are added in order, so every word appears at
the position of its first occurrence, as with a per-token ``Counter``.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BATCH_BYTES = 16 << 20
"""Text per Arrow batch: bounds the memory of the split runs (about twice the batch)."""


def count_vocabulary(
    texts: Iterable[str] | pa.Array | pa.ChunkedArray, workers: int = 1, batch_bytes: int = BATCH_BYTES
) -> collections.Counter[str]:
    """Count the word tokens of ``texts`` like :func:`corpusclean.ocr.count_vocabulary` (same counts, same order).

    ``texts`` may be any iterable of strings or an Arrow string array
    (chunked or not, e.g. memory-mapped columns of many files). Batches are
    counted on ``workers`` threads: Arrow's kernels release the GIL.
    """
    return words_of_runs(count_runs(texts, workers, batch_bytes))


def count_runs(
    texts: Iterable[str] | pa.Array | pa.ChunkedArray, workers: int = 1, batch_bytes: int = BATCH_BYTES
) -> collections.Counter[str]:
    """The space-delimited runs of ``texts`` with their counts, in order of first occurrence."""
    batches = list(_batches(_as_chunks(texts), batch_bytes))
    if workers > 1 and len(batches) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
            counted = list(pool.map(_count_batch, batches))
    else:
        counted = [_count_batch(b) for b in batches]
    return merge_counts(counted)


def merge_counts(counted: Iterable[tuple[Iterable[str], Iterable[int]]]) -> collections.Counter[str]:
    """Add up ``(values, counts)`` of consecutive parts of a text (its runs, or its words), keeping the order of first occurrence."""
    runs: collections.Counter[str] = collections.Counter()
    for values, counts in counted:
        if not runs:
            runs = collections.Counter(dict(zip(values, counts)))
            continue
        get = runs.get
        for value, n in zip(values, counts):
            runs[value] = get(value, 0) + n
    return runs


def words_of_runs(runs: Mapping[str, int]) -> collections.Counter[str]:
    """Tokenise each distinct run once and split each distinct token into its counted words."""
    from corpusclean.ocr import count_token_words, word_tokens

    tokens: collections.Counter[str] = collections.Counter()
    get = tokens.get
    for run, n in runs.items():
        for token in word_tokens(run):
            tokens[token] = get(token, 0) + n
    return count_token_words(tokens)


def _count_batch(batch: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    runs = pc.list_flatten(pc.split_pattern(batch, " "))
    counted = pc.value_counts(runs)
    values, counts = counted.field("values"), counted.field("counts")
    if values.null_count:  # null texts have no runs
        keep = pc.is_valid(values)
        values, counts = values.filter(keep), counts.filter(keep)
    return values.to_pylist(), counts.to_pylist()


def _as_chunks(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    if isinstance(texts, pa.ChunkedArray):
        return [c for c in texts.chunks if len(c)]
    if isinstance(texts, pa.Array):
        return [texts] if len(texts) else []
    array = pa.array(texts if isinstance(texts, list) else list(texts), pa.large_string())
    return [array] if len(array) else []


def _batches(chunks: list[pa.Array], batch_bytes: int) -> Iterator[pa.ChunkedArray]:
    """Consecutive groups of whole or sliced chunks of about ``batch_bytes`` of text, in order."""
    pending: list[pa.Array] = []
    size = 0
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = chunk.cast(pa.large_string())
        cumulative = np.cumsum(pc.fill_null(pc.binary_length(chunk), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
        start, base = 0, 0
        while start < len(chunk):
            # The first row that brings the pending batch to batch_bytes closes it.
            row = int(np.searchsorted(cumulative, base + batch_bytes - size, side="left"))
            if row >= len(chunk):
                pending.append(chunk.slice(start))
                size += int(cumulative[-1]) - base
                break
            pending.append(chunk.slice(start, row + 1 - start))
            yield pa.chunked_array(_same_type(pending))
            pending, size, base, start = [], 0, int(cumulative[row]), row + 1
    if pending:
        yield pa.chunked_array(_same_type(pending))


def _same_type(arrays: list[pa.Array]) -> list[pa.Array]:
    if all(a.type == arrays[0].type for a in arrays):
        return arrays
    return [a.cast(pa.large_string()) for a in arrays]
