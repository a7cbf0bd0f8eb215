"""corpusclean, dedup stage alone: ``corpusclean.dedup.deduplicate`` on the corpus paragraphs.

Runs in the product's virtualenv. Pages are segmented with
``corpusclean.segment.segment_documents`` (the product's own paragraph split,
the rows ``segment_document`` gives, read one page at a time; without the
``original_text`` column, which deduplication does not read), then
deduplicated in one call; each removed paragraph gives the edge
``(kept paragraph, removed paragraph)``, read from the deduplication's verdicts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, page_paths, parse_args, write_edges  # noqa: E402


def read_pages(pages: Path):
    """``(relative posix path, text)`` of each page in canonical order; the text is what
    ``path.read_text(encoding="utf-8")`` gives (universal newlines), read with less overhead."""
    root = str(pages) + os.sep
    for path in page_paths(pages):
        name = str(path)
        source = name[len(root) :].replace(os.sep, "/") if name.startswith(root) else path.relative_to(pages).as_posix()
        with open(name, "rb") as f:
            text = f.read().decode("utf-8")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        yield source, text


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report(args)
    from corpusclean.own_process import skip_unused_imports

    skip_unused_imports()  # as in every process of corpusclean's own (the console script, the run pool)
    import pyarrow.compute as pc

    from corpusclean.dedup import deduplicate
    from corpusclean.segment import segment_documents

    paragraphs = segment_documents(read_pages(args.pages), original_text=False, workers=args.workers)
    report.phase("segment")
    result = deduplicate(paragraphs, threshold=args.threshold, num_perm=args.num_perm, workers=args.workers,
                         keep_signatures=False)  # only the verdicts are read, as in the flow
    report.phase("deduplicate")
    # Rows are in canonical order (sorted pages, paragraph order), so the row number is the ordinal.
    # The verdicts say which row each removed one duplicates; no table of the removed rows is built.
    targets = result.verdicts.column("kept_paragraph_id")
    is_removed = pc.is_valid(targets)
    removed = pc.indices_nonzero(is_removed).to_pylist()
    kept = pc.index_in(pc.filter(targets, is_removed), value_set=paragraphs.column("paragraph_id")).to_pylist()
    n = write_edges(args.out, zip(kept, removed))
    report.phase("collect")
    report.write(edges=n, paragraphs=paragraphs.num_rows)


if __name__ == "__main__":
    main()
