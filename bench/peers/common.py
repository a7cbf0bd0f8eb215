"""What every benchmark runner shares: reading the corpus, shingling, output.

Standard library only, so the same file serves the peers' virtualenv
(``bench/.venv``) and corpusclean's (``.venv``).

Every runner sees the corpus the same way: pages are the ``*.txt`` files under
the pages folder in sorted relative-path order, split into paragraphs at blank
lines; a paragraph's *ordinal* is its position in that order. A runner writes
the duplicate relations it found as ``a<TAB>b`` lines of ordinals (an edge per
pair or per member-to-representative link; the scorer takes the transitive
closure) plus a small JSON of its own timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

BLANK_LINE = re.compile(r"\n[^\S\n]*(?:\n[^\S\n]*)+")
"""Same paragraph separator as ``corpusclean.segment``."""
NON_WORD = re.compile(r"[\W_]+")
T = TypeVar("T")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the corpus."""

    ordinal: int
    source: str
    index: int
    text: str


def page_paths(pages: Path) -> list[Path]:
    """The corpus pages in the canonical (sorted relative path) order."""
    return sorted(pages.rglob("*.txt"), key=lambda p: p.relative_to(pages).as_posix())


def split_paragraphs(text: str) -> list[str]:
    """Non-empty blank-line-separated blocks, trimmed."""
    return [block.strip() for block in BLANK_LINE.split(text) if block.strip()]


def iter_paragraphs(pages: Path) -> Iterator[Paragraph]:
    """All paragraphs of the corpus with their ordinals."""
    ordinal = 0
    for path in page_paths(pages):
        source = path.relative_to(pages).as_posix()
        for index, text in enumerate(split_paragraphs(path.read_text(encoding="utf-8"))):
            yield Paragraph(ordinal, source, index, text)
            ordinal += 1


def word_shingles(text: str, size: int = 5) -> list[str]:
    """Distinct lower-cased word ``size``-grams (the whole text if shorter).

    Words are maximal runs of letters/digits: the tokenisation text-dedup
    uses, given here to the libraries that take pre-tokenised input.
    """
    words = [w for w in NON_WORD.split(text.lower()) if w]
    if len(words) < size:
        return [" ".join(words)]
    return list(dict.fromkeys(" ".join(words[i : i + size]) for i in range(len(words) - size + 1)))


def write_jsonl_shards(pages: Path, out_dir: Path, shards: int) -> int:
    """Write the paragraphs as ``{"id", "text"}`` JSONL in ``shards`` contiguous files.

    For tools that read JSONL datasets; returns the number of paragraphs.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paragraphs = list(iter_paragraphs(pages))
    per_shard = -(-len(paragraphs) // shards)
    for shard in range(shards):
        chunk = paragraphs[shard * per_shard : (shard + 1) * per_shard]
        with open(out_dir / f"part-{shard:05d}.jsonl", "w", encoding="utf-8") as f:
            for p in chunk:
                f.write(json.dumps({"id": str(p.ordinal), "text": p.text}, ensure_ascii=False) + "\n")
    return len(paragraphs)


def edges_from_clusters(cluster_of: Iterable[tuple[int, object]]) -> Iterator[tuple[int, int]]:
    """Member-to-first-member edges for ``(ordinal, cluster_key)`` pairs."""
    first: dict[object, int] = {}
    for ordinal, key in cluster_of:
        if key in first:
            yield first[key], ordinal
        else:
            first[key] = ordinal


def write_edges(path: Path, edges: Iterable[tuple[int, int]]) -> int:
    """Write ``a<TAB>b`` lines; returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for a, b in edges:
            f.write(f"{a}\t{b}\n")
            n += 1
    return n


def read_edges(path: Path) -> Iterator[tuple[int, int]]:
    """Edges written by :func:`write_edges`."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            a, b = line.split("\t")
            yield int(a), int(b)


@dataclass(frozen=True)
class RunArgs:
    """Arguments every runner takes (same names for all)."""

    pages: Path
    out: Path
    work: Path
    workers: int
    threshold: float
    num_perm: int
    ngram: int
    mode: str
    """Runner-specific variant (e.g. datasketch ``update`` or ``bulk``)."""


def parse_args(description: str, argv: Sequence[str] | None = None) -> RunArgs:
    """Parse the common runner command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pages", type=Path, required=True, help="corpus pages folder")
    parser.add_argument("--out", type=Path, required=True, help="edges file to write")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for this run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--mode", default="")
    ns = parser.parse_args(argv)
    ns.work.mkdir(parents=True, exist_ok=True)
    return RunArgs(ns.pages, ns.out, ns.work, ns.workers, ns.threshold, ns.num_perm, ns.ngram, ns.mode)


class Report:
    """Collects a runner's own phase timings and writes them next to the edges."""

    def __init__(self, args: RunArgs) -> None:
        self.path = args.out.with_suffix(".json")
        self.start = time.perf_counter()
        self.phases: dict[str, float] = {}
        self.info: dict[str, object] = {"pid": os.getpid()}
        self._last = self.start

    def phase(self, name: str) -> None:
        """Close the phase that ended now."""
        now = time.perf_counter()
        self.phases[name] = round(now - self._last, 3)
        self._last = now

    def write(self, **info: object) -> None:
        """Write the report (call once, at the end)."""
        self.info.update(info)
        data = {"work_s": round(time.perf_counter() - self.start, 3), "phases": self.phases, **self.info}
        self.path.write_text(json.dumps(data, indent=2) + "\n")


def streaming_lsh_dedup(
    signatures: Iterable[tuple[int, object]],
    query: Callable[[object], Iterable[int]],
    insert: Callable[[int, object], None],
    similarity: Callable[[object, int], float],
    threshold: float,
) -> Iterator[tuple[int, int]]:
    """The usual streaming dedup loop over an LSH index.

    Each paragraph queries the index of paragraphs kept so far; the first
    candidate whose estimated Jaccard reaches ``threshold`` makes it a
    duplicate (edge ``(kept, paragraph)``), otherwise it is kept and inserted.
    Only kept paragraphs enter the index, as in rensa's deduplicator, so a
    boilerplate line seen 10,000 times is compared to one kept copy, not to all.
    """
    for key, signature in signatures:
        match = next((c for c in query(signature) if similarity(signature, c) >= threshold), None)
        if match is None:
            insert(key, signature)
        else:
            yield match, key


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
