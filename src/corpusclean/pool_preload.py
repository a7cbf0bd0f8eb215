"""What the run pool's forkserver imports once (see :mod:`corpusclean.run_pool`).

The pipeline's modules, and its Numba kernels called once on a tiny input so
that their compiled code is loaded from Numba's cache here, before any worker
forks: each worker then starts with it in memory instead of loading it on its
first shard (~0.5 s per kernel family per worker).
"""

from __future__ import annotations

from corpusclean import encoding, pipeline, read, segment  # noqa: F401


def _warm_up() -> None:
    try:
        encoding.diff_edits("a b c", "a x c", "warm-up")
        segment.segment_documents([("warm-up.txt", "One paragraph.\n\nAnother one, a little longer.")])
    except Exception:  # a warm-up only: the workers load whatever this did not
        pass


_warm_up()
