"""Split a decoded document into paragraphs, keeping each one's exact original text.

A paragraph is a blank-line-separated block. Lines inside a block are joined
with single spaces (hard wrapping is layout, not content). A block much longer
than a paragraph (scraped pages often arrive as one huge line) is cut at
sentence boundaries into pieces of at most ``max_chars``; a single sentence
longer than that is cut at a space, or, with no space, at ``max_chars``.

Invariant: the ``original_text`` of a document's paragraphs, in order, is the
document with only whitespace removed between them.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Iterator

import numba
import numpy as np
import pyarrow as pa
import regex

from corpusclean.parallel import release_freed_memory
from corpusclean.tables import PARAGRAPH_SCHEMA


_BLANK_LINE = regex.compile(r"\n[^\S\n]*(?:\n[^\S\n]*)+")
_NON_SPACE = regex.compile(r"\S")
_LAST_NON_SPACE = regex.compile(r"(?r)\S")  # searches backwards from the end
# A sentence ends at . ! ? or … (possibly followed by closing quotes/brackets), then whitespace.
# (No look-behind: a variable-length one costs seconds to compile in ``regex``.)
_SENTENCE_END = regex.compile(r"""[.!?…][\"'”’)\]]*(\s+)""")


def paragraph_id(source: str, index: int, original_text: str) -> str:
    """A stable id: the same source, position and text give the same id on every run."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(source.encode("utf-8", "surrogatepass"))
    digest.update(b"\0%d\0" % index)
    digest.update(original_text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def paragraph_spans(text: str, max_chars: int = 2000) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` offsets of the paragraphs of ``text``, in order.

    Spans never include leading or trailing whitespace and never overlap.
    """
    for block in _blocks(text):
        start, end = block
        if end - start <= max_chars:
            yield start, end
        else:
            yield from _split_long(text, start, end, max_chars)


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for sep in _BLANK_LINE.finditer(text):
        yield from _trimmed(text, pos, sep.start())
        pos = sep.end()
    yield from _trimmed(text, pos, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    # Two plain searches, not one pattern for the whole block: that backtracks out of memory on a 50 MB line.
    first = _NON_SPACE.search(text, start, end)
    if first:
        last = _LAST_NON_SPACE.search(text, start, end)
        yield first.start(), last.end()


def _split_long(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Greedily pack sentences into pieces of at most ``max_chars``."""
    piece_start = start
    last_break: int | None = None  # end of the last sentence that fits in the current piece
    next_start: int | None = None
    for match in _SENTENCE_END.finditer(text, start, end):
        sep = _Gap(match.start(1), match.end(1))
        if sep.start() - piece_start > max_chars:
            if last_break is not None and next_start is not None:
                yield piece_start, last_break
                piece_start = next_start
                last_break = None
            if sep.start() - piece_start > max_chars:
                piece_start = yield from _hard_split(text, piece_start, sep.start(), max_chars)
        last_break, next_start = sep.start(), sep.end()
    if end - piece_start > max_chars and last_break is not None and next_start is not None and last_break > piece_start:
        yield piece_start, last_break
        piece_start = next_start
    if end - piece_start > max_chars:
        piece_start = yield from _hard_split(text, piece_start, end, max_chars)
    if piece_start < end:
        yield piece_start, end


class _Gap:
    """The whitespace after a sentence end."""

    __slots__ = ("_start", "_end")

    def __init__(self, start: int, end: int) -> None:
        self._start, self._end = start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


def _hard_split(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut ``text[start:end]`` (one over-long sentence) at spaces; returns where the rest starts.

    Yields pieces of at most ``max_chars`` and leaves a remainder of at most
    ``max_chars`` for the caller, so no piece is lost.
    """
    while end - start > max_chars:
        limit = start + max_chars
        cut = text.rfind(" ", start + max_chars // 2, limit + 1)
        if cut <= start:
            yield start, limit
            start = limit
        else:
            yield start, cut
            start = cut + 1
        while start < end and text[start].isspace():
            start += 1
    return start


def join_lines(block: str) -> str:
    """Clean text of a block: every whitespace run (line breaks included) becomes one space.

    ``str.split`` rather than a regex: ten times faster, and blocks are already trimmed.
    """
    return " ".join(block.split())


def segment_document(source: str, text: str, max_chars: int = 2000, *, first_index: int = 0, offset: int = 0) -> pa.Table:
    """Split one document into a paragraphs table in ``PARAGRAPH_SCHEMA``.

    ``first_index`` and ``offset`` place a part of a longer document (see :func:`segment_stream`).
    """
    try:
        return _segment_batch([(source, text, first_index, offset)], max_chars, True)
    except UnicodeEncodeError:  # lone surrogates: the per-paragraph path reports them as before
        return _segment_document_strings(source, text, max_chars, first_index=first_index, offset=offset)


def segment_documents(
    documents: Iterable[tuple[str, str]],
    max_chars: int = 2000,
    *,
    original_text: bool = True,
    batch_bytes: int = 16 << 20,
    workers: int = 1,
) -> pa.Table:
    """Segment many ``(source, text)`` documents into one table.

    The rows are those of ``pa.concat_tables([segment_document(s, t, max_chars) for s, t in documents])``;
    with ``original_text=False`` that column is left out (callers that only
    deduplicate do not need a second copy of the text). Documents are
    handled in batches of about ``batch_bytes`` of text, one compiled pass per batch.
    With ``workers > 1`` a batch is segmented on a second thread while the
    next one is read from ``documents`` (reading files and the compiled
    passes release the GIL); the result is the same.
    """
    tables: list[pa.Table] = []
    pending: list[Future] = []
    pool = ThreadPoolExecutor(max_workers=1) if workers > 1 else None

    def submit(batch: list[tuple[str, str, int, int]]) -> None:
        if pool is None:
            tables.append(_segment_batch_or_each(batch, max_chars, original_text))
            release_freed_memory(collect=False)
            return
        while pending:  # at most one batch in flight: bounded memory
            tables.append(pending.pop(0).result())
            release_freed_memory(collect=False)
        pending.append(pool.submit(_segment_batch_or_each, batch, max_chars, original_text))

    try:
        batch: list[tuple[str, str, int, int]] = []
        size = 0
        for source, text in documents:
            batch.append((source, text, 0, 0))
            size += len(text)
            if size >= batch_bytes:
                submit(batch)
                batch, size = [], 0
        if batch or not (tables or pending):
            submit(batch)
        del batch
        while pending:
            tables.append(pending.pop(0).result())
    finally:
        if pool is not None:
            pool.shutdown()
    release_freed_memory(collect=False)
    return pa.concat_tables(tables)


def _segment_batch_or_each(batch: list[tuple[str, str, int, int]], max_chars: int, original_text: bool) -> pa.Table:
    try:
        return _segment_batch(batch, max_chars, original_text)
    except UnicodeEncodeError:
        tables = [segment_document(source, text, max_chars) for source, text, _, _ in batch]
        table = pa.concat_tables(tables) if tables else PARAGRAPH_SCHEMA.empty_table()
        return table if original_text else table.drop_columns(["original_text"])


def _segment_batch(documents: list[tuple[str, str, int, int]], max_chars: int, original_text: bool) -> pa.Table:
    """``(source, text, first_index, offset)`` documents into one table (raises UnicodeEncodeError on surrogates).

    Blocks are found in the UTF-8 bytes of all documents in one compiled pass
    (:func:`_utf8_blocks`, the spans :func:`paragraph_spans` gives); only
    blocks longer than ``max_chars`` go through :func:`_split_long` on the
    string. The paragraph texts are then cut from the bytes in one compiled
    pass (``original_text`` as is, ``text`` with :func:`join_lines` applied),
    so no Python string is made per paragraph.
    """
    encoded = [text.encode("utf-8") for _, text, _, _ in documents]
    doc_offsets = np.zeros(len(documents) + 1, dtype=np.int64)
    np.cumsum([len(data) for data in encoded], out=doc_offsets[1:])
    buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8) if doc_offsets[-1] else np.zeros(0, np.uint8)
    del encoded
    # Blank-line blocks, trimmed, found in the bytes: (document, byte start, byte end, char start, char end).
    block_doc, block_start, block_end, block_char_start, block_char_end = _utf8_blocks(buffer, doc_offsets)
    long_blocks = np.flatnonzero(block_char_end - block_char_start > max_chars)
    if len(long_blocks):  # cut at sentence boundaries on the string (rare)
        block_doc, block_start, block_end, block_char_start, block_char_end = _split_long_blocks(
            documents, doc_offsets, max_chars, long_blocks, block_doc, block_start, block_end, block_char_start, block_char_end
        )
    counts = np.bincount(block_doc, minlength=len(documents))
    first_paragraph = np.cumsum(counts) - counts
    first_indices = np.array([d[2] for d in documents], dtype=np.int64)
    char_offsets = np.array([d[3] for d in documents], dtype=np.int64)
    indices = np.arange(len(block_doc), dtype=np.int64) - first_paragraph[block_doc] + first_indices[block_doc]
    raw = buffer.data
    ids: list[str] = []
    prefixes = [source.encode("utf-8", "surrogatepass") + b"\0" for source, _, _, _ in documents]
    for doc, start, end, index in zip(block_doc.tolist(), block_start.tolist(), block_end.tolist(), indices.tolist()):
        digest = hashlib.blake2b(prefixes[doc], digest_size=8)
        digest.update(b"%d\0" % index)
        digest.update(raw[start:end])
        ids.append(digest.hexdigest())
    start, end = block_start, block_end
    n = len(start)
    sources = [source for source, _, _, _ in documents]
    columns: dict[str, pa.Array] = {
        "paragraph_id": pa.array(ids, pa.string()),
        "source": pa.array(sources, pa.string()).take(pa.array(block_doc, pa.int64())),
        "paragraph_index": pa.array(indices, pa.int64()),
        "start_offset": pa.array(block_char_start + char_offsets[block_doc], pa.int64()),
        "end_offset": pa.array(block_char_end + char_offsets[block_doc], pa.int64()),
    }
    if original_text:
        columns["original_text"] = _string_array(*_gather(buffer, start, end), n)
    columns["text"] = _string_array(*_collapse_spaces(buffer, start, end), n)
    schema = PARAGRAPH_SCHEMA if original_text else pa.schema([f for f in PARAGRAPH_SCHEMA if f.name != "original_text"])
    return pa.table(columns, schema=schema)


def _split_long_blocks(documents, doc_offsets, max_chars, long_blocks, block_doc, block_start, block_end, char_start, char_end):
    """Replace each block of ``long_blocks`` by its :func:`_split_long` pieces (byte and char spans)."""
    pieces: list[tuple[int, int, int, int, int]] = []
    for x in long_blocks.tolist():
        doc = int(block_doc[x])
        text = documents[doc][1]
        position, byte = int(char_start[x]), int(block_start[x])  # walks forward: byte offset of ``position``
        for start, end in _split_long(text, int(char_start[x]), int(char_end[x]), max_chars):
            byte += len(text[position:start].encode("utf-8"))
            start_byte = byte
            byte += len(text[start:end].encode("utf-8"))
            position = end
            pieces.append((x, start_byte, byte, start, end))
    keep = np.ones(len(block_doc), dtype=bool)
    keep[long_blocks] = False
    piece_block = np.array([p[0] for p in pieces], dtype=np.int64)
    block = np.concatenate([np.flatnonzero(keep), piece_block])
    columns = [np.concatenate([block_doc[keep], block_doc[piece_block]])]
    for i, old in enumerate((block_start, block_end, char_start, char_end), start=1):
        columns.append(np.concatenate([old[keep], np.array([p[i] for p in pieces], dtype=np.int64)]))
    order = np.lexsort((columns[1], block))  # block order, then pieces in text order
    return tuple(column[order] for column in columns)


@numba.njit(cache=True, nogil=True)
def _utf8_blocks(buffer, doc_offsets):  # pragma: no cover - compiled
    """The trimmed blank-line blocks of each document (``_BLANK_LINE`` and ``_trimmed`` on the bytes).

    A separator starts at a line feed and runs to the end of its whitespace
    run if that run holds at least two line feeds (whitespace as ``regex``'s
    ``\\s``). Returns ``(document, byte start, byte end, char start, char end)``
    arrays, char positions relative to the document.
    """
    capacity = 1024
    out_doc = np.empty(capacity, dtype=np.int64)
    out = np.empty((capacity, 4), dtype=np.int64)
    k = 0
    for d in range(doc_offsets.size - 1):
        lo = doc_offsets[d]
        hi = doc_offsets[d + 1]
        i = lo
        c = 0
        block_byte = lo
        block_char = 0
        while True:
            at_end = i >= hi
            separator_end = i
            separator_char = c
            if not at_end:
                if buffer[i] != 10:
                    i += _char_bytes(buffer[i])
                    c += 1
                    continue
                newlines = 0
                while separator_end < hi:
                    w = _space_bytes(buffer, separator_end, hi, False)
                    if w == 0:
                        break
                    if buffer[separator_end] == 10:
                        newlines += 1
                    separator_end += w
                    separator_char += 1
                if newlines < 2:  # no separator can start inside this run
                    i = separator_end
                    c = separator_char
                    continue
            # the block [block_byte, i), trimmed
            s = block_byte
            sc = block_char
            while s < i:
                w = _space_bytes(buffer, s, i, False)
                if w == 0:
                    break
                s += w
                sc += 1
            e = i
            ec = c
            while e > s:
                p = e - 1
                while p > s and (buffer[p] & 0xC0) == 0x80:
                    p -= 1
                if _space_bytes(buffer, p, e, False) == 0:
                    break
                e = p
                ec -= 1
            if e > s:
                if k == capacity:
                    capacity *= 2
                    grown_doc = np.empty(capacity, dtype=np.int64)
                    grown_doc[:k] = out_doc[:k]
                    out_doc = grown_doc
                    grown = np.empty((capacity, 4), dtype=np.int64)
                    grown[:k] = out[:k]
                    out = grown
                out_doc[k] = d
                out[k, 0] = s
                out[k, 1] = e
                out[k, 2] = sc
                out[k, 3] = ec
                k += 1
            if at_end:
                break
            i = separator_end
            c = separator_char
            block_byte = i
            block_char = c
    return out_doc[:k].copy(), out[:k, 0].copy(), out[:k, 1].copy(), out[:k, 2].copy(), out[:k, 3].copy()


@numba.njit(cache=True, nogil=True)
def _char_bytes(lead):  # pragma: no cover - compiled
    if lead < 0x80:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


def _string_array(offsets: np.ndarray, data: np.ndarray, n: int) -> pa.Array:
    """An Arrow ``string`` array wrapping ``int64`` offsets (narrowed) and UTF-8 ``data``."""
    if offsets[-1] >= 2**31:
        return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]).cast(pa.string())
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)])


