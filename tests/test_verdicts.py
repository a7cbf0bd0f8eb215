"""Verdicts split a run into kept and removed rows: every row once, in order, the same piece by piece."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from corpusclean.verdicts import KEPT_COLUMNS, REMOVED_COLUMNS, VERDICT_SCHEMA, all_kept, split_rows


def _run(targets: list[int | None]) -> tuple[pa.Table, pa.Table]:
    """Rows ``p0, p1, …`` and verdicts removing row ``i`` into row ``targets[i]`` (``None``: kept)."""
    ids = [f"p{i}" for i in range(len(targets))]
    rows = pa.table({"paragraph_id": ids, "text": [f"text {i}" for i in range(len(targets))]})
    removed_into = [ids[t] if t is not None else None for t in targets]
    counts = [sum(1 for t in targets if t == i) if targets[i] is None else 0 for i in range(len(targets))]
    verdicts = pa.table({
        "cluster_id": [r if r is not None else (ids[i] if counts[i] else None) for i, r in enumerate(removed_into)],
        "kept_paragraph_id": removed_into,
        "method": ["near" if r is not None else None for r in removed_into],
        "similarity": [0.9 if r is not None else None for r in removed_into],
        "estimated_similarity": [None] * len(targets),
        "duplicates_removed": counts,
    }, schema=VERDICT_SCHEMA)  # fmt: skip
    return rows, verdicts


@st.composite
def runs(draw) -> list[int | None]:
    n = draw(st.integers(0, 30))
    kept = [i for i in range(n) if draw(st.booleans())] or ([0] if n else [])
    return [None if i in kept else draw(st.sampled_from(kept)) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(runs(), st.lists(st.integers(1, 7), max_size=6))
def test_every_row_lands_once_in_order_and_pieces_split_as_the_whole(targets, cuts) -> None:
    rows, verdicts = _run(targets)
    kept, removed = split_rows(rows, verdicts)
    assert kept.column_names == [*rows.column_names, *KEPT_COLUMNS]
    assert removed.column_names == [*rows.column_names, *REMOVED_COLUMNS]
    assert kept.column("paragraph_id").to_pylist() == [f"p{i}" for i, t in enumerate(targets) if t is None]
    assert removed.column("paragraph_id").to_pylist() == [f"p{i}" for i, t in enumerate(targets) if t is not None]
    assert removed.column("kept_paragraph_id").to_pylist() == [f"p{t}" for t in targets if t is not None]
    pieces, start = [], 0
    for size in [*cuts, len(targets)]:
        pieces.append(split_rows(rows.slice(start, size), verdicts.slice(start, size)))
        start += size
    assert pa.concat_tables([k for k, _ in pieces]).equals(kept)
    assert pa.concat_tables([r for _, r in pieces]).equals(removed)


def test_with_nothing_removed_every_row_is_kept_and_none_is_a_cluster() -> None:
    rows, _ = _run([None, None, None])
    kept, removed = split_rows(rows, all_kept(3))
    assert kept.num_rows == 3 and removed.num_rows == 0
    assert kept.column("cluster_id").null_count == 3 and kept.column("duplicates_removed").to_pylist() == [0, 0, 0]
