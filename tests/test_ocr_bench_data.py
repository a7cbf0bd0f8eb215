"""``make bench-ocr`` finds held-out splits laid out like the dev data (bench/ocr_data.py, bench/ocr_bench.py).

Acceptance runs the benchmark on held-out splits of the same three sources.
These tests build such a layout from slices of the real dev files (other
split names, another ICDAR folder) and check that every set is found, read
as the dev sets are, and scored end to end.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
try:
    import ocr_data
finally:
    sys.path.pop(0)

DEV = ocr_data.DEFAULT_ROOT
pytestmark = pytest.mark.skipif(not (DEV / "bln600" / "train.csv").exists(), reason="no OCR bench data")


def _head_csv(source: Path, target: Path, rows: int) -> None:
    """The header and first ``rows`` records of the CSV file ``source`` (fields span lines), written to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(encoding="utf-8", newline="") as inp, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for i, row in enumerate(csv.reader(inp)):
            if i > rows:
                break
            writer.writerow(row)


def _head_lines(source: Path, target: Path, rows: int) -> None:
    """The header and first ``rows`` lines of the TSV file ``source`` (one record a line), byte for byte."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as inp:
        target.write_bytes(b"".join(line for _, line in zip(range(rows + 1), inp)))


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A held-out layout: ``icdar2017-test-en`` (nested, with a README), ``bln600/test.csv``, ``ght/*_test.tsv``."""
    root = tmp_path_factory.mktemp("held-out")
    documents = ocr_data.icdar_files(DEV)[:6]
    for k, path in enumerate(documents):
        target = root / "icdar2017-test-en" / f"part{k % 2}" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    (root / "icdar2017-test-en" / "README.txt").write_text("not a document\n", encoding="utf-8")
    _head_csv(DEV / "bln600" / "train.csv", root / "bln600" / "test.csv", 40)
    for quality in ("high", "low"):
        _head_lines(DEV / "ght" / f"guten_ht_{quality}_dev.tsv", root / "ght" / f"guten_ht_{quality}_test.tsv", 60)
    return root


def test_held_out_sets_are_found_and_read_like_the_dev_sets(held_out: Path) -> None:
    sets = ocr_data.discover_sets(held_out)
    assert list(sets) == ["icdar2017-test-en", "bln600 test", "ght test"]
    # every document of a held-out folder counts (no learn/eval split), at any depth; the README is no document
    assert len(ocr_data.icdar_files(held_out, "icdar2017-test-en")) == 6
    icdar = sets["icdar2017-test-en"]()
    assert len(icdar) >= 6 and all(pair.ocr and pair.gold for pair in icdar)
    assert sets["bln600 test"]() == ocr_data.bln600_pairs(DEV)[:40]
    dev_ght = ocr_data.ght_pairs(DEV)
    high_rows = sum(1 for _ in (DEV / "ght" / "guten_ht_high_dev.tsv").open(encoding="utf-8")) - 1
    assert sets["ght test"]() == dev_ght[:60] + dev_ght[high_rows : high_rows + 60]


def test_the_dev_layout_gives_the_dev_sets() -> None:
    assert list(ocr_data.discover_sets(DEV)) == ["icdar2017-en (eval part)", "bln600 train", "ght dev"]


def test_bench_scores_a_held_out_root(held_out: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ocr_bench.py"), "--root", str(held_out), "--no-baseline",
         "--thresholds", "--max-chars", "20000"],
        capture_output=True, text=True, check=True,
    )
    rows = [line for line in result.stdout.splitlines() if ": corpusclean" in line]
    assert [row.split(":")[0].strip("| ") for row in rows] == ["icdar2017-test-en", "bln600 test", "ght test"]
    for row in rows:
        cer_in = float(row.split("|")[2].strip().rstrip("%"))
        assert cer_in > 0  # real OCR text, scored against its gold
    segmentation = {row.split(":")[0].strip("| "): float(row.split("|")[5].strip().rstrip("%")) for row in rows}
    # the corrector is given the pipeline's paragraph text: HathiTrust OCR's runs of spaces are one space there
    assert segmentation["ght test"] > 0 and segmentation["bln600 test"] == 0
    missing = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ocr_bench.py"), "--root", str(held_out), "--sets", "ght dev"],
        capture_output=True, text=True,
    )
    assert missing.returncode != 0 and "ght test" in missing.stderr
    nowhere = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ocr_bench.py"), "--root", str(held_out / "no-such-folder")],
        capture_output=True, text=True,
    )
    assert nowhere.returncode != 0 and "no benchmark sets under" in nowhere.stderr
