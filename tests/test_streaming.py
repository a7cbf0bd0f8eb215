"""Large plain-text files are read, segmented and repaired in chunks, with the same result."""

from __future__ import annotations

import regex

from corpusclean import pipeline, read
from corpusclean.arrow_io import load_table
from corpusclean.cache import PreparedCache
from corpusclean.config import CleanConfig
from corpusclean.ocr import count_vocabulary
from corpusclean.read import InputFile
from conftest import SEED_000, SEED_003

SPACE = regex.compile(r"\s+")


def test_streamed_file_matches_whole_file_read(tmp_path, monkeypatch):
    text = (SEED_000.read_text(encoding="utf-8") + "\n\n" + SEED_003.read_text(encoding="utf-8") + "\n\n") * 40
    raw = text.encode("utf-8")
    raw = raw[:50_000] + b"\xff\xfe" + raw[50_000:]  # damage mid-file
    path = tmp_path / "big.txt"
    path.write_bytes(raw)
    item = InputFile(path, "big.txt")
    monkeypatch.setattr(read, "STREAM_MIN_BYTES", 10_000)
    monkeypatch.setattr(read, "STREAM_CHUNK_BYTES", 64_000)
    assert read.can_stream(item)

    config = CleanConfig()
    cache = PreparedCache(tmp_path / "cache")
    streamed = pipeline.prepare_streamed(item, "k", config, None, cache)
    whole = pipeline.prepare_shard([item], config)
    streamed_table = load_table(streamed.paragraphs)
    assert streamed_table.num_rows == whole.paragraphs.num_rows == streamed.report.paragraphs
    assert streamed_table.column("text").to_pylist() == whole.paragraphs.column("text").to_pylist()
    assert streamed_table.column("paragraph_id").to_pylist() == whole.paragraphs.column("paragraph_id").to_pylist()
    assert load_table(streamed.edits).num_rows == whole.edits.num_rows
    assert streamed.report.sha256 == whole.reports[0].sha256 and streamed.report.status == "partial"
    assert pipeline.count_run_vocabulary([streamed.paragraphs]) == count_vocabulary(whole.paragraphs.column("text").to_pylist())
    assert cache.get("k") is not None


def test_streamed_file_without_newlines(tmp_path, monkeypatch):
    text = SEED_003.read_text(encoding="utf-8").replace("\n", " ") * 30
    path = tmp_path / "line.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(read, "STREAM_MIN_BYTES", 10_000)
    monkeypatch.setattr(read, "STREAM_CHUNK_BYTES", 50_000)
    entry = pipeline.prepare_streamed(InputFile(path, "line.txt"), "k", CleanConfig(ocr=False), None, PreparedCache(tmp_path / "c"))
    table = load_table(entry.paragraphs)
    assert SPACE.sub("", "".join(table.column("original_text").to_pylist())) == SPACE.sub("", text)
    assert max(len(t) for t in table.column("original_text").to_pylist()) <= 2000
