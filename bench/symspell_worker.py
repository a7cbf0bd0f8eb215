"""symspellpy baseline for ``bench/ocr_bench.py``; runs inside ``bench/.venv-ocr``.

Reads a JSON list of texts on stdin, writes the corrected texts as a JSON list
on stdout, plus the seconds spent correcting (dictionary loading excluded).
Each alphabetic word is replaced by symspellpy's top suggestion from its
default English frequency dictionary (max edit distance 2, case transferred):
the library's documented word-level use, with no tuning.
"""

from __future__ import annotations

import json
import re
import sys
import time

import importlib.resources

from symspellpy import SymSpell, Verbosity

WORD_RE = re.compile(r"[A-Za-z]+")


def main() -> None:
    texts = json.load(sys.stdin)
    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    dictionary = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    sym.load_dictionary(str(dictionary), term_index=0, count_index=1)
    cache: dict[str, str] = {}

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if word not in cache:
            found = sym.lookup(word, Verbosity.TOP, max_edit_distance=2, include_unknown=True, transfer_casing=True)
            cache[word] = found[0].term if found else word
        return cache[word]

    start = time.perf_counter()
    fixed = [WORD_RE.sub(fix, text) for text in texts]
    json.dump({"texts": fixed, "seconds": time.perf_counter() - start}, sys.stdout)


if __name__ == "__main__":
    main()
