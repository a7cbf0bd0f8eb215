"""``make bench``: build the labelled corpus, run corpusclean and its peers, print one table.

Runs in ``bench/.venv`` (see ``run_bench.sh``). Each tool runs as its own
process tree; this driver polls the tree every 0.1 s for its memory, enforces
a timeout and a memory guard, then scores the duplicate edges the tool wrote
against ``labels.parquet``. A tool that fails, times out or is killed is a row
saying so. Results go to stdout and to ``bench/results/<size>mb.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
sys.path.insert(0, str(PEERS))

from common import iter_paragraphs, read_edges  # noqa: E402

PRODUCT_PYTHON = ROOT / ".venv" / "bin" / "python"
PRODUCT_CLI = ROOT / ".venv" / "bin" / "corpusclean"
BENCH_PYTHON = Path(sys.executable)
MB = 1_000_000
KINDS = ("exact", "punct_case_ws", "word_ins_del_sub", "sentence_add_drop", "ocr_noise", "mojibake", "boilerplate")
KIND_SHORT = {
    "exact": "exact", "punct_case_ws": "punct", "word_ins_del_sub": "words", "sentence_add_drop": "sent",
    "ocr_noise": "ocr", "mojibake": "moji", "boilerplate": "boiler",
}  # fmt: skip
BINS = ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
CC_DEDUP, CC_FLOW = "corpusclean-dedup", "corpusclean-flow"


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tool:
    """One benchmark row: how to run it and, if needed, how to collect its edges."""

    name: str
    argv: tuple[str, ...]
    collect: tuple[str, ...] = ()
    """Untimed command that writes the edges after the timed run (corpusclean's CLI)."""
    requires: tuple[Path, ...] = ()
    """Files that must exist for the tool to be available."""


def tools(pages: Path, work: Path, args: argparse.Namespace) -> list[Tool]:
    """All tools, in table order; each writes ``work/<name>.tsv``."""
    shared_args = ["--pages", str(pages), "--workers", str(args.workers), "--threshold", "0.8", "--num-perm", "128", "--ngram", "5"]

    def runner(name: str, python: Path, script: str, *extra: str) -> Tool:
        argv = (str(python), str(PEERS / script), *shared_args, "--out", str(work / f"{name}.tsv"),
                "--work", str(work / name), *extra)  # fmt: skip
        return Tool(name, argv, requires=(python,))

    flow_out = work / CC_FLOW / "out"
    flow = Tool(
        CC_FLOW,
        (str(PRODUCT_CLI), "run", str(pages), "--out", str(flow_out), "--workers", str(args.workers), "--threshold", "0.8"),
        collect=(str(PRODUCT_PYTHON), str(PEERS / "corpusclean_collect.py"), *shared_args,
                 "--out", str(work / f"{CC_FLOW}.tsv"), "--work", str(flow_out)),  # fmt: skip
        requires=(PRODUCT_CLI,),
    )
    return [
        runner(CC_DEDUP, PRODUCT_PYTHON, "corpusclean_dedup.py"),
        flow,
        runner("datasketch-update", BENCH_PYTHON, "datasketch_lsh.py", "--mode", "update"),
        runner("datasketch-bulk", BENCH_PYTHON, "datasketch_lsh.py", "--mode", "bulk"),
        runner("rensa", BENCH_PYTHON, "rensa_lsh.py"),
        runner("datatrove", BENCH_PYTHON, "datatrove_minhash.py"),
        runner("text-dedup", BENCH_PYTHON, "text_dedup_minhash.py"),
    ]


# --------------------------------------------------------------------------- measuring


@dataclass
class RunResult:
    """What happened when a tool ran."""

    status: str
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    detail: str = ""
    phases: dict = field(default_factory=dict)


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


class PeakMemory:
    """The peak RSS and PSS of a process tree, polled without reading PSS when it cannot be a new peak.

    Reading a process's PSS (``/proc/PID/smaps_rollup``) walks its page tables:
    polling a 2-core flow's tree every 0.1 s that way cost 7.5-8.4 CPU s of
    system time in a 47-52 s run, seconds taken from the tool measured. RSS
    (``statm``) is a counter. A tree's PSS can only grow by pages its
    processes map: since the last PSS reading it is at most that reading plus
    each process's RSS growth (a new process's whole RSS). PSS is read again only
    when that bound could exceed the peak so far, so the peak is the one
    reading PSS every time would find (pages shared with processes outside the
    tree aside, whose exit moves their share into it).
    """

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.peak_rss = self.peak_pss = 0.0
        self.pss_readings = self.polls = 0
        self._base_pss = 0.0
        self._base_rss: dict[tuple[int, float], float] | None = None

    def poll(self) -> float:
        """Poll once; returns an upper bound of the tree's PSS now."""
        self.polls += 1
        rss: dict[tuple[int, float], float] = {}
        procs = _tree(self.root)
        for proc in procs:
            try:
                rss[(proc.pid, proc.create_time())] = proc.memory_info().rss
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, sum(rss.values()))
        if self._base_rss is not None:
            bound = self._base_pss + sum(max(0.0, r - self._base_rss.get(key, 0.0)) for key, r in rss.items())
            if bound <= self.peak_pss:
                return bound
        self.pss_readings += 1
        pss = 0.0
        for proc in procs:
            try:
                info = proc.memory_full_info()
                pss += getattr(info, "pss", info.rss)
            except psutil.Error:
                continue
        self._base_pss, self._base_rss = pss, rss
        self.peak_pss = max(self.peak_pss, pss)
        return pss


