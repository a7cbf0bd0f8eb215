"""Edits: the audit record every cleaning stage returns next to its result.

Like ``ftfy.fix_and_explain``, each stage in corpusclean returns the cleaned
text *and* what it did to it. An :class:`Edit` is one localised change; a
stage's edits for one paragraph, applied in order to the stage's input, give
the stage's output (see :func:`apply_edits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

import pyarrow as pa

EDIT_SCHEMA = pa.schema(
    [
        pa.field("paragraph_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("before", pa.string(), nullable=False),
        pa.field("after", pa.string(), nullable=False),
        pa.field("confidence", pa.float64()),
    ]
)


@dataclass(frozen=True, slots=True)
class Edit:
    """One change a stage made to a paragraph's text.

    Attributes:
        stage: The stage that made it (``read``, ``encoding``, ``ocr``, ...).
        rule: What made it: an ftfy fix name, ``table``, a confusion pair...
        position: Character offset of ``before`` in the text the stage was given.
        before: The replaced text (may be empty for an insertion).
        after: The replacement (may be empty for a deletion).
        confidence: The stage's confidence in ``[0, 1]``, where it has one.
    """

    stage: str
    rule: str
    position: int
    before: str
    after: str
    confidence: float | None = None


class TextStage(Protocol):
    """A cleaning step over one paragraph: returns the new text and its edits."""

    def __call__(self, text: str) -> tuple[str, list[Edit]]: ...


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Rebuild a stage's output from its input and its edits.

    Edits must not overlap; they are applied right to left so positions stay
    valid. This is how an audit (or a rejected edit) is replayed.
    """
    out = text
    for edit in sorted(edits, key=lambda e: e.position, reverse=True):
        end = edit.position + len(edit.before)
        if out[edit.position : end] != edit.before:
            raise ValueError(f"edit {edit!r} does not match the text at {edit.position}")
        out = out[: edit.position] + edit.after + out[end:]
    return out


def edits_to_table(paragraph_ids: Iterable[str], edits_per_paragraph: Iterable[Sequence[Edit]]) -> pa.Table:
    """Flatten per-paragraph edit lists into an Arrow table in ``EDIT_SCHEMA``."""
    columns: dict[str, list] = {name: [] for name in EDIT_SCHEMA.names}
    for paragraph_id, edits in zip(paragraph_ids, edits_per_paragraph, strict=True):
        for edit in edits:
            columns["paragraph_id"].append(paragraph_id)
            columns["stage"].append(edit.stage)
            columns["rule"].append(edit.rule)
            columns["position"].append(edit.position)
            columns["before"].append(edit.before)
            columns["after"].append(edit.after)
            columns["confidence"].append(edit.confidence)
    return pa.table(columns, schema=EDIT_SCHEMA)


def empty_edits() -> pa.Table:
    return EDIT_SCHEMA.empty_table()


def run_text_stage(
    paragraphs: pa.Table, stage: TextStage | Callable[[str], tuple[str, list[Edit]]]
) -> tuple[pa.Table, pa.Table]:
    """Apply a per-paragraph stage to the ``text`` column of a paragraphs table.

    Returns the table with ``text`` replaced and the edits as an Arrow table.
    """
    ids = paragraphs.column("paragraph_id").to_pylist()
    texts = paragraphs.column("text").to_pylist()
    new_texts: list[str] = []
    all_edits: list[list[Edit]] = []
    for text in texts:
        new_text, edits = stage(text)
        new_texts.append(new_text)
        all_edits.append(edits)
    index = paragraphs.schema.get_field_index("text")
    table = paragraphs.set_column(index, "text", pa.array(new_texts, pa.string()))
    return table, edits_to_table(ids, all_edits)
