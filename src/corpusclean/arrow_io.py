"""Arrow IPC files between the steps of a run: whole tables, or appended batch by batch."""

from __future__ import annotations

import mmap
import os
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather


def save_table(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` (uncompressed Arrow IPC, memory-mappable), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    feather.write_feather(table, tmp, compression="uncompressed")
    os.replace(tmp, path)
    return path


MAP_BYTES = 8 << 20
"""Files at least this large are memory-mapped; smaller ones are read whole (see :func:`_open`)."""


def _open(path: str | Path) -> pa.ipc.RecordBatchFileReader:
    """A reader over an Arrow IPC file: read into memory when small, memory-mapped when large.

    A run of many small inputs opens tens of thousands of small files;
    reading one whole costs a quarter of mapping it (~30 vs ~130 µs).
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < MAP_BYTES:
            return pa.ipc.open_file(pa.py_buffer(f.read()))
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    buffer = pa.py_buffer(mapping)  # keeps the mapping open while any array read from it lives
    address = buffer.address
    _MAPPED[address] = (buffer.size, weakref.ref(mapping, lambda _: _MAPPED.pop(address, None)))
    return pa.ipc.open_file(buffer)


_MAPPED: dict[int, tuple[int, weakref.ref[mmap.mmap]]] = {}
"""Files mapped by :func:`_open`: start address -> (length, mapping), for :func:`release_mapped_pages`."""


def release_mapped_pages(arrays: Iterable[pa.Array | pa.ChunkedArray]) -> None:
    """Let this process's resident pages of the mapped files these arrays' values lie in go.

    A pass over a large memory-mapped column faults every page of it in, and
    the pages stay counted in the process's memory while the file is mapped:
    at 1 GB of text, a gigabyte that the pass needed only a few MB of at a
    time. Dropped pages of a read-only file mapping are read back from the
    page cache when touched again, so this never changes data. Only string
    and fixed-width columns' value bytes are released, whole pages within the
    arrays' own range (a slice releases its rows only); other arrays are left as they are.
    """
    if not _MAPPED:
        return
    for array in arrays:
        for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else (array,):
            span = _value_span(chunk)
            if span is not None:
                _release(*span)


def _value_span(chunk: pa.Array) -> tuple[int, int] | None:
    """``(start address, end address)`` of the bytes holding ``chunk``'s values, if it is a string or fixed-width array."""
    kind = chunk.type
    if len(chunk) == 0:
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        _, offsets, data = chunk.buffers()
        if data is None:
            return None
        width = np.int64 if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind) else np.int32
        bounds = np.frombuffer(offsets, dtype=width, count=chunk.offset + len(chunk) + 1)
        return data.address + int(bounds[chunk.offset]), data.address + int(bounds[-1])
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        data = chunk.buffers()[1]
        width = kind.bit_width // 8
        return data.address + chunk.offset * width, data.address + (chunk.offset + len(chunk)) * width
    return None


def _release(start: int, end: int) -> None:
    for base, (length, ref) in list(_MAPPED.items()):
        if base <= start and end <= base + length:
            mapping = ref()
            first = -(-(start - base) // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages only: the edges may be shared
            last = (end - base) // mmap.PAGESIZE * mmap.PAGESIZE
            if mapping is not None and last > first:
                mapping.madvise(mmap.MADV_DONTNEED, first, last - first)
            return


def load_table(path: str | Path) -> pa.Table:
    return _open(path).read_all()


def iter_batches(path: str | Path) -> Iterator[pa.RecordBatch]:
    """The record batches of an Arrow IPC file, one at a time."""
    reader = _open(path)
    for i in range(reader.num_record_batches):
        yield reader.get_batch(i)


def read_batches(path: str | Path) -> Iterator[pa.RecordBatch]:
    """The record batches of an Arrow IPC file, each read into memory of its own.

    For a pass over a large file that should not keep it in memory: pages of a
    memory-mapped file stay counted in the process's memory while it is open,
    a batch read this way is freed with the batch.
    """
    with pa.OSFile(str(path), "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


WRITE_BUFFER = 1 << 20
"""Bytes :func:`ipc_file_writer` gathers before each write to the file."""


@contextmanager
def ipc_file_writer(path: Path, schema: pa.Schema, metadata: Mapping[str | bytes, str | bytes] | None = None) -> Iterator[pa.ipc.RecordBatchFileWriter]:
    """An Arrow IPC file writer at ``path`` whose writes go through a buffer; the bytes are the same.

    Unbuffered, each record batch is eight writes to the file (its message,
    then each buffer and its padding): a cache pack of a prepare job's 3,039
    one-input batches took 0.157 s to write, 0.088 s buffered.
    """
    with pa.OSFile(str(path), "wb") as raw, pa.BufferedOutputStream(raw, WRITE_BUFFER) as sink:
        with pa.ipc.new_file(sink, schema, metadata=metadata) as writer:
            yield writer


class TableWriter:
    """Append tables to an Arrow IPC file as record batches; the file appears complete or not at all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_suffix(".tmp")
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    @property
    def written(self) -> bool:
        return self._writer is not None

    def __enter__(self) -> "TableWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pa.ipc.new_file(str(self._tmp), table.schema)
        self._writer.write_table(table)

    def __exit__(self, kind, value, traceback) -> None:
        if self._writer is not None:
            self._writer.close()
        if kind is not None:
            return
        if self._writer is None:
            raise ValueError(f"nothing was written to {self.path}")
        os.replace(self._tmp, self.path)