@numba.njit(cache=True, nogil=True)
def _gather(buffer, starts, ends):  # pragma: no cover - compiled
    """The byte ranges ``buffer[starts[i]:ends[i]]`` one after another: ``(offsets, data)``."""
    n = starts.size
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + ends[i] - starts[i]
    data = np.empty(offsets[n], dtype=np.uint8)
    for i in range(n):
        data[offsets[i] : offsets[i + 1]] = buffer[starts[i] : ends[i]]
    return offsets, data


@numba.njit(cache=True, nogil=True)
def _space_bytes(buffer, i, end, information_separators=True):  # pragma: no cover - compiled
    """Byte length of the ``str.isspace`` character at ``buffer[i]``, or 0 if it is not one.

    Without ``information_separators``, U+001C..U+001F do not count: ``regex``'s ``\\s``.
    """
    b = buffer[i]
    if b == 32 or 9 <= b <= 13:
        return 1
    if 0x1C <= b <= 0x1F:
        return 1 if information_separators else 0
    if b < 0xC2:
        return 0
    if b == 0xC2:  # U+0085, U+00A0
        return 2 if i + 1 < end and (buffer[i + 1] == 0x85 or buffer[i + 1] == 0xA0) else 0
    if i + 2 >= end:
        return 0
    b1 = buffer[i + 1]
    b2 = buffer[i + 2]
    if b == 0xE1:  # U+1680
        return 3 if b1 == 0x9A and b2 == 0x80 else 0
    if b == 0xE2:  # U+2000-200A, U+2028, U+2029, U+202F; U+205F
        if b1 == 0x80 and (b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF):
            return 3
        return 3 if b1 == 0x81 and b2 == 0x9F else 0
    if b == 0xE3:  # U+3000
        return 3 if b1 == 0x80 and b2 == 0x80 else 0
    return 0


