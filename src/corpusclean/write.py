"""Write a run's outputs: Parquet datasets and the manifest, committed together atomically.

Each run writes a complete snapshot under ``DIR/.runs/<name>/``; then one
atomic rename points the symlink ``DIR/current`` at it. The published names
(``DIR/paragraphs``, ``DIR/duplicates``, ``DIR/corrections``,
``DIR/manifest.json``, ``DIR/report.html``) are fixed symlinks through
``current``, so readers always see one whole run: a run killed at any point
leaves the previous snapshot in place, complete and consistent.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

DATASETS = ("paragraphs", "duplicates", "corrections")
MANIFEST = "manifest.json"
REPORT = "report.html"
PUBLISHED = (*DATASETS, MANIFEST, REPORT)
SNAPSHOTS = ".runs"
CURRENT = "current"
KEEP_SNAPSHOTS = 2
"""The current snapshot and the one before it (a reader may still be scanning it)."""
ROWS_PER_PART = 250_000
COMPRESSION = "zstd"


class DatasetWriter:
    """Write a dataset's part files (``part-00000.parquet``…) into a new ``directory`` from tables
    appended one after another, at most ``rows_per_part`` rows a file.

    The first table fixes the schema; later ones are cast to it. Closed, the
    dataset has at least one part file, so its schema is always readable.
    """

    def __init__(self, directory: Path, rows_per_part: int | None = None) -> None:
        self.directory = directory
        self.rows_per_part = rows_per_part or ROWS_PER_PART
        self.parts: list[Path] = []
        self.schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_part = 0
        directory.mkdir(parents=True)

    def write(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        if not self.parts:
            self._next_part()
        offset = 0
        while offset < table.num_rows:
            if self._rows_in_part == self.rows_per_part:
                self._next_part()
            rows = min(table.num_rows - offset, self.rows_per_part - self._rows_in_part)
            self._writer.write_table(table.slice(offset, rows))
            self._rows_in_part += rows
            offset += rows

    def close(self) -> list[Path]:
        if self.schema is None:
            raise ValueError(f"nothing was written to {self.directory}: no schema")
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.parts

    def _next_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.directory / f"part-{len(self.parts):05d}.parquet"
        self._writer = pq.ParquetWriter(path, self.schema, compression=COMPRESSION)
        self.parts.append(path)
        self._rows_in_part = 0


def write_dataset(table: pa.Table, directory: Path, rows_per_part: int | None = None) -> list[Path]:
    """Write ``table`` as ``part-00000.parquet``… files into a new ``directory`` (see :class:`DatasetWriter`)."""
    writer = DatasetWriter(directory, rows_per_part)
    writer.write(table)
    return writer.close()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(directory, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(directory))


def replace_path(staged: Path, final: Path) -> None:
    """Move ``staged`` to ``final``, replacing what was there (used for single files and links)."""
    if final.is_dir() and not final.is_symlink():
        aside = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.rename(final, aside)
        os.rename(staged, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staged, final)
    _fsync_dir(final.parent)


def new_snapshot(out_dir: Path) -> Path:
    """A fresh, empty staging directory for the next snapshot (inside ``DIR/.runs``)."""
    staging = out_dir / SNAPSHOTS / f".tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    return staging


def current_snapshot(out_dir: Path) -> Path | None:
    """The committed snapshot directory, or ``None`` before the first run."""
    link = out_dir / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def commit_snapshot(out_dir: Path, staging: Path) -> Path:
    """Make the complete snapshot in ``staging`` the current one, atomically; returns its directory."""
    _fsync_tree(staging)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
    final = out_dir / SNAPSHOTS / name
    os.rename(staging, final)
    link = out_dir / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(f"{SNAPSHOTS}/{name}", link)
    os.replace(link, out_dir / CURRENT)  # the commit point
    _fsync_dir(out_dir)
    publish_links(out_dir)
    _drop_old_snapshots(out_dir)
    return final


def publish_links(out_dir: Path) -> None:
    """Create the fixed ``DIR/<name> -> current/<name>`` links (replacing outputs of the pre-snapshot layout)."""
    for name in PUBLISHED:
        path = out_dir / name
        target = f"{CURRENT}/{name}"
        if path.is_symlink() and os.readlink(path) == target:
            continue
        link = out_dir / f".link-{uuid.uuid4().hex[:8]}"
        os.symlink(target, link)
        if path.is_dir() and not path.is_symlink():
            replace_path(link, path)
        else:
            os.replace(link, path)


def _drop_old_snapshots(out_dir: Path) -> None:
    root = out_dir / SNAPSHOTS
    current = current_snapshot(out_dir)
    snapshots = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    for old in snapshots[:-KEEP_SNAPSHOTS]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)


def clean_stale(out_dir: Path) -> None:
    """Remove leftovers of killed runs (work and staging directories, half-made links).

    Call it only while holding the output lock (:mod:`corpusclean.lock`).
    """
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.name.startswith(".old-"):
            name = entry.name[len(".old-") :].rsplit("-", 1)[0]
            target = out_dir / name
            if not target.exists() and not target.is_symlink():
                os.rename(entry, target)
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith((".staging-", ".work-")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith((".current-", ".link-")) and entry.is_symlink():
            entry.unlink()
    snapshots = out_dir / SNAPSHOTS
    if snapshots.is_dir():
        for entry in snapshots.iterdir():
            if entry.name.startswith(".tmp-"):
                shutil.rmtree(entry, ignore_errors=True)
    if current_snapshot(out_dir) is not None:
        publish_links(out_dir)


def write_snapshot_files(
    staging: Path, tables: Mapping[str, pa.Table], manifest: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Write the datasets and the manifest into a staging snapshot; returns the part files written."""
    # The three datasets at once: Parquet encoding and zstd compression release the GIL.
    with ThreadPoolExecutor(max_workers=len(DATASETS)) as pool:
        parts_of = dict(zip(DATASETS, pool.map(lambda name: write_dataset(tables[name], staging / name), DATASETS)))
    written = {name: [f"{name}/{p.name}" for p in parts_of[name]] for name in DATASETS}
    write_manifest(staging, manifest)
    return written


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON: indented, but each ``inputs`` row on one line.

    The json module indents with its pure-Python encoder; each row alone goes
    through its C encoder (36,000 rows: 0.36 -> 0.22 s), and a large run's
    manifest stays one line an input instead of fifteen.
    """
    inputs = manifest.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        return json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    marker = f"__inputs_{uuid.uuid4().hex}__"  # a placeholder no value of the manifest can equal
    head = json.dumps({**manifest, "inputs": marker}, indent=2, ensure_ascii=False, default=str)
    rows = ",\n    ".join(json.dumps(row, ensure_ascii=False, default=str) for row in inputs)
    return head.replace(json.dumps(marker), "[\n    " + rows + "\n  ]", 1) + "\n"


def write_manifest(snapshot: Path, manifest: Mapping[str, Any]) -> None:
    (snapshot / MANIFEST).write_text(manifest_json(manifest), encoding="utf-8")


def write_outputs(
    out_dir: Path,
    tables: Mapping[str, pa.Table],
    manifest: Mapping[str, Any],
) -> dict[str, list[str]]:
    """Write the datasets and manifest into ``out_dir`` as one new snapshot, committed atomically.

    Returns the part files written, relative to the snapshot (and so to ``out_dir``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = new_snapshot(out_dir)
    try:
        written = write_snapshot_files(staging, tables, manifest)
        commit_snapshot(out_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
