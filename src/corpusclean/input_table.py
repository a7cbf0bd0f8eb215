"""A run's prepared inputs as one Arrow table, not as tens of thousands of Python objects.

The flow's process holds every input's :class:`~corpusclean.cache.PreparedInput`
from the prepare stage to the end of the run. As objects, the 36,000 inputs of
the 200 MB benchmark corpus took 66 MB of that process's heap once unpickled
from the prepare jobs, and memory that pymalloc frees stays with the process,
so it was there through the OCR stage and deduplication, the run's peaks. As
columns they are ~10 MB of Arrow buffers. :class:`InputTable` keeps them so and
makes an entry only when one is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, overload

import pyarrow as pa
import pyarrow.compute as pc

from corpusclean.cache import PreparedInput, stored_edit_table, stored_paragraph_batches
from corpusclean.read import FileReport

REPORT_TYPE = pa.struct([
    ("source", pa.string()), ("path", pa.string()), ("status", pa.string()), ("reason", pa.string()),
    ("sha256", pa.string()), ("size_bytes", pa.int64()), ("format", pa.string()), ("encoding", pa.string()),
    ("records", pa.int64()), ("paragraphs", pa.int64()), ("warnings", pa.list_(pa.string())),
])  # fmt: skip
"""A :class:`~corpusclean.read.FileReport`, field for field."""

_PATH = pa.dictionary(pa.int32(), pa.string())
"""A cache file's path: thousands of small inputs share one pack."""

INPUT_SCHEMA = pa.schema([
    ("source", pa.string()), ("key", pa.string()), ("paragraphs", _PATH), ("edits", _PATH),
    ("rows", pa.int64()), ("cached", pa.bool_()), ("edit_rows", pa.int64()), ("batch", pa.int64()),
    ("edits_batch", pa.int64()), ("report", REPORT_TYPE),
])  # fmt: skip
"""One row per :class:`~corpusclean.cache.PreparedInput` (all its fields but the per-input ``seconds``)."""

_ROWS_PER_CHUNK = 1024
"""Rows turned into entries at a time when iterating: a bounded number of them live at once."""


class InputTable:
    """Prepared inputs in a fixed order, one row each (:data:`INPUT_SCHEMA`).

    Iterating, or indexing with an integer, makes :class:`PreparedInput`
    entries (with empty ``seconds``); slicing gives another table. Pickles as
    an Arrow IPC stream of its own rows only (pickling a sliced ``pa.Table``
    copies its parent's whole buffers).
    """

    __slots__ = ("table",)

    def __init__(self, table: pa.Table | None = None) -> None:
        self.table = INPUT_SCHEMA.empty_table() if table is None else table

    @classmethod
    def from_entries(cls, entries: Iterable[PreparedInput]) -> "InputTable":
        rows = [
            {"source": e.source, "key": e.key, "paragraphs": str(e.paragraphs), "edits": str(e.edits), "rows": e.rows,
             "cached": e.cached, "edit_rows": e.edit_rows, "batch": e.batch, "edits_batch": e.edits_batch,
             "report": e.report.as_dict()}
            for e in entries
        ]  # fmt: skip
        return cls(pa.Table.from_pylist(rows, schema=INPUT_SCHEMA))

    @classmethod
    def concat(cls, parts: Iterable["InputTable"]) -> "InputTable":
        tables = [part.table for part in parts]
        return cls(pa.concat_tables(tables).combine_chunks() if tables else None)

    def __len__(self) -> int:
        return self.table.num_rows

    def __iter__(self) -> Iterator[PreparedInput]:
        for batch in self.table.to_batches(max_chunksize=_ROWS_PER_CHUNK):
            yield from map(_entry, batch.to_pylist())

    def paragraph_batches(self) -> Iterator[pa.RecordBatch]:
        """Every input's paragraphs in order, batch by batch: each entry's ``paragraph_batches()``, without making entries.

        An OCR shard reads tens of thousands of small inputs; making each one's
        :class:`PreparedInput` (its report, two paths) cost more than reading its batch.
        """
        for path, batch in self._rows("paragraphs", "batch"):
            yield from stored_paragraph_batches(path, batch)

    def edit_tables(self) -> Iterator[pa.Table]:
        """The prepare-stage edits of every input that has any, in order (each entry's ``edit_table()``)."""
        for path, rows, batch in self._rows("edits", "edit_rows", "edits_batch"):
            if rows != 0:
                yield stored_edit_table(path, rows, batch)

    def _rows(self, *names: str) -> Iterator[tuple[Any, ...]]:
        for chunk in self.table.select(list(names)).to_batches(max_chunksize=_ROWS_PER_CHUNK):
            yield from zip(*(column.to_pylist() for column in chunk.columns))

    @overload
    def __getitem__(self, index: int) -> PreparedInput: ...
    @overload
    def __getitem__(self, index: slice) -> "InputTable": ...
    def __getitem__(self, index: int | slice) -> "PreparedInput | InputTable":
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("an InputTable slices with step 1 only")
            return InputTable(self.table.slice(start, max(0, stop - start)))
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return _entry(self.table.slice(index % len(self), 1).to_pylist()[0])

    def column(self, name: str) -> list[Any]:
        """One field of every input, in order (``"report"`` gives dicts)."""
        return self.table.column(name).to_pylist()

    def total_rows(self) -> int:
        """Paragraphs over all inputs."""
        return int(pc.sum(self.table.column("rows")).as_py() or 0)

    def sorted_by_source(self) -> "InputTable":
        return InputTable(self.table.sort_by("source"))

    def report_dicts(self) -> list[dict[str, Any]]:
        """Each input's report as the manifest writes it (:meth:`FileReport.as_dict`)."""
        return self.column("report")

    def __getstate__(self) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.table.schema) as writer:
            writer.write_table(self.table)
        return sink.getvalue().to_pybytes()

    def __setstate__(self, state: bytes) -> None:
        self.table = pa.ipc.open_stream(state).read_all()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputTable) and self.table.equals(other.table)

    def __repr__(self) -> str:
        return f"InputTable({len(self)} inputs)"


def _entry(row: dict[str, Any]) -> PreparedInput:
    return PreparedInput(
        source=row["source"], key=row["key"], paragraphs=Path(row["paragraphs"]), edits=Path(row["edits"]),
        report=FileReport(**row["report"]), rows=row["rows"], seconds={}, cached=row["cached"],
        edit_rows=row["edit_rows"], batch=row["batch"], edits_batch=row["edits_batch"],
    )  # fmt: skip
