"""The batched vocabulary count gives exactly the per-token definition's counts, in the same order."""

from __future__ import annotations

import collections

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusclean import ocr, pipeline, read
from corpusclean.arrow_io import save_table
from corpusclean.cache import PreparedCache
from corpusclean.config import CleanConfig
from corpusclean.input_table import InputTable
from corpusclean.read import discover_inputs
from corpusclean.vocabulary import count_vocabulary
from _seed_paragraphs import seed_paragraphs
from conftest import SEED_000, SEED_003, SEEDS


def reference_count(texts):
    """The definition (``corpusclean.ocr.count_vocabulary`` before batching): every token, one text at a time."""
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        for match in ocr.TOKEN_RE.finditer(text):
            if match.lastgroup != "word":
                continue
            for part in match.group().split("-"):
                possessive = ocr._POSSESSIVE_RE.match(part)
                if possessive:
                    part = possessive.group("stem")
                for piece in ocr._CAMEL_SPLIT_RE.split(part):
                    if piece:
                        counts[piece] += 1
    return counts


def _same(got: collections.Counter[str], want: collections.Counter[str]) -> None:
    assert got == want
    assert list(got) == list(want)  # the same order too: first occurrence


def _seed_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    return texts + seed_paragraphs().column("text").to_pylist()


@pytest.mark.parametrize("workers, batch_bytes", [(1, 16 << 20), (2, 4096), (1, 1)])
def test_seeds_count_as_the_definition_and_the_old_counter(workers: int, batch_bytes: int) -> None:
    texts = _seed_texts()
    want = reference_count(texts)
    _same(ocr.count_vocabulary(texts), want)
    _same(count_vocabulary(texts, workers=workers, batch_bytes=batch_bytes), want)
    chunked = pa.chunked_array([pa.array(texts[:3], pa.string()), pa.array(texts[3:], pa.string())])
    _same(count_vocabulary(chunked, workers=workers, batch_bytes=batch_bytes), want)


_ALPHABET = st.sampled_from(
    list("aAbzZsS'’-- ...é\u0301ßΣσ٣5_/\\{}<>=|#$%^~`@:")
    + ["\n", "\t", "\x1c", "\x1f", "\u00a0", "\u2028", "www.", "WWW.", "http://", "x@y.z", "'s", "’S", "dogNicolaevsky"]
)
_TEXT = st.lists(_ALPHABET, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, max_size=12), batch_bytes=st.integers(1, 200), workers=st.integers(1, 2))
def test_any_text_counts_as_the_definition(texts: list[str], batch_bytes: int, workers: int) -> None:
    want = reference_count(texts)
    _same(count_vocabulary(texts, workers=workers, batch_bytes=batch_bytes), want)
    _same(count_vocabulary(pa.array(texts, pa.large_string()), workers=workers, batch_bytes=batch_bytes), want)


def test_run_vocabulary_over_prepared_files_is_their_concatenation(tmp_path) -> None:
    texts = _seed_texts()
    paths = []
    for i, part in enumerate((texts[:2], [], texts[2:30], texts[30:])):
        table = pa.table({"paragraph_id": [str(j) for j in range(len(part))], "text": pa.array(part, pa.string())})
        paths.append(save_table(table, tmp_path / f"{i}.arrow"))
    _same(pipeline.count_run_vocabulary(paths, workers=2), reference_count(texts))
    # groups of files counted apart (as over a process pool) and merged in order
    _same(pipeline.count_run_vocabulary(paths, workers=2, map_items=lambda fn, items: [fn(i) for i in items]), reference_count(texts))
    assert pipeline.count_run_vocabulary([]) == collections.Counter()


