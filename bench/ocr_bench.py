"""OCR-correction benchmark: ``make bench-ocr``.

For each dev set in ``shared/ocr-bench`` (ICDAR 2017 English, eval part of the
file split; BLN600 train; Gutenberg–HathiTrust dev) runs corpusclean's OCR
stage with an empty substitution table and the set's own vocabulary (counted
over all its OCR text first, as the pipeline does), and symspellpy as the
off-the-shelf baseline, and prints:

* CER before and after (character edit distance / gold length). Before is the
  raw OCR text; after is what the pipeline writes for it: the paragraph text
  segmentation makes (every whitespace run one space, ``segment.join_lines``),
  corrected by the OCR stage. Both correctors are given that paragraph text;
* the relative improvement (the ICDAR 2017 metric; positive is better), and
  the part of it that is segmentation's whitespace alone (``seg``: the
  Gutenberg–HathiTrust OCR has runs of spaces its gold text never has),
* token precision (changed tokens that now equal the gold token) and recall
  (wrong OCR tokens, gold a word, that were fixed), over tokens that align
  one-to-one with the gold text,
* throughput of the correction step in MB/s (one core; the machine may be
  shared, so it is noisy): wall clock and, less sensitive to other load,
  the process's CPU time. Both include building the run's model, its
  decision map (every distinct token decided once) and its context map;
  only the process-wide lexicon and bigram loads are excluded. A second table splits the time into building
  the map and applying it to the paragraphs; ``--scale`` adds each whole
  set, unsampled, to show the map's cost grows with distinct tokens;
* token precision and recall of the edits at or above a few confidence
  thresholds (``--thresholds``), so users can pick ``min_confidence``.

Sets larger than ``--max-chars`` are sampled deterministically (every k-th
pair). ``--root DIR`` (or ``OCR_BENCH_ROOT``) points it at other data in the
same layout, such as held-out splits: every ``icdar2017-*`` folder other than
the training one counts whole, each ``bln600/*.csv`` and each split of
``ght/guten_ht_*_<split>.tsv`` is a set. symspellpy runs in its own venv, ``bench/.venv-ocr``, made here on
first use, so it never enters the product's lock file.

Usage: .venv/bin/python bench/ocr_bench.py [--root DIR] [--sets NAME ...] [--max-chars N] [--no-baseline] [--min-confidence X]
       [--thresholds X ...] [--scale] [--show-wrong N] [--misses]
"""

from __future__ import annotations

import argparse
import collections
import difflib
import json
import re
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from ocr_data import DEFAULT_ROOT, Pair, discover_sets  # noqa: E402

from corpusclean.edits import Edit  # noqa: E402
from corpusclean.ocr import OcrCorrector, count_vocabulary  # noqa: E402
from corpusclean.ocr_context import load_bigram_context  # noqa: E402
from corpusclean.segment import join_lines  # noqa: E402

BASELINE_VENV = HERE / ".venv-ocr"
SYMSPELL_VERSION = "6.10.1"
PUNCT = "\"'()[]{}.,;:!?-–—«»“”‘’*_"

SETS: dict[str, Callable[[], list[Pair]]] = discover_sets(DEFAULT_ROOT)


@numba.njit(cache=True)
def _levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = np.arange(len(b) + 1)
    current = np.empty(len(b) + 1, dtype=previous.dtype)
    for i in range(1, len(a) + 1):
        current[0] = i
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            cost = 0 if ai == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        previous, current = current, previous
    return previous[len(b)]


def levenshtein(a: str, b: str) -> int:
    return int(_levenshtein(np.frombuffer(a.encode("utf-32-le"), np.uint32), np.frombuffer(b.encode("utf-32-le"), np.uint32)))


