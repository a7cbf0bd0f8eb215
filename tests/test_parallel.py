"""The process-wide Arrow memory pool a run uses (``parallel.use_returning_memory_pool``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "from corpusclean.parallel import use_returning_memory_pool; print(use_returning_memory_pool())"


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
