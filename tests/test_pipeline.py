"""The pipeline's steps as plain functions, without Prefect."""

import collections

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from corpusclean import pipeline
from corpusclean.arrow_io import load_table
from corpusclean.parallel import map_items
from corpusclean.config import CleanConfig
from corpusclean.edits import replay_edits
from corpusclean.overrides import Overrides
from corpusclean.read import discover_inputs
from corpusclean.segment import join_lines
from corpusclean.vocabulary import count_vocabulary
from conftest import SEED_003, SEEDS


def _seed_files():
    files, _ = discover_inputs([SEEDS])
    return files


def test_prepare_shard_on_seeds_repairs_and_counts():
    shard = pipeline.prepare_shard(_seed_files(), CleanConfig(ocr=True))
    assert [r.status for r in shard.reports] == ["read", "read"]
    assert sum(r.paragraphs for r in shard.reports) == shard.paragraphs.num_rows
    texts = " ".join(shard.paragraphs.column("text").to_pylist())
    assert "“Infected”" in texts
    assert count_vocabulary(shard.paragraphs.column("text"))["Lenin"] > 10
    assert set(shard.edits.column("stage").to_pylist()) == {"encoding"}


def test_encoding_edits_replay_to_the_clean_text():
    shard = pipeline.prepare_shard(_seed_files(), CleanConfig(ocr=False))
    by_id = collections.defaultdict(list)
    from corpusclean.edits import Edit

    for row in shard.edits.to_pylist():
        by_id[row["paragraph_id"]].append(Edit(row["stage"], row["rule"], row["position"], row["before"], row["after"]))
    for row in shard.paragraphs.to_pylist():
        assert replay_edits(join_lines(row["original_text"]), by_id[row["paragraph_id"]]) == row["text"]


def test_undecodable_bytes_become_read_edits_of_their_paragraph(tmp_path):
    raw = SEED_003.read_bytes()[:5000].rsplit(b" ", 1)[0]
    (tmp_path / "bad.txt").write_bytes(b"First paragraph.\n\nSecond \xff\xfe paragraph \xe2\x80\x99ok.\n\n" + raw)
    files, _ = discover_inputs([tmp_path])
    shard = pipeline.prepare_shard(files, CleanConfig(ocr=False))
    reads = [r for r in shard.edits.to_pylist() if r["stage"] == "read"]
    second = shard.paragraphs.filter(pa.compute.equal(shard.paragraphs["paragraph_index"], 1)).to_pylist()[0]
    assert reads and all(r["paragraph_id"] == second["paragraph_id"] for r in reads)
    for r in reads:
        assert second["original_text"][r["position"]] == "\ufffd"
    assert shard.reports[0].status == "partial"


def test_worker_count_does_not_change_results():
    files = _seed_files()
    config = CleanConfig()
    jobs = [[f] for f in files]
    one = map_items(lambda_free_prepare, [(j, config) for j in jobs], workers=1)
    two = map_items(lambda_free_prepare, [(j, config) for j in jobs], workers=2)
    assert [a.equals(b) for a, b in zip(one, two)] == [True, True]


def lambda_free_prepare(args):  # module level: it must be picklable for the process pool
    files, config = args
    return pipeline.prepare_shard(files, config).paragraphs


def test_plan_shards_is_deterministic_and_complete(tmp_path):
    for i in range(30):
        (tmp_path / f"{i:02d}.txt").write_text("x" * (1000 * (i % 7 + 1)))
    files, _ = discover_inputs([tmp_path])
    shards = pipeline.plan_shards(files, workers=2, target_bytes=5000)
    assert [f for s in shards for f in s] == files
    assert shards == pipeline.plan_shards(files, workers=2, target_bytes=5000)


def test_assemble_corrections_numbers_edits_per_paragraph():
    from corpusclean.edits import Edit, edits_to_table

    table = pipeline.concat_edits(
        [
            edits_to_table(["b", "a"], [[Edit("encoding", "r", 0, "x", "y")], [Edit("encoding", "r", 1, "x", "y")]]),
            edits_to_table(["a"], [[Edit("ocr", "r", 2, "x", "y"), Edit("ocr", "r", 5, "x", "y")]]),
        ]
    )
    out = pipeline.assemble_corrections(table).to_pylist()
    assert [(r["paragraph_id"], r["stage"], r["edit_index"]) for r in out] == [
        ("a", "encoding", 0), ("a", "ocr", 1), ("a", "ocr", 2), ("b", "encoding", 0)
    ]


def test_missing_substitution_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="substitution table"):
        pipeline.resolve_substitutions(CleanConfig(substitutions=str(tmp_path / "none.tsv")), tmp_path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=200), min_size=1, max_size=6))
