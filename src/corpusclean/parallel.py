"""Shard-parallel map over a text column, with a result independent of ``workers``.

Shards are contiguous row ranges of roughly equal character count; each shard
is processed by a pure function whose output depends only on its rows, and
the results come back in shard order, so concatenating them gives the same
answer for any worker count. Processes are only started when the input is
large enough to pay for them (:data:`MIN_PARALLEL_CHARS`).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

T = TypeVar("T")

MIN_PARALLEL_CHARS = 4_000_000
"""Below this many characters a process pool costs more than it saves."""
SHARDS_PER_WORKER = 2


def shard_bounds(texts: pa.Array, shards: int) -> list[tuple[int, int]]:
    """Split rows into at most ``shards`` contiguous ranges of similar total length."""
    n = len(texts)
    if n == 0:
        return []
    lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    cumulative = np.cumsum(lengths)
    targets = cumulative[-1] * np.arange(1, shards) / shards
    cuts = np.unique(np.concatenate([[0], np.searchsorted(cumulative, targets, side="right"), [n]]))
    return [(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]


def map_shards(
    fn: Callable[..., T], texts: Sequence[str] | pa.Array | pa.ChunkedArray, workers: int = 1, **kwargs: Any
) -> list[T]:
    """``[fn(shard, **kwargs) for shard in shards(texts)]``, in parallel when worthwhile.

    ``fn`` must be a module-level function (it is pickled to the workers).
    With one worker or a small input, ``fn`` runs once on all of ``texts``.
    """
    array = as_text_array(texts)
    total_chars = int(pc.sum(pc.binary_length(array)).as_py() or 0) if len(array) else 0
    if workers <= 1 or total_chars < MIN_PARALLEL_CHARS:
        return [fn(array, **kwargs)] if len(array) else []
    bounds = shard_bounds(array, workers * SHARDS_PER_WORKER)
    shards = [array.slice(lo, hi - lo) for lo, hi in bounds]
    return map_items(partial(fn, **kwargs), shards, workers)


def map_items(fn: Callable[[Any], T], items: Sequence[Any], workers: int) -> list[T]:
    """``[fn(item) for item in items]`` in order, over a process pool when there is more than one of each.

    ``forkserver``, not ``fork``: the caller may be a threaded Prefect worker,
    and forking a process with threads can deadlock the child.
    """
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        return list(pool.map(fn, items))


def as_text_array(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """``texts`` as one contiguous ``large_string`` Arrow array (nulls kept)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    return texts.cast(pa.large_string())
