"""The run's process pool: results in order, and a dead worker does not leave the pool broken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from corpusclean import parallel, run_pool


def test_a_worker_dying_breaks_one_call_and_the_next_call_gets_a_new_pool() -> None:
    try:
        assert run_pool.map_items(abs, [-3, 2, -1], 2) == [3, 2, 1]
        with pytest.raises(BrokenProcessPool):
            run_pool.call(os._exit, 3, 2)  # the worker exits without a result
        assert run_pool.call(abs, -5, 2) == 5
        assert run_pool.map_items(abs, [-4, -6], 2) == [4, 6]
    finally:
        run_pool.close()


def _alive(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` still exists after ``within`` seconds (the forkserver, its parent, reaps it on its own time)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True


def test_a_call_runs_in_a_process_of_its_own_that_is_gone_after() -> None:
    try:
        run_pool.map_items(_pid, [0, 1, 2, 3], 2)
        # One worker may take every item, so the pool's members are read from the executor, not from the results.
        pool_pids = set(run_pool._get(2)._processes)
        pid = run_pool.call(_pid, 0, 2)
        assert pid != os.getpid() and pid not in pool_pids and not _alive(pid)
        assert set(run_pool._get(2)._processes) == pool_pids  # the pool's workers are still there
        assert set(run_pool.map_items(_pid, [0, 1, 2, 3], 2)) <= pool_pids
        assert run_pool.call(_pid, 0, 1) == os.getpid()
    finally:
        run_pool.close()


def _pid(_: object) -> int:
    return os.getpid()


def test_closing_the_workers_only_keeps_the_forkserver_for_the_next_ones() -> None:
    from multiprocessing import forkserver

    try:
        first = set(run_pool.map_items(_pid, [0, 1, 2, 3], 2))
        server = forkserver._forkserver._forkserver_pid
        run_pool.close(stop_forkserver=False)
        assert not any(_alive(pid, within=5.0) for pid in first)  # the workers are gone
        assert set(run_pool.map_items(_pid, [0, 1, 2, 3], 2)).isdisjoint(first)
        assert forkserver._forkserver._forkserver_pid == server and _alive(server, within=0.1)
        run_pool.close()
        assert not _alive(server)
    finally:
        run_pool.close()


def _frozen_objects(_: object) -> int:
    import gc

    return gc.get_freeze_count()


def test_workers_leave_what_they_inherit_out_of_their_garbage_collections() -> None:
    """What the forkserver preloaded is frozen in each worker, so a collection never copies its pages."""
    try:
        assert min(run_pool.map_items(_frozen_objects, [0, 1, 2, 3], 2)) > 10_000  # the pipeline's modules
        assert run_pool.call(_frozen_objects, 0, 2) > 10_000
    finally:
        run_pool.close()


def _join_lexicon_loaded(_: object) -> int:
    from corpusclean import ocr_model

    return ocr_model.load_join_lexicon.cache_info().currsize


def test_the_forkserver_loads_the_ocr_languages_join_lexicon_for_its_workers() -> None:
    """Warmed for a run that corrects English OCR, every worker inherits the join lexicon; else none loads it."""
    try:
        run_pool.close()  # a forkserver an earlier test started would not read the setting
        run_pool.warm(2, "en")
        assert run_pool.map_items(_join_lexicon_loaded, [0, 1, 2, 3], 2) == [1, 1, 1, 1]
        run_pool.close()
        run_pool.warm(2, None)
        assert run_pool.map_items(_join_lexicon_loaded, [0, 1, 2, 3], 2) == [0, 0, 0, 0]
    finally:
        run_pool.close()
        os.environ.pop(run_pool.OCR_LANGUAGE_ENV, None)


def _arrow_pool(_: object) -> str:
    import pyarrow as pa

    return pa.default_memory_pool().backend_name


def test_workers_allocate_arrow_memory_from_jemalloc() -> None:
    """Set once in the forkserver (pool_preload), inherited by every worker (see own_process.use_returning_memory_pool)."""
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pytest.skip("the environment names an Arrow memory pool")
    try:
        assert set(run_pool.map_items(_arrow_pool, [0, 1, 2, 3], 2)) == {"jemalloc"}
        assert run_pool.call(_arrow_pool, 0, 2) == "jemalloc"
    finally:
        run_pool.close()


def _pandas_imported(_: object) -> bool:
    import sys

    import pyarrow as pa

    pa.table({"a": [1]})  # would import pandas if it were importable
    return "pandas" in sys.modules


def test_workers_never_import_pandas() -> None:
    """pyarrow would import it on its first pa.table call in the forkserver's warm-up (39 MB per process)."""
    try:
        assert set(run_pool.map_items(_pandas_imported, [0, 1, 2, 3], 2)) == {False}
    finally:
        run_pool.close()


FORKSERVER_PROBE = """
import json, sys
from multiprocessing import forkserver
sys.path.insert(0, sys.argv[1])
from _smaps import mapped_kb
from corpusclean import parallel, run_pool

for done in run_pool.warm(2):
    done.result()
print(json.dumps(mapped_kb(forkserver._forkserver._forkserver_pid, parallel.COMPILER_LIBRARY)))
run_pool.close()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_forkserver_keeps_none_of_the_compilers_code_once_the_kernels_are_loaded() -> None:
    out = subprocess.run([sys.executable, "-c", FORKSERVER_PROBE, str(Path(__file__).parent)], capture_output=True, text=True, check=True)
    held = json.loads(out.stdout)
    if not held:
        pytest.skip("the forkserver did not load Numba")
    if parallel._MADVISE is None:
        pytest.skip("no madvise here")
    assert held["Size"] > 50_000  # the library is mapped (its code alone is tens of MB)
    # None of it resident that the forkserver alone maps (12 MB in this probe without page_out_library, 69 MB in a
    # 200 MB run); pages the test process maps too, if it has run kernels, are shared and stay.
    assert held["Private_Clean"] < 1_000
