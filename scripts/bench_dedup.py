"""Throughput and pair recall/precision of the dedup core on ~20 MB of real text.

Corpus: ground-truth text of /work/shared/ocr-bench (ICDAR 2017 gold standard,
BLN600 transcriptions, Gutenberg sentences) cut into ~300-2000-char paragraphs,
plus planted duplicates: exact (case/space/quote changes), near (random word
drops and OCR-like character edits at several rates), contained fragments, and
the real OCR output of ICDAR paragraphs next to their gold text.

Truth for recall: every pair with exact word-5-gram Jaccard >= t, found by an
exhaustive prefix-filter similarity join (independent of MinHash). Precision:
every reported near/contained removal is rechecked with Python sets of shingle
strings.

Usage: .venv/bin/python scripts/bench_dedup.py [--mb 20] [--datasketch-mb 1]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpusclean import containment, lsh
from corpusclean.dedup import deduplicate
from corpusclean.minhash import batch_signatures, shingle_hashfunc, signatures_from_hashes
from corpusclean.normalize import tokenize_batch
from corpusclean.shingles import hash32, sets_from_windows, shingle_strings, window_hashes

BENCH = Path("/work/shared/ocr-bench")
csv.field_size_limit(1 << 30)


def pieces(text: str, rng: random.Random) -> list[str]:
    words, out, start = text.split(), [], 0
    while start < len(words):
        n = rng.randint(50, 330)
        out.append(" ".join(words[start : start + n]))
        start += n
    return [p for p in out if len(p) > 40]


def base_paragraphs(rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    """Real paragraphs, and (OCR, gold) paragraph pairs from ICDAR alignments."""
    texts, ocr_pairs = [], []
    for path in sorted((BENCH / "icdar2017-train-en").glob("*/*.txt")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        ocr = next((l[len("[OCR_aligned] ") :] for l in lines if l.startswith("[OCR_aligned]")), "")
        gold = next((l[len("[ GS_aligned] ") :] for l in lines if l.startswith("[ GS_aligned]")), "")
        if not gold or len(ocr) != len(gold):
            continue
        position = 0
        while position < len(gold):
            end = gold.find(" ", position + rng.randint(300, 2000))
            end = len(gold) if end < 0 else end
            g, o = gold[position:end], ocr[position:end]
            position = end + 1
            if "#" in g:
                continue
            g, o = g.replace("@", ""), o.replace("@", "")
            texts.append(g)
            if rng.random() < 0.1:
                ocr_pairs.append((o, g))
    with open(BENCH / "bln600" / "train.csv", encoding="utf-8", errors="replace") as f:
        gt = " ".join(row["Ground Truth"] for row in csv.DictReader(f))
    texts += pieces(gt, rng)
    for name in ("guten_ht_high_dev.tsv", "guten_ht_low_dev.tsv"):
        with open(BENCH / "ght" / name, encoding="utf-8") as f:
            texts += pieces(" ".join(row["output"] for row in csv.DictReader(f, delimiter="\t")), rng)
    return texts, ocr_pairs


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    chars = list(text)
    for i in range(len(chars)):
        if chars[i].isalpha() and rng.random() < rate:
            chars[i] = rng.choice("ilrnmce1'")
    return "".join(chars)


def planted(texts: list[str], target_chars: int, rng: random.Random) -> list[str]:
    out = list(texts)
    size = sum(map(len, out))
    while size < target_chars:
        t = rng.choice(texts)
        words = t.split()
        kind = rng.random()
        if kind < 0.25:
            v = t.upper() if rng.random() < 0.5 else "  ".join(words).replace("'", "\u2019")
        elif kind < 0.65:
            drop = rng.choice([0.005, 0.01, 0.02, 0.03, 0.05])
            v = ocr_noise(" ".join(w for w in words if rng.random() > drop), rng.choice([0.0, 0.002, 0.005]), rng)
        elif kind < 0.8 and len(words) > 40:
            start = rng.randrange(0, len(words) - 20)
            v = " ".join(words[start : start + rng.randint(12, 40)])
        else:
            v = " ".join(rng.sample(words, len(words)))  # same words, other order: not a duplicate
        out.append(v)
        size += len(v)
    rng.shuffle(out)
    return out


def true_pairs(sets, threshold: float) -> set[tuple[int, int]]:
    """All pairs with Jaccard >= threshold: prefix-filter join, then exact check."""
    sizes = sets.sizes()
    hashes, counts = np.unique(sets.hashes, return_counts=True)
    frequency = counts[np.searchsorted(hashes, sets.hashes)]
    rows = np.repeat(np.arange(len(sizes)), sizes)
    # Global order: rare shingles first; a pair with J >= t shares one of the
    # first |A| - ceil(t |A|) + 1 shingles of A in that order.
    order = np.lexsort((sets.hashes, frequency, rows))
    position = np.arange(len(order)) - np.repeat(sets.offsets[:-1], sizes)
    prefix_len = sizes - np.ceil(threshold * sizes - 1e-9).astype(np.int64) + 1
    keep = position < np.repeat(prefix_len, sizes)
    prefix_hash, prefix_row = sets.hashes[order][keep], rows[order][keep]
    by_hash = np.argsort(prefix_hash, kind="stable")
    prefix_hash, prefix_row = prefix_hash[by_hash], prefix_row[by_hash]
    bounds = np.flatnonzero(np.diff(prefix_hash)) + 1
    found = set()
    for group in np.split(prefix_row, bounds):
        if len(group) < 2:
            continue
        group = np.unique(group)
        for a in range(len(group)):
            for b in range(a + 1, len(group)):
                i, j = int(group[a]), int(group[b])
                if min(sizes[i], sizes[j]) >= threshold * max(sizes[i], sizes[j]) and (i, j) not in found:
                    if sets.jaccard(i, j) >= threshold:
                        found.add((i, j))
    return found


def timed(label: str, mb: float, fn):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:7.2f} s  {mb / seconds:7.2f} MB/s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--datasketch-mb", type=float, default=1.0)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()
    rng = random.Random(0)
    base, ocr_pairs = base_paragraphs(rng)
    texts = planted(base, int(args.mb * 1e6), rng)
    for o, g in ocr_pairs:
        texts += [o, g]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"corpus: {len(texts)} paragraphs, {mb:.1f} MB (UTF-8), {len(ocr_pairs)} real OCR/gold pairs", flush=True)
    array = pa.array(texts, pa.large_string())

    batch_signatures(texts[:50])  # compile/load kernels outside the timings
    tokens = timed("tokenize_batch", mb, lambda: tokenize_batch(array))
    windows = timed("shingles.window_hashes", mb, lambda: window_hashes(tokens, 5))
    sigs = timed("minhash.signatures_from_hashes", mb, lambda: signatures_from_hashes(windows[0], hash32(windows[1])))
    sets = timed("shingles.sets_from_windows", mb, lambda: sets_from_windows(*windows))
    bands, rows = lsh.optimal_bands(args.threshold, 128)
    timed(f"lsh.candidate_pairs ({bands}x{rows})", mb, lambda: lsh.candidate_pairs(sigs, bands, rows))
    timed("containment.candidate_pairs", mb, lambda: containment.candidate_pairs(sets))
    for workers in (1, 2):
        timed(f"batch_signatures workers={workers}", mb, lambda: batch_signatures(array, workers=workers))

    sub, sub_mb = [], 0.0
    for t in texts:
        if sub_mb >= args.datasketch_mb:
            break
        sub.append(t)
        sub_mb += len(t.encode()) / 1e6
    from datasketch import MinHash

    shingled = timed(f"  (python shingle_strings, {sub_mb:.1f} MB)", sub_mb, lambda: [shingle_strings(t) for t in sub])
    ds = timed("datasketch MinHash.bulk(shingle_hashfunc)", sub_mb, lambda: MinHash.bulk(shingled, num_perm=128, seed=1, hashfunc=shingle_hashfunc))
    timed("datasketch MinHash.bulk(default sha1)", sub_mb, lambda: MinHash.bulk(shingled, num_perm=128, seed=1))
    ours = batch_signatures(sub)
    assert all((m.hashvalues == ours[i]).all() for i, m in enumerate(ds)), "signatures differ from datasketch"
    print("batched signatures == datasketch on the subset: yes")

    ids = [hashlib.blake2b(f"{i}".encode(), digest_size=8).hexdigest() for i in range(len(texts))]
    table = pa.table(
        {
            "paragraph_id": pa.array(ids, pa.string()),
            "source": pa.array([f"f{i % 97}" for i in range(len(texts))], pa.string()),
            "paragraph_index": pa.array(range(len(texts)), pa.int64()),
            "text": array,
        }
    )
    for workers in (1, 2):
        result = timed(f"deduplicate workers={workers}", mb, lambda: deduplicate(table, threshold=args.threshold, workers=workers))
    d = result.duplicates
    methods = d.column("method").to_pylist()
    print("removed:", {m: methods.count(m) for m in ("exact", "near", "contained")}, "kept:", result.kept.num_rows)

    # Precision: recheck every near/contained removal with Python sets of shingle strings.
    index = {pid: i for i, pid in enumerate(ids)}
    wrong = 0
    checked = 0
    for pid, kept, method in zip(d.column("paragraph_id").to_pylist(), d.column("kept_paragraph_id").to_pylist(), methods):
        if method == "exact":
            continue
        a, b = set(shingle_strings(texts[index[pid]])), set(shingle_strings(texts[index[kept]]))
        value = len(a & b) / len(a | b) if method == "near" else len(a & b) / len(a)
        wrong += value < (args.threshold if method == "near" else 0.9)
        checked += 1
    print(f"precision: {checked - wrong}/{checked} removals verified by Python sets")

    # Recall: true pairs (Jaccard >= t, not exact duplicates) must not both survive.
    truth = timed("exhaustive prefix-filter join (truth)", mb, lambda: true_pairs(sets, args.threshold))
    kept_rows = {index[p] for p in result.kept.column("paragraph_id").to_pylist()}
    both_kept = [p for p in truth if p[0] in kept_rows and p[1] in kept_rows]
    sigs_all = sigs
    candidates = {tuple(p) for p in lsh.candidate_pairs(sigs_all, bands, rows).tolist()}
    found = sum(p in candidates for p in truth)
    partial = [p for p in truth if sets.jaccard(*p) < 1.0]
    found_partial = sum(p in candidates for p in partial)
    print(f"true pairs J>={args.threshold}: {len(truth)}; LSH candidates among them: {found} ({found / max(len(truth), 1):.4f})")
    print(f"  of which 0.8 <= J < 1: {len(partial)}; candidates: {found_partial} ({found_partial / max(len(partial), 1):.4f})")
    print(f"pairs left with both paragraphs kept: {len(both_kept)} (resolved {1 - len(both_kept) / max(len(truth), 1):.4f})")
    ocr_j = [sets.jaccard(len(texts) - 2 * k - 2, len(texts) - 2 * k - 1) for k in range(len(ocr_pairs))]
    print(f"real OCR vs gold paragraphs, word-5-gram Jaccard: median {np.median(ocr_j):.2f}, share >= 0.8: {np.mean(np.array(ocr_j) >= 0.8):.2f}")


if __name__ == "__main__":
    sys.exit(main())
