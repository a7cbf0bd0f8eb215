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
from typing import Iterable, Iterator

import pyarrow as pa
import regex

PARAGRAPH_SCHEMA = pa.schema(
    [
        pa.field("paragraph_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("paragraph_index", pa.int64(), nullable=False),
        pa.field("start_offset", pa.int64(), nullable=False),
        pa.field("end_offset", pa.int64(), nullable=False),
        pa.field("original_text", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)

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
