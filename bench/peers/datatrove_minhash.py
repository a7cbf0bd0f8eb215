"""datatrove 0.10: the four-stage MinHash pipeline of ``examples/minhash_deduplication.py``.

Run locally with ``LocalPipelineExecutor`` (the example uses Slurm): signatures
(``JsonlReader`` + ``MinhashDedupSignature``), buckets, clusters (with
``save_cluster_id``) and the filter stage writing kept and removed paragraphs
with their ``minhash_cluster_id``. ``MinhashConfig`` uses 5-grams and 16
buckets x 8 hashes = 128 permutations. datatrove has no threshold parameter:
the banding (16 x 8) puts its 50% detection point near Jaccard 0.7.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, edges_from_clusters, parse_args, write_edges, write_jsonl_shards  # noqa: E402

HASHES_PER_BUCKET = 8


def read_clusters(folder: Path):
    """``(ordinal, cluster_id)`` of every paragraph that is in a cluster."""
    for path in sorted(folder.rglob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                cluster = doc.get("metadata", {}).get("minhash_cluster_id", -1)
                if cluster != -1:
                    yield int(doc["id"]), cluster


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report(args)
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    work = args.work
    tasks = args.workers
    write_jsonl_shards(args.pages, work / "input", tasks)
    report.phase("to_jsonl")

    config = MinhashConfig(
        n_grams=args.ngram, num_buckets=args.num_perm // HASHES_PER_BUCKET, hashes_per_bucket=HASHES_PER_BUCKET
    )
    reader = JsonlReader(str(work / "input"))
    mh = work / "minhash"
    stages = [
        LocalPipelineExecutor(
            pipeline=[reader, MinhashDedupSignature(output_folder=str(mh / "signatures"), config=config)],
            tasks=tasks, workers=args.workers, logging_dir=str(work / "logs/1"), skip_completed=False,
        ),
        LocalPipelineExecutor(
            pipeline=[MinhashDedupBuckets(input_folder=str(mh / "signatures"), output_folder=str(mh / "buckets"), config=config)],
            tasks=config.num_buckets, workers=args.workers, logging_dir=str(work / "logs/2"), skip_completed=False,
        ),
        LocalPipelineExecutor(
            pipeline=[MinhashDedupCluster(input_folder=str(mh / "buckets"), output_folder=str(mh / "remove_ids"), config=config, save_cluster_id=True)],
            tasks=1, logging_dir=str(work / "logs/3"), skip_completed=False,
        ),
        LocalPipelineExecutor(
            pipeline=[
                reader,
                MinhashDedupFilter(
                    input_folder=str(mh / "remove_ids"),
                    exclusion_writer=JsonlWriter(str(work / "removed")),
                    load_cluster_ids=True,
                ),
                JsonlWriter(str(work / "kept")),
            ],
            tasks=tasks, workers=args.workers, logging_dir=str(work / "logs/4"), skip_completed=False,
        ),
    ]
    for number, stage in enumerate(stages, 1):
        stage.run()
        report.phase(f"stage{number}")
    clusters = sorted(list(read_clusters(work / "kept")) + list(read_clusters(work / "removed")))
    n = write_edges(args.out, edges_from_clusters(clusters))
    report.phase("collect")
    report.write(edges=n, buckets=config.num_buckets, hashes_per_bucket=HASHES_PER_BUCKET)


if __name__ == "__main__":
    main()
