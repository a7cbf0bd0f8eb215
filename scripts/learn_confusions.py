"""Learn OCR character-confusion weights from the ICDAR 2017 English training data.

Reads the aligned OCR/gold files of the *learn* part of the deterministic split
(``bench/ocr_data.py``; the rest is kept for ``make bench-ocr``), finds every
substitution of one or two characters by one or two characters inside aligned
words, and writes ``src/corpusclean/data/ocr_confusions.tsv``:

    observed<TAB>intended<TAB>count<TAB>intended_total<TAB>probability

where ``probability`` estimates P(OCR shows ``observed`` | the print had
``intended``), add-one smoothed. Only character-level statistics are kept, no
words, so nothing in the table can memorise the benchmark text.

Usage: .venv/bin/python scripts/learn_confusions.py [--min-count 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import collections
import string
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ocr_data import GAP, NO_GOLD, aligned_words, icdar_files, icdar_part, read_icdar  # noqa: E402

OUT = ROOT / "src" / "corpusclean" / "data" / "ocr_confusions.tsv"
LIGATURES = ("fi", "fl", "ff")
LETTERS = tuple(string.ascii_lowercase)
MAX_SPAN = 2  # longest observed or intended string of one confusion (rn->m, li->h, ii->u)


def _is_wordlike(s: str) -> bool:
    return bool(s) and all(ch.isalnum() for ch in s)


def _is_transcription_convention(observed: str, intended: str) -> bool:
    """Gold-side ligatures, long s and accents (``ﬁ``, ``ſ``, ``è``) that plain OCR
    text legitimately writes as ``fi``, ``s``, ``e``: not errors to undo."""
    base = "".join(ch for ch in unicodedata.normalize("NFKD", intended) if not unicodedata.combining(ch))
    return base != intended or "ſ" in intended or not intended.isascii() and observed.isascii()


def confusions_in_word(ocr: str, gold: str) -> list[tuple[str, str]]:
    """Substitutions (observed, intended) in one aligned word, lower-cased.

    A maximal run of differing aligned columns is one confusion, including
    runs where one side is empty: a character OCR dropped (observed ``""``)
    or added (intended ``""``).
    """
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(ocr):
        if ocr[i] == gold[i]:
            i += 1
            continue
        j = i
        while j < len(ocr) and ocr[j] != gold[j]:
            j += 1
        observed = ocr[i:j].replace(GAP, "").lower()
        intended = gold[i:j].replace(GAP, "").lower()
        if (
            observed != intended
            and len(observed) <= MAX_SPAN
            and len(intended) <= MAX_SPAN
            and (_is_wordlike(observed) or not observed)
            and (intended.isalpha() or not intended)
            and not _is_transcription_convention(observed, intended)
        ):
            found.append((observed, intended))
        i = j
    return found


def _kept_below_min_count(observed: str, intended: str) -> bool:
    """Confusions kept however rarely the learn data shows them: a dropped ligature, an added letter."""
    return (observed == "" and intended in LIGATURES) or (intended == "" and observed in LETTERS)


def learn(min_count: int) -> list[tuple[str, str, int, int, float]]:
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    intended_totals: collections.Counter[str] = collections.Counter()
    for path in icdar_files():
        if icdar_part(path) != "learn":
            continue
        for ocr, gold in aligned_words(*read_icdar(path)):
            if NO_GOLD in gold:
                continue
            pairs.update(confusions_in_word(ocr, gold))
            plain = gold.replace(GAP, "").lower()
            for span in range(1, MAX_SPAN + 1):
                intended_totals.update(plain[k : k + span] for k in range(len(plain) - span + 1))
            intended_totals[""] += len(plain) + 1  # the places a spurious character can appear
    # Ligature glyphs (fi, fl, ff) that OCR drops whole are a known failure of
    # some engines (HathiTrust scans: "difcult") that the learn data happens
    # not to show: they stay in the table at their add-one estimate, so the
    # search proposes them and a run that makes them lifts them (run profile).
    for ligature in LIGATURES:
        pairs.setdefault(("", ligature), 0)
    # Likewise a stray letter: the learn data adds v, b, p or z fewer than
    # min_count times, newspaper scans (BLN600) add them in every column
    # (`wxatch`, `camze`); each stays at its add-one estimate (~4e-7 to 2e-6).
    for letter in LETTERS:
        pairs.setdefault((letter, ""), 0)
    rows = []
    for (observed, intended), count in pairs.items():
        if count < min_count and not _kept_below_min_count(observed, intended):
            continue
        total = intended_totals[intended]
        rows.append((observed, intended, count, total, (count + 1) / (total + 2)))
    rows.sort(key=lambda row: (-row[4], row[0], row[1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-count", type=int, default=5, help="drop confusions seen fewer times")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = learn(args.min_count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        handle.write("# OCR confusions learned by scripts/learn_confusions.py from the ICDAR 2017 English\n")
        handle.write("# training data (learn part of the split in bench/ocr_data.py). P(observed | intended).\n")
        handle.write("observed\tintended\tcount\tintended_total\tprobability\n")
        for observed, intended, count, total, probability in rows:
            handle.write(f"{observed}\t{intended}\t{count}\t{total}\t{probability:.6g}\n")
    print(f"wrote {len(rows)} confusions to {args.out}")


if __name__ == "__main__":
    main()
