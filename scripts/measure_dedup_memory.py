"""Peak memory of deduplication over a run's memory-mapped paragraph files, as the flow's dedup task sees them.

    .venv/bin/python scripts/measure_dedup_memory.py PAGES [--keep-mapped-pages]

The pages (e.g. ``bench/work/corpus-200mb-s0/pages``) are segmented and their
encoding repaired (no OCR), written as Arrow files of 50,000 paragraphs into
a temporary directory, and deduplicated in a fresh process the way the flow's
deduplicate task does it: each file memory-mapped (``arrow_io.load_table``),
``pipeline.deduplication_verdicts`` over their concatenation. Prints the
wall time, the number of removals and the process's peak resident memory,
split into anonymous memory and mapped file pages at that peak (sampled every
20 ms from ``/proc/self/status``). ``--keep-mapped-pages`` turns
``arrow_io.release_mapped_pages`` off, for the figure before it existed.
Linux only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_FILE = 50_000  # about the size of the flow's OCR shards


def resident_mb() -> tuple[int, int]:
    """(anonymous, file-backed) resident memory of this process, MB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("RssAnon", "RssFile")):
                name, value = line.split(":")
                fields[name] = int(value.split()[0]) // 1024
    return fields["RssAnon"], fields["RssFile"]


def deduplicate_files(directory: Path, keep_mapped_pages: bool) -> None:
    import pyarrow as pa

    from corpusclean import arrow_io, pipeline
    from corpusclean.config import CleanConfig

    if keep_mapped_pages:
        arrow_io.release_mapped_pages = lambda arrays: None
        import corpusclean.dedup
        import corpusclean.parallel

        corpusclean.parallel.release_mapped_pages = arrow_io.release_mapped_pages
        corpusclean.dedup.release_mapped_pages = arrow_io.release_mapped_pages
    peak = (0, 0)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = resident_mb()
            if sum(now) > sum(peak):
                peak = now
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    paths = sorted(directory.glob("*.arrow"))
    start = time.perf_counter()
    paragraphs = pa.concat_tables([arrow_io.load_table(p) for p in paths])
    verdicts = pipeline.deduplication_verdicts(paragraphs, CleanConfig(workers=2, ocr=False))
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    removed = verdicts.num_rows - verdicts.column("kept_paragraph_id").null_count
    print(f"{paragraphs.num_rows} paragraphs, {removed} removed in {seconds:.1f} s; "
          f"peak RSS {sum(peak)} MB (anonymous {peak[0]}, mapped files {peak[1]})")  # fmt: skip


def write_files(pages: Path, directory: Path) -> None:
    from corpusclean import pipeline
    from corpusclean.arrow_io import save_table
    from corpusclean.config import CleanConfig
    from corpusclean.read import discover_inputs

    files, _ = discover_inputs([pages])
    paragraphs = pipeline.prepare_shard(files, CleanConfig(ocr=False)).paragraphs
    for number, offset in enumerate(range(0, paragraphs.num_rows, ROWS_PER_FILE)):
        save_table(paragraphs.slice(offset, ROWS_PER_FILE).combine_chunks(), directory / f"{number:05d}.arrow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path, nargs="?")
    parser.add_argument("--keep-mapped-pages", action="store_true")
    parser.add_argument("--files", type=Path, help=argparse.SUPPRESS)  # the child process's input
    args = parser.parse_args()
    if args.files is not None:
        deduplicate_files(args.files, args.keep_mapped_pages)
        return
    if args.pages is None:
        parser.error("PAGES is required")
    with tempfile.TemporaryDirectory() as tmp:
        write_files(args.pages, Path(tmp))
        extra = ["--keep-mapped-pages"] if args.keep_mapped_pages else []
        # A fresh process: the preparation's memory must not count.
        subprocess.run([sys.executable, __file__, "--files", tmp, *extra], check=True)


if __name__ == "__main__":
    main()
