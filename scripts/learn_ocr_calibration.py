"""Learn the OCR corrector's confidence calibration on the ICDAR 2017 English *learn* part.

Runs the corrector the way the pipeline does (the part's vocabulary first,
then the decision map, then every paragraph) but keeps every change whose raw
posterior reaches ``ocr_model.RAW_FLOOR``, records the calibration features of
each (``ocr_model.CALIBRATION_FEATURES``: raw posterior, candidate frequency,
capitalisation, confusions used and how often this run's confident fixes use
them, shape gain, length) and whether the changed token now equals the gold
token, and fits a logistic map from features to that outcome. Writes
``src/corpusclean/data/ocr_calibration.json``: a handful of weights, no words,
so nothing can memorise benchmark text. The eval part (``make bench-ocr``)
is never read.

Usage: .venv/bin/python scripts/learn_ocr_calibration.py [--max-chars N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from ocr_bench import _core, gold_alignment, sample, token_outputs_from_edits  # noqa: E402
from ocr_data import icdar_pairs  # noqa: E402

from corpusclean.ocr import OcrCorrector, count_vocabulary  # noqa: E402
from corpusclean.ocr_model import CALIBRATION_FEATURES, RAW_FLOOR  # noqa: E402

WRONG: list | None = [] if "--show-wrong" in sys.argv else None
OUT = ROOT / "src" / "corpusclean" / "data" / "ocr_calibration.json"


def collect(pairs, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, outcomes and raw posteriors of every scorable change, the part cut into ``runs`` runs."""
    rows: list[list[float]] = []
    labels: list[float] = []
    raws: list[float] = []
    size = -(-len(pairs) // runs)
    for start in range(0, len(pairs), size):
        chunk = pairs[start : start + size]
        fix = OcrCorrector(corpus_vocabulary=count_vocabulary(p.ocr for p in chunk))
        fix.model  # built with the default threshold, as in a run
        fix.min_confidence = RAW_FLOOR
        fix._collect = {}
        fix.prepare()
        for pair in chunk:
            _, edits = fix(pair.ocr)
            outputs = token_outputs_from_edits(pair.ocr, edits)
            tokens = pair.ocr.split()
            spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", pair.ocr)]
            mapping = gold_alignment(tokens, pair.gold.split())
            for i, (before, after) in enumerate(zip(tokens, outputs)):
                target = mapping.get(i)
                if after is None or target is None or _core(after) == _core(before):
                    continue
                lo, hi = spans[i]
                hits = [e for e in edits if lo <= e.position < hi]
                if len(hits) != 1 or not hits[0].rule.startswith("confusion") or hits[0].before not in fix._collect:
                    continue
                features, raw = fix._collect[hits[0].before]
                rows.append(features)
                labels.append(float(_core(after) == _core(target)))
                raws.append(raw)
                if WRONG is not None and not labels[-1]:
                    WRONG.append((before, after, target, [round(v, 2) for v in features]))
    return np.array(rows), np.array(labels), np.array(raws)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (the bias is not penalised)."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(p: np.ndarray, y: np.ndarray, name: str) -> None:
    print(f"{name}: changes at or above each confidence -> precision")
    for t in (0.5, 0.7, 0.8, 0.9, 0.95):
        kept = p >= t
        print(f"  >= {t:4}: {int(kept.sum()):6d} changes, precision {y[kept].mean() if kept.any() else float('nan'):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=2_400_000)
    parser.add_argument("--runs", type=int, default=4, help="cut the part into this many runs (run-profile sizes like a bench set)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--show-wrong", action="store_true", help="print the wrong changes with their features")
    args = parser.parse_args()
    pairs = sample(icdar_pairs("learn"), args.max_chars)
    x, y, raw = collect(pairs, args.runs)
    print(f"{len(y)} scorable changes, {y.mean():.3f} right")
    w = fit(x, y)
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    reliability(raw, y, "raw posterior")
    reliability(p, y, "calibrated")
    support = float(np.median(x[:, CALIBRATION_FEATURES.index("run_support")]))
    args.out.write_text(
        json.dumps(
            {
                "about": "OCR confidence calibration: logistic weights over ocr_model.CALIBRATION_FEATURES, "
                "learned by scripts/learn_ocr_calibration.py on the ICDAR 2017 English learn part",
                "changes": int(len(y)),
                "default_support": round(support, 4),
                "weights": {name: round(float(v), 5) for name, v in zip(CALIBRATION_FEATURES, w)},
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(json.dumps(dict(zip(CALIBRATION_FEATURES, np.round(w, 3).tolist()))))
    print(f"wrote {args.out}")
    for before, after, target, features in (WRONG or [])[:80]:
        print(f"  WRONG {before!r} -> {after!r}, gold {target!r}: {features[1:]}")


if __name__ == "__main__":
    main()