def kill_tree(proc: psutil.Process) -> None:
    """Kill a tool's whole process tree (its own process group)."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def warm_page_cache(pages: Path) -> None:
    """Read every page once, untimed, so that each tool starts with the corpus in the page cache.

    Otherwise the first tool of a run pays the disk reads the later ones are
    spared (seen: 1.4 s instead of 0.8 s to read and split the 20 MB corpus).
    """
    for path in sorted(pages.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass


def run_monitored(argv: Sequence[str], log: Path, timeout_s: float, mem_limit_mb: float, env: dict) -> RunResult:
    """Run ``argv`` in a new process group, polling its tree's memory."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        out.write("$ " + shlex.join(argv) + "\n")
        out.flush()
        start = time.perf_counter()
        proc = psutil.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT)
        memory = PeakMemory(proc)
        status = ""
        while proc.poll() is None:
            pss = memory.poll()
            elapsed = time.perf_counter() - start
            if elapsed > timeout_s:
                status = f"timeout after {timeout_s:.0f} s"
            elif pss > mem_limit_mb * MB:
                status = f"killed: memory over {mem_limit_mb / 1000:.0f} GB"
            if status:
                kill_tree(proc)
                proc.wait()
                break
            time.sleep(0.1)
        wall = time.perf_counter() - start
        kill_tree(proc)  # stray grandchildren of a finished tool
    if not status:
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    detail = "" if status == "ok" else last_error_line(log)
    return RunResult(status, round(wall, 2), round(memory.peak_rss / MB, 1), round(memory.peak_pss / MB, 1), detail)


def last_error_line(log: Path) -> str:
    """The most telling line of a failed tool's log (its last exception line)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line:
            return line[:160]
    return lines[-1][:160] if lines else ""


# --------------------------------------------------------------------------- scoring


class UnionFind:
    """Union-find over ints, for the transitive closure of a tool's edges."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class Truth:
    """The labels, keyed by corpus ordinal."""

    copies: list[tuple[int, int, str, float]]
    """(copy, original, kind, true Jaccard) for every labelled copy."""
    boilerplate: set[int]
    """Every paragraph that is a site boilerplate line (repeated or not)."""
    paragraphs: int


def load_truth(corpus: Path) -> Truth:
    """Read ``labels.parquet`` and map its (source, index) pairs to ordinals."""
    import pyarrow.parquet as pq

    boilerplate_lines = set((corpus / "boilerplate.txt").read_text(encoding="utf-8").splitlines())
    ordinal = {}
    boilerplate: set[int] = set()
    for p in iter_paragraphs(corpus / "pages"):
        ordinal[(p.source, p.index)] = p.ordinal
        if p.text in boilerplate_lines:
            boilerplate.add(p.ordinal)
    labels = pq.read_table(corpus / "labels.parquet").to_pydict()
    copies = []
    for src, idx, kind, osrc, oidx, jac in zip(
        labels["source"], labels["paragraph_index"], labels["kind"],
        labels["orig_source"], labels["orig_paragraph_index"], labels["jaccard"],
    ):  # fmt: skip
        c, o = ordinal[(src, idx)], ordinal[(osrc, oidx)]
        copies.append((c, o, kind, jac))
        if kind == "boilerplate":
            boilerplate.update((c, o))
    return Truth(copies, boilerplate, len(ordinal))


