"""Memory helpers of the parallel module: Numba's compiler's pages leave a process once its kernels are loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and asks madvise(MADV_PAGEOUT)")

PROBE = """
import json, sys
import numba, numpy as np
sys.path.insert(0, sys.argv[1])
from _smaps import mapped_kb
from corpusclean.parallel import COMPILER_LIBRARY, page_out_library

@numba.njit(cache=False)
def total(values):
    return values.sum()

total(np.arange(3))  # compiling runs LLVM: its code is resident now
before = mapped_kb("self", COMPILER_LIBRARY)
asked = page_out_library()
after = mapped_kb("self", COMPILER_LIBRARY)
print(json.dumps({"before": before, "asked": asked, "after": after, "again": int(total(np.arange(4)))}))
"""


def test_the_compilers_pages_only_this_process_maps_are_let_go_and_kernels_still_run() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result["asked"] == 0:
        pytest.skip("this kernel has no MADV_PAGEOUT")
    assert result["before"]["Rss"] > 10_000  # LLVM's code, tens of MB
    # What stays is what other processes map too (the test process, if it has run a kernel): never this one's alone.
    assert result["after"]["Private_Clean"] < 1_000
    assert result["again"] == 6  # a compiled kernel still runs: its own code is not LLVM's
