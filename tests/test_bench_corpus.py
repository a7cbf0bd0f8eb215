"""The benchmark's corpus generator (bench/make_corpus.py) is deterministic and its labels are true.

Uses the repository's seed pages as the prose source, so it needs neither apt
nor the benchmark's virtualenv.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def _load(script: str):
    """Import a bench/ script by path (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{script}", ROOT / "bench" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


make_corpus = _load("make_corpus")


def _digest(folder: Path) -> str:
    """Hash of every file's relative path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "meta.json"):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    # A plain temporary folder rather than tmp_path: it is removed here, whatever
    # state pytest's shared basetemp is in.
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def corpus(scratch: Path) -> Path:
    if not SEEDS:
        pytest.skip("no seeds/*.txt to use as prose")
    out = scratch / "a"
    make_corpus.build(SEEDS, 0.08, 7, out)
    return out


def test_same_seed_same_bytes(corpus: Path, scratch: Path) -> None:
    again = scratch / "b"
    make_corpus.build(SEEDS, 0.08, 7, again)
    assert _digest(again) == _digest(corpus)


def test_other_seed_other_bytes(corpus: Path, scratch: Path) -> None:
    other = scratch / "c"
    make_corpus.build(SEEDS, 0.08, 8, other)
    assert _digest(other) != _digest(corpus)


def test_recorded_jaccard_matches_recomputation(corpus: Path) -> None:
    labels = pq.read_table(corpus / "labels.parquet").to_pylist()
    kinds = {row["kind"] for row in labels}
    assert {"exact", "word_ins_del_sub", "ocr_noise"} <= kinds

    def paragraph(source: str, index: int) -> str:
        text = (corpus / make_corpus.PAGES / source).read_text(encoding="utf-8")
        return [b.strip() for b in text.split("\n\n") if b.strip()][index]

    for row in labels[:100]:
        copy = paragraph(row["source"], row["paragraph_index"])
        original = paragraph(row["orig_source"], row["orig_paragraph_index"])
        assert row["source"] != row["orig_source"]  # copies land in other pages
        assert make_corpus.jaccard(original, copy) == pytest.approx(row["jaccard"])
        if row["kind"] == "exact":
            assert copy == original


def test_jaccard_normalisation() -> None:
    # Case, punctuation and curly/straight apostrophes do not matter; mojibake letters do.
    assert make_corpus.jaccard("The king’s men, all five of them", "the KING'S men all five of them!") == 1.0
    assert make_corpus.jaccard("the king’s men all five of them", make_corpus.mojibake("the king’s men all five of them", "cp1252")) < 1.0
    assert make_corpus.mojibake("’", "cp1252") == "â€™"
    assert make_corpus.mojibake("’", "lead_lost") == "€™"


def test_scoring_counts_pairs_inside_clusters() -> None:
    run_bench = _load("run_bench")
    # Original 1 with copies 2 (exact) and 3 (OCR); boilerplate line 9 repeated as 10.
    truth = run_bench.Truth([(2, 1, "exact", 1.0), (3, 1, "ocr_noise", 0.55), (10, 9, "boilerplate", 1.0)], {9, 10}, 20)
    partial = run_bench.score([(1, 2), (5, 6)], truth)
    assert (partial["precision"], partial["recall"]) == (0.5, pytest.approx(1 / 3))
    assert partial["recall_by"]["kind:ocr_noise"] == (0.0, 1)
    assert partial["recall_by"]["bin:0.9-1.0"] == (1.0, 1)
    perfect = run_bench.score([(2, 1), (3, 2), (9, 10)], truth)
    assert (perfect["precision"], perfect["recall"], perfect["f1"]) == (1.0, 1.0, 1.0)
    assert perfect["recall_by"]["kind:boilerplate"] == (1.0, 1)


# Holds 40 MB, then 80 MB, then nothing, each for a while: the peak is the 80 MB step.
_STEPS = """
import sys, time
block = b"\\x01" * (40 << 20); print("40", flush=True); time.sleep(0.6)
del block
block = b"\\x01" * (80 << 20); print("80", flush=True); time.sleep(0.6)
del block
time.sleep(0.6)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS comes from /proc")
def test_peak_memory_finds_the_peak_and_reads_pss_only_when_it_can_grow() -> None:
    psutil = pytest.importorskip("psutil")
    import subprocess
    import time

    run_bench = _load("run_bench")
    child = psutil.Popen([sys.executable, "-c", _STEPS], stdout=subprocess.DEVNULL)
    memory = run_bench.PeakMemory(child)
    while child.poll() is None:
        memory.poll()
        time.sleep(0.05)
    assert memory.peak_pss >= 80 << 20  # the 80 MB block was seen
    assert memory.peak_pss <= memory.peak_rss
    assert memory.pss_readings < memory.polls / 2  # steady stretches are not read
