"""What the run pool's forkserver imports once (see :mod:`corpusclean.run_pool`).

The pipeline's modules, and its Numba kernels called once on a tiny input so
that their compiled code is loaded from Numba's cache here, before any worker
forks: each worker then starts with it in memory instead of loading it on its
first shard (~0.5 s per kernel family per worker).
"""

from __future__ import annotations

import os

import numpy as np

from corpusclean.own_process import return_freed_heap, skip_unused_imports, use_returning_memory_pool

skip_unused_imports()  # before the pipeline's first pa.table call or the warm-up's first kernel

from corpusclean import encoding, ocr, ocr_context, ocr_model, ocr_search, parallel, pipeline, read, run_pool, segment, vocabulary, word_scan  # noqa: E402, F401


def _warm_up() -> None:
    try:
        encoding.repair_encodings(["a b c", "a café &amp; cafÃ© c"])  # the gate's scan and the edits' diff
        segment.segment_documents([("warm-up.txt", "One paragraph.\n\nAnother one, a little longer.")])
        word_scan.scan_words(["warm-up words", "and their class table"])
        vocabulary.RunCounter().add(["the prepare jobs count their runs"])
        # The OCR candidate search's kernels (not its data: the lexicon and tries are built by the
        # worker that needs them): ~0.9 s off building the run's corrector, which no other work overlaps.
        lexicon = ocr_search.Trie(["the", "he"])
        search = ocr_search.CandidateSearch(lexicon, ocr_search.Trie(["tbe"]), ocr_model.load_confusion_arrays())
        prior = np.zeros(len(lexicon.words), np.float64)
        search.prefetch(["tbe"], [1], 1e-6, prior)
        search.search("hc", 1, 1e-6, prior)
    except Exception:  # a warm-up only: the workers load whatever this did not
        pass


def _load_join_lexicon() -> None:
    """What every OCR worker reads of the run's lexicon (~14 MB of Python objects for English), loaded once here
    so the workers share one copy (200 MB run: the OCR stage's peak 924 -> 903 MB, the workers 185 -> ~172 MB)."""
    language = os.environ.get(run_pool.OCR_LANGUAGE_ENV)
    if language:
        try:
            ocr_model.load_join_lexicon(language)
        except Exception:  # e.g. a language wordfreq lacks: the worker that needs it says why
            pass


use_returning_memory_pool()  # before any worker forks: each inherits it
return_freed_heap()
_warm_up()
_load_join_lexicon()
# The kernels are loaded, and the workers forked from here never run LLVM: its resident pages would be this process's
# alone, counted in full in the run's memory (69 MB at the 200 MB bench run's peak).
parallel.page_out_library()
