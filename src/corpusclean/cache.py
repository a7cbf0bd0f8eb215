"""Per-input cache of prepared paragraphs: what makes a scheduled run incremental.

Reading, segmenting and repairing the encoding of a file depend only on its
bytes, its source name and a few settings, so their result is stored under
``DIR/.state/prepared/`` as ``<key>.arrow`` (plus ``<key>.edits.arrow`` when
the file needed edits), with ``key`` a hash of exactly those. A later
run finds unchanged files there and skips that work; a changed file gets a new
key, so its earlier rows are replaced. OCR and deduplication always run over
the whole corpus, which is what makes an incremental run's output equal to a
full run's.

An entry is complete once ``<key>.arrow`` is: the entry's description is in
that Arrow file's footer, written last. Streamed inputs (and entries of
earlier versions) live in a directory ``<key>/`` instead, complete once its
``entry.json`` exists (written last, by rename).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.feather as feather

from corpusclean.arrow_io import TableWriter
from corpusclean.config import CleanConfig
from corpusclean.read import FileReport

STATE_DIR = ".state"
PREPARED_DIR = "prepared"
CACHE_FORMAT = 1
"""Bump when what a cache entry holds, or how it is made, changes."""


def cache_root(out_dir: Path) -> Path:
    return out_dir / STATE_DIR / PREPARED_DIR


def settings_fingerprint(config: CleanConfig, overrides_digest: str = "") -> str:
    """The settings (and code versions, and the reviewer's overrides) that change what the prepare step makes of a file."""
    from importlib.metadata import version

    parts = {
        "format": CACHE_FORMAT,
        "encoding": config.encoding,
        "text_field": config.text_field,
        "max_paragraph_chars": config.max_paragraph_chars,
        "ocr": config.ocr,
        "corpusclean": version("corpusclean"),
        "ftfy": version("ftfy"),
        "overrides": overrides_digest,
    }
    return json.dumps(parts, sort_keys=True)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str | None:
    """Streamed SHA-256 of a file's bytes, or ``None`` if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def entry_key(source: str, sha256: str, fingerprint: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (source, sha256, fingerprint):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def input_key(source: str, sha256: str | None, fingerprint: str) -> str:
    """The cache key of an input whose bytes have this digest; an unreadable one (no digest) gets a
    one-off key, so nothing is ever reused for it (the prepare step reports why it was skipped)."""
    return entry_key(source, sha256 or f"unreadable-{uuid.uuid4().hex}", fingerprint)


@dataclass
class PreparedInput:
    """One input file after the prepare step, as stored in the cache."""

    source: str
    key: str
    paragraphs: Path
    edits: Path
    report: FileReport
    rows: int
    seconds: dict[str, float]
    cached: bool = False
    edit_rows: int | None = None
    """Rows of ``edits`` (``None``: not recorded, by an older version); readers skip empty ones."""


class PreparedCache:
    """The store of :class:`PreparedInput` entries under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_made = False

    def _dir(self, key: str) -> Path:
        return self.root / key

    def get(self, key: str) -> PreparedInput | None:
        """The complete entry under ``key``, or ``None`` (absent, or cut short by a crash)."""
        flat = self.root / f"{key}{_PARAGRAPHS}"
        try:
            with pa.memory_map(str(flat)) as source:
                metadata = pa.ipc.open_file(source).metadata or {}
            data = json.loads(metadata[_ENTRY_METADATA])
        except FileNotFoundError:
            return self._get_dir(key)
        except (OSError, ValueError, KeyError, pa.ArrowException):
            return None
        return PreparedInput(
            source=data["source"], key=key, paragraphs=flat, edits=self.root / f"{key}{_EDITS}",
            report=FileReport(**data["report"]), rows=data["rows"], seconds={}, cached=True, edit_rows=data["edit_rows"],
        )  # fmt: skip

    def is_empty(self) -> bool:
        """Whether the cache holds no entry at all (a first run: nothing to look up)."""
        try:
            with os.scandir(self.root) as entries:
                return next(entries, None) is None
        except FileNotFoundError:
            return True

    def get_many(self, keys: Iterable[str]) -> dict[str, PreparedInput | None]:
        """:meth:`get` for each of ``keys``, opening only the entries the cache holds.

        The cache is listed once: a miss costs a set lookup instead of two failed
        opens (1.4 s for the 36,000 inputs of a first run).
        """
        try:
            present = set(os.listdir(self.root))
        except FileNotFoundError:
            present = set()
        return {key: self.get(key) if f"{key}{_PARAGRAPHS}" in present or key in present else None for key in keys}

    def _get_dir(self, key: str) -> PreparedInput | None:
        """An entry in a directory of its own (streamed inputs, and every entry of earlier versions)."""
        entry = self._dir(key) / "entry.json"
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        base = self._dir(key)
        return PreparedInput(
            source=data["source"],
            key=key,
            paragraphs=base / "paragraphs.arrow",
            edits=base / "edits.arrow",
            report=FileReport(**data["report"]),
            rows=data["rows"],
            seconds={},
            cached=True,
            edit_rows=data.get("edit_rows"),
        )

    @contextmanager
    def writer(self, key: str) -> Iterator["EntryWriter"]:
        """Write an entry batch by batch (a streamed input); it counts once :meth:`EntryWriter.finish` ran."""
        base = self._dir(key)
        base.mkdir(parents=True, exist_ok=True)
        with TableWriter(base / "paragraphs.arrow") as paragraphs, TableWriter(base / "edits.arrow") as edits:
            entry = EntryWriter(key, base, paragraphs, edits)
            yield entry
        if entry.pending is not None:  # written last: the entry now counts
            _write_json(base / "entry.json", entry.pending)

    def put(
        self,
        key: str,
        paragraphs: pa.Table,
        edits: pa.Table,
        report: FileReport,
        seconds: dict[str, float],
    ) -> PreparedInput:
        # As few file system calls as can be: a run puts one entry per input file, tens of thousands
        # of small ones on a large corpus, and creating files (let alone directories, temporary names
        # and renames) costs more than writing their data. So an entry is one flat file, KEY.arrow,
        # its description in the Arrow file footer's metadata, plus KEY.edits.arrow only when there are
        # edits (most files have none), written first. KEY.arrow is the commit marker: an Arrow IPC
        # file is readable only once its footer is written, so a crash leaves nothing get() accepts.
        if not self._root_made:
            self.root.mkdir(parents=True, exist_ok=True)
            self._root_made = True
        edits_path = self.root / f"{key}{_EDITS}"
        if edits.num_rows:
            _write_arrow(edits, edits_path)
        entry = {"source": report.source, "rows": paragraphs.num_rows, "edit_rows": edits.num_rows, "report": _report_dict(report)}
        path = self.root / f"{key}{_PARAGRAPHS}"
        footer = {_ENTRY_METADATA: json.dumps(entry, ensure_ascii=False, default=str).encode("utf-8")}
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, paragraphs.schema, metadata=footer) as writer:
            writer.write_table(paragraphs)
        return PreparedInput(report.source, key, path, edits_path, report, paragraphs.num_rows, seconds, edit_rows=edits.num_rows)

    def retain(self, keys: Iterable[str]) -> int:
        """Delete every entry not in ``keys``; returns how many were deleted."""
        keep = set(keys)
        if not self.root.is_dir():
            return 0
        dropped = 0
        for entry in self.root.iterdir():
            key = entry.name.split(".", 1)[0]  # KEY.arrow, KEY.edits.arrow, or a directory KEY/
            if key in keep:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            if entry.name.endswith(_PARAGRAPHS) and not entry.name.endswith(_EDITS) or "." not in entry.name:
                dropped += 1
        return dropped


