"""text-dedup 0.4: its ``text_dedup.minhash`` command on a local JSONL dataset.

Called as its CLI documents (``--path json --data_files ... --column text``)
with ``--ngram 5 --num_perm 128 --threshold 0.8`` (text-dedup picks the bands
the way datasketch does), ``--hash_func xxh3`` (its faster hash) and
``--debug`` so it dumps its union-find, from which the clusters are read.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, parse_args, write_edges, write_jsonl_shards  # noqa: E402


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report(args)
    # No network here: keep the Hugging Face libraries from trying.
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["HF_HOME"] = str(args.work / "hf")
    from text_dedup.minhash import main as text_dedup_main

    write_jsonl_shards(args.pages, args.work / "input", 1)
    report.phase("to_jsonl")
    out = args.work / "output"
    cli = [
        "--path", "json", "--data_files", str(args.work / "input" / "part-00000.jsonl"), "--split", "train",
        "--cache_dir", str(args.work / "cache"), "--output", str(out), "--column", "text", "--idx_column", "id",
        "--ngram", str(args.ngram), "--num_perm", str(args.num_perm), "--threshold", str(args.threshold),
        "--hash_func", "xxh3", "--num_proc", str(args.workers), "--debug",
    ]  # fmt: skip
    text_dedup_main.main(args=cli, standalone_mode=False)
    report.phase("text_dedup")
    with open(out / "uf.pkl", "rb") as f:
        union_find = pickle.load(f)
    edges = ((int(union_find.find(i)), int(i)) for i in union_find.parent if union_find.find(i) != i)
    n = write_edges(args.out, edges)
    report.phase("collect")
    report.write(edges=n)


if __name__ == "__main__":
    main()
