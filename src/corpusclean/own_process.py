"""Settings for the processes that are corpusclean's own: the console script, the run pool's forkserver and workers.

Never applied to a caller's process (a notebook or a Prefect worker that
imports the flow): each changes something process-wide. Importing this
module imports nothing heavy, so the console script can call
:func:`keep_pandas_out` before anything imports pyarrow.
"""

from __future__ import annotations

import importlib.abc
import os
import sys


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
    if any(isinstance(finder, _NoPandas) for finder in sys.meta_path):
        return True
    if "pandas" in sys.modules:
        return False
    sys.meta_path.insert(0, _NoPandas())
    return True


class _NoPandas(importlib.abc.MetaPathFinder):
    """An import finder that refuses pandas and its submodules."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (kept out by corpusclean)", name=fullname)
        return None
