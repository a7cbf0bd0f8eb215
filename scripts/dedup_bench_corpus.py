"""Measure ``deduplicate`` on the dedup benchmark's labelled corpus, in a fresh process.

Reproduces the corpusclean-dedup row of ``bench/run_bench.py`` (same corpus,
same paragraphs, same scoring: transitive closure of the kept->removed edges,
pair precision over non-boilerplate paragraphs, share of labelled copies in
their original's cluster by edit kind and by true word-5-gram Jaccard bin),
but times ``deduplicate`` alone: the paragraphs are segmented once with
``corpusclean.segment.segment_document`` and cached as Parquet, then each run
starts a new interpreter that imports corpusclean, reads the cache and calls
``deduplicate`` (so Numba cache loading and worker start-up are included;
interpreter start, imports and segmentation are not). Peak RSS/PSS cover the
child's whole process tree, polled every 20 ms.

Usage::

    .venv/bin/python scripts/dedup_bench_corpus.py [--corpus bench/work/corpus-20mb-s0]
        [--workers 2] [--repeat 3] [--misses 20] [deduplicate kwargs as k=JSON, e.g. shingle='"char"' shingle_size=5]

Build the corpus first (``make bench BENCH_ARGS='--size-mb 20 --peers rensa'``
or ``bench/make_corpus.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0)]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
import pyarrow.parquet as pq
from corpusclean.dedup import deduplicate
paragraphs = pq.read_table(sys.argv[1])
kwargs = json.loads(sys.argv[3])
t1 = time.perf_counter(); c1 = time.process_time()
result = deduplicate(paragraphs, **kwargs)
t2 = time.perf_counter(); c2 = time.process_time()
pq.write_table(result.duplicates.select(["paragraph_id", "kept_paragraph_id", "method", "similarity"]), sys.argv[2])
print(json.dumps({"import_read_s": t1 - t0, "dedup_wall_s": t2 - t1, "dedup_cpu_s": c2 - c1}))
"""


def paragraphs_cache(corpus: Path, cache_dir: Path) -> Path:
    """Segment the corpus pages once (as the bench runner does) and cache them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusclean.segment import segment_document

    path = cache_dir / f"{corpus.name}-paragraphs.parquet"
    if path.exists() and path.stat().st_mtime > (corpus / "meta.json").stat().st_mtime:
        return path
    pages = corpus / "pages"
    files = sorted(pages.rglob("*.txt"), key=lambda p: p.relative_to(pages).as_posix())
    tables = [segment_document(f.relative_to(pages).as_posix(), f.read_text(encoding="utf-8")) for f in files]
    pq.write_table(pa.concat_tables(tables), path)
    return path


def run_child(paragraphs: Path, out: Path, kwargs: dict) -> dict:
    """Run ``deduplicate`` in a new interpreter; its timings plus peak tree RSS/PSS (MB)."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(paragraphs), str(out), json.dumps(kwargs)],
        stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    root = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0.0
    while proc.poll() is None:
        rss = pss = 0.0
        try:
            for p in [root, *root.children(recursive=True)]:
                info = p.memory_full_info()
                rss += info.rss
                pss += info.pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.02)
    stdout = proc.stdout.read().decode()
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode})")
    return {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_mb": peak_rss / 2**20, "peak_pss_mb": peak_pss / 2**20}


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def bin_label(jac: float) -> str:
    for lo, hi in BINS:
        if lo <= jac < hi or (hi == BINS[-1][1] and jac >= lo):
            return f"J{lo:.1f}-{hi:.1f}"
    return "J0.0-0.5"


def score(paragraphs: Path, duplicates: Path, corpus: Path) -> tuple[dict, list[dict]]:
    """The bench's scores, and the labelled J >= 0.8 copies that were missed."""
    import pyarrow.parquet as pq

    para = pq.read_table(paragraphs, columns=["paragraph_id", "source", "paragraph_index"]).to_pydict()
    ordinal = {pid: i for i, pid in enumerate(para["paragraph_id"])}
    by_position = {(s, i): k for k, (s, i) in enumerate(zip(para["source"], para["paragraph_index"]))}
    dup = pq.read_table(duplicates).to_pydict()
    uf = UnionFind()
    linked: set[int] = set()
    for kept, removed in zip(dup["kept_paragraph_id"], dup["paragraph_id"]):
        a, b = ordinal[kept], ordinal[removed]
        uf.union(a, b)
        linked.update((a, b))
    labels = pq.read_table(corpus / "labels.parquet").to_pylist()
    copies = [(by_position[(r["source"], r["paragraph_index"])], by_position[(r["orig_source"], r["orig_paragraph_index"])], r) for r in labels]
    boiler = {x for c, o, r in copies if r["kind"] == "boilerplate" for x in (c, o)}
    true_root = {c: o for c, o, _ in copies}
    nodes = (linked | set(true_root) | set(true_root.values())) - boiler
    pred, true, cell = Counter(), Counter(), Counter()
    for x in nodes:
        p, t = uf.find(x), true_root.get(x, x)
        pred[p] += 1
        true[t] += 1
        cell[(p, t)] += 1
    pairs = lambda counts: sum(n * (n - 1) // 2 for n in counts)  # noqa: E731
    tp, predicted, actual = pairs(cell.values()), pairs(pred.values()), pairs(true.values())
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for c, o, r in copies:
        found = uf.find(c) == uf.find(o)
        groups = [r["kind"]]
        if r["kind"] != "boilerplate":
            groups.append(bin_label(r["jaccard"]))
            if r["jaccard"] >= 0.8:
                groups.append("J>=0.8")
                if not found:
                    misses.append({**r, "copy": para["paragraph_id"][c], "orig": para["paragraph_id"][o]})
            if r["kind"] in ("ocr_noise", "mojibake"):
                groups.append("ocr+moji")
        for g in groups:
            hits[g][0] += found
            hits[g][1] += 1
    scores = {"P": tp / predicted if predicted else float("nan"), "R": tp / actual if actual else float("nan")}
    scores.update({g: h / n for g, (h, n) in sorted(hits.items())})
    return scores, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench/work/corpus-20mb-s0")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--misses", type=int, default=0, help="print this many missed J>=0.8 copies")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "corpusclean-dedup-bench")
    parser.add_argument("kwargs", nargs="*", help="extra deduplicate keyword arguments, k=v (JSON values)")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    paragraphs = paragraphs_cache(args.corpus, args.cache)
    kwargs = {"workers": args.workers, **{k: json.loads(v) for k, v in (a.split("=", 1) for a in args.kwargs)}}
    mb = sum(f.stat().st_size for f in (args.corpus / "pages").rglob("*.txt")) / 1e6
    out = args.cache / "duplicates.parquet"
    for _ in range(args.repeat):
        run = run_child(paragraphs, out, kwargs)
        print(
            f"{mb:.1f} MB {kwargs}: deduplicate wall {run['dedup_wall_s']:.2f} s ({mb / run['dedup_wall_s']:.1f} MB/s), "
            f"CPU {run['dedup_cpu_s']:.2f} s ({mb / run['dedup_cpu_s']:.1f} MB/s); import+read {run['import_read_s']:.2f} s; "
            f"peak tree RSS {run['peak_rss_mb']:.0f} MB, PSS {run['peak_pss_mb']:.0f} MB"
        )
    scores, misses = score(paragraphs, out, args.corpus)
    print("  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    for m in misses[: args.misses]:
        print(json.dumps({k: m[k] for k in ("kind", "variant", "jaccard", "copy", "orig")}))


if __name__ == "__main__":
    main()
