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
