"""Normalisation: the form under which two paragraphs are compared.

Deduplication never writes this form; it only compares it. A paragraph's
*normalised tokens* are obtained by

1. reading mojibake as the characters it stands for (:func:`read_mojibake`:
   ``kingâ€™s`` and ``king€™s`` are ``king’s``, ``cafÃ©`` is ``café``), so a
   copy whose encoding was garbled still matches its original when the
   encoding stage did not run or could not repair it,
2. Unicode NFKC (ligatures, full-width forms, compatibility spaces fold),
3. ``str.casefold`` (case, including ``ß`` -> ``ss`` and final sigma),
4. deleting apostrophes and single quotes (``don't`` == ``dont``; OCR often
   drops or mangles them, and curly vs straight quotes then cannot matter),
5. splitting on every run of characters that are not letters, numbers or
   combining marks (punctuation, double quotes, dashes, whitespace).

:func:`tokenize` is the reference definition, one string at a time.
:func:`tokenize_batch` computes the same tokens, as 64-bit
:func:`token_hash` values, for many texts at once (see its docstring).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from corpusclean.parallel import as_text_array, utf8_buffers
from corpusclean.hashing import fmix64 as _fmix64

_QUOTES = regex.compile(r"['\u2018\u2019\u201a\u201b\u02bc\u02bb\u0060\u00b4\u2032]")
_SEPARATORS = regex.compile(r"[^\p{L}\p{N}\p{M}]+")


def _byte_renderings() -> dict[str, int]:
    """Each character that shows a byte 0x80-0xFF when UTF-8 is decoded as cp1252 or Latin-1, and that byte."""
    shown: dict[str, int] = {}
    for byte in range(0x80, 0x100):
        shown[bytes([byte]).decode("latin-1")] = byte  # 0x80-0x9F: C1 controls
        try:
            shown[bytes([byte]).decode("cp1252")] = byte  # 0x80-0x9F: € ‚ ƒ … ™ œ and the rest
        except UnicodeDecodeError:
            pass  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: no cp1252 character, lost to U+FFFD
    return shown


_BYTE_SHOWN_AS = _byte_renderings()
MOJIBAKE_CONTINUATIONS = frozenset(c for c, byte in _BYTE_SHOWN_AS.items() if byte < 0xC0)
"""Characters that show a UTF-8 continuation byte (0x80-0xBF) decoded as cp1252 or Latin-1."""
MOJIBAKE_LEADS = frozenset([*(chr(byte) for byte in range(0xC2, 0xF5)), "€"])
"""Characters that show a UTF-8 lead byte (0xC2-0xF4: the same in cp1252 and Latin-1), and ``€``, which
starts what is left of a general punctuation mark (E2 80 xx) whose lead byte was lost."""


def _mojibake_pattern() -> regex.Pattern:
    def members(chars: Iterable[str]) -> str:
        return "[" + "".join(regex.escape(c) for c in sorted(chars)) + "]"

    continuation = members(MOJIBAKE_CONTINUATIONS)
    leads = [members(chr(b) for b in range(lo, hi + 1)) for lo, hi in ((0xC2, 0xDF), (0xE0, 0xEF), (0xF0, 0xF4))]
    return regex.compile(
        f"{leads[0]}{continuation}|{leads[1]}{continuation}{{2}}|{leads[2]}{continuation}{{3}}"
        f"|(?<!\\d)€{continuation}(?!\\d)"  # as the encoding stage: "5€–10€" is a price range
    )


_MOJIBAKE = _mojibake_pattern()


def _decoded(match: regex.Match) -> str:
    shown = match.group()
    raw = bytes(_BYTE_SHOWN_AS[c] for c in shown)
    if shown[0] == "€":
        raw = b"\xe2" + raw  # the lost lead byte of U+2000-U+203F
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return shown


def read_mojibake(text: str) -> str:
    """``text`` with each UTF-8 sequence shown as cp1252 or Latin-1 characters read as the character it encodes.

    For comparison only (the encoding stage repairs text, with ftfy, and
    records each edit): ``â€™`` (cp1252), ``â\x80\x99`` (Latin-1) and ``€™``
    (its lead byte lost) are all ``’``. A sequence that is not valid UTF-8 is
    left as it is.
    """
    return _MOJIBAKE.sub(_decoded, text) if not text.isascii() else text


def _fold(text: str) -> str:
    """Steps 2-4 of the module docstring: NFKC, casefold, quotes deleted.

    A deleted quote can leave a combining mark next to the letter it was kept
    from (``a'\u0302``): NFKC again then composes them, as a second
    normalisation would, so that normalised text is its own normal form.
    """
    deleted = _QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return deleted if unicodedata.is_normalized("NFKC", deleted) else unicodedata.normalize("NFKC", deleted)


def tokenize(text: str) -> list[str]:
    """The normalised tokens of ``text`` (see the module docstring)."""
    folded = _fold(read_mojibake(text))
    # Folding can bring a lead and continuations together (a quote deleted between them, ``Â`` cased to
    # ``â``): read again until nothing changes (each reading shortens the text), so that normalised
    # text is its own normal form.
    while (again := read_mojibake(folded)) != folded:
        folded = _fold(again)
    return [token for token in _SEPARATORS.split(folded) if token]


def normalize_text(text: str) -> str:
    """The normalised form of ``text``: its tokens joined by single spaces."""
    return " ".join(tokenize(text))


_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def token_hash(token: str) -> int:
    """Deterministic 64-bit hash of one normalised token.

    FNV-1a over the token's UTF-8 bytes, then the MurmurHash3 64-bit finaliser
    of that xor the byte length. Chosen because the batch tokenizer computes
    it byte by byte while it scans the text.
    """
    data = token.encode("utf-8")
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    h ^= len(data)
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


@dataclass(frozen=True)
class TokenBatch:
    """The normalised tokens of many texts, as hashes.

    Attributes:
        offsets: ``int64[n + 1]``; text ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]``.
        hashes: ``uint64`` :func:`token_hash` of every token, in text order.
    """

    offsets: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        """Number of tokens of each text."""
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


def tokenize_batch(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> TokenBatch:
    """Token hashes of many texts; text ``i`` gets ``[token_hash(t) for t in tokenize(texts[i])]``.

    One compiled pass over the UTF-8 bytes tokenises and hashes every chunk
    (run between ASCII whitespace) whose characters are all ASCII or
    *stable* non-ASCII characters (:func:`_replacement`: their NFKC form
    cannot combine with a neighbour, so the text's NFKC-casefold is the
    concatenation of theirs, looked up in a small per-batch table). A chunk
    with any other character is handed to :func:`tokenize`, once per
    distinct chunk. Since ASCII whitespace is a separator for
    :func:`tokenize` too, chunk-wise and whole-text tokenisation agree.
    Nulls tokenise as the empty string.
    """
    array = pc.fill_null(as_text_array(texts), "")
    n = len(array)
    if n == 0:
        return TokenBatch(np.zeros(1, np.int64), np.zeros(0, np.uint64))
    offsets, data = utf8_buffers(array)
    cps, known, repl_offsets, repl_bytes, mojibake = _codepoint_table(data, offsets)
    items, chunk_lengths, text_items = _scan(data, offsets, cps, known, repl_offsets, repl_bytes, mojibake)
    is_chunk = chunk_lengths > 0
    if not is_chunk.any():
        return TokenBatch(text_items, items)

    # Replace each remaining non-ASCII chunk reference by that chunk's token hashes.
    chunk_at = np.flatnonzero(is_chunk)
    cache: dict[bytes, list[int]] = {}
    lengths = np.ones(len(items), dtype=np.int64)
    spliced: list[int] = []
    for position in chunk_at:
        start = int(items[position])
        chunk = data[start : start + int(chunk_lengths[position])].tobytes()
        hashes = cache.get(chunk)
        if hashes is None:
            hashes = cache[chunk] = [token_hash(t) for t in tokenize(chunk.decode("utf-8"))]
        lengths[position] = len(hashes)
        spliced.extend(hashes)
    out = np.empty(int(lengths.sum()), dtype=np.uint64)
    starts = np.cumsum(lengths) - lengths
    plain = ~is_chunk
    out[starts[plain]] = items[plain]
    chunk_starts = np.repeat(starts[chunk_at], lengths[chunk_at]) + _ranks_within(lengths[chunk_at])
    out[chunk_starts] = np.asarray(spliced, dtype=np.uint64)
    token_offsets = np.concatenate([[0], np.cumsum(lengths)])[text_items]
    return TokenBatch(token_offsets.astype(np.int64), out)


_HANGUL_JAMO = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))


def _stable(char: str) -> bool:
    """Whether NFKC can never combine ``char`` with a neighbour.

    Characters that compose with a preceding one (NFC_QC=Maybe) or reorder
    (non-zero combining class) are all combining marks (category M) or
    conjoining Hangul jamo (``tests/test_normalize.py`` checks this against
    every canonical decomposition of the Unicode database).
    """
    cp = ord(char)
    if unicodedata.category(char).startswith("M") or unicodedata.combining(char):
        return False
    return not any(lo <= cp <= hi for lo, hi in _HANGUL_JAMO)


@functools.lru_cache(maxsize=None)
def _replacement(cp: int) -> bytes | None:
    """What code point ``cp`` contributes to the normalised form, or None if it is not stable.

    UTF-8 of ``NFKC(c).casefold()`` with quotes deleted and every other
    non-letter/number/mark character replaced by a space (a separator): for
    a text made of ASCII and stable characters, :func:`tokenize` equals
    splitting the concatenation of these replacements (ASCII: lowercased) on
    spaces, because NFKC, casefold and quote deletion then act character by character.
    """
    char = chr(cp)
    if not _stable(char):
        return None
    nfkc = unicodedata.normalize("NFKC", char)
    if not all(_stable(c) for c in nfkc):
        return None
    folded = _fold(nfkc)
    return _SEPARATORS.sub(" ", folded).encode("utf-8")


def _codepoint_table(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct non-ASCII code points of the texts, their :func:`_replacement` (CSR bytes), and each one's
    part in mojibake (:data:`_LEAD`, :data:`_CONTINUATION`, both or neither)."""
    cps = _non_ascii_codepoints(data, offsets[0], offsets[-1])
    mojibake = np.array([_mojibake_part(cp) for cp in cps.tolist()], dtype=np.uint8)
    known = np.zeros(len(cps), dtype=np.bool_)
    repl_offsets = np.zeros(len(cps) + 1, dtype=np.int64)
    parts: list[bytes] = []
    for i, cp in enumerate(cps.tolist()):
        replacement = _replacement(cp)
        if replacement is not None:
            known[i] = True
            parts.append(replacement)
        repl_offsets[i + 1] = repl_offsets[i] + (len(replacement) if replacement is not None else 0)
    repl_bytes = np.frombuffer(b"".join(parts), dtype=np.uint8) if parts else np.zeros(0, np.uint8)
    return cps, known, repl_offsets, repl_bytes, mojibake


