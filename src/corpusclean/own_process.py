"""Settings for the processes that are corpusclean's own: the console script, the run pool's forkserver and workers.

Never applied to a caller's process (a notebook or a Prefect worker that
imports the flow): each changes something process-wide. Importing this
module imports nothing heavy, so the console script can call
:func:`keep_pandas_out` before anything imports pyarrow.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType


def use_returning_memory_pool() -> str:
    """Make jemalloc this process's default Arrow memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` names one.

    Returns the default pool's backend name. Arrow's usual default, mimalloc,
    keeps much of what it frees for later reuse: writing the 200 MB bench
    run's datasets (streamed, ~20,000 rows a piece, Parquet encoded on a
    second thread) left the writer 300 MB of anonymous memory, peaking at
    320-350 MB with 5 MB of Arrow data alive; with jemalloc 170-200 MB,
    peaking at 245-250, in the same time (``docs/flow.md``, "Memory"). Arrays
    already allocated stay with the pool they came from. A pyarrow built
    without jemalloc keeps its default.
    """
    import pyarrow as pa

    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowException):
            pass
    return pa.default_memory_pool().backend_name


HEAP_MMAP_THRESHOLD = 4 << 20
"""Heap blocks at least this large are mapped on their own and unmapped when freed (see :func:`return_freed_heap`).

Lower costs time: every such block is mapped and its pages zeroed anew. The 200 MB bench run's deduplication took
41-51 s with 128 KB, 34 s with 1 MB, 24.6 s with 4 MB, 23.5 s with glibc's rising threshold; its peak was 785-789,
794 and 800 MB against 863 MB (``docs/flow.md``)."""


def return_freed_heap() -> bool:
    """Fix glibc's mmap threshold at :data:`HEAP_MMAP_THRESHOLD`; returns whether it is set (glibc only).

    glibc maps large blocks (NumPy and Numba arrays, long lists) on their own
    and unmaps them when freed, but each such free raises the threshold to the
    freed block's size (up to 32 MB), so later blocks come from the heap, where
    freed memory stays with the process behind the blocks still in use. After
    deduplication the flow's process held 114 MB of free heap that
    ``malloc_trim`` gave back only 19 MB of (200 MB bench run: 261 MB of
    anonymous memory going into the write stage); with the threshold fixed
    at 128 KB, 55 MB of heap, 3 MB of it free (197 MB). Fixing it
    (``mallopt``) ends the raising. Inherited across ``fork``: set in the
    forkserver, it applies to every worker.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD))


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def keep_pandas_out() -> bool:
    """Make ``import pandas`` fail in this process, unless it is already imported; returns whether it now fails.

    For processes that are corpusclean's own (the console script, the run
    pool's forkserver and its workers), never a caller's. Nothing in them uses
    pandas, but pyarrow imports it, when installed, at its first
    ``pa.array``/``pa.table`` call to check whether the data is a DataFrame:
    30-39 MB and ~0.7 s in each process that imports the pipeline (the forkserver:
    258 -> 228 MB RSS once preloaded). When the
    import fails, pyarrow proceeds as without pandas. (A ``None`` in
    ``sys.modules`` would not do: pyarrow's compiled import returns it.)
    """
    return _install_finder(_NoPandas, before="pandas")


def skip_unused_imports() -> bool:
    """Apply :func:`keep_pandas_out` and :func:`skip_numba_blas_probe`; returns whether both are in place.

    What every process of corpusclean's own calls first (the console script,
    the run pool's forkserver, the benchmark's dedup row): together ~0.5 s of
    imports that nothing in them uses (pandas ~0.26 s on its first
    ``pa.table`` call, ``scipy.linalg`` ~0.3 s on Numba's first kernel load).
    """
    pandas_out = keep_pandas_out()
    return skip_numba_blas_probe() and pandas_out


def _install_finder(finder: type[importlib.abc.MetaPathFinder], before: str) -> bool:
    """Put a ``finder`` first on ``sys.meta_path`` unless module ``before`` is imported already (then it cannot act);
    returns whether one is in place. Installing twice is the same as once."""
    if any(isinstance(installed, finder) for installed in sys.meta_path):
        return True
    if before in sys.modules:
        return False
    sys.meta_path.insert(0, finder())
    return True


class _NoPandas(importlib.abc.MetaPathFinder):
    """An import finder that refuses pandas and its submodules."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (kept out by corpusclean)", name=fullname)
        return None


def skip_numba_blas_probe() -> bool:
    """Spare Numba its BLAS probe in this process; returns whether the probe will be skipped.

    The first time Numba compiles or loads any kernel it imports
    ``numba.np.arraymath``, which imports ``scipy.linalg`` (~0.3 s and ~20 MB
    here) only to learn whether ``np.dot`` on floats may call BLAS. No
    corpusclean kernel does linear algebra. With the probe skipped, ``np.dot``
    and ``np.vdot`` in this process's kernels use Numba's own loop; the
    ``np.linalg`` functions still find BLAS. For processes that are
    corpusclean's own only (see the module's docstring). Call it before Numba
    loads a kernel; once ``numba.np.arraymath`` is imported it is too late
    (returns ``False``).
    """
    return _install_finder(_ArraymathWithoutBlasProbe, before="numba.np.arraymath")


class _ArraymathWithoutBlasProbe(importlib.abc.MetaPathFinder):
    """Finds ``numba.np.arraymath`` as usual, but runs it with ``numba.np.linalg.ensure_blas`` failing.

    arraymath binds ``ensure_blas`` when it is imported and calls it once, at
    import, to set its ``_HAVE_BLAS``; the real function is put back at once,
    for ``numba.np.linalg``'s own callers.
    """

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "numba.np.arraymath":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)  # type: ignore[arg-type]
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _WithoutBlasProbe(spec.loader)
        return spec


class _WithoutBlasProbe(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def __getattr__(self, name: str) -> object:  # get_source, get_filename…: the wrapped loader's
        return getattr(self._loader, name)

    def exec_module(self, module: ModuleType) -> None:
        import numba.np.linalg as linalg

        ensure_blas = linalg.ensure_blas
        linalg.ensure_blas = _no_blas
        try:
            self._loader.exec_module(module)
        finally:
            linalg.ensure_blas = ensure_blas


def _no_blas() -> None:
    raise ImportError("BLAS probe skipped: corpusclean's kernels do no linear algebra")
