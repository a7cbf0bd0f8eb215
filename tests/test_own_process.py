"""What corpusclean sets in the processes that are its own (``corpusclean.own_process``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "from corpusclean.own_process import use_returning_memory_pool; print(use_returning_memory_pool())"


def _pool_chosen(environment_pool: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if environment_pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = environment_pool
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_jemalloc_replaces_arrows_default_pool():
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    assert _pool_chosen(None) == "jemalloc"


@pytest.mark.parametrize("named", ["system", "mimalloc"])
def test_a_pool_named_in_the_environment_is_kept(named):
    assert _pool_chosen(named) == named


def test_pyarrow_works_without_importing_pandas_once_it_is_kept_out():
    probe = (
        "import sys; from corpusclean.own_process import keep_pandas_out; assert keep_pandas_out();"
        "import pyarrow as pa; t = pa.table({'a': ['x', None]}); assert t.column('a').to_pylist() == ['x', None];"
        "print('pandas' not in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_pandas_already_imported_is_left_alone():
    probe = "import pandas, sys; from corpusclean.own_process import keep_pandas_out; print(keep_pandas_out(), sys.modules['pandas'] is pandas)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False True"


HEAP_PROBE = """
import sys
import numpy as np
from corpusclean.own_process import HEAP_MMAP_THRESHOLD, return_freed_heap

def anon_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon")) >> 10

fixed = return_freed_heap() if sys.argv[1] == "fixed" else False
big = np.ones(16 << 20, np.uint8); del big  # a large block freed: glibc raises its threshold past 4 MB unless fixed
before = anon_mb()
blocks = [np.ones(HEAP_MMAP_THRESHOLD, np.uint8) for _ in range((64 << 20) // HEAP_MMAP_THRESHOLD)]
after_last = np.ones(HEAP_MMAP_THRESHOLD // 2, np.uint8)  # still in use, above them in the heap: no trim reaches them
del blocks
print(fixed, anon_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, and /proc")
def test_freed_large_blocks_leave_the_process_once_the_heap_threshold_is_fixed():
    # Dask's nanny (the LocalCluster test) leaves MALLOC_TRIM_THRESHOLD_ in this process's environment, and any
    # such setting also stops glibc raising its mmap threshold: the probes run without them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}

    def held(mode: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", HEAP_PROBE, mode], env=env, capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    fixed, held_fixed = held("fixed")
    if fixed != "True":
        pytest.skip("not glibc")
    _, held_default = held("default")
    if held_default < 48:  # a glibc that does not raise its threshold: nothing to show
        pytest.skip(f"this process's heap held {held_default} MB of the 64 MB freed without the fixed threshold")
    assert held_fixed <= 8  # the 64 MB of freed blocks left with it


BLAS_PROBE = """
import sys
import numba
import numpy as np
from corpusclean.own_process import skip_numba_blas_probe
assert skip_numba_blas_probe() and skip_numba_blas_probe()

@numba.njit
def dot(a, b):
    return np.dot(a, b)

@numba.njit
def solve(a, b):
    return np.linalg.solve(a, b)

a = np.arange(4.0)
assert dot(a, a) == 14.0  # Numba's own loop
assert np.allclose(solve(np.eye(2) * 2.0, np.ones(2)), 0.5)  # np.linalg still finds BLAS and LAPACK
import numba.np.arraymath as arraymath
print(arraymath._HAVE_BLAS, "scipy.linalg" in sys.modules)
"""


def test_the_blas_probe_is_skipped_and_kernels_still_compile():
    out = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True, check=True).stdout.split()
    # scipy.linalg arrives only with np.linalg's own call, after arraymath decided without it.
    assert out == ["False", "True"]


def test_the_blas_probe_cannot_be_skipped_once_numba_loaded_a_kernel():
    probe = (
        "import numba.np.arraymath; from corpusclean.own_process import skip_numba_blas_probe;"
        "print(skip_numba_blas_probe(), numba.np.arraymath._HAVE_BLAS)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split() == ["False", "True"]


def test_the_dedup_stage_imports_neither_pandas_nor_scipy_in_a_process_that_skips_them():
    # What the console script, the run pool and the bench's dedup row do first; deduplication itself must not
    # reach pandas (pyarrow's first pa.table call) or scipy.linalg (Numba's first kernel load) some other way.
    probe = (
        "import sys; from corpusclean.own_process import skip_unused_imports; assert skip_unused_imports();"
        "from corpusclean.segment import segment_documents; from corpusclean.dedup import deduplicate;"
        "t = segment_documents([('a.txt', 'One paragraph here.\\n\\nOne paragraph here.')], original_text=False);"
        "r = deduplicate(t, threshold=0.8, num_perm=128);"
        "print(r.verdicts.column('kept_paragraph_id').null_count, 'pandas' in sys.modules, 'scipy.linalg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "False", "False"]
