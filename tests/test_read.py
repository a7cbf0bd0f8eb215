import codecs
import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from corpusclean.read import InputFile, decode_bytes, discover_inputs, read_input
from conftest import SEED_000, SEED_003, SEEDS


def _read(path, **kw):
    return read_input(InputFile(path, path.name), **kw)


def test_seed_reads_as_utf8():
    document, report = _read(SEED_000)
    assert report.status == "read" and report.encoding == "utf-8"
    assert document.text == SEED_000.read_text(encoding="utf-8")
    assert len(report.sha256) == 64


@pytest.mark.parametrize(
    "encoding,prefix",
    [("utf-16", b""), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", b"")],
)
def test_utf16_and_bom(tmp_path, encoding, prefix):
    text = SEED_000.read_text(encoding="utf-8")[:2000]
    path = tmp_path / "doc.txt"
    path.write_bytes(prefix + text.encode(encoding))
    document, report = _read(path)
    assert document.text.lstrip("\ufeff") == text
    assert report.status == "read"


def test_legacy_encodings_are_detected(tmp_path):
    text = "Les élèves ont étudié la révolution d’Octobre à Pétrograd. " * 20
    path = tmp_path / "latin.txt"
    path.write_bytes(text.replace("’", "'").encode("cp1252"))
    document, report = _read(path)
    assert document.text == text.replace("’", "'")
    assert report.encoding != "utf-8"


def test_invalid_utf8_bytes_are_replaced_and_recorded(tmp_path):
    good = SEED_003.read_bytes()[:3000]  # has UTF-8 curly quotes, so the file is recognisably UTF-8
    path = tmp_path / "damaged.txt"
    path.write_bytes(good[:1000] + b"\xff\xfe\xff" + good[1000:])
    document, report = _read(path)
    assert report.status == "partial" and report.encoding == "utf-8"
    assert "\ufffd" in document.text
    assert [e.before for e in document.edits] == ["ff fe ff"] or all(e.after == "\ufffd" for e in document.edits)
    assert document.text.replace("\ufffd", "") == good.decode("utf-8", "ignore")


def test_binary_file_is_skipped(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 64)
    document, report = _read(path)
    assert document is None and report.status == "skipped" and "binary" in report.reason


def test_gzip_and_truncated_gzip(tmp_path):
    raw = SEED_000.read_bytes()
    path = tmp_path / "doc.txt.gz"
    path.write_bytes(gzip.compress(raw))
    document, report = _read(path)
    assert document.text == raw.decode("utf-8") and report.status == "read"
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(gzip.compress(raw)[: len(gzip.compress(raw)) // 2])
    document, report = _read(cut)
    assert report.status == "partial" and "truncated" in report.warnings[0]
    assert raw.decode("utf-8").startswith(document.text[:100]) and len(document.text) > 0


def test_jsonl_with_malformed_lines(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [json.dumps({"text": "First record."}), "{not json", json.dumps({"body": "no text"}), json.dumps({"text": "Second."})]
    path.write_text("\n".join(lines), encoding="utf-8")
    document, report = _read(path)
    assert document.text == "First record.\n\nSecond."
    assert report.records == 2 and report.status == "partial"
    assert any("line 2" in w for w in report.warnings)


def test_parquet_text_column_and_missing_column(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"content": ["A.", "B."], "id": [1, 2]}), path)
    document, report = _read(path, text_field="content")
    assert document.text == "A.\n\nB."
    document, report = _read(path)
    assert document is None and report.status == "skipped" and "no column 'text'" in report.reason


def test_discovery_recurses_sorts_and_survives_symlink_loops(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "z.txt").write_text("z")
    (tmp_path / "a" / "y.txt").write_text("y")
    (tmp_path / ".hidden.txt").write_text("h")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    files, problems = discover_inputs([tmp_path, tmp_path / "missing"])
    assert [f.source for f in files] == ["a/b/z.txt", "a/y.txt"]
    reasons = " ".join(p.reason for p in problems)
    assert "symlink loop" in reasons and "no such file" in reasons


def test_seeds_directory_discovery():
    files, problems = discover_inputs([SEEDS])
    assert [f.source for f in files] == sorted(p.name for p in SEEDS.glob("*.txt")) and not problems


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_decode_without_crashing_and_losing_nothing_valid(raw):
    result = decode_bytes(raw)
    if result is None:
        return
    text, encoding, edits = result
    assert isinstance(text, str)
    assert text.count("\ufffd") >= len(edits)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00\ufeff", blacklist_categories=("Cs",)), max_size=300))
def test_utf8_text_round_trips(text):
    decoded, encoding, edits = decode_bytes(text.encode("utf-8")) or (None, None, None)
    if text:
        assert (decoded, encoding, edits) == (text, "utf-8", []) or decoded is None


def test_output_directory_under_an_input_is_not_read(tmp_path):
    (tmp_path / "in.txt").write_text("text")
    (tmp_path / "data" / "paragraphs").mkdir(parents=True)
    (tmp_path / "data" / "paragraphs" / "part.txt").write_text("output")
    files, _ = discover_inputs([tmp_path], exclude=[tmp_path / "data"])
    assert [f.source for f in files] == ["in.txt"]


def test_a_reports_dict_is_dataclasses_asdict_with_its_own_warnings():
    import dataclasses

    from corpusclean.read import FileReport

    report = FileReport("a.txt", "/in/a.txt", sha256="0" * 64, size_bytes=3, paragraphs=2)
    report.warn("cut short")
    row = report.as_dict()
    assert row == dataclasses.asdict(report) and row["status"] == "partial"
    row["warnings"].append("later")
    assert report.warnings == ["cut short"]


def test_a_report_pickles_to_an_equal_report():
    import pickle

    from corpusclean.read import FileReport

    report = FileReport("a.txt", "/in/a.txt", status="skipped", reason="empty", sha256="0" * 64, warnings=["w"])
    again = pickle.loads(pickle.dumps(report))
    assert again == report and again.warnings is not report.warnings