def sample(pairs: list[Pair], max_chars: int) -> list[Pair]:
    total = sum(len(p.ocr) for p in pairs)
    step = max(1, -(-total // max_chars))
    return pairs[::step]


def _core(token: str) -> str:
    """A token as compared for precision and recall: outer punctuation off, and the
    gold's typographic conventions (long s, ligatures) read as plain letters."""
    return unicodedata.normalize("NFKC", token).replace("ſ", "s").strip(PUNCT)


def gold_alignment(ocr_tokens: Sequence[str], gold_tokens: Sequence[str]) -> dict[int, str]:
    """OCR token index -> gold token, for tokens that align one to one."""
    a = [_core(t) for t in ocr_tokens]
    b = [_core(t) for t in gold_tokens]
    mapping: dict[int, str] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                mapping[i1 + k] = gold_tokens[j1 + k]
    return mapping


def token_outputs_from_edits(ocr: str, edits: Sequence[Edit]) -> list[str | None]:
    """What each whitespace token of ``ocr`` became (``None``: merged with a neighbour)."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", ocr)]
    outputs: list[str | None] = [ocr[s:e] for s, e in spans]
    by_token: dict[int, list[Edit]] = collections.defaultdict(list)
    k = 0
    for edit in sorted(edits, key=lambda e: e.position):
        end = edit.position + len(edit.before)
        while k < len(spans) and spans[k][1] <= edit.position:
            k += 1
        if k < len(spans) and end <= spans[k][1]:
            by_token[k].append(edit)
        else:  # spans whitespace: a hyphenation join
            j = k
            while j < len(spans) and spans[j][0] < end:
                outputs[j] = None
                j += 1
    for index, token_edits in by_token.items():
        if outputs[index] is None:
            continue
        start = spans[index][0]
        text = ocr[spans[index][0] : spans[index][1]]
        for edit in sorted(token_edits, key=lambda e: -e.position):
            rel = edit.position - start
            text = text[:rel] + edit.after + text[rel + len(edit.before) :]
        outputs[index] = text
    return outputs


@dataclass
class Score:
    chars: int = 0
    dist_before: int = 0
    dist_segmented: int = 0
    dist_after: int = 0
    changed: int = 0
    correct: int = 0
    errors: int = 0
    fixed: int = 0
    unscored_changes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    nbytes: int = 0
    wrong: list[tuple[str, str, str]] = field(default_factory=list)

    def add_distances(self, pair: Pair, fixed: str) -> None:
        """The raw OCR's, its paragraph text's (:func:`paragraph_text`) and ``fixed``'s edit distance to the gold."""
        self.nbytes += len(pair.ocr.encode("utf-8"))
        self.chars += len(pair.gold)
        self.dist_before += levenshtein(pair.ocr, pair.gold)
        self.dist_segmented += levenshtein(paragraph_text(pair.ocr), pair.gold)
        self.dist_after += levenshtein(fixed, pair.gold)

    def add_tokens(self, ocr: str, gold: str, outputs: Sequence[str | None]) -> None:
        ocr_tokens = ocr.split()
        mapping = gold_alignment(ocr_tokens, gold.split())
        for i, (before, after) in enumerate(zip(ocr_tokens, outputs)):
            changed = after is None or _core(after) != _core(before)
            target = mapping.get(i)
            if target is None or after is None or " " in after:  # merged, or split in two: no one-to-one gold token
                self.unscored_changes += changed
                continue
            is_error = _core(before) != _core(target)
            word_error = is_error and _core(target).isalpha()
            self.errors += word_error
            if changed:
                self.changed += 1
                if _core(after) == _core(target):
                    self.correct += 1
                    self.fixed += word_error
                else:
                    self.wrong.append((before, after, target))

    def row(self, name: str) -> str:
        before = self.dist_before / max(self.chars, 1)
        after = self.dist_after / max(self.chars, 1)
        improvement = 100.0 * (self.dist_before - self.dist_after) / max(self.dist_before, 1)
        segmentation = 100.0 * (self.dist_before - self.dist_segmented) / max(self.dist_before, 1)
        precision = self.correct / self.changed if self.changed else float("nan")
        recall = self.fixed / self.errors if self.errors else float("nan")
        speed = self.nbytes / 1e6 / self.seconds if self.seconds else float("nan")
        cpu_speed = self.nbytes / 1e6 / self.cpu_seconds if self.cpu_seconds else float("nan")
        return (
            f"| {name:<34} | {100 * before:6.2f}% | {100 * after:6.2f}% | {improvement:+7.2f}% | {segmentation:+6.2f}% | "
            f"{precision:5.3f} | {recall:5.3f} | {self.changed:6d} | {self.unscored_changes:5d} | {speed:7.2f} | "
            f"{cpu_speed:7.2f} |"
        )


HEADER = (
    "| set / system                       | CER in  | CER out | improve  |  seg    | prec  | rec   | chg'd  | unsc. |  MB/s   | CPU MB/s |\n"
    "|------------------------------------|---------|---------|----------|---------|-------|-------|--------|-------|---------|----------|"
)


@dataclass
class Timing:
    """Where the corrector's time went: deciding the run's vocabulary once, then the paragraphs."""

    distinct: int = 0
    changes: int = 0
    build_seconds: float = 0.0
    build_cpu: float = 0.0
    apply_seconds: float = 0.0
    apply_cpu: float = 0.0
    nbytes: int = 0

    def row(self, name: str) -> str:
        apply_speed = self.nbytes / 1e6 / self.apply_cpu if self.apply_cpu else float("nan")
        return (
            f"| {name:<34} | {self.nbytes / 1e6:7.2f} | {self.distinct:8d} | {self.changes:6d} | "
            f"{self.build_seconds:7.2f} | {self.build_cpu:7.2f} | {self.apply_cpu:7.2f} | {apply_speed:8.2f} |"
        )


TIMING_HEADER = (
    "| set                                |   MB    | distinct | map    | build s | bld CPU | apply CPU | apply MB/s CPU |\n"
    "|------------------------------------|---------|----------|--------|---------|---------|-----------|----------------|"
)


CALIBRATED = False


def paragraph_text(ocr: str) -> str:
    """What the OCR stage is given in the pipeline: segmentation's text of the paragraph."""
    return join_lines(ocr)


def correct_timed(pairs: Sequence[Pair], min_confidence: float) -> tuple[list[tuple[str, list[Edit]]], Timing]:
    """Correct ``pairs`` as the pipeline does (vocabulary first, decision map once, then paragraphs), timed.

    The process-wide lexicon data is a one-off per worker process, not
    throughput; the run's own model, its decision map and every paragraph are
    timed. Counting the vocabulary is the pipeline's earlier stage and is not.
    """
    texts = [paragraph_text(pair.ocr) for pair in pairs]
    vocabulary = count_vocabulary(texts)
    OcrCorrector(min_confidence=min_confidence)("warm up the lexicon and the compiled search: tbe")
    load_bigram_context("en")  # process-wide data, like the lexicon
    timing = Timing(distinct=len(vocabulary), nbytes=sum(len(text.encode("utf-8")) for text in texts))
    start, cpu_start = time.perf_counter(), time.process_time()
    fix = OcrCorrector(corpus_vocabulary=vocabulary, min_confidence=min_confidence, calibrated=CALIBRATED)
    timing.changes = len(fix.prepare())
    middle, cpu_middle = time.perf_counter(), time.process_time()
    results = fix.correct_many(texts)
    end, cpu_end = time.perf_counter(), time.process_time()
    timing.build_seconds, timing.build_cpu = middle - start, cpu_middle - cpu_start
    timing.apply_seconds, timing.apply_cpu = end - middle, cpu_end - cpu_middle
    return results, timing


def run_corpusclean(
    pairs: list[Pair], min_confidence: float, thresholds: Sequence[float] = ()
) -> tuple[Score, list[tuple[str, str, str]], Timing, dict[float, Score]]:
    """Score corpusclean on ``pairs``; also the token scores of its edits above each of ``thresholds``."""
    results, timing = correct_timed(pairs, min_confidence)
    score = Score(seconds=timing.build_seconds + timing.apply_seconds, cpu_seconds=timing.build_cpu + timing.apply_cpu)
    at_threshold = {t: Score() for t in thresholds}
    changes: list[tuple[str, str, str]] = []
    for pair, (fixed, edits) in zip(pairs, results):
        score.add_distances(pair, fixed)
        text = paragraph_text(pair.ocr)
        score.add_tokens(pair.ocr, pair.gold, token_outputs_from_edits(text, edits))
        for threshold, kept in at_threshold.items():
            confident = [e for e in edits if (e.confidence or 0.0) >= threshold]
            kept.add_tokens(pair.ocr, pair.gold, token_outputs_from_edits(text, confident))
        changes.extend((e.before, e.after, e.rule) for e in edits)
    return score, changes, timing, at_threshold


def miss_report(pairs: Sequence[Pair], results: Sequence[tuple[str, list[Edit]]]) -> str:
    """Where the remaining error is: the ceiling of word-level correction, and the word errors left, by kind.

    The ceiling replaces every wrong OCR token that aligns one to one with an
    alphabetic gold token by that gold token (what a perfect word-level
    corrector could do; punctuation, spacing and merged or split words stay).
    Each word error left is put in the first kind that fits: ``case`` (only
    the case differs), ``gold not in lexicon``, ``marks in token`` (digits or
    marks inside the OCR token), ``real word`` (the OCR token is a lexicon word)
    or ``non-word``, the last two by edit distance (1, 2, 3 or more).
    """
    from corpusclean.ocr_model import load_lexicon

    lexicon = load_lexicon("en")
    before = after = ceiling = 0
    kinds: collections.Counter[str] = collections.Counter()
    kind_distance: collections.Counter[str] = collections.Counter()
    for pair, (fixed, edits) in zip(pairs, results):
        before += levenshtein(pair.ocr, pair.gold)
        after += levenshtein(fixed, pair.gold)
        tokens = pair.ocr.split()
        outputs = token_outputs_from_edits(paragraph_text(pair.ocr), edits)
        perfect = list(tokens)
        for i, target in gold_alignment(tokens, pair.gold.split()).items():
            ocr_core, gold_core = _core(tokens[i]), _core(target)
            if ocr_core == gold_core or not gold_core.isalpha():
                continue
            perfect[i] = target
            if outputs[i] is not None and _core(outputs[i]) == gold_core:
                continue  # fixed
            distance = min(levenshtein(ocr_core.lower(), gold_core.lower()), 3)
            if ocr_core.lower() == gold_core.lower():
                kind = "case"
            elif gold_core.lower() not in lexicon:
                kind = "gold not in lexicon"
            elif not ocr_core.isalpha():
                kind = "marks in token"
            else:
                kind = f"{'real word' if ocr_core.lower() in lexicon else 'non-word'}, distance {distance}{'+' if distance == 3 else ''}"
            kinds[kind] += 1
            kind_distance[kind] += levenshtein(tokens[i], target)
        ceiling += levenshtein(" ".join(perfect), pair.gold)
    rows = [
        f"  edit distance to the gold: {before} before, {after} after ({100 * (before - after) / max(before, 1):+.1f}%), "
        f"{ceiling} with every one-to-one word error fixed ({100 * (before - ceiling) / max(before, 1):+.1f}%)",
        "  word errors left (tokens, their edit distance):",
    ]
    rows += [f"    {kind:<24} {n:6d} {kind_distance[kind]:7d}" for kind, n in kinds.most_common()]
    return "\n".join(rows)


def ensure_baseline_venv() -> Path:
    python = BASELINE_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(BASELINE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"symspellpy=={SYMSPELL_VERSION}"], check=True)
    return python


def run_symspell(pairs: list[Pair]) -> Score:
    python = ensure_baseline_venv()
    proc = subprocess.run(
        [str(python), str(HERE / "symspell_worker.py")],
        input=json.dumps([paragraph_text(p.ocr) for p in pairs]),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    score = Score(seconds=result["seconds"])
    for pair, fixed in zip(pairs, result["texts"]):
        score.add_distances(pair, fixed)
        score.add_tokens(pair.ocr, pair.gold, fixed.split())
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=600_000, help="sample each set down to about this many OCR characters")
    parser.add_argument("--min-confidence", type=float, default=0.9)
    parser.add_argument("--no-baseline", action="store_true", help="skip symspellpy")
    parser.add_argument("--show-changes", type=int, default=0, help="print this many of each set's changes")
    parser.add_argument("--show-wrong", type=int, default=0, help="print this many changes that missed the gold token")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="the benchmark data (default: $OCR_BENCH_ROOT or shared/ocr-bench); held-out splits in "
                             "the same layout are found too: any icdar2017-* folder, bln600/*.csv, ght/guten_ht_*_<split>.tsv")
    parser.add_argument("--sets", nargs="*", default=None,
                        help="subset of the sets found under --root (default: all), e.g. " + ", ".join(SETS))
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.8, 0.9, 0.95],
                        help="also report token precision/recall of the edits at or above these confidences "
                             "(from a run at the lowest of them and --min-confidence)")
    parser.add_argument("--scale", action="store_true",
                        help="also time the whole of each set, unsampled: the decision map grows with distinct tokens, not text")
    parser.add_argument("--misses", action="store_true",
                        help="also print the ceiling of word-level correction and the word errors left, by kind")
    parser.add_argument("--calibrated", action="store_true",
                        help="threshold and report the calibrated confidence (OcrCorrector(calibrated=True))")
    args = parser.parse_args()
    sets = discover_sets(args.root)
    if not sets:
        parser.error(f"no benchmark sets under {args.root}")
    unknown = [name for name in args.sets or () if name not in sets]
    if unknown:
        parser.error(f"no such set under {args.root}: {', '.join(unknown)} (found: {', '.join(sets)})")
    global CALIBRATED
    CALIBRATED = args.calibrated
    floor = min([args.min_confidence, *args.thresholds])
    print(f"OCR correction benchmark (min_confidence={args.min_confidence}{', calibrated' if args.calibrated else ''}, "
          f"max {args.max_chars:,} chars a set)")
    print(HEADER)
    timings: list[tuple[str, Timing]] = []
    threshold_rows: list[str] = []
    for name in args.sets or sets:
        pairs = sample(sets[name](), args.max_chars)
        score, changes, timing, _ = run_corpusclean(pairs, args.min_confidence)
        print(score.row(f"{name}: corpusclean"), flush=True)
        timings.append((name, timing))
        if not args.no_baseline:
            print(run_symspell(pairs).row(f"{name}: symspellpy {SYMSPELL_VERSION}"), flush=True)
        if args.thresholds:
            _, _, _, by_threshold = run_corpusclean(pairs, floor, args.thresholds)
            threshold_rows.append(
                f"| {name:<34} | "
                + " | ".join(f"{s.correct / max(s.changed, 1):5.3f} / {s.fixed / max(s.errors, 1):5.3f}"
                             for s in by_threshold.values())
                + " |"
            )
        for before, after, target in score.wrong[: args.show_wrong]:
            print(f"    WRONG {before!r} -> {after!r}, gold {target!r}", file=sys.stderr)
        if args.show_changes:
            for before, after, rule in changes[: args.show_changes]:
                print(f"    {before!r} -> {after!r}  [{rule}]", file=sys.stderr)
        if args.misses:
            print(miss_report(pairs, correct_timed(pairs, args.min_confidence)[0]), flush=True)
        if args.scale:
            _, whole = correct_timed(sets[name](), args.min_confidence)
            timings.append((f"{name} (whole set)", whole))
    print("improve = relative CER improvement (ICDAR 2017) of the pipeline's text (paragraph text, then OCR) over the raw OCR; "
          "seg = of which segmentation's whitespace alone; prec/rec over one-to-one aligned tokens; "
          "unsc. = changed tokens with no one-to-one gold token (line-break joins, merged or split words); "
          "MB/s include building the run's decision map")
    if args.thresholds:
        print(f"\nToken precision / recall of the edits with confidence at or above (one run at {floor}):")
        print("| set                                | " + " | ".join(f"   >= {t:<8}" for t in args.thresholds) + " |")
        print("|------------------------------------|" + "|".join("-" * 15 for _ in args.thresholds) + "|")
        print("\n".join(threshold_rows))
    print("\nTime split: the decision map (every distinct token decided once), then per-paragraph application:")
    print(TIMING_HEADER)
    print("\n".join(timing.row(name) for name, timing in timings))


if __name__ == "__main__":
    main()
