"""Which shingles survive OCR noise? Jaccard of real OCR vs gold paragraphs under
word and character n-grams, against the similarity of unrelated paragraphs.

Usage: .venv/bin/python scripts/measure_shingles.py
"""

from __future__ import annotations

import csv
import random
import sys

import numpy as np

sys.path.insert(0, "scripts")
from bench_dedup import BENCH, base_paragraphs  # noqa: E402

from corpusclean.normalize import normalize_text  # noqa: E402


def words(n):
    def shingle(text):
        t = normalize_text(text).split()
        return {" ".join(t[i : i + n]) for i in range(len(t) - n + 1)}

    return shingle


def chars(n):
    def shingle(text):
        t = normalize_text(text)
        return {t[i : i + n] for i in range(len(t) - n + 1)}

    return shingle


def jaccard(a, b):
    return len(a & b) / len(a | b) if a | b else 0.0


def main():
    rng = random.Random(1)
    base, icdar = base_paragraphs(rng)
    with open(BENCH / "bln600" / "train.csv", encoding="utf-8", errors="replace") as f:
        bln = [(r["OCR Text"], r["Ground Truth"]) for r in csv.DictReader(f) if len(r["Ground Truth"]) > 300]
    pairs = {"icdar paragraphs": icdar, "bln600 sequences>300ch": rng.sample(bln, min(400, len(bln)))}
    unrelated = [(rng.choice(base), rng.choice(base)) for _ in range(3000)]
    schemes = {"word 5": words(5), "word 3": words(3), "word 2": words(2), "char 5": chars(5), "char 7": chars(7), "char 9": chars(9)}
    print(f"{'scheme':<8} " + " ".join(f"{name + ' median / >=0.8':>34}" for name in pairs) + f"{'unrelated p99.9 / max':>26}")
    for label, fn in schemes.items():
        cells = []
        for name, ps in pairs.items():
            j = np.array([jaccard(fn(o), fn(g)) for o, g in ps])
            cells.append(f"{np.median(j):>24.2f} / {np.mean(j >= 0.8):.2f}")
        u = np.array([jaccard(fn(a), fn(b)) for a, b in unrelated])
        print(f"{label:<8} " + " ".join(f"{c:>34}" for c in cells) + f"{np.quantile(u, 0.999):>19.2f} / {u.max():.2f}")


if __name__ == "__main__":
    main()
