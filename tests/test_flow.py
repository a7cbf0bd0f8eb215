"""End to end: the real Prefect flow on the seeds, under one session-scoped test harness."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest
import regex

from corpusclean.read import InputFile, read_input
from conftest import SEEDS

pytestmark = pytest.mark.slow


def _space_free(text: str) -> str:
    return regex.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def seeds_run(prefect_harness, tmp_path_factory):
    from flows.clean_corpus import clean_corpus

    out = tmp_path_factory.mktemp("seeds-run")
    manifest = clean_corpus(paths=[str(SEEDS)], out=str(out), config={})
    return out, manifest


def _tables(out: Path):
    kept = ds.dataset(out / "paragraphs").to_table().to_pandas()
    removed = ds.dataset(out / "duplicates").to_table().to_pandas()
    corrections = ds.dataset(out / "corrections").to_table().to_pandas()
    return kept, removed, corrections


def test_outputs_exist_and_are_readable_everywhere(seeds_run):
    out, manifest = seeds_run
    for name in ("paragraphs", "duplicates", "corrections"):
        assert (out / name).is_dir()
        n_arrow = ds.dataset(out / name).count_rows()
        assert len(pd.read_parquet(out / name)) == n_arrow
        assert pl.read_parquet(out / name / "*.parquet").height == n_arrow
        assert duckdb.sql(f"select count(*) from '{out / name}/*.parquet'").fetchall()[0][0] == n_arrow
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["run_id"] == manifest["run_id"]
    assert {i["source"] for i in on_disk["inputs"]} == {p.name for p in SEEDS.glob("*.txt")}
    assert all(len(i["sha256"]) == 64 for i in on_disk["inputs"])


def test_conservation_every_paragraph_once_and_sources_rebuild(seeds_run):
    out, manifest = seeds_run
    kept, removed, _ = _tables(out)
    both = pd.concat([kept, removed])
    assert both["paragraph_id"].is_unique
    assert manifest["counts"]["paragraphs"]["in"] == len(both)
    for path in sorted(SEEDS.glob("*.txt")):
        document, _ = read_input(InputFile(path, path.name))
        rows = both[both["source"] == path.name].sort_values("paragraph_index")
        assert list(rows["paragraph_index"]) == list(range(len(rows)))
        assert _space_free("".join(rows["original_text"])) == _space_free(document.text)


def test_heading_kept_once(seeds_run):
    out, _ = seeds_run
    kept, removed, _ = _tables(out)
    is_heading = lambda s: s.str.strip().str.lower() == "stalin and lenin relationship"  # noqa: E731
    assert is_heading(kept["text"]).sum() == 1
    heading_removed = removed[is_heading(removed["text"])]
    assert len(heading_removed) == 5 and set(heading_removed["method"]) == {"exact"}
    kept_id = kept[is_heading(kept["text"])]["paragraph_id"].iloc[0]
    assert set(heading_removed["kept_paragraph_id"]) == {kept_id}


def test_lost_lead_byte_is_repaired(seeds_run):
    out, _ = seeds_run
    kept, removed, corrections = _tables(out)
    texts = " ".join(pd.concat([kept, removed])["text"])
    assert "“Infected”" in texts and "€œ" not in texts
    rows = corrections[(corrections["stage"] == "encoding") & (corrections["before"] == "€œ")]
    assert list(rows["after"]) == ["“"]


def test_eight_days_earlier_is_contained_in_seed_003(seeds_run):
    out, _ = seeds_run
    kept, removed, _ = _tables(out)
    row = removed[removed["text"].str.startswith("Eight days earlier")]
    assert len(row) == 1
    twin = kept[kept["paragraph_id"] == row["kept_paragraph_id"].iloc[0]]
    assert twin["source"].iloc[0].startswith("003_")
    assert row["method"].iloc[0] in {"contained", "near"}


def test_every_removal_has_a_kept_twin_above_threshold(seeds_run):
    out, manifest = seeds_run
    kept, removed, _ = _tables(out)
    assert len(removed) > 0
    assert set(removed["kept_paragraph_id"]) <= set(kept["paragraph_id"])
    config = manifest["config"]
    near = removed[removed["method"] == "near"]
    assert (near["similarity"] >= config["threshold"]).all()
    contained = removed[removed["method"] == "contained"]
    assert (contained["similarity"] >= config["containment_threshold"]).all()
    assert (removed[removed["method"] == "exact"]["similarity"] == 1.0).all()


def test_same_input_gives_byte_identical_datasets(prefect_harness, seeds_run, tmp_path):
    from flows.clean_corpus import clean_corpus

    first, _ = seeds_run
    clean_corpus(paths=[str(SEEDS)], out=str(tmp_path), config={})
    for name in ("paragraphs", "duplicates", "corrections"):
        a = sorted((first / name).glob("*.parquet"))
        b = sorted((tmp_path / name).glob("*.parquet"))
        assert [p.name for p in a] == [p.name for p in b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def test_stages_can_be_switched_off(prefect_harness, tmp_path):
    from flows.clean_corpus import clean_corpus

    manifest = clean_corpus(paths=[str(SEEDS)], out=str(tmp_path), config={"encoding": False, "ocr": False, "dedup": False})
    kept, removed, corrections = _tables(tmp_path)
    assert len(removed) == 0 and len(corrections) == 0
    assert (kept["text"].str.replace(r"\s+", " ", regex=True) == kept["text"]).all()
    assert manifest["counts"]["paragraphs"]["kept"] == len(kept)


def test_hostile_inputs_do_not_stop_the_run(prefect_harness, tmp_path):
    from flows.clean_corpus import clean_corpus
    from test_hostile_inputs import make_hostile_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    expected = make_hostile_corpus(corpus)
    (corpus / "seed.txt").write_bytes((SEEDS / "000_d0508a1c4eebf247.txt").read_bytes())
    out = corpus / "out"  # the output directory inside the input is not read back
    manifest = clean_corpus(paths=[str(corpus)], out=str(out), config={"workers": 2})
    statuses = {i["source"]: i["status"] for i in manifest["inputs"]}
    assert {s: statuses[s] for s in expected} == {s: e[0] for s, e in expected.items()}
    assert not any(s.startswith("out/") for s in statuses)
    kept, removed, _ = _tables(out)
    both = pd.concat([kept, removed])
    assert both["paragraph_id"].is_unique
    read_sources = {s for s, st in statuses.items() if st != "skipped"}
    assert set(both["source"]) <= read_sources
    assert "seed.txt" in set(both["source"])


def test_char_shingles_find_the_same_seed_duplicates(prefect_harness, tmp_path):
    from flows.clean_corpus import clean_corpus

    manifest = clean_corpus(paths=[str(SEEDS)], out=str(tmp_path), config={"shingle": "char"})
    kept, removed, _ = _tables(tmp_path)
    assert manifest["config"]["shingle"] == "char"
    assert (kept["text"].str.strip().str.lower() == "stalin and lenin relationship").sum() == 1
    eight = removed[removed["text"].str.startswith("Eight days earlier")]
    assert len(eight) == 1 and kept.set_index("paragraph_id").loc[eight["kept_paragraph_id"].iloc[0], "source"].startswith("003_")


def test_the_flows_process_imports_no_stage_kernels_before_it_needs_them():
    """The console script and the flow import neither Numba nor DuckDB: the process holds what it imports
    through the OCR stage's peak, and only deduplication and the report need them (docs/flow.md)."""
    import subprocess
    import sys

    probe = "import sys, corpusclean.cli, flows.clean_corpus; print(sorted({'numba', 'duckdb', 'ftfy'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