class EntryWriter:
    """Collects one streamed input's batches; see :meth:`PreparedCache.writer`."""

    def __init__(self, key: str, base: Path, paragraphs: TableWriter, edits: TableWriter) -> None:
        self.key, self.base, self._paragraphs, self._edits = key, base, paragraphs, edits
        self.rows = 0
        self.edit_rows = 0
        self.pending: dict | None = None

    def write(self, paragraphs: pa.Table, edits: pa.Table) -> None:
        self._paragraphs.write(paragraphs)
        self._edits.write(edits)
        self.rows += paragraphs.num_rows
        self.edit_rows += edits.num_rows

    def finish(self, report: FileReport, seconds: dict[str, float]) -> PreparedInput:
        from corpusclean.edits import EDIT_SCHEMA
        from corpusclean.segment import PARAGRAPH_SCHEMA

        if not self._paragraphs.written:
            self.write(PARAGRAPH_SCHEMA.empty_table(), EDIT_SCHEMA.empty_table())
        # entry.json is written by PreparedCache.writer once the batch files are closed.
        self.pending = {"source": report.source, "rows": self.rows, "edit_rows": self.edit_rows, "report": _report_dict(report)}
        return PreparedInput(
            report.source, self.key, self.base / "paragraphs.arrow", self.base / "edits.arrow", report, self.rows, seconds,
            edit_rows=self.edit_rows,
        )


_PARAGRAPHS = ".arrow"
_EDITS = ".edits.arrow"
_ENTRY_METADATA = b"corpusclean.entry"


def _write_arrow(table: pa.Table, path: Path) -> None:
    """Uncompressed Arrow IPC (what :func:`corpusclean.arrow_io.save_table` writes), in place."""
    feather.write_feather(table, path, compression="uncompressed")


def _report_dict(report: FileReport) -> dict:
    """``dataclasses.asdict(report)`` without its deep copy (a report holds only scalars and a list of str)."""
    return {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)
