"""OCR stage speed on a corpus of text files, as the pipeline runs it: decide the run's vocabulary once, then correct.

    .venv/bin/python scripts/measure_ocr_speed.py bench/work/corpus-20mb-s0/pages

Paragraphs come from ``segment.segment_documents``; the vocabulary is counted
as the flow counts it; CPU seconds of the decision map (``prepare``, its
threads included) and of correcting every paragraph (``correct_shard`` in
batches of the flow's size) are reported, with MB/s per core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from corpusclean import pipeline  # noqa: E402
from corpusclean.ocr import OcrCorrector  # noqa: E402
from corpusclean.ocr_context import load_bigram_context  # noqa: E402
from corpusclean.segment import segment_documents  # noqa: E402
from corpusclean.vocabulary import count_vocabulary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args()
    paths = sorted(p for p in args.corpus.rglob("*") if p.is_file())
    table = segment_documents((str(p), p.read_text(encoding="utf-8", errors="replace")) for p in paths)
    megabytes = sum(len(t.encode()) for t in table.column("text").to_pylist()) / 1e6
    vocabulary = count_vocabulary(table.column("text"))
    OcrCorrector()("warm tbe")  # process-wide data (lexicon, tries) loaded before timing, as in a warm worker
    load_bigram_context("en")
    start = time.process_time()
    corrector = OcrCorrector(corpus_vocabulary=dict(vocabulary))
    corrector.prepare()
    decided = time.process_time()
    settings = pipeline.OcrSettings(corrector)
    edits = 0
    for offset in range(0, table.num_rows, pipeline.OCR_BATCH_ROWS):
        edits += pipeline.correct_shard(table.slice(offset, pipeline.OCR_BATCH_ROWS), settings)[1].num_rows
    corrected = time.process_time()
    total = corrected - start
    print(
        f"{megabytes:.1f} MB, {table.num_rows} paragraphs, {len(vocabulary)} distinct tokens: "
        f"decision map {decided - start:.2f} CPU s, correction {corrected - decided:.2f} CPU s, "
        f"{megabytes / total:.2f} MB/s per core, {edits} edits"
    )


if __name__ == "__main__":
    main()
