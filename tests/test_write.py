import json

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from corpusclean import write
from corpusclean.write import clean_stale, write_outputs


def _tables(n: int) -> dict[str, pa.Table]:
    t = pa.table({"paragraph_id": [f"p{i}" for i in range(n)], "text": ["x"] * n})
    return {"paragraphs": t, "duplicates": t.slice(0, 0), "corrections": t.slice(0, min(n, 1))}


def test_outputs_are_datasets_with_manifest(tmp_path):
    written = write_outputs(tmp_path, _tables(5), {"run_id": "r1"})
    assert ds.dataset(tmp_path / "paragraphs").count_rows() == 5
    assert ds.dataset(tmp_path / "duplicates").count_rows() == 0  # empty, but schema readable
    assert ds.dataset(tmp_path / "duplicates").schema.names == ["paragraph_id", "text"]
    assert json.loads((tmp_path / "manifest.json").read_text())["run_id"] == "r1"
    assert written["paragraphs"] == ["paragraphs/part-00000.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_large_tables_are_split_into_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(write, "ROWS_PER_PART", 2)
    out = tmp_path / "d"
    write.write_dataset(pa.table({"a": list(range(5))}), out, rows_per_part=2)
    assert len(list(out.glob("*.parquet"))) == 3 and ds.dataset(out).count_rows() == 5


def test_failed_write_leaves_previous_output(tmp_path, monkeypatch):
    write_outputs(tmp_path, _tables(3), {"run_id": "good"})

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(write, "write_dataset", explode)
    with pytest.raises(OSError):
        write_outputs(tmp_path, _tables(7), {"run_id": "bad"})
    assert ds.dataset(tmp_path / "paragraphs").count_rows() == 3
    assert json.loads((tmp_path / "manifest.json").read_text())["run_id"] == "good"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging-")]


def test_clean_stale_restores_an_output_renamed_aside(tmp_path):
    write_outputs(tmp_path, _tables(3), {"run_id": "good"})
    # a run killed between its two renames
    (tmp_path / "paragraphs").rename(tmp_path / ".old-paragraphs-deadbeef")
    (tmp_path / ".staging-abc").mkdir()
    (tmp_path / ".work-abc").mkdir()
    clean_stale(tmp_path)
    assert ds.dataset(tmp_path / "paragraphs").count_rows() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrections", "duplicates", "manifest.json", "paragraphs"]
