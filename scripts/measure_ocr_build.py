"""How building the OCR corrector's decision map grows with a run of real OCR text.

    .venv/bin/python scripts/measure_ocr_build.py [--fractions 0.25 0.5 1] [--once-seen-bound N]

The run is the OCR side of every benchmark set (``bench/ocr_data.py``: ICDAR
2017 English, all files; BLN600; Gutenberg-HathiTrust), in that order, about
8 MB; each fraction takes the first part of it. For each, the run's
vocabulary is counted and ``OcrCorrector.prepare`` timed (wall and CPU, the
process-wide lexicon and bigram loads excluded), with the distinct tokens,
the run-only words written once, and the changes the map holds.
``--once-seen-bound`` sets ``ocr_model.RUN_ONCE_CANDIDATES`` (a huge value
turns the bound off).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ocr_data import discover_sets, icdar_pairs  # noqa: E402

from corpusclean import ocr_model  # noqa: E402
from corpusclean.ocr import OcrCorrector, count_vocabulary  # noqa: E402
from corpusclean.ocr_context import load_bigram_context  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.25, 0.5, 1.0])
    parser.add_argument("--once-seen-bound", type=int, default=ocr_model.RUN_ONCE_CANDIDATES)
    args = parser.parse_args()
    ocr_model.RUN_ONCE_CANDIDATES = args.once_seen_bound
    OcrCorrector()("warm up the lexicon and the compiled search: tbe")
    load_bigram_context("en")
    sets = discover_sets()
    texts = [p.ocr for p in icdar_pairs(None)]
    texts += [p.ocr for name, load in sets.items() if not name.startswith("icdar") for p in load()]
    print(f"once-seen bound {args.once_seen_bound:,}")
    for fraction in args.fractions:
        part = texts[: int(len(texts) * fraction)]
        vocabulary = count_vocabulary(part)
        start, cpu = time.perf_counter(), time.process_time()
        corrector = OcrCorrector(corpus_vocabulary=vocabulary)
        decisions = corrector.prepare()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        once = sum(1 for w, n in corrector.model.corpus.items() if n == 1 and w not in corrector.model.lexicon)
        print(f"{sum(len(t.encode()) for t in part) / 1e6:6.1f} MB: {len(vocabulary):7,} distinct tokens, "
              f"{once:7,} run-only words written once, {len(decisions):6,} changes, "
              f"build {wall:5.1f} s wall, {cpu:5.1f} CPU s", flush=True)


if __name__ == "__main__":
    main()