@pytest.mark.parametrize("batch_bytes", [1, 3000, 8 << 20])
def test_prepare_jobs_count_the_vocabulary_the_cached_entries_hold(tmp_path, monkeypatch, batch_bytes: int) -> None:
    """Words counted while preparing give the vocabulary of the prepared entries, in the same order;
    with an input reused from the cache, the entries are counted again."""
    (tmp_path / "in").mkdir()
    for i, text in enumerate(_seed_texts()[2:40]):
        (tmp_path / "in" / f"p{i:02d}.txt").write_text(text + "\n\nShared boilerplate line.\n", encoding="utf-8")
    big = (SEED_000.read_text(encoding="utf-8") + "\n\n" + SEED_003.read_text(encoding="utf-8") + "\n\n") * 8
    (tmp_path / "in" / "p20-big.txt").write_text(big, encoding="utf-8")  # streamed, between small files
    monkeypatch.setattr(read, "STREAM_MIN_BYTES", 50_000)
    monkeypatch.setattr(read, "STREAM_CHUNK_BYTES", 40_000)
    monkeypatch.setattr(pipeline, "PREPARE_BATCH_BYTES", batch_bytes)
    files, _ = discover_inputs([SEEDS, tmp_path / "in"])
    assert any(read.can_stream(f) for f in files)
    keyed = [(f, f"k{i}") for i, f in enumerate(files)]
    thirds = (0, len(keyed) // 3, 2 * len(keyed) // 3, len(keyed))
    jobs = [pipeline.PrepareJob(tuple(keyed[a:b]), CleanConfig(), tmp_path / "cache", vocabulary_dir=tmp_path / "vocabulary")
            for a, b in zip(thirds, thirds[1:])]
    prepared = [pipeline.prepare_job(job) for job in jobs]
    inputs = InputTable.concat(job.entries for job in prepared).sorted_by_source()
    want = pipeline.count_run_vocabulary(inputs)
    assert [e.key for job in prepared for e in job.entries] == inputs.column("key")
    files = pipeline.run_vocabulary(inputs, prepared)
    assert isinstance(files, tuple) and len(files) == len(prepared)  # the jobs' files, not read in this process
    _same(pipeline.load_run_vocabulary(files), want)
    # one input reused from the cache, so not among the jobs' entries: every entry is counted again
    rest = [pipeline.prepare_job(pipeline.PrepareJob(job.files[1:] if i == 0 else job.files, CleanConfig(), tmp_path / "c2",
                                                    vocabulary_dir=tmp_path / "vocabulary")) for i, job in enumerate(jobs)]
    reused = PreparedCache(tmp_path / "cache").get(jobs[0].files[0][1])
    assert reused is not None
    again = InputTable.concat([InputTable.from_entries([reused]), *(job.entries for job in rest)]).sorted_by_source()
    _same(pipeline.load_run_vocabulary(pipeline.run_vocabulary(again, rest)), want)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=4))
def test_parts_vocabularies_merged_in_order_are_the_whole_vocabulary(texts: list[str], cuts: list[int]) -> None:
    """What run_vocabulary relies on: each part's words, merged in part order, count and order as the whole."""
    from corpusclean.vocabulary import count_runs, merge_counts, words_of_runs

    bounds = sorted({0, len(texts), *(min(c, len(texts)) for c in cuts)})
    parts = [words_of_runs(count_runs(texts[a:b])) for a, b in zip(bounds, bounds[1:])]
    _same(merge_counts((list(p), list(p.values())) for p in parts), reference_count(texts))


def _arrow_runs(chunks: list[pa.Array]) -> list[tuple[str, int]]:
    """The runs Arrow splits at spaces and counts, merged in order: what RunCounter replaces (less the empty runs)."""
    from corpusclean.vocabulary import merge_counts

    counted = [pa.compute.value_counts(pa.compute.list_flatten(pa.compute.split_pattern(c, " "))) for c in chunks]
    merged = merge_counts((v.field("values").to_pylist(), v.field("counts").to_pylist()) for v in counted)
    return [(run, n) for run, n in merged.items() if run]


def test_the_run_counter_counts_what_arrow_splits_across_batches_and_growth() -> None:
    from corpusclean.vocabulary import RunCounter

    seeds = seed_paragraphs().column("text").to_pylist()
    big = " ".join(f"w{i % 70_000}" for i in range(200_000))  # more runs and bytes than the first arrays hold
    chunks = [pa.array(seeds[:20]), pa.array([big, None, "", "  a  a ", "é ü é"], pa.large_string()), pa.array(seeds[20:]).slice(3)]
    counter = RunCounter()
    for chunk in chunks:
        counter.add(chunk)
    assert list(counter.counts().items()) == _arrow_runs(chunks)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(st.sampled_from("ab \n\u00e9\u2019\U0001f600"), max_size=30)), max_size=20),
       cut=st.integers(0, 20))  # fmt: skip
def test_the_run_counter_agrees_with_arrow_on_any_text(texts: list[str | None], cut: int) -> None:
    from corpusclean.vocabulary import RunCounter

    chunks = [pa.array(texts[:cut], pa.string()), pa.array(texts[cut:], pa.string())]
    counter = RunCounter()
    for chunk in chunks:
        counter.add(chunk)
    assert list(counter.counts().items()) == _arrow_runs(chunks)
