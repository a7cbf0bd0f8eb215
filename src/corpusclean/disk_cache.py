"""Data the OCR corrector derives from its installed word lists, kept on disk between runs.

Each process that builds a corrector loaded wordfreq's lexicon (0.66 s), built
its search trie (0.95 s) and character model (0.35 s) and parsed
wordsegment's bigram counts (0.46 s); the builder does it on the run's
critical path with one core idle. Unpickling the results takes 0.3 s in all.

An entry's file name holds a digest of everything it is derived from: the
word lists' package versions, the parameters, and the source of the modules
that build it, so a changed build never reads an old entry. Entries are
written whole under a temporary name and renamed; one that cannot be read
or written is simply rebuilt (a read-only home directory costs the build
time, nothing else). ``CORPUSCLEAN_CACHE_DIR`` sets the directory (default:
``$XDG_CACHE_HOME/corpusclean``, else ``~/.cache/corpusclean``); ``off``
disables it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import uuid
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

FORMAT = 1
"""Bump when what an entry holds changes in a way its sources' digest does not show."""


def cache_dir() -> Path | None:
    """Where entries live, or ``None`` when the cache is off."""
    configured = os.environ.get("CORPUSCLEAN_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpusclean"


def entry_key(name: str, packages: Iterable[str], sources: Iterable[Path], parameters: Iterable[object]) -> str:
    """``name`` plus a digest of the packages' versions, the sources' bytes and the parameters."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{FORMAT}\0".encode())
    for package in packages:
        digest.update(f"{package}={metadata.version(package)}\0".encode())
    for source in sources:
        digest.update(source.read_bytes())
        digest.update(b"\0")
    for parameter in parameters:
        digest.update(repr(parameter).encode("utf-8", "surrogatepass") + b"\0")
    return f"{name}-{digest.hexdigest()}"


def cached(key: str, build: Callable[[], T]) -> T:
    """The entry ``key`` if the cache holds a readable one; else ``build()``, stored for the next process."""
    directory = cache_dir()
    if directory is None:
        return build()
    path = directory / f"{key}.pickle"
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # absent, cut short, or from an incompatible interpreter: build it again
        pass
    value = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs the next process the build
    return value
