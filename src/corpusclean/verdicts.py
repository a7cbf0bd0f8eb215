"""Deduplication verdicts: what was decided for each row, apart from the rows themselves.

A verdicts table has one row per input paragraph, in input order
(:data:`VERDICT_SCHEMA`). It is small next to the paragraphs (no text), so a
run decides on it once and then streams its paragraphs through
:func:`split_rows` into the kept and removed outputs; reviewers' restores
(:func:`corpusclean.overrides.restore_verdicts`) edit it before that.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

METHODS = ("exact", "near", "contained")
VERDICT_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string()),
        pa.field("kept_paragraph_id", pa.string()),
        pa.field("method", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("estimated_similarity", pa.float64()),
        pa.field("duplicates_removed", pa.int64()),
    ]
)
"""What deduplication decided for each input row, in input order (see :func:`split_rows`).

A removed row has its ``kept_paragraph_id`` (also its ``cluster_id``), ``method``,
``similarity`` and ``estimated_similarity`` (null for exact); a kept row has those
null except ``cluster_id`` (its own id if it has removed rows, else null) and
``duplicates_removed``, the rows removed in its favour."""
KEPT_COLUMNS = ("cluster_id", "duplicates_removed")
REMOVED_COLUMNS = ("cluster_id", "kept_paragraph_id", "method", "similarity", "estimated_similarity")


def all_kept(n: int) -> pa.Table:
    """Verdicts keeping each of ``n`` rows with nothing removed (deduplication off)."""
    return pa.table({f.name: pa.nulls(n, f.type) for f in VERDICT_SCHEMA} | {"duplicates_removed": pa.array(np.zeros(n, np.int64))},
                    schema=VERDICT_SCHEMA)  # fmt: skip


def split_rows(rows: pa.Table, verdicts: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``(kept, removed)``: ``rows`` with their ``verdicts`` (same length, same order) applied.

    Kept rows get :data:`KEPT_COLUMNS`, removed rows :data:`REMOVED_COLUMNS`,
    each in input order. A piece of a run with the same slice of its verdicts
    gives that piece's share of the whole run's split, so a caller can stream
    a run through it piece by piece.
    """
    if rows.num_rows != verdicts.num_rows:
        raise ValueError(f"{rows.num_rows} rows but {verdicts.num_rows} verdicts")
    removed = pc.is_valid(verdicts.column("kept_paragraph_id"))

    def with_verdicts(names: tuple[str, ...]) -> pa.Table:
        return pa.Table.from_arrays([*rows.columns, *(verdicts.column(n) for n in names)],
                                    names=[*rows.column_names, *names])  # fmt: skip

    return with_verdicts(KEPT_COLUMNS).filter(pc.invert(removed)), with_verdicts(REMOVED_COLUMNS).filter(removed)
