"""datasketch 2.0: ``MinHash`` signatures + ``MinHashLSH`` streaming dedup.

``--mode update`` is the loop from datasketch's docs (one ``MinHash`` per
paragraph, ``update(shingle)`` per word 5-gram); ``--mode bulk`` builds the
signatures with ``MinHash.bulk``. Both then query a ``MinHashLSH(threshold,
num_perm)`` index (datasketch picks the bands) and check candidates with
``MinHash.jaccard``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, batched, iter_paragraphs, parse_args, streaming_lsh_dedup, word_shingles, write_edges  # noqa: E402

BATCH = 10_000


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    mode = args.mode or "update"
    report = Report(args)
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
    kept: dict[int, LeanMinHash] = {}

    def sketch_one(text: str) -> MinHash:
        m = MinHash(num_perm=args.num_perm)
        for shingle in word_shingles(text, args.ngram):
            m.update(shingle.encode("utf-8"))
        return m

    def signatures():
        for batch in batched(iter_paragraphs(args.pages), BATCH):
            if mode == "bulk":
                sketches = MinHash.bulk(
                    [[s.encode("utf-8") for s in word_shingles(p.text, args.ngram)] for p in batch],
                    num_perm=args.num_perm,
                )
            else:
                sketches = [sketch_one(p.text) for p in batch]
            yield from zip((p.ordinal for p in batch), sketches)

    def insert(key: int, sketch: MinHash) -> None:
        lean = LeanMinHash(sketch)  # the documented compact form for storage
        lsh.insert(key, lean, check_duplication=False)
        kept[key] = lean

    edges = streaming_lsh_dedup(
        signatures(), lsh.query, insert, lambda s, c: s.jaccard(kept[c]), args.threshold
    )
    n = write_edges(args.out, edges)
    report.phase("dedup")
    report.write(edges=n, kept=len(kept), mode=mode, bands=lsh.b, rows=lsh.r)


if __name__ == "__main__":
    main()