@numba.njit(cache=True, nogil=True)
def _collapse_spaces(buffer, starts, ends):  # pragma: no cover - compiled
    """:func:`join_lines` of each byte range: ``(offsets, data)``."""
    n = starts.size
    total = 0
    for i in range(n):
        total += ends[i] - starts[i]
    data = np.empty(total, dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    c = 0
    for i in range(n):
        j = starts[i]
        end = ends[i]
        pending = False
        first = c
        while j < end:
            b = buffer[j]
            if b == 32:
                pending = c > first
                j += 1
                continue
            if 32 < b < 0x80:  # the common case: printable ASCII
                if pending:
                    data[c] = 32
                    c += 1
                    pending = False
                data[c] = b
                c += 1
                j += 1
                continue
            w = _space_bytes(buffer, j, end)
            if w:
                pending = c > first
                j += w
                continue
            if pending:
                data[c] = 32
                c += 1
                pending = False
            data[c] = buffer[j]
            c += 1
            j += 1
        offsets[i + 1] = c
    return offsets, data[:c].copy()


def _segment_document_strings(source: str, text: str, max_chars: int = 2000, *, first_index: int = 0, offset: int = 0) -> pa.Table:
    """The per-paragraph (Python string) form of :func:`segment_document`."""
    ids: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    originals: list[str] = []
    texts: list[str] = []
    for index, (start, end) in enumerate(paragraph_spans(text, max_chars), start=first_index):
        original = text[start:end]
        ids.append(paragraph_id(source, index, original))
        starts.append(start + offset)
        ends.append(end + offset)
        originals.append(original)
        texts.append(join_lines(original))
    n = len(ids)
    return pa.table(
        {
            "paragraph_id": ids,
            "source": [source] * n,
            "paragraph_index": list(range(first_index, first_index + n)),
            "start_offset": starts,
            "end_offset": ends,
            "original_text": originals,
            "text": texts,
        },
        schema=PARAGRAPH_SCHEMA,
    )


def segment_stream(source: str, chunks: Iterable[str], max_chars: int = 2000) -> Iterator[pa.Table]:
    """Segment a document that arrives in chunks, yielding paragraph tables in order.

    Text is held back only from the last blank line on (or, inside one huge
    block, from the start of its last few pieces), so memory stays bounded by
    the chunk size. Offsets and ``paragraph_index`` are those of the whole
    document; at a blank line the result equals :func:`segment_document`'s.
    """
    buffer = ""
    base = 0
    index = 0
    for chunk in chunks:
        buffer += chunk
        cut = _safe_cut(buffer, max_chars)
        if cut:
            table, index = _segment_part(source, buffer[:cut], base, index, max_chars)
            yield table
            buffer, base = buffer[cut:], base + cut
    table, index = _segment_part(source, buffer, base, index, max_chars)
    yield table


def _safe_cut(buffer: str, max_chars: int) -> int:
    """Where the buffer can be cut without changing how the text before it is segmented."""
    last_blank = None
    for last_blank in _BLANK_LINE.finditer(buffer, max(0, len(buffer) - (8 << 20))):
        pass
    if last_blank is not None:
        return last_blank.end()
    if len(buffer) < 8 * max_chars:
        return 0
    # One block larger than a chunk: keep the last pieces (their ends depend on text still to come).
    spans = list(paragraph_spans(buffer, max_chars))
    settled = [end for start, end in spans if end < len(buffer) - 4 * max_chars]
    return settled[-1] if settled else 0


def _segment_part(source: str, text: str, base: int, index: int, max_chars: int) -> tuple[pa.Table, int]:
    table = segment_document(source, text, max_chars, first_index=index, offset=base)
    return table, index + table.num_rows