_LEAD, _CONTINUATION, _FOLDS_FROM_CONTINUATION, _FOLDS_TO_LEAD, _FOLDS_TO_NOTHING = 1, 2, 4, 8, 16


@functools.lru_cache(maxsize=None)
def _mojibake_part(cp: int) -> int:
    """Code point ``cp``'s part in mojibake, as bits: a lead or continuation as it is; and its folded form
    (:func:`_fold`) starting with a continuation, ending with a lead, or empty (a deleted quote)."""
    char = chr(cp)
    folded = _fold(char)
    return (
        (_LEAD if char in MOJIBAKE_LEADS else 0)
        | (_CONTINUATION if char in MOJIBAKE_CONTINUATIONS else 0)
        | (_FOLDS_FROM_CONTINUATION if folded[:1] in MOJIBAKE_CONTINUATIONS else 0)
        | (_FOLDS_TO_LEAD if folded[-1:] in MOJIBAKE_LEADS else 0)
        | (_FOLDS_TO_NOTHING if not folded else 0)
    )


@numba.njit(cache=True, nogil=True)
def _decode(data, i):  # pragma: no cover - compiled
    """Code point of the (valid) UTF-8 sequence starting at ``data[i]``, and its byte count."""
    b = np.int64(data[i])
    if b < 0x80:
        return b, 1
    if b < 0xE0:
        return ((b & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F), 2
    if b < 0xF0:
        return ((b & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (np.int64(data[i + 2]) & 0x3F), 3
    return (
        ((b & 0x07) << 18) | ((np.int64(data[i + 1]) & 0x3F) << 12) | ((np.int64(data[i + 2]) & 0x3F) << 6) | (np.int64(data[i + 3]) & 0x3F),
        4,
    )


@numba.njit(cache=True, nogil=True)
def _non_ascii_codepoints(data, start, end):  # pragma: no cover - compiled
    """Sorted distinct non-ASCII code points of ``data[start:end]`` (valid UTF-8)."""
    seen = np.zeros(0x110000, dtype=np.bool_)
    lo = 0x110000
    hi = 0
    count = 0
    i = start
    while i < end:
        if data[i] < 128:
            i += 1
            continue
        cp, nbytes = _decode(data, i)
        i += nbytes
        if not seen[cp]:
            seen[cp] = True
            count += 1
            lo = min(lo, cp)
            hi = max(hi, cp)
    out = np.empty(count, dtype=np.int64)
    k = 0
    for cp in range(lo, hi + 1):
        if seen[cp]:
            out[k] = cp
            k += 1
    return out


@numba.njit(cache=True, nogil=True)
def _lookup(cps, cp):  # pragma: no cover - compiled
    """Index of ``cp`` in the sorted array ``cps`` (which holds it)."""
    lo = 0
    hi = cps.size
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cps[mid] <= cp:
            lo = mid
        else:
            hi = mid
    return lo


def _ranks_within(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for run lengths ``l``."""
    total = int(lengths.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)


@numba.njit(cache=True, nogil=True)
def _is_space(byte):  # pragma: no cover - compiled
    return byte == 32 or (9 <= byte <= 13)


@numba.njit(cache=True, nogil=True)
def _chunk_end(data, i, end):  # pragma: no cover - compiled
    """End of the whitespace-free chunk starting at ``i``, and whether it is all ASCII."""
    j = i
    ascii_only = True
    while j < end and not _is_space(data[j]):
        if data[j] >= 128:
            ascii_only = False
        j += 1
    return j, ascii_only


@numba.njit(cache=True, nogil=True)
def _grow(items, chunk_lengths, needed):  # pragma: no cover - compiled
    size = max(needed, 2 * items.size)
    new_items = np.empty(size, dtype=np.uint64)
    new_lengths = np.zeros(size, dtype=np.int64)
    new_items[: items.size] = items
    new_lengths[: items.size] = chunk_lengths
    return new_items, new_lengths


def _byte_classes() -> tuple[np.ndarray, np.ndarray]:
    """For each byte: its class (see :func:`_scan`) and, for token bytes, the lowercased byte."""
    classes = np.full(256, _SEPARATOR, dtype=np.uint8)
    lower = np.zeros(256, dtype=np.uint8)
    for b in range(256):
        if b >= 128:
            classes[b] = _NON_ASCII
        elif b == 32 or 9 <= b <= 13:
            classes[b] = _SPACE
        elif b in (39, 96):
            classes[b] = _DELETED
        elif chr(b).isalnum():
            classes[b] = _TOKEN
            lower[b] = ord(chr(b).lower())
    return classes, lower


_TOKEN, _SPACE, _DELETED, _SEPARATOR, _NON_ASCII = 0, 1, 2, 3, 4
_CLASSES, _LOWER = _byte_classes()


@numba.njit(cache=True, nogil=True)
def _scan(data, offsets, cps, known, repl_offsets, repl_bytes, mojibake):  # pragma: no cover - compiled
    """Tokenise chunks of ASCII and stable characters; emit a reference to each other chunk.

    One pass over the bytes, classified by table. A chunk (run between ASCII
    whitespace) is hashed as it is read; at its first unstable character, or
    a mojibake lead followed by a continuation, as written or once folded
    (which :func:`tokenize` may read as one character), the tokens it already
    gave are dropped and the whole chunk becomes a reference.

    Returns the items (a token hash, or a chunk's start byte), the chunk
    byte lengths (0 for a token hash) and each text's first item (``int64[n + 1]``).
    """
    classes = _CLASSES
    lower = _LOWER
    n = offsets.size - 1
    capacity = (offsets[n] - offsets[0]) // 4 + 16  # grown when needed (English: ~1 token per 6 bytes)
    items = np.empty(capacity, dtype=np.uint64)
    chunk_lengths = np.zeros(capacity, dtype=np.int64)
    text_items = np.empty(n + 1, dtype=np.int64)
    k = 0
    fnv_offset = np.uint64(0xCBF29CE484222325)
    fnv_prime = np.uint64(0x100000001B3)
    for t in range(n):
        text_items[t] = k
        i = offsets[t]
        end = offsets[t + 1]
        if k + 2 * (end - i) + 2 > items.size:  # < 2 items per byte (replacements included)
            items, chunk_lengths = _grow(items, chunk_lengths, k + 2 * (end - i) + 2)
        h = fnv_offset
        length = 0
        chunk_start = i
        chunk_k = k
        folded_lead = False  # the folded text so far ends with a mojibake lead
        while i <= end:
            c = classes[data[i]] if i < end else _SPACE
            if c == _TOKEN:
                h = (h ^ np.uint64(lower[data[i]])) * fnv_prime
                length += 1
                i += 1
                folded_lead = False
                continue
            if c == _DELETED:  # folds to nothing: what stands on either side meets
                i += 1
                continue
            folded_lead = folded_lead and c == _NON_ASCII
            if c != _NON_ASCII:  # a separator or whitespace ends the token
                if length > 0:
                    items[k] = _fmix64(h ^ np.uint64(length))
                    k += 1
                    h = fnv_offset
                    length = 0
                i += 1
                if c == _SPACE:
                    chunk_start = i
                    chunk_k = k
                continue
            cp, nbytes = _decode(data, i)
            x = _lookup(cps, cp)
            part = mojibake[x]
            unread = folded_lead and (part & _FOLDS_FROM_CONTINUATION) != 0
            if (part & _LEAD) != 0 and i + nbytes < end and data[i + nbytes] >= 128:
                unread = unread or (mojibake[_lookup(cps, _decode(data, i + nbytes)[0])] & _CONTINUATION) != 0
            if (part & _FOLDS_TO_NOTHING) == 0:
                folded_lead = (part & _FOLDS_TO_LEAD) != 0
            if not known[x] or unread:  # the whole chunk goes to the reference tokenizer
                j = i
                while j < end and classes[data[j]] != _SPACE:
                    j += 1
                k = chunk_k
                items[k] = np.uint64(chunk_start)
                chunk_lengths[k] = j - chunk_start
                k += 1
                h = fnv_offset
                length = 0
                i = j
                continue
            for r in range(repl_offsets[x], repl_offsets[x + 1]):
                rb = repl_bytes[r]
                if rb != 32:
                    h = (h ^ np.uint64(rb)) * fnv_prime
                    length += 1
                elif length > 0:
                    items[k] = _fmix64(h ^ np.uint64(length))
                    k += 1
                    h = fnv_offset
                    length = 0
            i += nbytes
    text_items[n] = k
    return items[:k].copy(), chunk_lengths[:k].copy(), text_items


@dataclass(frozen=True)
class CharBatch:
    """The normalised text (:func:`normalize_text`) of many texts, as code points.

    Attributes:
        offsets: ``int64[n + 1]``; text ``i`` is ``codes[offsets[i]:offsets[i + 1]]``.
        codes: ``uint32`` Unicode code points, tokens separated by one space (32).
    """

    offsets: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Number of characters of each normalised text."""
        return np.diff(self.offsets)

    def text(self, i: int) -> str:
        """Normalised text ``i`` as a string (for tests and debugging)."""
        return self.codes[self.offsets[i] : self.offsets[i + 1]].astype("<u4").tobytes().decode("utf-32-le")


def normalize_batch(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> CharBatch:
    """Normalised texts of many texts; text ``i`` is ``normalize_text(texts[i])``.

    The same split as :func:`tokenize_batch`: one compiled pass lowercases and
    splits every pure-ASCII chunk (run between ASCII whitespace) into token
    *segments*; a chunk with a non-ASCII byte becomes one segment holding
    ``normalize_text(chunk)``, computed once per distinct chunk. A second
    compiled pass joins each text's non-empty segments with one space.
    Nulls normalise to the empty string.
    """
    array = pc.fill_null(as_text_array(texts), "")
    n = len(array)
    if n == 0:
        return CharBatch(np.zeros(1, np.int64), np.zeros(0, np.uint32))
    offsets, data = utf8_buffers(array)
    starts, lengths, is_chunk, text_segments, ascii_codes = _scan_chars(data, offsets)

    # Non-ASCII chunks: their normalised form is appended after the ASCII codes.
    raw = data.tobytes()
    cache: dict[bytes, tuple[int, int]] = {}
    extra: list[str] = []
    base = len(ascii_codes)
    for position in np.flatnonzero(is_chunk):
        start = int(starts[position])
        chunk = raw[start : start + int(lengths[position])]
        where = cache.get(chunk)
        if where is None:
            normal = normalize_text(chunk.decode("utf-8"))
            where = cache[chunk] = (base, len(normal))
            extra.append(normal)
            base += len(normal)
        starts[position], lengths[position] = where
    codes = ascii_codes
    if extra:
        codes = np.concatenate([ascii_codes, np.frombuffer("".join(extra).encode("utf-32-le"), dtype="<u4").astype(np.uint32)])
    out_offsets, out_codes = _join_segments(codes, starts, lengths, text_segments)
    return CharBatch(out_offsets, out_codes)


@numba.njit(cache=True, nogil=True)
def _scan_chars(data, offsets):  # pragma: no cover - compiled
    """Split texts into segments: lowercased ASCII tokens, or references to non-ASCII chunks.

    Returns ``(starts, lengths, is_chunk, text_segments, ascii_codes)``: a
    token segment is ``ascii_codes[start:start + length]``; a chunk segment
    is the bytes ``data[start:start + length]``; text ``t`` owns segments
    ``text_segments[t]:text_segments[t + 1]``.
    """
    n = offsets.size - 1
    total = offsets[n] - offsets[0]
    capacity = (total + n) // 2 + 1
    starts = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity, dtype=np.int64)
    is_chunk = np.zeros(capacity, dtype=np.bool_)
    text_segments = np.empty(n + 1, dtype=np.int64)
    ascii_codes = np.empty(total, dtype=np.uint32)
    k = 0
    c = 0
    for t in range(n):
        text_segments[t] = k
        i = offsets[t]
        end = offsets[t + 1]
        while i < end:
            if _is_space(data[i]):
                i += 1
                continue
            j, ascii_only = _chunk_end(data, i, end)
            if not ascii_only:
                starts[k] = i
                lengths[k] = j - i
                is_chunk[k] = True
                k += 1
            else:
                token_start = c
                for m in range(i, j + 1):
                    byte = data[m] if m < j else 32
                    if 65 <= byte <= 90:
                        byte += 32
                    if (97 <= byte <= 122) or (48 <= byte <= 57):
                        ascii_codes[c] = byte
                        c += 1
                    elif byte == 39 or byte == 96:
                        continue  # apostrophes are deleted, not separators
                    elif c > token_start:
                        starts[k] = token_start
                        lengths[k] = c - token_start
                        k += 1
                        token_start = c
            i = j
    text_segments[n] = k
    return starts[:k].copy(), lengths[:k].copy(), is_chunk[:k].copy(), text_segments, ascii_codes[:c].copy()


@numba.njit(cache=True, nogil=True)
def _join_segments(codes, starts, lengths, text_segments):  # pragma: no cover - compiled
    """Each text's non-empty segments joined by one space: ``(offsets, codes)``."""
    n = text_segments.size - 1
    out_offsets = np.empty(n + 1, dtype=np.int64)
    capacity = 0
    for s in range(lengths.size):
        capacity += lengths[s] + 1
    out = np.empty(capacity, dtype=np.uint32)
    c = 0
    for t in range(n):
        out_offsets[t] = c
        first = True
        for s in range(text_segments[t], text_segments[t + 1]):
            if lengths[s] == 0:
                continue
            if not first:
                out[c] = 32
                c += 1
            first = False
            for m in range(starts[s], starts[s] + lengths[s]):
                out[c] = codes[m]
                c += 1
    out_offsets[n] = c
    return out_offsets, out[:c].copy()
