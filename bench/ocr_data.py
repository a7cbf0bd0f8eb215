"""Readers for the OCR post-correction benchmark data in ``shared/ocr-bench``.

Every set becomes a list of :class:`Pair` (OCR text, gold text), each about a
paragraph long, so the corrector sees them the way the pipeline feeds it.
Nothing here depends on corpusclean; ``scripts/learn_confusions.py`` imports
it too.
"""

from __future__ import annotations

import csv
import functools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

DEFAULT_ROOT = Path(os.environ.get("OCR_BENCH_ROOT", Path(__file__).resolve().parents[2] / "shared" / "ocr-bench"))
if not DEFAULT_ROOT.exists():  # the work tree sits next to shared/ in CI, under /work here
    DEFAULT_ROOT = Path("/work/shared/ocr-bench")

GAP = "@"  # alignment gap in the ICDAR files
NO_GOLD = "#"  # no gold standard for this character: not scored
LEARN_SHARE = 6  # of every 10 ICDAR files (by CRC32 of their path) are used to learn confusions


@dataclass(frozen=True, slots=True)
class Pair:
    ocr: str
    gold: str


ICDAR_TRAIN = "icdar2017-train-en"  # the folder the confusions are learned from (its learn part)


def icdar_files(root: Path = DEFAULT_ROOT, folder: str = ICDAR_TRAIN) -> list[Path]:
    """The document files of an ICDAR 2017 folder, at any depth (READMEs and metadata left out)."""
    return sorted(p for p in (root / folder).glob("**/*.txt") if _is_icdar_document(p))


def _is_icdar_document(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(b"[OCR_toInput]")) == b"[OCR_toInput]"


def icdar_part(path: Path, root: Path = DEFAULT_ROOT) -> str:
    """``learn`` or ``eval``: a fixed split by file of the training folder, the same on every machine."""
    relative = path.relative_to(root / ICDAR_TRAIN).as_posix()
    return "learn" if zlib.crc32(relative.encode()) % 10 < LEARN_SHARE else "eval"


def read_icdar(path: Path) -> tuple[str, str]:
    """The aligned OCR and gold lines of one ICDAR 2017 file (same length)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    ocr = lines[1].removeprefix("[OCR_aligned] ")
    gold = lines[2].removeprefix("[ GS_aligned] ")
    if len(ocr) != len(gold):
        raise ValueError(f"{path}: aligned lines differ in length")
    return ocr, gold


def aligned_words(ocr: str, gold: str) -> Iterator[tuple[str, str]]:
    """Split an aligned pair at positions where both sides have a space.

    Yields aligned (OCR, gold) segments, gaps included, in order.
    """
    start = 0
    for i, (a, b) in enumerate(zip(ocr, gold)):
        if a == " " and b == " ":
            if i > start:
                yield ocr[start:i], gold[start:i]
            start = i + 1
    if start < len(ocr):
        yield ocr[start:], gold[start:]


def icdar_pairs(
    part: str | None, root: Path = DEFAULT_ROOT, words_per_pair: int = 60, folder: str = ICDAR_TRAIN
) -> list[Pair]:
    """Scorable ICDAR text of one part of the training folder (``part=None``: every file of ``folder``), as paragraph-sized pairs.

    Segments with any ``#`` (no gold) are dropped and end the current pair, so
    no unscored text is ever joined to scored text.
    """
    pairs: list[Pair] = []
    for path in icdar_files(root, folder):
        if part is not None and icdar_part(path, root) != part:
            continue
        ocr_words: list[str] = []
        gold_words: list[str] = []

        def flush() -> None:
            if ocr_words:
                pairs.append(Pair(" ".join(ocr_words), " ".join(gold_words)))
            ocr_words.clear()
            gold_words.clear()

        for a, b in aligned_words(*read_icdar(path)):
            if NO_GOLD in b:
                flush()
                continue
            ocr_words.append(a.replace(GAP, ""))
            gold_words.append(b.replace(GAP, ""))
            if len(ocr_words) >= words_per_pair:
                flush()
        flush()
    return pairs


def bln600_pairs(root: Path = DEFAULT_ROOT, split: str = "train") -> list[Pair]:
    with (root / "bln600" / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
        return [Pair(row["OCR Text"], row["Ground Truth"]) for row in csv.DictReader(handle)]


def ght_pairs(root: Path = DEFAULT_ROOT, split: str = "dev") -> list[Pair]:
    """The high- and low-quality files of one split (``guten_ht_*_dev.tsv``), in that order."""
    pairs: list[Pair] = []
    for path in sorted((root / "ght").glob(f"guten_ht_*_{split}.tsv")):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            pairs.extend(Pair(row["input"], row["output"]) for row in reader)
    return pairs


def discover_sets(root: Path = DEFAULT_ROOT) -> dict[str, Callable[[], list[Pair]]]:
    """Every set under ``root``, by name: the dev splits here, or held-out splits in the same layout.

    ICDAR 2017: the training folder's eval part (its learn part taught the
    confusions) and every file of any other ``icdar2017-*`` folder; BLN600:
    each ``bln600/*.csv``; Gutenberg–HathiTrust: each split of
    ``ght/guten_ht_*_<split>.tsv``.
    """
    sets: dict[str, Callable[[], list[Pair]]] = {}
    for folder in sorted(p.name for p in root.glob("icdar2017-*") if p.is_dir()):
        if folder == ICDAR_TRAIN:
            sets["icdar2017-en (eval part)"] = functools.partial(icdar_pairs, "eval", root)
        else:
            sets[folder] = functools.partial(icdar_pairs, None, root, folder=folder)
    for path in sorted((root / "bln600").glob("*.csv")):
        sets[f"bln600 {path.stem}"] = functools.partial(bln600_pairs, root, path.stem)
    for split in sorted({p.stem.rsplit("_", 1)[-1] for p in (root / "ght").glob("guten_ht_*_*.tsv")}):
        sets[f"ght {split}"] = functools.partial(ght_pairs, root, split)
    return sets
