"""rensa: ``RMinHash.from_token_sets`` signatures + ``RMinHashLSH`` streaming dedup.

Idiomatic rensa 0.5 usage: batch sketch construction from token lists (word
5-gram shingles), an ``RMinHashLSH`` index with 16 bands of 8 rows, and each
candidate checked with ``RMinHash.jaccard`` against the threshold before a
paragraph is called a duplicate (what rensa's own deduplicator does).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, batched, iter_paragraphs, parse_args, streaming_lsh_dedup, word_shingles, write_edges  # noqa: E402

BATCH = 10_000
NUM_BANDS = 16
SEED = 42


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report(args)
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=args.threshold, num_perm=args.num_perm, num_bands=NUM_BANDS)
    kept: dict[int, RMinHash] = {}

    def signatures():
        for batch in batched(iter_paragraphs(args.pages), BATCH):
            sketches = RMinHash.from_token_sets(
                [word_shingles(p.text, args.ngram) for p in batch], num_perm=args.num_perm, seed=SEED
            )
            yield from zip((p.ordinal for p in batch), sketches)

    def insert(key: int, sketch: RMinHash) -> None:
        lsh.insert(key, sketch)
        kept[key] = sketch

    edges = streaming_lsh_dedup(
        signatures(), lsh.query, insert, lambda s, c: s.jaccard(kept[c]), args.threshold
    )
    n = write_edges(args.out, edges)
    report.phase("dedup")
    report.write(edges=n, kept=len(kept), bands=NUM_BANDS)


if __name__ == "__main__":
    main()
