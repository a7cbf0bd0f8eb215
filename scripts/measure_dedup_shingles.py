"""Which shingling finds OCR-noise and mojibake copies: measured on the bench's labelled corpus.

For every labelled copy of kind ``ocr_noise`` / ``mojibake`` (and, for
comparison, all other kinds) the exact Jaccard of copy vs original is
computed under several shinglings of corpusclean's normalised tokens
(:func:`corpusclean.normalize.tokenize`); a copy is *found* when that
Jaccard is >= the threshold. The false-positive risk is the upper tail of
the Jaccard of random pairs of unrelated paragraphs (different labelled
groups), and the cost is the number of distinct shingles per paragraph
(MinHash and exact verification scale with it).

Shinglings: word n-grams (``w5``, ``w3``; ``w5 folded``, the product default,
of the OCR-folded text, :mod:`corpusclean.fold`) and
character n-grams of the normalised text with tokens joined by one space
(``c5``, ``c7``, ``c9``).

Usage: .venv/bin/python scripts/measure_dedup_shingles.py [--corpus bench/work/corpus-20mb-s0] [--threshold 0.8]
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from corpusclean.fold import fold_text
from corpusclean.normalize import tokenize

ROOT = Path(__file__).resolve().parent.parent
SHINGLINGS = {"w5": ("word", 5), "w5 folded": ("word folded", 5), "w3": ("word", 3), "c5": ("char", 5), "c7": ("char", 7), "c9": ("char", 9)}


def shingles(text: str, kind: str, size: int) -> set:
    if kind.endswith(" folded"):
        text, kind = fold_text(text), kind.removesuffix(" folded")
    tokens = tokenize(text)
    if kind == "word":
        return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
    joined = " ".join(tokens)
    return {joined[i : i + size] for i in range(len(joined) - size + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench/work/corpus-20mb-s0")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--unrelated", type=int, default=3000)
    parser.add_argument("--per-kind", type=int, default=600, help="copies sampled per kind")
    args = parser.parse_args()
    rng = random.Random(0)
    pages = args.corpus / "pages"
    text_cache: dict[str, list[str]] = {}

    def paragraph(source: str, index: int) -> str:
        from corpusclean.segment import segment_document

        if source not in text_cache:
            text_cache[source] = segment_document(source, (pages / source).read_text(encoding="utf-8")).column("text").to_pylist()
        return text_cache[source][index]

    labels = [r for r in pq.read_table(args.corpus / "labels.parquet").to_pylist() if r["kind"] != "boilerplate"]
    by_kind = defaultdict(list)
    for r in labels:
        by_kind[r["kind"]].append(r)
    print(f"threshold {args.threshold}; share of copies found (exact Jaccard >= threshold), by kind; n per kind <= {args.per_kind}")
    print("| kind | n | " + " | ".join(SHINGLINGS) + " |")
    print("|---|---|" + "---|" * len(SHINGLINGS))
    for kind, rows in sorted(by_kind.items()):
        rows = rng.sample(rows, min(args.per_kind, len(rows)))
        found = {name: 0 for name in SHINGLINGS}
        for r in rows:
            copy, orig = paragraph(r["source"], r["paragraph_index"]), paragraph(r["orig_source"], r["orig_paragraph_index"])
            for name, (k, size) in SHINGLINGS.items():
                found[name] += jaccard(shingles(copy, k, size), shingles(orig, k, size)) >= args.threshold
        print(f"| {kind} | {len(rows)} | " + " | ".join(f"{found[n] / len(rows):.3f}" for n in SHINGLINGS) + " |")

    # Unrelated pairs: originals of different groups.
    originals = sorted({(r["orig_source"], r["orig_paragraph_index"]) for r in labels})
    sample = [paragraph(*o) for o in rng.sample(originals, min(2 * args.unrelated, len(originals)))]
    print("\n| shingling | distinct shingles / paragraph (mean) | unrelated pairs: p99.9 / max Jaccard |")
    print("|---|---|---|")
    for name, (k, size) in SHINGLINGS.items():
        sets = [shingles(t, k, size) for t in sample]
        values = np.array([jaccard(sets[2 * i], sets[2 * i + 1]) for i in range(len(sets) // 2)])
        print(f"| {name} | {np.mean([len(s) for s in sets]):.0f} | {np.quantile(values, 0.999):.3f} / {values.max():.3f} |")


if __name__ == "__main__":
    main()
