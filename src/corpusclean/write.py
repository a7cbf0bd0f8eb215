"""Write a run's outputs: Parquet datasets and the manifest, each swapped in atomically.

Every output is first written complete under a temporary name inside the
output directory, then renamed into place. A run that fails or is killed
leaves the previous good output where it was.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

DATASETS = ("paragraphs", "duplicates", "corrections")
MANIFEST = "manifest.json"
ROWS_PER_PART = 250_000
COMPRESSION = "zstd"


def write_dataset(table: pa.Table, directory: Path, rows_per_part: int = ROWS_PER_PART) -> list[Path]:
    """Write ``table`` as ``part-00000.parquet``… files into a new ``directory``.

    An empty table still gets one part file, so the schema is always readable.
    """
    directory.mkdir(parents=True)
    parts: list[Path] = []
    offsets = range(0, max(table.num_rows, 1), rows_per_part)
    for number, offset in enumerate(offsets):
        path = directory / f"part-{number:05d}.parquet"
        pq.write_table(table.slice(offset, rows_per_part), path, compression=COMPRESSION)
        parts.append(path)
    return parts


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_path(staged: Path, final: Path) -> None:
    """Move ``staged`` to ``final``, replacing what was there with one rename where possible.

    A directory cannot be renamed over a non-empty one, so the old one is first
    renamed aside (a crash between the two renames leaves it under ``.old-*``,
    which the next run's :func:`clean_stale` removes after restoring it).
    """
    if final.is_dir() and not final.is_symlink():
        aside = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.rename(final, aside)
        os.rename(staged, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staged, final)
    _fsync_dir(final.parent)


def clean_stale(out_dir: Path) -> None:
    """Remove leftovers of killed runs; restore an output that was renamed aside but not replaced.

    Call it only while holding the output lock (:mod:`corpusclean.lock`): it
    deletes every work and staging directory in ``out_dir``.
    """
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.name.startswith(".old-"):
            name = entry.name[len(".old-") :].rsplit("-", 1)[0]
            target = out_dir / name
            if not target.exists():
                os.rename(entry, target)
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith((".staging-", ".work-")):
            shutil.rmtree(entry, ignore_errors=True)


def write_outputs(
    out_dir: Path,
    tables: Mapping[str, pa.Table],
    manifest: Mapping[str, Any],
) -> dict[str, list[str]]:
    """Write the datasets and manifest into ``out_dir``, each swapped in atomically.

    The manifest is written last, so a manifest always describes outputs that
    are complete on disk. Returns the part files written, relative to ``out_dir``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    written: dict[str, list[str]] = {}
    try:
        for name in DATASETS:
            parts = write_dataset(tables[name], staging / name)
            written[name] = [f"{name}/{p.name}" for p in parts]
        manifest_path = staging / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        for name in DATASETS:
            replace_path(staging / name, out_dir / name)
        replace_path(manifest_path, out_dir / MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
