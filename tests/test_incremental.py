"""Scheduled use: incremental runs equal a full run; changed and deleted inputs are handled."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from conftest import SEEDS

pytestmark = pytest.mark.slow

NAMES = ("paragraphs", "duplicates", "corrections")


def _snapshot(out):
    rows = {}
    for name in NAMES:
        table = ds.dataset(out / name).to_table()
        keys = [c for c in ("paragraph_id", "edit_index") if c in table.column_names]
        rows[name] = table.sort_by([(k, "ascending") for k in keys]).to_pylist()
    return rows


def _corpus(tmp_path):
    """Five files cut from the seeds: they share paragraphs, so there are duplicates across files."""
    corpus = tmp_path / "inbox"
    corpus.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    parts = {
        "a.txt": texts[0][:6000],
        "b.txt": texts[0][4000:],
        "c.txt": texts[1][:9000],
        "d.txt": texts[1][7000:] + "\n\n" + texts[0][:3000],
        "e.txt": texts[0][2000:8000],
    }
    return corpus, parts


def test_incremental_runs_equal_a_full_run(prefect_harness, tmp_path):
    from flows.clean_corpus import clean_corpus

    corpus, parts = _corpus(tmp_path)
    out = tmp_path / "nightly"
    names = list(parts)
    manifests = []
    for batch in (names[:2], names[2:4], names[4:]):  # three nights, new files each night
        for name in batch:
            (corpus / name).write_text(parts[name], encoding="utf-8")
        manifests.append(clean_corpus(paths=[str(corpus)], out=str(out), config={}))
    assert [m["incremental"]["new"] for m in manifests] == [2, 2, 1]
    assert [m["incremental"]["reused_from_cache"] for m in manifests] == [0, 2, 4]

    full = tmp_path / "full"
    clean_corpus(paths=[str(corpus)], out=str(full), config={"incremental": False})
    assert _snapshot(out) == _snapshot(full)
    assert len(_snapshot(out)["duplicates"]) > 0


def test_changed_and_deleted_inputs(prefect_harness, tmp_path):
    from flows.clean_corpus import clean_corpus

    corpus, parts = _corpus(tmp_path)
    for name in ("a.txt", "c.txt", "e.txt"):
        (corpus / name).write_text(parts[name], encoding="utf-8")
    out = tmp_path / "out"
    clean_corpus(paths=[str(corpus)], out=str(out), config={})
    before = _snapshot(out)
    old_c_ids = {r["paragraph_id"] for r in before["paragraphs"] + before["duplicates"] if r["source"] == "c.txt"}

    (corpus / "c.txt").write_text(parts["c.txt"].replace("Lenin", "Ilyich"), encoding="utf-8")
    manifest = clean_corpus(paths=[str(corpus)], out=str(out), config={})
    assert manifest["incremental"]["changed"] == 1 and manifest["incremental"]["unchanged"] == 2
    after = _snapshot(out)
    rows_c = [r for r in after["paragraphs"] + after["duplicates"] if r["source"] == "c.txt"]
    assert rows_c and not old_c_ids & {r["paragraph_id"] for r in rows_c}
    assert "Ilyich" in " ".join(r["text"] for r in rows_c)

    (corpus / "a.txt").unlink()
    manifest = clean_corpus(paths=[str(corpus)], out=str(out), config={"keep_deleted": True})
    assert manifest["incremental"]["deleted_inputs"] == ["a.txt"]
    assert any(r["source"] == "a.txt" for r in _snapshot(out)["paragraphs"])
    manifest = clean_corpus(paths=[str(corpus)], out=str(out), config={})
    assert manifest["incremental"]["deleted_inputs"] == ["a.txt"] and manifest["incremental"]["deleted_rows"] == "retired"
    assert not any(r["source"] == "a.txt" for r in _snapshot(out)["paragraphs"] + _snapshot(out)["duplicates"])
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["run_id"] == manifest["run_id"]


def test_next_run_honours_restores_and_rejected_edits(prefect_harness, tmp_path):
    from corpusclean import overrides
    from flows.clean_corpus import clean_corpus

    out = tmp_path / "out"
    clean_corpus(paths=[str(SEEDS)], out=str(out), config={})
    before = _snapshot(out)
    contained = next(r for r in before["duplicates"] if r["method"] == "contained")
    ocr_edit = next(r for r in before["corrections"] if r["stage"] == "ocr")
    encoding_edit = next(r for r in before["corrections"] if r["stage"] == "encoding")
    overrides.restore(out, paragraph_ids=[contained["paragraph_id"]])
    overrides.reject_edit(out, f"{ocr_edit['paragraph_id']}:{ocr_edit['edit_index']}")
    overrides.reject_edit(out, f"{encoding_edit['paragraph_id']}:{encoding_edit['edit_index']}")

    manifest = clean_corpus(paths=[str(SEEDS)], out=str(out), config={})
    after = _snapshot(out)
    assert contained["paragraph_id"] in {r["paragraph_id"] for r in after["paragraphs"]}
    assert contained["paragraph_id"] not in {r["paragraph_id"] for r in after["duplicates"]}
    changes = {(r["stage"], r["before"], r["after"]) for r in after["corrections"]}
    assert ("ocr", ocr_edit["before"], ocr_edit["after"]) not in changes
    assert ("encoding", encoding_edit["before"], encoding_edit["after"]) not in changes
    assert ocr_edit["before"] in manifest["overrides"]["do_not_fix_words"]
    assert manifest["incremental"]["reused_from_cache"] == 0  # new overrides invalidate the cache


def test_cache_entry_is_one_file_whose_footer_commits_it(tmp_path):
    """An entry cut short by a crash (no Arrow footer yet) is not found; a complete one round-trips."""
    import pyarrow as pa

    from corpusclean.cache import PreparedCache
    from corpusclean.edits import EDIT_SCHEMA
    from corpusclean.read import FileReport
    from corpusclean.segment import segment_document

    cache = PreparedCache(tmp_path / "prepared")
    paragraphs = segment_document("a.txt", "One.\n\nTwo, three.\n")
    report = FileReport("a.txt", "/x/a.txt", sha256="0" * 64, paragraphs=paragraphs.num_rows, warnings=["w"])
    put = cache.put("k1", paragraphs, EDIT_SCHEMA.empty_table(), report, {})
    got = cache.get("k1")
    assert got is not None and got.report == report and got.rows == 2 and got.edit_rows == 0 and got.cached
    assert got.paragraphs == put.paragraphs and pa.ipc.open_file(pa.memory_map(str(got.paragraphs))).read_all().equals(paragraphs)
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == ["k1.arrow"]
    whole = got.paragraphs.read_bytes()
    got.paragraphs.write_bytes(whole[: len(whole) // 2])  # a crash mid-write
    assert cache.get("k1") is None
    assert cache.get("missing") is None
    cache.put("k1", paragraphs, EDIT_SCHEMA.empty_table(), report, {})
    cache.put("k2", paragraphs, EDIT_SCHEMA.empty_table(), report, {})
    assert cache.retain(["k2"]) == 1 and cache.get("k1") is None and cache.get("k2") is not None
    many = cache.get_many(["k1", "k2", "missing"])
    assert many == {"k1": None, "k2": cache.get("k2"), "missing": None}
    assert PreparedCache(tmp_path / "never-written").get_many(["k2"]) == {"k2": None}
