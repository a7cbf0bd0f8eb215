"""One run at a time per output directory.

An advisory ``flock`` on ``DIR/.lock``: the kernel releases it when the
holder dies (even by ``kill -9``), so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".lock"


class OutputLocked(RuntimeError):
    """Another run is writing the same output directory."""


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output directory's lock for the duration of the block.

    Raises:
        OutputLocked: at once (no waiting), naming the holder's pid and start time.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise OutputLocked(f"another corpusclean run is writing {out_dir} ({holder}); try again when it has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {data['pid']} since {data['since']}"
    except (ValueError, KeyError, OSError):
        return "holder unknown"
