"""Unit tests for the audit queries, diffs, overrides and report data, on a small hand-built output.

The output is written with the real writer (``write_outputs``) and has the
contract's columns; its rows are built from texts and edits here, so every
expected value below is derived from what the fixture put in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from corpusclean import audit, overrides as ov
from corpusclean.cli import app
from corpusclean.diff import condense, tokenize, word_diff
from corpusclean.edits import Edit, replay_edits, sequence_edits
from corpusclean.report import Budget, report_data, write_report
from corpusclean.segment import join_lines
from corpusclean.write import write_outputs

KEPT_TEXT = "The quick brown fox jumps over the lazy dog near the river bank today"
# (id, source, index, original_text, edits in one pass on join_lines(original))
KEPT = [
    ("a000000000000001", "a.txt", 0, KEPT_TEXT, []),
    ("a000000000000002", "a.txt", 1, "Karl Licbknccht met Radck in\nBerlin.", [
        Edit("ocr", "confusion c>e c>e", 5, "Licbknccht", "Liebknecht", 1.0),
        Edit("ocr", "confusion c>e", 20, "Radck", "Radek", 0.93),
    ]),
    ("b000000000000001", "b.txt", 0, "A paragraph with no duplicate at all.", [
        Edit("encoding", "lost-lead-byte", 0, "A", "A", None),
    ]),
]
# (id, source, index, text, kept twin, method, similarity)
REMOVED = [
    ("a000000000000003", "a.txt", 2, KEPT_TEXT, "a000000000000001", "exact", 1.0),
    ("b000000000000002", "b.txt", 1, "The quick brown fox jumps over the lazy dog near the river bank", "a000000000000001", "near", 0.82),
    ("b000000000000003", "b.txt", 2, "quick brown fox jumps over the lazy dog", "a000000000000001", "contained", 0.95),
]


def _paragraph_rows() -> tuple[list[dict], list[dict], list[dict]]:
    kept, removed, corrections = [], [], []
    twins: dict[str, int] = {}
    for _, _, _, _, twin, _, _ in REMOVED:
        twins[twin] = twins.get(twin, 0) + 1
    offset = 0
    for pid, source, index, original, edits in KEPT:
        text = join_lines(original)
        ordered = sequence_edits(edits)
        clean = replay_edits(text, ordered)
        for n, e in enumerate(ordered):
            corrections.append({"paragraph_id": pid, "stage": e.stage, "rule": e.rule, "position": e.position,
                                "before": e.before, "after": e.after, "confidence": e.confidence, "edit_index": n})
        kept.append({"paragraph_id": pid, "source": source, "paragraph_index": index, "start_offset": offset,
                     "end_offset": offset + len(original), "original_text": original, "text": clean,
                     "cluster_id": pid if pid in twins else None, "duplicates_removed": twins.get(pid, 0),
                     "word_count": len(clean.split()), "char_count": len(clean), "edit_count": len(ordered)})
    for pid, source, index, text, twin, method, similarity in REMOVED:
        removed.append({"paragraph_id": pid, "source": source, "paragraph_index": index, "start_offset": 0,
                        "end_offset": len(text), "original_text": text, "text": text, "cluster_id": twin,
                        "kept_paragraph_id": twin, "method": method, "similarity": similarity,
                        "estimated_similarity": None if method == "exact" else similarity,
                        "word_count": len(text.split()), "char_count": len(text), "edit_count": 0})
    return kept, removed, corrections


KEPT_SCHEMA = pa.schema([("paragraph_id", pa.string()), ("source", pa.string()), ("paragraph_index", pa.int64()),
                         ("start_offset", pa.int64()), ("end_offset", pa.int64()), ("original_text", pa.string()),
                         ("text", pa.string()), ("cluster_id", pa.string()), ("duplicates_removed", pa.int64()),
                         ("word_count", pa.int64()), ("char_count", pa.int64()), ("edit_count", pa.int64())])
REMOVED_SCHEMA = pa.schema([*[f for f in KEPT_SCHEMA if f.name not in ("duplicates_removed", "word_count", "char_count", "edit_count")],
                            ("kept_paragraph_id", pa.string()), ("method", pa.string()), ("similarity", pa.float64()),
                            ("estimated_similarity", pa.float64()), ("word_count", pa.int64()), ("char_count", pa.int64()),
                            ("edit_count", pa.int64())])
CORRECTIONS_SCHEMA = pa.schema([("paragraph_id", pa.string()), ("stage", pa.string()), ("rule", pa.string()),
                                ("position", pa.int64()), ("before", pa.string()), ("after", pa.string()),
                                ("confidence", pa.float64()), ("edit_index", pa.int64())])


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    kept, removed, corrections = _paragraph_rows()
    sort = [("source", "ascending"), ("paragraph_index", "ascending")]
    tables = {
        "paragraphs": pa.Table.from_pylist(kept, KEPT_SCHEMA).sort_by(sort),
        "duplicates": pa.Table.from_pylist(removed, REMOVED_SCHEMA).sort_by(sort),
        "corrections": pa.Table.from_pylist(corrections, CORRECTIONS_SCHEMA),
    }
    manifest = {"run_id": "test-run", "config": {"threshold": 0.8, "containment_threshold": 0.9},
                "inputs": [{"source": s, "status": "read", "format": "text", "encoding": "utf-8", "size_bytes": 1,
                            "reason": None, "warnings": []} for s in ("a.txt", "b.txt")],
                "counts": {}}
    write_outputs(tmp_path / "out", tables, manifest)
    return tmp_path / "out"


def _all(out: Path, name: str) -> list[dict]:
    return ds.dataset(out / name).to_table().to_pylist()


# --- queries --------------------------------------------------------------------------------------


def test_summary_counts_come_from_the_data(out):
    s = audit.summary(audit.open_output(out))
    assert s["paragraphs"] == {"in": len(KEPT) + len(REMOVED), "kept": len(KEPT), "removed": len(REMOVED),
                               "removed_by_method": {"contained": 1, "exact": 1, "near": 1}}
    assert s["edits"]["total"] == sum(len(e) for *_, e in KEPT)
    assert s["edits"]["by_stage"] == {"encoding": 1, "ocr": 2}
    assert s["clusters"] == 1


def test_inputs_join_manifest_and_counts(out):
    rows = {r["source"]: r for r in audit.inputs(audit.open_output(out)).to_pylist()}
    assert rows["a.txt"]["kept"] == 2 and rows["a.txt"]["removed"] == 1 and rows["a.txt"]["edits"] == 2
    assert rows["b.txt"]["kept"] == 1 and rows["b.txt"]["removed"] == 2 and rows["b.txt"]["status"] == "read"


def test_least_similar_and_lowest_confidence_order(out):
    output = audit.open_output(out)
    least = audit.least_similar_removals(output, 2).to_pylist()
    assert [r["similarity"] for r in least] == sorted(r[6] for r in REMOVED)[:2]
    assert least[0]["kept_text"] == KEPT_TEXT
    low = audit.lowest_confidence_edits(output, 5).to_pylist()
    assert [r["confidence"] for r in low] == [0.93, 1.0]  # the encoding edit has no confidence: left out


def test_clusters_and_histogram_cover_every_removal(out):
    output = audit.open_output(out)
    (c,) = audit.clusters(output, "largest", 10).to_pylist()
    assert c["removed"] == 3 and c["kept_paragraph_id"] == "a000000000000001" and c["methods"] == "contained,exact,near"
    assert c["min_similarity"] == 0.82
    h = audit.similarity_histogram(output, bins=10)
    assert sum(sum(v) for v in h["counts"].values()) == len(REMOVED)
    assert h["edges"][0] == 0.8 and h["edges"][-1] == 1.0
    assert h["counts"]["exact"][-1] == 1  # 1.0 lands in the last bin


def test_paragraph_detail_for_a_removal_has_its_twin_and_diff(out):
    d = audit.paragraph(audit.open_output(out), "b000000000000002")
    assert d["row"]["status"] == "removed" and d["twin"]["paragraph_id"] == "a000000000000001"
    assert "".join(op.a for op in d["diff"]) == d["row"]["text"]
    assert "".join(op.b for op in d["diff"]) == KEPT_TEXT
    assert d["diff_stats"]["only_right"] == 1  # "today"


def test_paragraph_detail_highlights_edits(out):
    d = audit.paragraph(audit.open_output(out), "a000000000000002")
    assert "".join(s.text for s in d["segments"]) == d["row"]["text"]
    assert [s.text for s in d["segments"] if s.edit] == ["Liebknecht", "Radek"]
    kept = audit.paragraph(audit.open_output(out), "a000000000000001")
    assert {r["paragraph_id"] for r in kept["removed"]} == {r[0] for r in REMOVED}


def test_cluster_and_source_detail(out):
    output = audit.open_output(out)
    c = audit.cluster(output, "a000000000000001")
    assert len(c["kept"]) == 1 and c["removed_total"] == 3
    assert [r["similarity"] for r in c["removed"]] == sorted(r[6] for r in REMOVED)
    s = audit.source(output, "b.txt")
    assert [r["paragraph_index"] for r in s["paragraphs"]] == [0, 1, 2]
    assert [r["status"] for r in s["paragraphs"]] == ["kept", "removed", "removed"]


def test_unknown_ids_and_missing_outputs_are_usage_errors(out, tmp_path):
    output = audit.open_output(out)
    for call in (lambda: audit.paragraph(output, "nope"), lambda: audit.cluster(output, "nope"),
                 lambda: audit.source(output, "nope.txt"), lambda: audit.edit(output, "a000000000000002:9")):
        with pytest.raises(audit.UnknownId):
            call()
    with pytest.raises(audit.AuditError):
        audit.open_output(tmp_path / "missing")
    with pytest.raises(audit.AuditError):
        audit.parse_edit_id("no-index")


# --- diffs ----------------------------------------------------------------------------------------

texts = st.lists(st.sampled_from(["the", "fox", "dog", "Fox", "lazy", "a", "\n", "  "]), max_size=30).map(" ".join)


@given(texts, texts)
@settings(max_examples=200, deadline=None)
def test_word_diff_rebuilds_both_sides(a, b):
    ops = word_diff(a, b)
    assert "".join(op.a for op in ops) == a and "".join(op.b for op in ops) == b
    assert all(op.a.split() == op.b.split() for op in ops if op.kind == "equal")


def test_condense_keeps_the_ends_of_long_runs():
    long = " ".join(f"w{i}" for i in range(100))
    ops = condense(word_diff("x y z", f"{long} x y z {long}"))
    assert "[88 words]" in ops[0].b and ops[0].b.endswith("w99 ")
    assert "x y z" in "".join(op.b for op in ops)
    assert tokenize("a  b\nc") == ["a  ", "b\n", "c"]


# --- rejecting an edit ----------------------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3), st.text("xyz", max_size=4)), min_size=1, max_size=5), st.data())
@settings(max_examples=300, deadline=None)
def test_without_edit_equals_replaying_the_others(spec, data):
    """Rejecting a single-pass edit gives what the same pass without it would have given."""
    base = "abcdefghijklmnopqrstuvwxyz0123456789"
    edits, last_end = [], -1
    for position, length, after in sorted(spec):
        if position < last_end or position + length > len(base):
            continue
        edits.append(Edit("ocr", "r", position, base[position:position + length], after, 1.0))
        last_end = position + length
    rows = [{"edit_index": n, "stage": e.stage, "rule": e.rule, "position": e.position, "before": e.before,
             "after": e.after, "confidence": e.confidence} for n, e in enumerate(sequence_edits(edits))]
    k = data.draw(st.integers(0, len(rows) - 1))
    result = ov.without_edit(base, rows, k)
    others = [e for n, e in enumerate(edits) if n != k]
    assert result.text == replay_edits(base, sequence_edits(others))
    assert result.dropped == [k] and [r["edit_index"] for r in result.kept] == list(range(len(others)))


def test_without_edit_drops_a_later_edit_on_the_same_word():
    base = "Licbkncchl was here"
    rows = [
        {"edit_index": 0, "stage": "encoding", "rule": "e", "position": 0, "before": "Licbkncchl", "after": "Liebknechl", "confidence": None},
        {"edit_index": 1, "stage": "ocr", "rule": "l>t", "position": 9, "before": "l", "after": "t", "confidence": 1.0},
        {"edit_index": 2, "stage": "ocr", "rule": "h", "position": 15, "before": "here", "after": "there", "confidence": 1.0},
    ]
    result = ov.without_edit(base, rows, 0)
    assert result.text == "Licbkncchl was there" and result.dropped == [0, 1]


def test_undo_rejected_takes_a_rejected_encoding_fix_back_out():
    overrides = ov.Overrides(rejected_edits=(ov.RejectedEdit("p", 0, "encoding", "lost-lead-byte", "€œ", "“"),))
    edits = [Edit("encoding", "lost-lead-byte", 0, "€œ", "“"), Edit("encoding", "x", 6, "b", "B")]
    text, kept = ov.undo_rejected("“Hi a B", edits, "p", overrides)
    assert text == "€œHi a B" and kept == [Edit("encoding", "x", 7, "b", "B")]
    assert ov.undo_rejected("“Hi a B", edits, "other", overrides) == ("“Hi a B", edits)


# --- restore and reject on an output ----------------------------------------------------------------


def _invariants(out: Path) -> None:
    kept, removed = _all(out, "paragraphs"), _all(out, "duplicates")
    ids = [r["paragraph_id"] for r in kept + removed]
    assert len(ids) == len(set(ids)) == len(KEPT) + len(REMOVED)
    keys = [(r["source"], r["paragraph_index"]) for r in kept]
    assert keys == sorted(keys)
    counts: dict[str, int] = {}
    for r in removed:
        counts[r["kept_paragraph_id"]] = counts.get(r["kept_paragraph_id"], 0) + 1
    assert all(r["duplicates_removed"] == counts.get(r["paragraph_id"], 0) for r in kept)


def test_restore_moves_a_removal_back_and_records_it(out):
    result = ov.restore(out, ["b000000000000002"])
    assert [r.paragraph_id for r in result.restored] == ["b000000000000002"]
    _invariants(out)
    row = audit.paragraph(audit.open_output(out), "b000000000000002")["row"]
    assert row["status"] == "kept" and row["cluster_id"] == "a000000000000001"
    assert ov.load_overrides(out).kept_paragraph_ids == {"b000000000000002"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["paragraphs"]["removed"] == len(REMOVED) - 1
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]
    assert not [p for p in (out / ".runs").iterdir() if p.name.startswith(".tmp-")]
    assert "b000000000000002" in (out / "report.html").read_text()  # the report was rewritten with the change


def test_restore_a_whole_cluster_then_again_is_harmless(out):
    ov.restore(out, cluster_id="a000000000000001")
    _invariants(out)
    assert _all(out, "duplicates") == []
    again = ov.restore(out, ["b000000000000003"])
    assert again.restored == () and again.already == ("b000000000000003",)
    with pytest.raises(audit.UnknownId):
        ov.restore(out, ["nope"])


def test_reject_edit_rebuilds_text_and_feeds_do_not_fix(out):
    result = ov.reject_edit(out, "a000000000000002:0")
    assert result.text == "Karl Licbknccht met Radek in Berlin."
    rows = [r for r in _all(out, "corrections") if r["paragraph_id"] == "a000000000000002"]
    assert [(r["edit_index"], r["before"]) for r in rows] == [(0, "Radck")]
    para = audit.paragraph(audit.open_output(out), "a000000000000002")
    assert para["row"]["text"] == result.text and para["row"]["edit_count"] == 1
    assert "".join(s.text for s in para["segments"]) == result.text  # the rewritten edits still replay
    loaded = ov.load_overrides(out)
    assert loaded.do_not_fix_words == ("Licbknccht",)
    assert loaded.filter_substitutions({"licbknccht": "Liebknecht", "Radck": "Radek"}) == {"Radck": "Radek"}
    with pytest.raises(audit.UnknownId):
        ov.reject_edit(out, "a000000000000002:5")


# --- report data and CLI ----------------------------------------------------------------------------


def test_report_data_respects_the_budget(out):
    data = report_data(out, Budget(removals=1, per_cluster=2, corrections=1))
    (cluster,) = data["clusters"]
    assert cluster["n"] == 3 and len(cluster["removed"]) == 2
    assert [r[4] for r in cluster["removed"]] == [0.82, 0.95]
    everything = report_data(out, Budget(removals=len(REMOVED), per_cluster=1, per_exact_cluster=1))
    assert len(everything["clusters"][0]["removed"]) == len(REMOVED)  # it all fits: no per-cluster cap
    assert len(data["corrections"]) == 1 and data["corrections_total"] == 3
    assert data["corrections"][0][6] == 0.93 and data["corrections"][0][8].startswith(" in Berlin")


def test_report_of_tables_in_memory_is_the_report_of_their_files(out):
    """The flow builds the report from the tables it is writing: the page must be the one the files give."""
    tables = {name: pq.read_table(out / name) for name in audit.DATASETS}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    in_memory = report_data(audit.Output(out, tables, manifest), Budget(removals=2, per_cluster=2, corrections=2))
    from_files = report_data(out, Budget(removals=2, per_cluster=2, corrections=2))
    for data in (in_memory, from_files):
        data.pop("generated_at")
    assert in_memory == from_files and in_memory["clusters"] and in_memory["corrections"]


def test_report_file_is_self_contained(out, tmp_path):
    path = write_report(out, tmp_path / "r.html")
    page = path.read_text()
    assert "__DATA__" not in page and "<script src" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "a000000000000001" in page


def test_cli_exit_codes(out, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "Least similar removals" in ok.output and "b000000000000002" in ok.output
    assert runner.invoke(app, ["audit", str(out), "--paragraph", "b000000000000002"]).exit_code == 0
    assert runner.invoke(app, ["audit", str(out), "--paragraph", "nope"]).exit_code == 2
    assert runner.invoke(app, ["audit", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["restore", str(out)]).exit_code == 2
    assert runner.invoke(app, ["restore", str(out), "--reject-edit", "bad"]).exit_code == 2
    assert runner.invoke(app, ["report", str(out), "-o", str(tmp_path / "x.html")]).exit_code == 0
    (out / "corrections").unlink()  # a published name is a link into the current snapshot
    assert runner.invoke(app, ["report", str(out)]).exit_code == 2


# --- what the next run calls --------------------------------------------------------------------------


def test_restore_verdicts_moves_rows_back_to_kept(out):
    from corpusclean.verdicts import VERDICT_SCHEMA, split_rows

    stats = ["word_count", "char_count", "edit_count"]
    kept = ds.dataset(out / "paragraphs").to_table().drop_columns(stats)
    removed = ds.dataset(out / "duplicates").to_table().drop_columns(stats)
    rows = kept.to_pylist() + removed.to_pylist()
    verdicts = pa.Table.from_pylist([{n: r.get(n) for n in VERDICT_SCHEMA.names} | {"duplicates_removed": r.get("duplicates_removed", 0)}
                                     for r in rows], VERDICT_SCHEMA)  # fmt: skip
    paragraphs = pa.Table.from_pylist([{n: r[n] for n in kept.column_names[:7]} for r in rows])
    ids = paragraphs.column("paragraph_id")
    overrides = ov.Overrides(restored=(ov.Restore("b000000000000002", None, None, None, None),))
    new_kept, new_removed = split_rows(paragraphs, ov.restore_verdicts(verdicts, ids, overrides))
    assert new_kept.num_rows == kept.num_rows + 1 and new_removed.num_rows == removed.num_rows - 1
    counts = dict(zip(new_kept.column("paragraph_id").to_pylist(), new_kept.column("duplicates_removed").to_pylist()))
    assert counts["a000000000000001"] == len(REMOVED) - 1 and counts["b000000000000002"] == 0
    back = new_kept.filter(pc.equal(new_kept.column("paragraph_id"), "b000000000000002")).to_pylist()[0]
    assert back["cluster_id"] == "a000000000000001"  # it stays in its cluster
    assert ov.restore_verdicts(verdicts, ids, ov.Overrides()) is verdicts


def test_apply_rejections_rebuilds_a_stage_output():
    from corpusclean.edits import edits_to_table

    paragraphs = pa.table({"paragraph_id": ["p", "q"], "text": ["“Hi a B", "€œ kept"]})
    edits = edits_to_table(["p", "q"], [[Edit("encoding", "lost-lead-byte", 0, "€œ", "“"), Edit("encoding", "x", 6, "b", "B")], []])
    overrides = ov.Overrides(rejected_edits=(ov.RejectedEdit("p", 0, "encoding", "lost-lead-byte", "€œ", "“"),))
    new_paragraphs, new_edits = ov.apply_rejections(paragraphs, edits, overrides)
    assert new_paragraphs.column("text").to_pylist() == ["€œHi a B", "€œ kept"]
    assert new_edits.to_pylist() == [{"paragraph_id": "p", "stage": "encoding", "rule": "x", "position": 7,
                                      "before": "b", "after": "B", "confidence": None}]