def test_read_segment_repair_conserves_every_character(tmp_path_factory, documents):
    import regex

    root = tmp_path_factory.mktemp("docs")
    for i, doc in enumerate(documents):
        (root / f"{i}.txt").write_bytes(doc.encode("utf-8", "surrogatepass"))
    files, _ = discover_inputs([root])
    shard = pipeline.prepare_shard(files, CleanConfig(ocr=False))
    space = regex.compile(r"\s+")
    for report, doc in zip(shard.reports, documents):
        rows = shard.paragraphs.filter(pa.compute.equal(shard.paragraphs["source"], report.source)).to_pylist()
        rebuilt = "".join(r["original_text"] for r in sorted(rows, key=lambda r: r["paragraph_index"]))
        from corpusclean.read import decode_bytes

        decoded = decode_bytes(doc.encode("utf-8", "surrogatepass"))
        if decoded is None:
            assert report.status == "skipped"
            continue
        assert space.sub("", rebuilt) == space.sub("", decoded[0])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_read_segment_repair_write_conserves_paragraphs(tmp_path_factory, documents):
    """Arbitrary bytes through read → segment → repair → write: every paragraph lands once, unchanged originals."""
    import pyarrow.dataset as ds
    import regex

    from corpusclean.write import write_outputs

    root = tmp_path_factory.mktemp("docs")
    for i, doc in enumerate(documents):
        (root / f"{i}.txt").write_bytes(doc)
    files, _ = discover_inputs([root])
    shard = pipeline.prepare_shard(files, CleanConfig(ocr=False))
    kept, duplicates = pipeline.no_dedup(shard.paragraphs)
    out = tmp_path_factory.mktemp("out")
    write_outputs(out, {"paragraphs": kept, "duplicates": duplicates, "corrections": shard.edits}, {"run_id": "p"})
    written = ds.dataset(out / "paragraphs").to_table()
    assert sorted(written.column("paragraph_id").to_pylist()) == sorted(shard.paragraphs.column("paragraph_id").to_pylist())
    space = regex.compile(r"\s+")
    from corpusclean.read import decode_bytes

    for report in shard.reports:
        if report.status == "skipped":
            continue
        decoded = decode_bytes((root / report.source).read_bytes())
        rows = sorted((r for r in written.to_pylist() if r["source"] == report.source), key=lambda r: r["paragraph_index"])
        assert space.sub("", "".join(r["original_text"] for r in rows)) == space.sub("", decoded[0] if decoded else "")


@pytest.mark.parametrize("batch_bytes", [1, 3000, 1 << 30])
def test_prepare_job_batches_files_into_the_same_entries_as_one_by_one(tmp_path, monkeypatch, batch_bytes):
    from corpusclean.cache import PreparedCache

    raw = SEED_003.read_bytes()[:4000].rsplit(b" ", 1)[0]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.txt").write_bytes(b"First paragraph.\n\nSecond \xff\xfe paragraph \xe2\x80\x99ok.\n\n" + raw)
    (tmp_path / "in" / "empty.txt").write_bytes(b"")
    (tmp_path / "in" / "moji.txt").write_text("He said \u00e2\u20ac\u0153hi\u00e2\u20ac\u009d.\n\nx &amp; y\n\nplain\n", encoding="utf-8")
    (tmp_path / "in" / "data.jsonl").write_text('{"text": "one \\u00c3\\u00a9"}\n{"text": "two"}\n', encoding="utf-8")
    (tmp_path / "in" / "blob.bin").write_bytes(bytes(range(256)) * 4)
    files, _ = discover_inputs([SEEDS, tmp_path / "in"])
    keyed = tuple((f, f"k{i}") for i, f in enumerate(files))
    config = CleanConfig()
    monkeypatch.setattr(pipeline, "PREPARE_BATCH_BYTES", batch_bytes)
    batched = pipeline.prepare_job(pipeline.PrepareJob(keyed, config, tmp_path / "batched")).entries
    alone = PreparedCache(tmp_path / "alone")
    for (item, key), entry in zip(keyed, batched):
        shard = pipeline.prepare_shard([item], config)
        want = alone.put(key, shard.paragraphs, shard.edits, shard.reports[0], {})
        assert entry.key == key and entry.source == item.source
        assert entry.report == want.report and entry.rows == want.rows and entry.edit_rows == want.edit_rows
        assert _entry_table(entry).equals(_entry_table(want))
        assert entry.edit_table().equals(want.edit_table())
    assert sum(e.edit_rows for e in batched) > 3 and any(e.report.status != "read" for e in batched)


