"""The run's process pool: results in order, and a dead worker does not leave the pool broken."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from corpusclean import run_pool


def test_a_worker_dying_breaks_one_call_and_the_next_call_gets_a_new_pool() -> None:
    try:
        assert run_pool.map_items(abs, [-3, 2, -1], 2) == [3, 2, 1]
        with pytest.raises(BrokenProcessPool):
            run_pool.call(os._exit, 3, 2)  # the worker exits without a result
        assert run_pool.call(abs, -5, 2) == 5
        assert run_pool.map_items(abs, [-4, -6], 2) == [4, 6]
    finally:
        run_pool.close()
