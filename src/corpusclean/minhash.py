"""MinHash signatures, batched, bit-identical to :class:`datasketch.MinHash`.

The model is datasketch 2.x's default ``affine32`` scheme: each 32-bit input
hash ``h`` is pre-mixed with the MurmurHash3 32-bit finaliser, then permuted
by ``a_k * h + b_k mod 2**32`` (``a_k`` odd) for ``k < num_perm``, with
``(a, b)`` drawn from ``np.random.RandomState(seed)`` exactly as datasketch
draws them; the signature is the element-wise minimum over the set.

The input hash of a shingle is :func:`shingle_hashfunc` (word shingles) or
:func:`char_shingle_hashfunc` (character shingles), so::

    m = datasketch.MinHash(num_perm=128, seed=1, hashfunc=shingle_hashfunc)
    m.update_batch(corpusclean.shingles.shingle_strings(text, 5))
    assert (m.hashvalues == batch_signatures([text])[0]).all()

    m = datasketch.MinHash(num_perm=128, seed=1, hashfunc=char_shingle_hashfunc)
    m.update_batch(corpusclean.shingles.char_shingle_strings(text, 5))
    assert (m.hashvalues == batch_signatures([text], shingle="char")[0]).all()

Deduplication signs the OCR-folded text by default, so a stored signature is
``batch_signatures([corpusclean.fold.fold_text(text)])[0]``.

Speed comes from batching, not from changing the maths: tokens are hashed
while one compiled pass scans the bytes, shingle hashes are built vectorised from token
hashes, and one compiled kernel applies the permutations to all shingles of
all texts.
"""

from __future__ import annotations

from typing import Sequence

import numba
import numpy as np
import pyarrow as pa

from corpusclean import shingles as _shingles
from corpusclean.parallel import map_shards

EMPTY_VALUE = np.uint32(0xFFFFFFFF)
"""Signature value of an empty set (datasketch's initial hash value)."""


def shingle_hashfunc(shingle: bytes) -> int:
    """32-bit hash of one shingle given as UTF-8 bytes (tokens joined by one space).

    Pass it as ``hashfunc`` to :class:`datasketch.MinHash` to get signatures
    comparable with corpusclean's. It is the high half of
    :func:`corpusclean.shingles.shingle_hash64` of the shingle's tokens.
    """
    return _shingles.shingle_hash64(shingle.decode("utf-8").split(" ")) >> 32


def char_shingle_hashfunc(shingle: bytes) -> int:
    """32-bit hash of one character shingle given as UTF-8 bytes.

    The high half of :func:`corpusclean.normalize.token_hash` of the n-gram
    (FNV-1a over its UTF-8 bytes, xor their count, MurmurHash3's 64-bit
    finaliser); pass it as ``hashfunc`` to :class:`datasketch.MinHash`.
    """
    return _shingles.char_shingle_hash64(shingle) >> 32


def permutations(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` ``uint32`` permutation parameters datasketch's affine32 scheme uses."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, element-wise on a ``uint32`` array."""
    h = values ^ (values >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures_from_hashes(
    offsets: np.ndarray, hashes32: np.ndarray, num_perm: int = 128, seed: int = 1, out: np.ndarray | None = None
) -> np.ndarray:
    """MinHash signatures of CSR sets of 32-bit input hashes.

    Args:
        offsets: ``int64[n + 1]``; set ``i`` is ``hashes32[offsets[i]:offsets[i + 1]]``.
        hashes32: ``uint32`` input hashes (repeats are harmless).
        out: Optional C-contiguous ``uint32[n, num_perm]`` to write into (e.g. a slice of a larger array).

    Returns:
        ``uint32[n, num_perm]``; an empty set gets :data:`EMPTY_VALUE` everywhere.
    """
    a, b = permutations(num_perm, seed)
    if out is None:
        out = np.empty((len(offsets) - 1, num_perm), dtype=np.uint32)
    _minhash_kernel(np.ascontiguousarray(offsets, dtype=np.int64), fmix32(hashes32.astype(np.uint32)), a, b, out)
    return out


def batch_signatures(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    *,
    num_perm: int = 128,
    seed: int = 1,
    shingle_size: int = 5,
    shingle: str = "word",
    workers: int = 1,
) -> np.ndarray:
    """MinHash signatures (``uint32[n, num_perm]``) of the shingles of ``texts``.

    With ``shingle="word"``, row ``i`` equals ``datasketch.MinHash(num_perm,
    seed, hashfunc=shingle_hashfunc)`` updated with
    ``shingle_strings(texts[i], shingle_size)``; with ``shingle="char"``, the
    same with :func:`char_shingle_hashfunc` and ``char_shingle_strings``.
    ``workers > 1`` computes shards on parallel threads; the result does not
    depend on ``workers``.
    """
    parts = map_shards(_signature_shard, texts, workers, num_perm=num_perm, seed=seed, shingle_size=shingle_size, shingle=shingle)
    return np.concatenate(parts) if parts else np.zeros((0, num_perm), np.uint32)


def _signature_shard(texts: pa.Array, *, num_perm: int, seed: int, shingle_size: int, shingle: str) -> np.ndarray:
    offsets, hashes = _shingles.text_window_hashes(texts, shingle, shingle_size)
    return signatures_from_hashes(offsets, _shingles.hash32(hashes), num_perm, seed)


def estimate_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """MinHash Jaccard estimate (share of equal values) for each row pair."""
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    return (signatures[pairs[:, 0]] == signatures[pairs[:, 1]]).mean(axis=1)


@numba.njit(cache=True, nogil=True)
def _minhash_kernel(offsets, mixed, a, b, out):  # pragma: no cover - compiled
    num_perm = a.size
    # Numba widens uint32 arithmetic to 64 bits: the mask is the mod 2**32.
    a64 = a.astype(np.uint64)
    b64 = b.astype(np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    row = np.empty(num_perm, dtype=np.uint64)
    for i in range(offsets.size - 1):
        row[:] = mask
        for s in range(offsets[i], offsets[i + 1]):
            h = np.uint64(mixed[s])
            for k in range(num_perm):
                v = (a64[k] * h + b64[k]) & mask
                if v < row[k]:
                    row[k] = v
        for k in range(num_perm):
            out[i, k] = np.uint32(row[k])