def pairs(counts: Iterable[int]) -> int:
    """Number of unordered pairs within groups of the given sizes."""
    return sum(n * (n - 1) // 2 for n in counts)


def score(edges: Iterable[tuple[int, int]], truth: Truth) -> dict:
    """Pair precision/recall/F1 and per-copy recall by kind and Jaccard bin.

    Pairs are all pairs inside a cluster (the transitive closure of the
    tool's edges, against original-plus-copies clusters), over non-boilerplate
    paragraphs: one boilerplate line repeated on thousands of pages would
    otherwise dominate every pair count. Boilerplate is scored by its own
    per-copy recall.
    """
    uf = UnionFind()
    linked: set[int] = set()
    for a, b in edges:
        uf.union(a, b)
        linked.update((a, b))
    true_root = {c: o for c, o, _, _ in truth.copies}
    # Paragraphs in neither an edge nor a label are singletons on both sides: no pairs.
    nodes = (linked | set(true_root) | set(true_root.values())) - truth.boilerplate
    pred_size: Counter[int] = Counter()
    true_size: Counter[int] = Counter()
    cell: Counter[tuple[int, int]] = Counter()
    for x in nodes:
        p, t = uf.find(x), true_root.get(x, x)
        pred_size[p] += 1
        true_size[t] += 1
        cell[(p, t)] += 1
    tp, predicted, actual = pairs(cell.values()), pairs(pred_size.values()), pairs(true_size.values())
    precision = tp / predicted if predicted else float("nan")
    recall = tp / actual if actual else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0

    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c, o, kind, jac in truth.copies:
        found = uf.find(c) == uf.find(o)
        groups = [f"kind:{kind}"]
        if kind != "boilerplate":
            groups.append(f"bin:{bin_label(jac)}")
            if jac >= 0.8:
                groups.append("j>=0.8")
            if kind in ("ocr_noise", "mojibake"):
                groups.append("noise")
        for g in groups:
            hits[g][0] += found
            hits[g][1] += 1
    recall_by = {g: (h / n if n else float("nan"), n) for g, (h, n) in hits.items()}
    return {
        "precision": precision, "recall": recall, "f1": f1,
        "true_pairs": actual, "predicted_pairs": predicted, "false_pairs": predicted - tp,
        "recall_by": recall_by,
    }  # fmt: skip


def bin_label(jac: float) -> str:
    """The Jaccard bin a value falls in; the last bin includes 1.0."""
    for lo, hi in BINS:
        if lo <= jac < hi or (hi == BINS[-1][1] and jac >= lo):
            return f"{lo:.1f}-{hi:.1f}"
    return f"{BINS[0][0]:.1f}-{BINS[0][1]:.1f}"


# --------------------------------------------------------------------------- corpus


def ensure_corpus(args: argparse.Namespace, size_mb: float) -> Path:
    """The corpus for (size, seed), built unless a matching one is cached."""
    sys.path.insert(0, str(BENCH))
    import make_corpus

    corpus = args.work / f"corpus-{size_mb:g}mb-s{args.seed}"
    meta_path = corpus / "meta.json"
    wanted = {
        "generator_version": make_corpus.GENERATOR_VERSION,
        "size_mb": size_mb,
        "seed": args.seed,
        "source_sha256": make_corpus.source_digest(args.source),
        "generator_sha256": make_corpus.generator_digest(),
    }
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()):
            return corpus
    print(f"building corpus {corpus.name} ...", flush=True)
    cmd = [str(BENCH_PYTHON), str(BENCH / "make_corpus.py"), "--size-mb", f"{size_mb:g}", "--seed", str(args.seed),
           "--out", str(corpus)] + [a for s in args.source for a in ("--source", str(s))]  # fmt: skip
    subprocess.run(cmd, check=True)
    return corpus


# --------------------------------------------------------------------------- one size


