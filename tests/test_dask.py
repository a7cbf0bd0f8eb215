"""Scale-out: the flow's shard tasks on an existing Dask cluster give the single-process result."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest

from conftest import SEEDS

pytestmark = pytest.mark.slow


def _rows(out, name):
    table = ds.dataset(out / name).to_table()
    return table.sort_by([(c, "ascending") for c in ("paragraph_id",)]).to_pylist() if "paragraph_id" in table.column_names else []


def test_dask_cluster_run_equals_local_run(prefect_harness, tmp_path, monkeypatch):
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from flows.clean_corpus import clean_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # Several files so that there are several shards to spread over the workers.
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        for part in range(3):
            (corpus / f"{seed.stem}-{part}.txt").write_text(text[part * len(text) // 3 :], encoding="utf-8")

    from corpusclean import pipeline

    monkeypatch.setattr(pipeline, "SHARD_TARGET_BYTES", 20_000)  # several shards from a small corpus
    local = tmp_path / "local"
    clean_corpus(paths=[str(corpus)], out=str(local), config={"workers": 1})

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        distributed = tmp_path / "dask"
        flow = clean_corpus.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        manifest = flow(paths=[str(corpus)], out=str(distributed), config={"dask_address": cluster.scheduler_address})
        assert manifest["execution"]["task_runner"] == f"dask {cluster.scheduler_address}"
        assert manifest["execution"]["prepare_shards"] > 2

    for name in ("paragraphs", "duplicates", "corrections"):
        assert _rows(local, name) == _rows(distributed, name), name
