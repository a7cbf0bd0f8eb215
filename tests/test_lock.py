import subprocess
import sys

import pytest

from corpusclean.lock import OutputLocked, output_lock


def test_second_run_is_refused_with_the_holder(tmp_path):
    with output_lock(tmp_path):
        with pytest.raises(OutputLocked, match=r"another corpusclean run is writing .* \(pid \d+ since"):
            with output_lock(tmp_path):
                pass
    with output_lock(tmp_path):  # released after the first block
        pass


def test_lock_dies_with_its_holder(tmp_path):
    code = (
        "import os, sys; from pathlib import Path; from corpusclean.lock import output_lock\n"
        f"with output_lock(Path({str(tmp_path)!r})):\n    os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", code])
    assert result.returncode == -9
    with output_lock(tmp_path):
        pass
