"""Hash mixing shared by the compiled kernels of normalisation, LSH and deduplication."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def fmix64(h):  # pragma: no cover - compiled
    """MurmurHash3's 64-bit finaliser: an avalanching bijection on uint64."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))
