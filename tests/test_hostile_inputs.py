"""Hostile inputs: each gives a clean per-file outcome, the run goes on, nothing readable is lost."""

from __future__ import annotations

import codecs
import gzip
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import regex

from corpusclean import pipeline
from corpusclean.config import CleanConfig
from corpusclean.read import discover_inputs
from conftest import SEED_000, SEED_003

PROSE = SEED_000.read_text(encoding="utf-8")[:4000]
SPACE = regex.compile(r"\s+")


def make_hostile_corpus(root: Path) -> dict[str, tuple[str, str | None]]:
    """Write one file per hostile case; returns source -> (expected status, words in its reason/warning)."""
    expected: dict[str, tuple[str, str | None]] = {}

    def put(name: str, data: bytes, status: str, why: str | None = None) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[name] = (status, why)

    put("empty.txt", b"", "partial", "empty")
    put("whitespace.txt", b" \n\n\t \r\n  \n", "partial", "whitespace")
    put("binary.txt", bytes(range(256)) * 200, "skipped", "binary")
    put("utf16-bom.txt", codecs.BOM_UTF16_LE + PROSE.encode("utf-16-le"), "read")
    put("utf16-nobom.txt", PROSE.encode("utf-16-le"), "read")
    put("latin1.txt", "Les élèves étudient à Pétrograd, près de la Néva.\n\nÇa va très bien.".encode("latin-1"), "read")
    put("cp1252.txt", "He said “it’s done” — twice…\n\nAnd left.".encode("cp1252"), "read")
    put("bad-utf8.txt", SEED_003.read_bytes()[:3000].rsplit(b" ", 1)[0] + b" \xc3\x28 \xff end.", "partial", "undecodable")
    put("nul-bytes.txt", b"Some text\x00 with NUL\x00 bytes inside it.\n\nAnother paragraph.", "read")
    put("one-long-line.txt", (PROSE.replace("\n", " ") + " ") .encode() * 40, "read")
    put("no-spaces.txt", b"x" * 300_000, "read")
    put("dots.txt", b". " * 100_000 + b"!" * 50_000 + b"-\n" * 20_000, "read")
    put("mojibake-storm.txt", "€œ".encode() * 20_000 + "â€™".encode() * 20_000, "read")
    put("deep/" + "/".join(["d"] * 60) + "/nested.txt", PROSE.encode(), "read")
    put("truncated.txt.gz", gzip.compress(PROSE.encode() * 10)[:400], "partial", "truncated")
    put("bad.jsonl", b'{"text": "A good record."}\n{broken\n{"text": 3}\n', "partial", "malformed")
    table_no_text = root / "no-text.parquet"
    pq.write_table(pa.table({"body": ["x"]}), table_no_text)
    expected["no-text.parquet"] = ("skipped", "no column")
    put("picture.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "skipped", "unsupported")
    os.symlink(root / "deep", root / "deep" / "d" / "loop")
    expected["deep/d/loop"] = ("skipped", "symlink loop")
    return expected


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    expected = make_hostile_corpus(root)
    files, problems = discover_inputs([root])
    shard = pipeline.prepare_shard(files, CleanConfig(ocr=False))
    reports = {r.source: r for r in [*problems, *shard.reports]}
    return root, expected, reports, shard


def test_every_hostile_file_has_a_clear_outcome(hostile):
    _, expected, reports, _ = hostile
    assert set(expected) <= set(reports)
    for source, (status, why) in expected.items():
        report = reports[source]
        assert report.status == status, (source, report)
        if why:
            assert why in ((report.reason or "") + " ".join(report.warnings)), (source, report)


def test_nothing_readable_is_lost(hostile):
    root, expected, reports, shard = hostile
    from corpusclean.read import InputFile, read_input

    for source, report in reports.items():
        if report.status == "skipped":
            continue
        document, _ = read_input(InputFile(root / source, source))
        rows = [r for r in shard.paragraphs.to_pylist() if r["source"] == source]
        rebuilt = "".join(r["original_text"] for r in sorted(rows, key=lambda r: r["paragraph_index"]))
        assert SPACE.sub("", rebuilt) == SPACE.sub("", document.text), source


def test_decoded_texts_are_right(hostile):
    _, _, _, shard = hostile
    text_of = {}
    for row in shard.paragraphs.to_pylist():
        text_of.setdefault(row["source"], []).append(row["text"])
    assert "Pétrograd" in " ".join(text_of["latin1.txt"])
    assert "“it’s done” — twice…" in " ".join(text_of["cp1252.txt"])
    assert text_of["utf16-bom.txt"] == text_of["utf16-nobom.txt"]
    assert "\x00" not in " ".join(text_of["nul-bytes.txt"])
    assert max(len(t) for t in text_of["no-spaces.txt"]) <= 2000


def test_unreadable_file_is_skipped_with_reason(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("fine")
    (tmp_path / "b.txt").write_text("secret")
    real = Path.read_bytes

    def deny(self):
        if self.name == "b.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    files, _ = discover_inputs([tmp_path])
    shard = pipeline.prepare_shard(files, CleanConfig(ocr=False))
    statuses = {r.source: (r.status, r.reason) for r in shard.reports}
    assert statuses["a.txt"] == ("read", None)
    assert statuses["b.txt"][0] == "skipped" and "Permission denied" in statuses["b.txt"][1]


def test_deeper_than_the_recursion_limit(tmp_path):
    depth = sys.getrecursionlimit() + 50  # 2 characters a level: well under PATH_MAX
    deep = str(tmp_path)
    for _ in range(depth):
        deep += "/d"
        os.mkdir(deep)  # not makedirs: it recurses too
    with open(deep + "/x.txt", "w") as fh:
        fh.write("deep text")
    try:
        files, problems = discover_inputs([tmp_path])
        assert [str(f.path) for f in files] == [deep + "/x.txt"] and not problems
    finally:
        # shutil.rmtree (and so pytest's clean-up) recurses too: take the tree down level by level.
        os.remove(deep + "/x.txt")
        while deep != str(tmp_path):
            os.rmdir(deep)
            deep = deep[: -len("/d")]
