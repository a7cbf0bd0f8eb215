"""Shard-parallel maps whose result does not depend on ``workers``.

:func:`map_shards` (dedup's tokenising, shingling and MinHash): a text column
is cut into contiguous row ranges of about :data:`SHARD_CHARS` characters --
a cut that depends on the texts only, never on ``workers`` -- and a pure
function runs on each shard in a pool of *threads*; results come back in
shard order. Threads, not processes, because the per-shard work is Numba
code compiled with ``nogil=True``: a process pool made every worker start an
interpreter, import NumPy/pyarrow/Numba and load the Numba cache (2-5 s per
worker on a loaded 2-core machine, which made ``deduplicate`` take 10 s on
20 MB in the benchmark instead of ~1 s), pickle its shard in and its
features back, and hold its own copy of every import (~150 MB each). Small
shards also bound the memory of per-shard intermediates (token and window
arrays) to a few shards' worth instead of the whole column's.

:func:`map_items` (the pipeline's per-file stages, which run Python code
that holds the GIL) keeps a process pool.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusclean.arrow_io import release_mapped_pages

T = TypeVar("T")

SHARD_CHARS = 2_000_000
"""Target size of one shard of :func:`map_shards`, in UTF-8 bytes of text."""


def shard_bounds(texts: pa.Array | pa.ChunkedArray, shards: int) -> list[tuple[int, int]]:
    """Split rows into at most ``shards`` contiguous ranges of similar total length."""
    n = len(texts)
    if n == 0:
        return []
    lengths = pc.fill_null(pc.binary_length(texts), 0)
    if isinstance(lengths, pa.ChunkedArray):
        lengths = lengths.combine_chunks()
    lengths = lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    cumulative = np.cumsum(lengths)
    targets = cumulative[-1] * np.arange(1, shards) / shards
    cuts = np.unique(np.concatenate([[0], np.searchsorted(cumulative, targets, side="right"), [n]]))
    return [(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]


def map_shards(
    fn: Callable[..., T],
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    workers: int = 1,
    *,
    with_start: bool = False,
    **kwargs: Any,
) -> list[T]:
    """``[fn(shard, **kwargs) for shard in shards(texts)]`` over ``workers`` threads.

    Shards are contiguous slices of about :data:`SHARD_CHARS` bytes of text,
    chosen from the texts alone, so the list returned is the same for any
    ``workers``. ``fn`` should spend its time in GIL-releasing code. With
    ``with_start``, ``fn(shard, start, **kwargs)`` also gets the shard's first
    row (e.g. to write its results into a slice of a preallocated array).
    """
    # A chunked column is sliced as it is (no copy of the whole column); each shard is
    # made contiguous by ``fn`` (e.g. through :func:`as_text_array`).
    array = texts if isinstance(texts, pa.ChunkedArray) else as_text_array(texts)
    if len(array) == 0:
        return []
    total = int(pc.sum(pc.binary_length(array)).as_py() or 0)
    bounds = shard_bounds(array, max(1, -(-total // SHARD_CHARS)))
    call = partial(fn, **kwargs)

    def run(bound: tuple[int, int]) -> T:
        shard = array.slice(bound[0], bound[1] - bound[0])
        result = call(shard, bound[0]) if with_start else call(shard)
        # A column read from a mapped file: a pass holds a few shards' pages, not the whole column's.
        release_mapped_pages([shard])
        return result

    if workers <= 1 or len(bounds) <= 1:
        return [run(bound) for bound in bounds]
    with ThreadPoolExecutor(max_workers=min(workers, len(bounds))) as pool:
        return list(pool.map(run, bounds))


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


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (AttributeError, OSError):
        return None


_MALLOC_TRIM = _find_malloc_trim()


def _find_madvise() -> Callable[[int, int, int], int] | None:
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (AttributeError, OSError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_MADVISE = _find_madvise()
_MADV_PAGEOUT = 21  # Linux 5.4+: reclaim the range's pages that no other process maps (a hint: never changes data)
COMPILER_LIBRARY = "libllvmlite"
"""Numba's compiler (LLVM), by the name of its shared library: needed only to compile or load a kernel."""


def page_out_library(name: str = COMPILER_LIBRARY) -> int:
    """Let go of this process's resident pages of the shared libraries whose path contains ``name``; returns the
    bytes of mapping asked about (0 where the OS has no ``MADV_PAGEOUT``: Linux before 5.4, other systems).

    Loading Numba's cached kernels runs LLVM, whose ~70 MB of code then stay
    resident, and counted in the process's memory, long after the last
    kernel is loaded. The kernel reclaims only pages no other process maps
    and reads them back from the file if they are touched again (a kernel
    compiled or loaded later), so this changes no data and costs only time.
    """
    if _MADVISE is None:
        return 0
    asked = 0
    for start, end in _library_ranges(name):
        if _MADVISE(start, end - start, _MADV_PAGEOUT) == 0:
            asked += end - start
    return asked


_LIBRARY_RANGES: dict[str, list[tuple[int, int]]] = {}
"""Address ranges of each library once found mapped: a loaded library stays where it is, in forked children too."""


def _library_ranges(name: str) -> list[tuple[int, int]]:
    # Reading /proc/self/maps takes ~1.2 ms in a worker (700 mappings), and release_freed_memory runs after
    # every OCR batch: the ranges are read until the library is found, then remembered.
    if name in _LIBRARY_RANGES:
        return _LIBRARY_RANGES[name]
    ranges: list[tuple[int, int]] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if name in line:
                    start, end = line.split(maxsplit=1)[0].split("-")
                    ranges.append((int(start, 16), int(end, 16)))
    except OSError:
        return []
    if ranges:
        _LIBRARY_RANGES[name] = ranges
    return ranges


def release_freed_memory(collect: bool = True) -> None:
    """Return free memory to the operating system: Arrow's pool's, the C heap's (glibc ``malloc_trim``), and
    Numba's compiler's resident code (:func:`page_out_library`).

    Large passes over many mid-sized allocations (page texts, per-shard
    arrays) leave hundreds of MB free but fragmented in the heap, still
    counted in the process's resident memory; call this after such a pass.
    """
    if collect:
        # Arrays held only by reference cycles (a worker pool's futures) are young: collecting the
        # young generations finds them. A full collection walks every live object of the process,
        # 0.5 s each time in a flow holding a 36,000-file run's records.
        gc.collect(1)
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
    page_out_library()


def as_text_array(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """``texts`` as one contiguous ``large_string`` Arrow array (nulls kept)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    return texts.cast(pa.large_string())


def utf8_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)`` of a ``large_string`` array, without copying: text ``i`` is the UTF-8 bytes
    ``data[offsets[i]:offsets[i + 1]]`` (offsets are absolute in ``data``; nulls own no bytes)."""
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64, count=array.offset + len(array) + 1)[array.offset :]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return offsets, data
