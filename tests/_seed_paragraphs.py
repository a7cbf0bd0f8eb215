"""Real-text fixtures for the dedup tests: the seed files as a paragraphs table.

Paragraphs are blank-line separated; a block longer than ``max_chars`` (seed
003 is one 24.5 KB line) is split at sentence boundaries into pieces of at
most ``max_chars`` characters, as the segmenter does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import regex

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
_SENTENCE_END = regex.compile(r"(?<=[.!?…])\s+")


def split_block(block: str, max_chars: int = 2000) -> list[str]:
    """Greedily pack whole sentences into pieces of at most ``max_chars``."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(block.strip()):
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        pieces.append(current)
    return pieces


def seed_paragraphs(max_chars: int = 2000) -> pa.Table:
    """All seed files as a paragraphs table (contract columns)."""
    rows: dict[str, list] = {k: [] for k in ("paragraph_id", "source", "paragraph_index", "original_text", "text")}
    for path in sorted(SEEDS.glob("*.txt")):
        content = path.read_text(encoding="utf-8")
        index = 0
        for block in regex.split(r"\n\s*\n", content):
            if not block.strip():
                continue
            for piece in split_block(" ".join(block.split()), max_chars):
                rows["paragraph_id"].append(hashlib.blake2b(f"{path.name}\0{index}\0{piece}".encode(), digest_size=8).hexdigest())
                rows["source"].append(path.name)
                rows["paragraph_index"].append(index)
                rows["original_text"].append(piece)
                rows["text"].append(piece)
                index += 1
    return pa.table(
        {
            "paragraph_id": pa.array(rows["paragraph_id"], pa.string()),
            "source": pa.array(rows["source"], pa.string()),
            "paragraph_index": pa.array(rows["paragraph_index"], pa.int64()),
            "original_text": pa.array(rows["original_text"], pa.string()),
            "text": pa.array(rows["text"], pa.string()),
        }
    )
