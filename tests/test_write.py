import json
import os

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".runs"]


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
    assert [p.name for p in (tmp_path / ".runs").iterdir() if p.name.startswith(".tmp")] == []


def test_clean_stale_removes_leftovers_of_killed_runs(tmp_path):
    write_outputs(tmp_path, _tables(3), {"run_id": "good"})
    (tmp_path / ".runs" / ".tmp-abc").mkdir()
    (tmp_path / ".work-abc").mkdir()
    os.symlink("nowhere", tmp_path / ".current-dead")
    clean_stale(tmp_path)
    assert ds.dataset(tmp_path / "paragraphs").count_rows() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".runs", "corrections", "current", "duplicates", "manifest.json", "paragraphs", "report.html"]
    assert [p.name for p in (tmp_path / ".runs").iterdir() if p.name.startswith(".")] == []


def test_every_run_is_one_snapshot_and_old_ones_are_dropped(tmp_path):
    for run in range(4):
        write_outputs(tmp_path, _tables(run + 1), {"run_id": f"r{run}"})
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert manifest["run_id"] == f"r{run}" and ds.dataset(tmp_path / "paragraphs").count_rows() == run + 1
    assert len([p for p in (tmp_path / ".runs").iterdir()]) == write.KEEP_SNAPSHOTS


def test_old_layout_with_real_directories_is_migrated(tmp_path):
    (tmp_path / "paragraphs").mkdir()
    (tmp_path / "paragraphs" / "part-00000.parquet").write_bytes(b"old")
    (tmp_path / "manifest.json").write_text("{}")
    write_outputs(tmp_path, _tables(2), {"run_id": "new"})
    assert (tmp_path / "paragraphs").is_symlink() and ds.dataset(tmp_path / "paragraphs").count_rows() == 2


@settings(max_examples=100, deadline=None)
@given(
    inputs=st.lists(st.fixed_dictionaries({"source": st.text(), "paragraphs": st.integers(), "warnings": st.lists(st.text())}), max_size=5),
    extra=st.dictionaries(st.text(max_size=8), st.one_of(st.text(), st.integers(), st.none()), max_size=4),
)
def test_manifest_json_is_the_manifest_with_one_input_row_a_line(inputs, extra) -> None:
    manifest = {**extra, "inputs": inputs}
    text = write.manifest_json(manifest)
    assert json.loads(text) == manifest
    if inputs:
        lines = text.split("\n")  # not splitlines(): rows may hold U+0085 or U+2028, which JSON leaves as they are
        first = lines.index('  "inputs": [') + 1
        assert [json.loads(line.strip().rstrip(",")) for line in lines[first : first + len(inputs)]] == inputs
