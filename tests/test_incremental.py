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


def test_cache_packs_entries_and_a_pack_counts_once_its_footer_is_written(tmp_path):
    """Many entries are one pack (two files); a pack cut short by a crash (no Arrow footer yet) lists no entry,
    a complete one round-trips, and retention drops dead packs and rewrites mostly dead ones."""
    import pyarrow as pa

    from corpusclean.cache import NewEntry, PreparedCache
    from corpusclean.edits import EDIT_SCHEMA, Edit, edits_to_table
    from corpusclean.read import FileReport
    from corpusclean.segment import segment_document

    cache = PreparedCache(tmp_path / "prepared")
    texts = ["One.\n\nTwo, three.\n", "", "Four \u00e2\u20ac\u0153five.\n"]
    tables = [segment_document(f"{i}.txt", text) for i, text in enumerate(texts)]
    reports = [FileReport(f"{i}.txt", f"/x/{i}.txt", sha256=str(i) * 64, paragraphs=t.num_rows, warnings=["w"]) for i, t in enumerate(tables)]
    edits = [EDIT_SCHEMA.empty_table(), EDIT_SCHEMA.empty_table(),
             edits_to_table([tables[2].column("paragraph_id")[0].as_py()], [[Edit("encoding", "mojibake", 5, "\u00e2\u20ac\u0153", "\u201c", 1.0)]])]
    put = cache.put_many([NewEntry(f"k{i}", t, e, r, {}) for i, (t, e, r) in enumerate(zip(tables, edits, reports))])
    assert sorted(p.suffixes[-2:] == [".edits", ".arrow"] for p in (tmp_path / "prepared").iterdir()) == [False, True]
    got = cache.get_many(["k0", "k1", "k2", "missing"])
    assert got["missing"] is None
    for i, entry in enumerate(put):
        found = got[f"k{i}"]
        assert found is not None and found.cached and found.report == reports[i] and found.rows == tables[i].num_rows
        assert pa.Table.from_batches(list(found.paragraph_batches()), schema=tables[i].schema).equals(tables[i])
        assert found.edit_rows == edits[i].num_rows and found.edit_table().equals(edits[i])
        assert found.paragraphs == entry.paragraphs
    whole = put[0].paragraphs.read_bytes()
    put[0].paragraphs.write_bytes(whole[: len(whole) // 2])  # a crash mid-write
    assert cache.get("k0") is None and cache.get("k2") is None
    assert cache.retain(["k0"]) == 0 and list((tmp_path / "prepared").iterdir()) == []  # the broken pack is gone
    first = cache.put_many([NewEntry(f"a{i}", tables[0], EDIT_SCHEMA.empty_table(), reports[0], {}) for i in range(4)])
    second = cache.put_many([NewEntry(f"b{i}", tables[2], edits[2], reports[2], {}) for i in range(3)])
    assert cache.retain(["a0", "a1", "b0"]) == 2  # a half-live pack stays whole; b's one live entry of three is moved
    assert first[0].paragraphs.exists() and not second[0].paragraphs.exists() and not second[0].edits.exists()
    after = cache.get_many(["a0", "a1", "a2", "b0", "b1"])
    assert [k for k, v in after.items() if v is not None] == ["a0", "a1", "a2", "b0"]  # a2 lives on in a's pack
    assert after["b0"].edit_table().equals(edits[2]) and after["b0"].paragraphs != second[0].paragraphs
    (tmp_path / "prepared" / "pack-orphan.edits.arrow").write_bytes(b"edits whose pack never got written")
    (tmp_path / "prepared" / "k9.arrow").write_bytes(b"an entry of the one-file-per-input format")
    assert cache.retain([]) == 5 and list((tmp_path / "prepared").iterdir()) == []
    assert PreparedCache(tmp_path / "never-written").get_many(["k2"]) == {"k2": None}
