"""Edits: the audit record every cleaning stage returns next to its result.

Like ``ftfy.fix_and_explain``, each stage in corpusclean returns the cleaned
text *and* what it did to it. An :class:`Edit` is one localised change; a
stage's edits for one paragraph, replayed in order on the stage's input, give
the stage's output (see :func:`replay_edits`).
"""

from __future__ import annotations

import dataclasses
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
        position: Character offset of ``before``: in the text the stage was given
            for a single pass (see :func:`apply_edits`); in the text as it stands
            after the preceding edits once in replay order (:func:`sequence_edits`).
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
    """A cleaning step over one paragraph: returns the new text and its edits in replay order."""

    def __call__(self, text: str) -> tuple[str, list[Edit]]: ...


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply one pass of non-overlapping edits, all positioned in ``text``.

    This is the form a single-pass stage (the OCR corrector) returns.
    """
    return replay_edits(text, sequence_edits(edits))


def sequence_edits(edits: Sequence[Edit]) -> list[Edit]:
    """Turn one pass of edits positioned in one text into replay order.

    In replay order each edit's position is in the text as it stands after
    the edits before it, which is what the ``corrections`` table stores: any
    number of passes then replays in row order.
    """
    if not edits:  # most paragraphs: no list to sort
        return []
    out: list[Edit] = []
    shift = 0
    last_end = -1
    for edit in sorted(edits, key=lambda e: e.position):
        if edit.position < last_end:
            raise ValueError(f"edit {edit!r} overlaps the edit before it")
        last_end = edit.position + len(edit.before)
        out.append(dataclasses.replace(edit, position=edit.position + shift))
        shift += len(edit.after) - len(edit.before)
    return out


def replay_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply edits in replay order (see :func:`sequence_edits`), checking each one."""
    for edit in edits:
        end = edit.position + len(edit.before)
        if text[edit.position : end] != edit.before:
            raise ValueError(f"edit {edit!r} does not match the text at {edit.position}")
        text = text[: edit.position] + edit.after + text[end:]
    return text


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
    return run_batch_text_stage(paragraphs, lambda texts: [stage(text) for text in texts])


def run_batch_text_stage(
    paragraphs: pa.Table, stage: Callable[[list[str]], list[tuple[str, list[Edit]]]]
) -> tuple[pa.Table, pa.Table]:
    """:func:`run_text_stage` for a stage that takes all the table's texts at once (and returns one result each)."""
    ids = paragraphs.column("paragraph_id").to_pylist()
    texts = paragraphs.column("text").to_pylist()
    results = stage(texts)
    if len(results) != len(texts):
        raise ValueError(f"a text stage returned {len(results)} results for {len(texts)} paragraphs")
    new_texts = [text for text, _ in results]
    all_edits = [edits for _, edits in results]
    index = paragraphs.schema.get_field_index("text")
    table = paragraphs.set_column(index, "text", pa.array(new_texts, pa.string()))
    return table, edits_to_table(ids, all_edits)