def run_size(args: argparse.Namespace, size_mb: float) -> dict:
    """Build/reuse the corpus, run every selected tool, score; returns the results."""
    corpus = ensure_corpus(args, size_mb)
    meta = json.loads((corpus / "meta.json").read_text())
    pages = corpus / "pages"
    work = args.work / f"run-{size_mb:g}mb-s{args.seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    truth = load_truth(corpus)
    timeout = args.timeout_s if args.timeout_s else 300 + 12 * size_mb
    env = {**os.environ, "PYTHONHASHSEED": "0", "TOKENIZERS_PARALLELISM": "false"}
    rows = []
    for tool in tools(pages, work, args):
        if args.peers and tool.name not in args.peers:
            rows.append({"tool": tool.name, **asdict(RunResult("skipped (not in --peers)"))})
            continue
        print(f"running {tool.name} ...", flush=True)
        missing = [str(p) for p in tool.requires if not p.exists()]
        if missing:
            rows.append({"tool": tool.name, **asdict(RunResult("not available", detail=f"missing {missing[0]}"))})
            continue
        warm_page_cache(pages)
        result = run_monitored(tool.argv, work / f"{tool.name}.log", timeout, args.mem_limit_gb * 1000, env)
        if result.status == "ok" and tool.collect:
            done = subprocess.run(tool.collect, capture_output=True, text=True, env=env, cwd=ROOT)
            if done.returncode != 0:
                result.status, result.detail = "failed (collecting output)", done.stderr.strip()[-160:]
        report = work / f"{tool.name}.json"
        if report.exists():
            result.phases = json.loads(report.read_text())
        seen = result.phases.get("paragraphs")
        if result.status == "ok" and seen is not None and seen != truth.paragraphs:
            # Ordinals only line up when the tool split the pages as the generator did.
            result.detail = f"saw {seen} paragraphs, corpus has {truth.paragraphs}"
        row = {"tool": tool.name, **asdict(result), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        row["mb_s"] = meta["bytes"] / MB / result.wall_s if result.status == "ok" and result.wall_s else None
        if result.status == "ok":
            row["quality"] = score(read_edges(work / f"{tool.name}.tsv"), truth)
        rows.append(row)
        print(f"  {result.status} in {result.wall_s:.1f} s, peak {result.peak_pss_mb:.0f} MB (PSS)", flush=True)
    return {
        "size_mb": size_mb,
        "seed": args.seed,
        "corpus": {k: meta[k] for k in ("bytes", "pages", "paragraphs", "counts", "unrelated_jaccard", "clauses")},
        "command": "make bench BENCH_ARGS=" + shlex.quote(" ".join(args.argv)) if args.argv else "make bench",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "rows": rows,
    }


def machine() -> dict:
    """What the numbers were measured on (the machine is shared, so load matters)."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------- output


def fmt(value: float | None, spec: str = ".2f") -> str:
    """A number for the table, ``–`` when absent."""
    if value is None or value != value:
        return "–"
    return format(value, spec)


def table(result: dict) -> str:
    """The one Markdown table for a size."""
    rows = result["rows"]
    speed = {r["tool"]: r.get("mb_s") for r in rows}
    kinds = [f"R {KIND_SHORT[k]}" for k in KINDS]
    bins = [f"R J{lo:.1f}-{hi:.1f}" for lo, hi in BINS]
    head = ["tool", "status", "wall s", "MB/s", "peak RSS MB", "peak PSS MB", "cc-dedup ×", "cc-flow ×",
            "P", "R", "F1", "R J≥0.8", *kinds, *bins]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        q = r.get("quality")
        ok = r["status"] == "ok"

        def ratio(of: str) -> str:
            return fmt(speed[of] / r["mb_s"]) if ok and speed.get(of) and r.get("mb_s") else "–"

        status = f"{r['status']}: {r['detail']}".replace("|", "/") if r["detail"] else r["status"]
        cells = [r["tool"], status, fmt(r["wall_s"], ".1f") if ok else "–", fmt(r.get("mb_s")),
                 fmt(r["peak_rss_mb"], ".0f") if ok else "–", fmt(r["peak_pss_mb"], ".0f") if ok else "–",
                 ratio(CC_DEDUP), ratio(CC_FLOW)]  # fmt: skip
        if q:
            by = q["recall_by"]
            cells += [fmt(q["precision"], ".4f"), fmt(q["recall"], ".3f"), fmt(q["f1"], ".3f"), fmt(by.get("j>=0.8", (None,))[0], ".3f")]
            cells += [fmt(by.get(f"kind:{k}", (None,))[0], ".3f") for k in KINDS]
            cells += [fmt(by.get(f"bin:{lo:.1f}-{hi:.1f}", (None,))[0], ".3f") for lo, hi in BINS]
        else:
            cells += ["–"] * (4 + len(KINDS) + len(BINS))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(result: dict) -> list[str]:
    """Issue 4's targets, each checked against this run's measurements."""
    rows = {r["tool"]: r for r in result["rows"]}

    def get(tool: str, key: str):
        r = rows.get(tool)
        return r.get(key) if r and r["status"] == "ok" else None

    def quality(tool: str, group: str | None = None, key: str = "precision"):
        q = get(tool, "quality")
        if not q:
            return None
        return q["recall_by"].get(group, (None,))[0] if group else q[key]

    def check(label: str, value, goal: float, higher: bool = True) -> str:
        if value is None:
            return f"- {label}: not measured"
        passed = value >= goal if higher else value <= goal
        return f"- {label}: {value:.3f} (target {'≥' if higher else '≤'} {goal:g}) {'PASS' if passed else 'FAIL'}"

    out = []
    ccd, ccf, rensa, dt = get(CC_DEDUP, "mb_s"), get(CC_FLOW, "mb_s"), get("rensa", "mb_s"), get("datatrove", "mb_s")
    out.append(check("dedup stage / rensa throughput", ccd / rensa if ccd and rensa else None, 1.2))
    out.append(check("whole flow / datatrove throughput", ccf / dt if ccf and dt else None, 8))
    flow_mem, rensa_mem = get(CC_FLOW, "peak_pss_mb"), get("rensa", "peak_pss_mb")
    out.append(check("whole-flow peak memory / rensa's (PSS; target applies at 200 MB and 1 GB)",
                     flow_mem / rensa_mem if flow_mem and rensa_mem else None, 1.0, higher=False))  # fmt: skip
    for tool in (CC_DEDUP, CC_FLOW):
        out.append(check(f"{tool} pair precision", quality(tool), 0.999))
        out.append(check(f"{tool} recall on copies with true J ≥ 0.8", quality(tool, "j>=0.8"), 0.99))
        out.append(check(f"{tool} recall on OCR-noise/mojibake copies", quality(tool, "noise"), 0.9))
    return out


def markdown(result: dict) -> str:
    """The results file for one size."""
    c = result["corpus"]
    counts = ", ".join(f"{k} {v}" for k, v in c["counts"].items())
    m = result["machine"]
    phases = []
    for r in result["rows"]:
        ph = r.get("phases") or {}
        if ph.get("phases"):
            phases.append(f"- {r['tool']}: " + ", ".join(f"{k} {v:.1f} s" for k, v in ph["phases"].items()))
    return "\n".join([
        f"# Dedup benchmark, {result['size_mb']:g} MB corpus (seed {result['seed']})",
        "",
        f"Command: `{result['command']}` · {result['date']} · {m['cpus']} CPUs, {m['memory_gb']} GiB, "
        f"load average at the end {m['load_avg_1m']} (shared machine: timings are noisy)",
        "",
        f"Corpus: {c['bytes'] / MB:.1f} MB in {c['pages']} pages, {c['paragraphs']} paragraphs "
        f"({counts}); unrelated originals' Jaccard over {c['unrelated_jaccard']['pairs']} random pairs: "
        f"mean {c['unrelated_jaccard']['mean']:.5f}, max {c['unrelated_jaccard']['max']:.3f}.",
        "",
        "Columns: wall time and peak memory of the tool's whole process tree (RSS summed over processes counts "
        "forked workers' shared pages repeatedly; PSS does not); MB/s = corpus MB / wall s; cc-dedup × and "
        "cc-flow × = corpusclean's MB/s over this row's; P/R/F1 = pair precision/recall/F1 over all pairs "
        "inside clusters (boilerplate excluded); R … = share of labelled copies put in their original's "
        "cluster, by kind of edit and by true word-5-gram Jaccard bin (raw copy vs clean original).",
        "",
        table(result),
        "",
        "Targets (issue 4):",
        *targets(result),
        "",
        "Phases as timed inside each tool (imports and interpreter start excluded):",
        *phases,
        "",
    ])


def linearity(results: list[dict]) -> str:
    """Per tool and size: MB/s, peak PSS, and seconds per MB relative to the smallest size."""
    sizes = [r["size_mb"] for r in results]
    names = list(dict.fromkeys(row["tool"] for res in results for row in res["rows"]))
    head = ["tool", *[f"MB/s @ {s:g} MB" for s in sizes], *[f"peak PSS MB @ {s:g} MB" for s in sizes],
            *[f"s/MB @ {s:g} ÷ @ {sizes[0]:g}" for s in sizes[1:]]]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        rows = [next((r for r in res["rows"] if r["tool"] == name and r["status"] == "ok"), None) for res in results]
        speeds = [row.get("mb_s") if row else None for row in rows]
        memory = [fmt(row["peak_pss_mb"], ".0f") if row else "–" for row in rows]
        ratios = [fmt(speeds[0] / s) if s and speeds[0] else "–" for s in speeds[1:]]
        lines.append("| " + " | ".join([name, *[fmt(s) for s in speeds], *memory, *ratios]) + " |")
    return "\n".join(lines)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=20.0)
    parser.add_argument("--sizes", help="comma-separated sizes in MB (overrides --size-mb), e.g. 20,200,1000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peers", help="comma-separated subset of tools to run (default: all)")
    parser.add_argument("--timeout-s", type=float, default=0, help="per tool; default 300 s + 12 s per MB")
    parser.add_argument("--mem-limit-gb", type=float, default=0.75 * psutil.virtual_memory().total / 1e9)
    parser.add_argument("--source", type=Path, action="append", help="prose file(s); default bench/work/kjv.txt")
    parser.add_argument("--work", type=Path, default=BENCH / "work")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write bench/results")
    parser.add_argument("--merge", action="store_true", help="keep saved rows of tools skipped by --peers")
    parser.add_argument("--linearity-only", action="store_true", help="rebuild results/linearity.md from saved results")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    args.source = args.source or [BENCH / "work" / "kjv.txt"]
    args.peers = set(args.peers.split(",")) if args.peers else set()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.linearity_only:
        saved = saved_results(args.results)
        if len(saved) < 2:
            print(f"need saved results of two sizes in {args.results}, found {len(saved)}")
            return 1
        curve = "# Linearity\n\nFrom the latest saved result of each size (`bench/results/*mb.json`).\n\n"
        curve += linearity(saved) + "\n"
        print(curve)
        (args.results / "linearity.md").write_text(curve)
        return 0
    sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else [args.size_mb]
    results = []
    for size in sizes:
        result = run_size(args, size)
        if args.merge:
            result = merge_saved(result, args.results / f"{size:g}mb.json")
        results.append(result)
        text = markdown(result)
        print("\n" + text)
        if not args.no_save:
            args.results.mkdir(parents=True, exist_ok=True)
            (args.results / f"{size:g}mb.md").write_text(text)
            (args.results / f"{size:g}mb.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.no_save:
        if len(results) > 1:
            print("\n# Linearity\n\n" + linearity(results))
        return 0
    saved = saved_results(args.results)
    if len(saved) > 1:
        curve = "# Linearity\n\nFrom the latest saved result of each size (`bench/results/*mb.json`).\n\n" + linearity(saved) + "\n"
        print("\n" + curve)
        (args.results / "linearity.md").write_text(curve)
    return 0


def merge_saved(result: dict, saved_path: Path) -> dict:
    """Fill rows this run skipped from the saved result of the same corpus.

    For re-running one tool (``--peers X --merge``) without re-running the
    rest; each row keeps the date it was measured.
    """
    if not saved_path.exists():
        return result
    saved = json.loads(saved_path.read_text())
    if saved.get("seed") != result["seed"] or saved["corpus"]["bytes"] != result["corpus"]["bytes"]:
        return result
    old_rows = {r["tool"]: r for r in saved["rows"]}
    rows = []
    for row in result["rows"]:
        old = old_rows.get(row["tool"])
        if row["status"].startswith("skipped") and old:
            old.setdefault("date", saved["date"])
            row = old
        rows.append(row)
    return {**result, "rows": rows, "command": f"{saved['command']}; then {result['command']}"}


def saved_results(folder: Path) -> list[dict]:
    """Every saved per-size result, smallest size first."""
    results = [json.loads(p.read_text()) for p in folder.glob("*mb.json")] if folder.is_dir() else []
    return sorted(results, key=lambda r: r["size_mb"])


if __name__ == "__main__":
    sys.exit(main())
