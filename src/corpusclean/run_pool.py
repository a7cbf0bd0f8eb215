"""One process pool for a run's per-shard stages (prepare, then OCR), started early and started once.

A fresh ``ProcessPoolExecutor`` per stage (what :func:`corpusclean.parallel.map_items`
does) makes every worker start an interpreter and import pyarrow, Numba,
ftfy and the pipeline before its first shard: ~1.5 s of wall time per stage
on a 2-core machine, twice a run. Here the forkserver imports the pipeline
once (``set_forkserver_preload``), each worker is a fork of it, and the same
workers serve the prepare stage and then the OCR stage (:func:`call` forks a
one-off process the same way). :func:`warm` starts
them in the background as the flow begins, while it discovers and hashes
the inputs. :func:`close` ends them, and the forkserver with its preloaded
modules, before deduplication, so idle processes never add to that stage's
memory.

Results do not depend on the pool: each item is a pure function call, and
``map`` returns results in item order.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")

PRELOAD = ["corpusclean.pool_preload"]
"""Imported once by the forkserver: the pipeline, its compiled kernels loaded (no worker loads them again)."""
OCR_LANGUAGE_ENV = "CORPUSCLEAN_POOL_OCR_LANGUAGE"
"""The run's OCR language, set by :func:`warm` for the forkserver it starts: it loads the part of that language's
lexicon every OCR worker reads (:func:`corpusclean.ocr_model.load_join_lexicon`), so the workers share one copy."""

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` (not ``fork``: the caller may be a threaded Prefect worker), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # only applies if the forkserver is not running yet
        return context
    return multiprocessing.get_context("spawn")


def _freeze_inherited() -> None:
    """Each worker's first step: what it inherited from the forkserver is left out of its garbage collections.

    A collection writes to every object it scans, so each worker's first full
    collection copied pages of the forkserver's preloaded modules into memory
    of its own (an OCR worker of the 200 MB bench run held 28 MB more).
    Freezing moves them to the collector's permanent generation by relinking
    the generations' list heads, touching no object. Forkserver children end
    with ``os._exit``, so no interpreter teardown ever sees the frozen objects.
    """
    gc.freeze()


def _executor(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_freeze_inherited)


def _get(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = _executor(workers)
            _pool_workers = workers
        return _pool


def _noop() -> None:
    return None


def warm(workers: int, ocr_language: str | None = None) -> list[Future]:
    """Start the pool's ``workers`` processes now, without waiting for them (no-op for one worker).

    ``ocr_language``: the run corrects OCR in this language (see :data:`OCR_LANGUAGE_ENV`; it applies
    if this call starts the forkserver).
    """
    if workers <= 1:
        return []
    if ocr_language:
        os.environ[OCR_LANGUAGE_ENV] = ocr_language
    else:
        os.environ.pop(OCR_LANGUAGE_ENV, None)
    pool = _get(workers)
    return [pool.submit(_noop) for _ in range(workers)]


def map_items(fn: Callable[[Any], T], items: Sequence[Any], workers: int) -> list[T]:
    """``[fn(item) for item in items]`` in order, over the run's pool when there is more than one of each."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with _restarting_if_broken():
        return list(_get(workers).map(fn, items))


def call(fn: Callable[[Any], T], item: Any, workers: int) -> T:
    """``fn(item)`` in a process of its own, forked like the pool's workers, that exits when it is done
    (in this process with one worker).

    For a step whose memory should leave with it: building the run's OCR
    corrector loads the lexicon into caches that live as long as the process,
    and a pool worker that built it held ~150 MB more than the others through
    the OCR stage of a 200 MB run.
    """
    if workers <= 1:
        return fn(item)
    with _executor(1) as one:
        return one.submit(fn, item).result()


@contextlib.contextmanager
def _restarting_if_broken() -> Iterator[None]:
    """A worker died: close the pool, so that the next call (a task retry) starts a new one."""
    try:
        yield
    except BrokenProcessPool:
        close()
        raise


def close(stop_forkserver: bool = True) -> None:
    """Stop the pool's workers (the next :func:`map_items` or :func:`warm` starts new ones), and the
    forkserver unless ``stop_forkserver`` is false: new workers then start from it at once."""
    global _pool, _pool_workers
    with _lock:
        pool, _pool, _pool_workers = _pool, None, 0
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
        if stop_forkserver:
            _stop_forkserver()


def _stop_forkserver() -> None:
    """Stop the forkserver too: it holds the preloaded pipeline (~200 MB) for as long as it lives.

    The next pool starts a new one. ``_stop`` is private to ``multiprocessing``
    (its tests use it), hence the guard.
    """
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        try:
            stop()
        except OSError:
            pass
