"""corpusclean.input_table: prepared inputs as columns give back the very entries they were made from."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusclean import pipeline
from corpusclean.cache import PreparedCache
from corpusclean.config import CleanConfig
from corpusclean.input_table import InputTable
from corpusclean.read import discover_inputs

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> list:
    """The seeds' cache entries, as a prepare job made them, plus one damaged file's (a report with warnings)."""
    root = tmp_path_factory.mktemp("input-table")
    (root / "in").mkdir()
    (root / "in" / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me, na\xefve fa\xe7ade.\n\nA second paragraph.\n".encode("latin-1"))
    (root / "in" / "empty.txt").write_bytes(b"")
    files, _ = discover_inputs([SEEDS, root / "in"])
    job = pipeline.PrepareJob(tuple((f, None) for f in files), CleanConfig(), root / "cache")
    return list(pipeline.prepare_job(job).entries)


def _same_entry(a, b) -> bool:
    fields = ("source", "key", "paragraphs", "edits", "rows", "cached", "edit_rows", "batch", "edits_batch")
    return all(getattr(a, f) == getattr(b, f) for f in fields) and a.report == b.report


def test_entries_come_back_as_they_went_in(prepared) -> None:
    table = InputTable.from_entries(prepared)
    assert len(table) == len(prepared) >= 4
    assert all(_same_entry(a, b) for a, b in zip(table, prepared, strict=True))
    assert _same_entry(table[-1], prepared[-1]) and _same_entry(table[1], prepared[1])
    assert any(e.report.warnings or e.report.status != "read" for e in table)  # a report with something to say
    assert table.total_rows() == sum(e.rows for e in prepared)
    with pytest.raises(IndexError):
        table[len(prepared)]


def test_cached_entries_read_from_their_packs_are_the_same(prepared, tmp_path) -> None:
    cache = PreparedCache(prepared[0].paragraphs.parent)
    again = cache.get_many(e.key for e in prepared)
    table = InputTable.from_entries(again[e.key] for e in prepared)
    assert all(e.cached for e in table)
    assert [list(e.paragraph_batches()) for e in table] == [list(e.paragraph_batches()) for e in prepared]


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 6), max_size=3), start=st.integers(0, 6), stop=st.integers(0, 6))
def test_slices_concatenations_and_pickles_keep_rows_and_order(prepared, cuts, start, stop) -> None:
    table = InputTable.from_entries(prepared)
    bounds = [0, *sorted(c % (len(prepared) + 1) for c in cuts), len(prepared)]
    parts = [table[a:b] for a, b in zip(bounds, bounds[1:])]
    joined = InputTable.concat(pickle.loads(pickle.dumps(part)) for part in parts)
    assert joined == table
    assert [e.source for e in pickle.loads(pickle.dumps(table[start:stop]))] == [e.source for e in prepared[start:stop]]


def test_a_pickled_slice_carries_its_own_rows_only(prepared) -> None:
    table = InputTable.from_entries(prepared * 200)
    whole, one = len(pickle.dumps(table)), len(pickle.dumps(table[:1]))
    assert one < whole / 50  # a sliced pa.Table would pickle its parent's buffers whole


def test_sorted_by_source_orders_as_sorted_entries(prepared) -> None:
    shuffled = InputTable.from_entries(prepared[::-1])
    assert [e.source for e in shuffled.sorted_by_source()] == sorted(e.source for e in prepared)


def test_report_dicts_are_the_manifests_rows(prepared) -> None:
    assert InputTable.from_entries(prepared).report_dicts() == [e.report.as_dict() for e in prepared]


def test_the_tables_batches_and_edits_are_its_entries_in_order(prepared) -> None:
    table = InputTable.from_entries(prepared)
    assert list(table.paragraph_batches()) == [b for e in prepared for b in e.paragraph_batches()]
    with_edits = [e.edit_table() for e in prepared if e.edit_rows != 0]
    assert with_edits and [t.equals(u) for t, u in zip(table.edit_tables(), with_edits, strict=True)] == [True] * len(with_edits)
    assert list(table[1:3].paragraph_batches()) == [b for e in prepared[1:3] for b in e.paragraph_batches()]