def _entry_table(entry) -> pa.Table:
    return pa.Table.from_batches(list(entry.paragraph_batches()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.txt", "b.txt", "B.txt", "é.txt", "z/a.txt", "ab.txt"]), st.integers(0, 5)),
                unique=True, max_size=25),
       st.booleans(), st.lists(st.integers(1, 6), max_size=8))
def test_pieces_pass_the_order_check_only_in_source_then_index_order(rows, presorted: bool, cuts) -> None:
    if presorted:
        rows = sorted(rows)
    table = pa.table({"source": [s for s, _ in rows], "paragraph_index": pa.array([i for _, i in rows], pa.int64())})
    order, start, accepted = pipeline.OutputOrder(), 0, True
    for size in [*cuts, len(rows)]:  # the run's pieces, of any sizes
        try:
            order.check(table.slice(start, size))
        except ValueError:
            accepted = False
        start += size
    # Python compares strings by code point, as Arrow's sort does by UTF-8 bytes
    assert accepted == (rows == sorted(rows))


def test_streamed_outputs_equal_the_whole_tables(tmp_path, monkeypatch) -> None:
    """The writer's piece-by-piece split, with a reviewer's restore, equals splitting the whole run at once."""
    from corpusclean.arrow_io import save_table
    from corpusclean.overrides import Restore
    from corpusclean import write
    from corpusclean.write import write_dataset
    import pyarrow.dataset as ds

    files = sorted(_seed_files(), key=lambda f: f.source)
    shards = [pipeline.prepare_shard([f], CleanConfig()) for f in files]
    paths = [save_table(s.paragraphs, tmp_path / f"{n}.arrow") for n, s in enumerate(shards)]
    paragraphs = pa.concat_tables([s.paragraphs for s in shards])
    edits = pipeline.assemble_corrections(pa.concat_tables([s.edits for s in shards]))
    config = CleanConfig(workers=1)
    first_removed = pipeline.deduplicate_all(paragraphs, config)[1].column("paragraph_id")[0].as_py()
    overrides = Overrides(restored=(Restore(first_removed, None, None, None, None),))
    kept, duplicates = pipeline.deduplicate_all(paragraphs, config, overrides)
    assert first_removed in kept.column("paragraph_id").to_pylist() and duplicates.num_rows > 0

    counts = pipeline.EditCounts(edits)
    whole = tmp_path / "whole"
    write_dataset(pipeline.add_paragraph_stats(kept, counts), whole / "paragraphs")
    write_dataset(pipeline.add_paragraph_stats(duplicates, counts), whole / "duplicates")
    monkeypatch.setattr(pipeline, "STREAM_ROWS", 7)
    monkeypatch.setattr(write, "ROWS_PER_PART", 4)  # several part files too
    verdicts = pipeline.deduplication_verdicts(paragraphs, config, overrides)
    pipeline.write_paragraph_datasets(paths, verdicts, counts, tmp_path / "streamed")
    for name in ("paragraphs", "duplicates"):
        assert len(list((tmp_path / "streamed" / name).glob("*.parquet"))) > 1
        assert ds.dataset(tmp_path / "streamed" / name).to_table().equals(ds.dataset(whole / name).to_table())
    with pytest.raises(ValueError, match="output order"):
        pipeline.write_paragraph_datasets(paths[::-1], verdicts, counts, tmp_path / "reversed")




def test_a_job_keys_what_it_reads_as_the_hash_pass_would(tmp_path, monkeypatch) -> None:
    """A first run skips the hash pass: its jobs key each input by the bytes they read, which must be the key
    the next run computes before reading (or nothing would ever be reused)."""
    import gzip

    from corpusclean import read
    from corpusclean.cache import file_sha256, input_key

    monkeypatch.setattr(read, "STREAM_MIN_BYTES", 10_000)  # the large seed streams
    root = tmp_path / "in"
    root.mkdir()
    texts = [p.read_bytes() for p in sorted(SEEDS.glob("*.txt"))]
    (root / "a.txt").write_bytes(texts[0])
    (root / "b.txt.gz").write_bytes(gzip.compress(texts[1]))
    (root / "c.txt").write_bytes(b"\xff\xfe\x00broken " * 3)
    (root / "big.txt").write_bytes(texts[0] * 8)
    files, _ = discover_inputs([root])
    assert any(read.can_stream(f) for f in files)
    config, fingerprint = CleanConfig(), "fp"
    [job] = pipeline.plan_prepare_jobs([(f, None) for f in files], config, tmp_path / "cache", 1, fingerprint=fingerprint)
    entries = pipeline.prepare_job(job).entries
    assert [e.key for e in entries] == [input_key(f.source, file_sha256(f.path), fingerprint) for f in files]
    assert input_key("x", None, fingerprint) != input_key("x", None, fingerprint)  # unreadable: never reused
