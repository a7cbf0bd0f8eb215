"""The cleaning pipeline as plain functions: what each Prefect task calls.

The flow in ``flows/clean_corpus.py`` only orders these calls. Each step takes
and returns Arrow tables (or small picklable records), so it runs the same in
a test, in a worker process, on a Dask worker, or inside a Prefect task.

Steps: :func:`prepare_shard` (read → segment → repair encoding) runs per shard
of files; :func:`count_run_vocabulary` counts the whole run's vocabulary for
OCR in one batched pass over the prepared paragraphs; :func:`correct_shard`
(OCR) runs per shard once that vocabulary is known;
:func:`deduplication_verdicts` runs once over every paragraph; and
:func:`write_paragraph_datasets` streams the paragraphs through their verdicts
into the tables the output contract names.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import pickle
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusclean.arrow_io import TableWriter, iter_batches, load_table, read_batches, save_table
from corpusclean.cache import NewEntry, PreparedCache, PreparedInput, file_sha256, input_key, paragraph_batches
from corpusclean.input_table import InputTable
from corpusclean.config import CleanConfig
from corpusclean.edits import EDIT_SCHEMA, Edit, edits_to_table, run_batch_text_stage, sequence_edits
from corpusclean.parallel import release_freed_memory, usable_cores
from corpusclean.read import Document, FileReport, InputFile, can_stream, read_input, stream_input
from corpusclean.tables import PARAGRAPH_SCHEMA
from corpusclean.verdicts import all_kept, split_rows
from corpusclean.write import DatasetWriter

if TYPE_CHECKING:
    from corpusclean.dedup import DedupResult
    from corpusclean.overrides import Overrides

# The stages' modules (segmentation, encoding repair, statistics: Numba kernels each) are imported where they
# are called: the flow's process only plans and orders the steps until deduplication, and holds every module it
# imports through the OCR stage's peak (with all of them, 40 MB more of its own memory, see docs/flow.md).

T = TypeVar("T")
R = TypeVar("R")
MapItems = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]
"""``map_items(fn, items) -> [fn(item) for item in items]``, possibly over a process pool."""

SHARD_TARGET_BYTES = 16 << 20
"""Files are grouped into shards of about this size: large enough that a worker's start-up is amortised."""


@dataclass
class PreparedShard:
    """Paragraphs of one shard after read, segment and encoding repair."""

    paragraphs: pa.Table
    edits: pa.Table
    reports: list[FileReport]
    seconds: dict[str, float] = field(default_factory=dict)


def plan_shards(files: Sequence[InputFile], workers: int, target_bytes: int | None = None) -> list[list[InputFile]]:
    """Group files into shards of about ``target_bytes`` (smaller when that leaves workers idle).

    Deterministic: the same files give the same shards in the same order.
    """
    sizes = [_size(f.path) for f in files]
    total = sum(sizes)
    if target_bytes is None:
        target_bytes = SHARD_TARGET_BYTES
    if workers > 1:
        target_bytes = min(target_bytes, max(1 << 20, total // (workers * 2)))
    shards: list[list[InputFile]] = []
    current: list[InputFile] = []
    current_bytes = 0
    for item, size in zip(files, sizes):
        if current and current_bytes + size > target_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += size
    if current:
        shards.append(current)
    return shards


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _timed(seconds: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    seconds[name] = seconds.get(name, 0.0) + now - start
    return now


def prepare_shard(files: Sequence[InputFile], config: CleanConfig, overrides: Overrides | None = None) -> PreparedShard:
    """Read, segment and repair the encoding of a shard of files.

    Undecodable bytes are recorded as ``read`` edits of the paragraph that
    holds them (``position`` is then the offset in ``original_text`` and
    ``before`` the bytes in hex). Encoding edits a reviewer rejected
    (``overrides``) are undone. The OCR stage's vocabulary is counted later,
    over every prepared paragraph of the run (:func:`count_run_vocabulary`),
    so the corrector sees clean spellings.
    """
    from corpusclean.segment import segment_document
    seconds: dict[str, float] = {}
    tables: list[pa.Table] = []
    read_edits: list[pa.Table] = []
    reports: list[FileReport] = []
    for item in files:
        start = time.perf_counter()
        document, report = read_input(item, text_field=config.text_field)
        start = _timed(seconds, "read", start)
        reports.append(report)
        if document is None:
            continue
        table = segment_document(document.source, document.text, config.max_paragraph_chars)
        report.paragraphs = table.num_rows
        tables.append(table)
        if document.edits:
            read_edits.append(_attach_document_edits(table, document.edits))
        _timed(seconds, "segment", start)
    paragraphs = pa.concat_tables(tables) if tables else PARAGRAPH_SCHEMA.empty_table()
    paragraphs, edits = clean_segmented(paragraphs, config, overrides, seconds)
    return PreparedShard(paragraphs, concat_edits([*read_edits, edits]), reports, seconds)


def clean_segmented(
    paragraphs: pa.Table, config: CleanConfig, overrides: Overrides | None, seconds: dict[str, float]
) -> tuple[pa.Table, pa.Table]:
    """The per-paragraph part of the prepare step: encoding repair, rejected edits undone."""
    from corpusclean.encoding import repair_encodings
    from corpusclean.overrides import apply_rejections
    edits = EDIT_SCHEMA.empty_table()
    if config.encoding:
        start = time.perf_counter()
        paragraphs, edits = run_batch_text_stage(paragraphs, repair_encodings)
        if overrides:
            paragraphs, edits = apply_rejections(paragraphs, edits, overrides)
        _timed(seconds, "encoding", start)
    return paragraphs, edits


VOCABULARY_JOBS_PER_WORKER = 4
"""Groups of files per worker when the vocabulary is counted over a pool (balances uneven groups)."""


def count_run_vocabulary(
    sources: Sequence[Path | PreparedInput] | InputTable, workers: int = 1, map_items: MapItems | None = None
) -> collections.Counter[str]:
    """The whole run's vocabulary for OCR: every prepared paragraph's tokens, counted in one batched pass.

    The same counts, in the same order, as :func:`corpusclean.ocr.count_vocabulary`
    over the paragraphs of ``sources`` (paragraph files or cache entries) in that order (see
    :mod:`corpusclean.vocabulary`). With ``map_items`` (``map_items(fn, items)``, e.g. over the run's process
    pool), contiguous groups of sources are opened and counted in parallel and
    merged in order: a run of tens of thousands of small inputs spends more
    time opening their files than counting.
    """
    from corpusclean.vocabulary import count_vocabulary, merge_counts, words_of_runs

    if map_items is None or workers <= 1 or len(sources) < 2:
        return count_vocabulary(_text_column(sources), workers=workers)
    bounds = np.linspace(0, len(sources), min(len(sources), workers * VOCABULARY_JOBS_PER_WORKER) + 1)
    groups = [sources[lo:hi] for lo, hi in zip(bounds[:-1].astype(int), bounds[1:].astype(int))]
    return words_of_runs(merge_counts(map_items(count_path_runs, groups)))


RunVocabulary = collections.Counter[str] | tuple[Path, ...]
"""A run's OCR vocabulary: the counts, or the files of its prepare jobs, in order, that add up to them
(:func:`load_run_vocabulary`)."""


def run_vocabulary(
    inputs: InputTable, prepared: Sequence[PreparedJob], workers: int = 1, map_items: MapItems | None = None
) -> RunVocabulary:
    """The OCR vocabulary of a run's ``inputs`` (in their order): :func:`count_run_vocabulary`'s counts.

    When ``prepared`` -- this run's prepare jobs, in order -- counted the
    words of exactly these inputs in this order (a first or full run), it
    is their files, unread; otherwise (inputs reused from the cache) every
    input's prepared paragraphs are counted again.
    """
    fresh = InputTable.concat(job.entries for job in prepared).table.column("key")
    files = tuple(job.vocabulary for job in prepared if job.vocabulary is not None)
    if fresh.equals(inputs.table.column("key")) and len(files) == len(prepared):
        return files
    return count_run_vocabulary(inputs, workers, map_items)


def save_vocabulary(words: collections.Counter[str], directory: Path) -> Path:
    """Write ``words`` (in their order) to a new file in ``directory``; returns its path."""
    table = pa.table({"word": pa.array(list(words), pa.string()), "count": pa.array(list(words.values()), pa.int64())})
    return save_table(table, directory / f"vocabulary-{uuid.uuid4().hex}.arrow")


def load_run_vocabulary(vocabulary: RunVocabulary) -> collections.Counter[str]:
    """The counts of a :data:`RunVocabulary`.

    Files are merged in order: each holds its job's words in order of first occurrence, and a word new to
    a job first occurs there in a run new to it too, so the order is the one counting the whole run gives.
    """
    from corpusclean.vocabulary import merge_counts

    if isinstance(vocabulary, collections.Counter):
        return vocabulary
    tables = (load_table(path) for path in vocabulary)
    return merge_counts((t.column("word").to_pylist(), t.column("count").to_pylist()) for t in tables)


def count_path_runs(sources: Sequence[Path | PreparedInput] | InputTable) -> tuple[list[str], list[int]]:
    """The space-delimited runs of the prepared paragraphs of ``sources``, with counts, in order of first occurrence."""
    from corpusclean.vocabulary import count_runs

    runs = count_runs(_text_column(sources))
    return list(runs), list(runs.values())


def _text_column(sources: Sequence[Path | PreparedInput] | InputTable) -> pa.ChunkedArray | list[str]:
    chunks = [batch.column("text") for source in sources for batch in paragraph_batches(source)]
    if len({chunk.type for chunk in chunks}) > 1:
        chunks = [chunk.cast(pa.large_string()) for chunk in chunks]
    return pa.chunked_array(chunks) if chunks else []


def prepare_streamed(
    item: InputFile, key: str, config: CleanConfig, overrides: Overrides | None, cache: PreparedCache
) -> PreparedInput | None:
    """The prepare step for one large plain-text file, chunk by chunk, in bounded memory.

    Returns ``None`` when the file cannot be streamed (UTF-16/32): the caller reads it whole.
    """
    from corpusclean.segment import segment_stream
    start = time.perf_counter()
    chunks, report = stream_input(item)
    if chunks is None and report.status != "skipped":
        return None
    seconds: dict[str, float] = {}
    with cache.writer(key) as entry:
        if chunks is not None:
            pending: list[Edit] = []  # undecodable bytes, positioned in the whole document

            def texts() -> Iterator[str]:
                offset = 0
                for text, edits in chunks:
                    pending.extend(dataclasses.replace(e, position=e.position + offset) for e in edits)
                    offset += len(text)
                    yield text

            for table in segment_stream(item.source, texts(), config.max_paragraph_chars):
                read_edits = _attach_document_edits(table, pending) if pending else EDIT_SCHEMA.empty_table()
                table, edits = clean_segmented(table, config, overrides, seconds)
                entry.write(table, concat_edits([read_edits, edits]))
                report.paragraphs += table.num_rows
        _timed(seconds, "stream", start)
        return entry.finish(report, seconds)


def _attach_document_edits(paragraphs: pa.Table, edits: Sequence[Edit]) -> pa.Table:
    starts = paragraphs.column("start_offset").to_pylist()
    ends = paragraphs.column("end_offset").to_pylist()
    ids = paragraphs.column("paragraph_id").to_pylist()
    per_paragraph: dict[str, list[Edit]] = collections.defaultdict(list)
    row = 0
    for edit in sorted(edits, key=lambda e: e.position):
        while row < len(starts) and ends[row] <= edit.position:
            row += 1
        if row < len(starts) and starts[row] <= edit.position:
            per_paragraph[ids[row]].append(
                Edit(edit.stage, edit.rule, edit.position - starts[row], edit.before, edit.after, edit.confidence)
            )
    keys = list(per_paragraph)
    return edits_to_table(keys, [per_paragraph[k] for k in keys])


def concat_edits(tables: Iterable[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else EDIT_SCHEMA.empty_table()


@dataclass(frozen=True)
class OcrSettings:
    """The run's OCR corrector, decided once over the whole vocabulary and shipped to every worker."""

    corrector: Any
    """A prepared :class:`corpusclean.ocr.OcrCorrector` (picklable, carries its decision map)."""
    overrides: Overrides | None = None


def ocr_settings(
    config: CleanConfig,
    vocabulary: collections.Counter[str],
    substitutions_path: Path | None,
    overrides: Overrides | None = None,
) -> OcrSettings:
    """Build the run's corrector and decide every distinct token once (not once per shard).

    A reviewer's do-not-fix words join the protected words and leave the substitution table.
    """
    from corpusclean.ocr import OcrCorrector, load_substitutions

    table = load_substitutions(substitutions_path) if substitutions_path else {}
    protected = config.protected_words
    if overrides:
        table = overrides.filter_substitutions(table)
        protected = tuple(dict.fromkeys([*protected, *overrides.do_not_fix_words]))
    corrector = OcrCorrector(
        language=config.language,
        substitutions=table,
        protected_words=protected,
        min_confidence=config.ocr_min_confidence,
        corpus_vocabulary=dict(vocabulary),
    )
    corrector.prepare()
    return OcrSettings(corrector, overrides)


def correct_shard(paragraphs: pa.Table, settings: OcrSettings) -> tuple[pa.Table, pa.Table]:
    """Fix OCR errors in a shard's paragraphs; returns the table and the ``ocr`` edits."""
    from corpusclean.overrides import apply_rejections
    corrector = settings.corrector

    def stage(texts: list[str]) -> list[tuple[str, list[Edit]]]:
        return [(fixed, sequence_edits(edits)) for fixed, edits in corrector.correct_many(texts)]

    paragraphs, edits = run_batch_text_stage(paragraphs, stage)
    if settings.overrides:
        paragraphs, edits = apply_rejections(paragraphs, edits, settings.overrides)
    return with_ocr_edit_counts(paragraphs, edits), edits


def with_ocr_edit_counts(paragraphs: pa.Table, edits: pa.Table) -> pa.Table:
    """Add ``ocr_edits``: deduplication prefers to keep the copy that needed fewer OCR fixes."""
    return paragraphs.append_column("ocr_edits", EditCounts(edits).of(paragraphs.column("paragraph_id")))


def resolve_substitutions(config: CleanConfig, out_dir: Path) -> Path | None:
    """The substitution table to use: the config's, else ``OUT/substitutions.tsv`` if present."""
    if config.substitutions:
        path = Path(config.substitutions)
        if not path.is_file():
            raise FileNotFoundError(f"substitution table not found: {path}")
        return path
    default = out_dir / "substitutions.tsv"
    return default if default.is_file() else None


# --- output assembly -------------------------------------------------------------------------

STREAM_ROWS = 20_000
"""The writer splits and writes the run's paragraphs in pieces of about this many rows."""


class EditCounts:
    """How many corrections each paragraph has, counted once for a whole run's output."""

    def __init__(self, edits: pa.Table) -> None:
        counts = edits.group_by("paragraph_id").aggregate([("paragraph_id", "count")])
        self._ids = counts.column("paragraph_id").combine_chunks()
        self._counts = counts.column("paragraph_id_count").combine_chunks()

    def of(self, ids: pa.ChunkedArray | pa.Array) -> pa.Array:
        """The count for each of ``ids`` (0 for none), as int64, in Arrow (no Python per row)."""
        if len(self._ids) == 0:
            return pa.array(np.zeros(len(ids), np.int64))
        found = pc.take(self._counts, pc.index_in(ids, value_set=self._ids))
        return pc.cast(pc.fill_null(found, 0), pa.int64()).combine_chunks()


def add_paragraph_stats(paragraphs: pa.Table, edit_counts: EditCounts) -> pa.Table:
    """Add ``word_count``, ``char_count`` and ``edit_count`` columns."""
    from corpusclean.text_stats import word_counts
    text = paragraphs.column("text")
    words = word_counts(text)
    chars = pc.utf8_length(text)
    edit_count = edit_counts.of(paragraphs.column("paragraph_id"))
    if "ocr_edits" in paragraphs.column_names:  # internal to dedup; edit_count covers it
        paragraphs = paragraphs.drop_columns(["ocr_edits"])
    return (
        paragraphs.append_column("word_count", words)
        .append_column("char_count", pc.cast(chars, pa.int64()))
        .append_column("edit_count", edit_count)
    )


def no_dedup(paragraphs: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Outputs when deduplication is off: everything kept, nothing removed."""
    return split_rows(paragraphs, all_kept(paragraphs.num_rows))


def deduplication_verdicts(paragraphs: pa.Table, config: CleanConfig, overrides: Overrides | None = None) -> pa.Table:
    """What deduplication decides for each row of ``paragraphs`` (:mod:`corpusclean.verdicts`).

    Paragraphs a reviewer restored (``overrides``) are kept whatever the similarity says.
    """
    from corpusclean.overrides import restore_verdicts
    verdicts = _deduplicate(paragraphs, config).verdicts if config.dedup else all_kept(paragraphs.num_rows)
    if overrides is not None and overrides.restored:
        verdicts = restore_verdicts(verdicts, paragraphs.column("paragraph_id"), overrides)
    return verdicts


def deduplicate_all(paragraphs: pa.Table, config: CleanConfig, overrides: Overrides | None = None) -> tuple[pa.Table, pa.Table]:
    """Near-duplicate removal over every paragraph of the run; returns ``(kept, duplicates)``."""
    return split_rows(paragraphs, deduplication_verdicts(paragraphs, config, overrides))


def write_paragraph_datasets(paragraph_paths: Sequence[Path], verdicts: pa.Table, edit_counts: EditCounts, staging: Path) -> None:
    """Write the ``paragraphs`` and ``duplicates`` datasets into ``staging``, a piece of the run at a time.

    ``paragraph_paths`` are the run's paragraph files (Arrow IPC), in output
    order (source, then paragraph index), and ``verdicts`` their rows' verdicts
    in the same order. Each piece is read into memory, split, given its stats
    and written: the run's text is never all in memory at once, as it was when
    the kept rows were built whole.
    """
    kept_out = DatasetWriter(staging / "paragraphs")
    removed_out = DatasetWriter(staging / "duplicates")
    order = OutputOrder()
    offset = 0
    # One piece is written (Parquet encoding releases the GIL) while the next is split and counted.
    with ThreadPoolExecutor(max_workers=1) as writer:
        written: Future[None] | None = None
        for rows in _pieces(paragraph_paths):
            order.check(rows)
            kept, removed = split_rows(rows, verdicts.slice(offset, rows.num_rows))
            offset += rows.num_rows
            kept, removed = add_paragraph_stats(kept, edit_counts), add_paragraph_stats(removed, edit_counts)
            if written is not None:
                written.result()
            written = writer.submit(_write_both, kept_out, kept, removed_out, removed)
        if written is not None:
            written.result()
    if offset != verdicts.num_rows:
        raise ValueError(f"{verdicts.num_rows} verdicts for {offset} paragraphs")
    kept_out.close()
    removed_out.close()


def _write_both(kept_out: DatasetWriter, kept: pa.Table, removed_out: DatasetWriter, removed: pa.Table) -> None:
    kept_out.write(kept)
    removed_out.write(removed)


def _pieces(paths: Sequence[Path]) -> Iterator[pa.Table]:
    """The rows of ``paths`` in order, as tables of at least :data:`STREAM_ROWS` rows (but the last);
    at least one table, so an empty run still has a schema."""
    held: list[pa.RecordBatch] = []
    held_rows = 0
    for path in paths:
        for batch in read_batches(path):
            held.append(batch)
            held_rows += batch.num_rows
            if held_rows >= STREAM_ROWS:
                yield _concat_batches(held)
                held, held_rows = [], 0
    if held or not paths:
        yield _concat_batches(held) if held else PARAGRAPH_SCHEMA.empty_table()


def _concat_batches(batches: list[pa.RecordBatch]) -> pa.Table:
    # Files may differ in columns the OCR stage adds; as the deduplication's concatenation does.
    return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="default")


class OutputOrder:
    """Checks that the pieces of a run, one after another, are in output order (source, then paragraph index)."""

    def __init__(self) -> None:
        self._last: tuple[str, int] | None = None

    def check(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        source, index = rows.column("source"), rows.column("paragraph_index")
        first = (source[0].as_py(), index[0].as_py())
        if not _in_output_order(rows) or (self._last is not None and not self._last < first):
            raise ValueError(f"paragraphs out of output order near {first}: a run's inputs must be sorted by source")
        self._last = (source[-1].as_py(), index[-1].as_py())


def _in_output_order(table: pa.Table) -> bool:
    """Whether ``table``'s rows are in output order: source (by code point), then paragraph index."""
    if table.num_rows < 2:
        return True
    source, index = table.column("source"), table.column("paragraph_index")
    n = table.num_rows - 1
    before, after = source.slice(0, n), source.slice(1)
    # strings compare by UTF-8 bytes, which is code point order, as sort_by does
    ordered = pc.or_(
        pc.less(before, after),
        pc.and_(pc.equal(before, after), pc.less(index.slice(0, n), index.slice(1))),
    )
    return bool(pc.all(ordered).as_py())


def _deduplicate(paragraphs: pa.Table, config: CleanConfig) -> "DedupResult":
    from corpusclean.dedup import deduplicate

    return deduplicate(
        paragraphs,
        threshold=config.threshold,
        containment_threshold=config.containment_threshold,
        num_perm=config.num_perm,
        shingle=config.shingle,
        shingle_size=config.shingle_size,
        fold_ocr=config.fold_ocr,
        seed=config.seed,
        workers=config.workers,
        keep_signatures=False,  # a run writes verdicts, not signatures
    )


def assemble_corrections(edits: pa.Table) -> pa.Table:
    """Order edits by paragraph, keeping stage order, and number them (``edit_index``)."""
    if edits.num_rows == 0:
        return edits.append_column("edit_index", pa.array([], pa.int64()))
    order = pa.array(range(edits.num_rows), pa.int64())
    edits = edits.append_column("_order", order).sort_by([("paragraph_id", "ascending"), ("_order", "ascending")])
    ids = edits.column("paragraph_id").to_pylist()
    index: list[int] = []
    previous = None
    counter = 0
    for pid in ids:
        counter = counter + 1 if pid == previous else 0
        previous = pid
        index.append(counter)
    return edits.drop_columns(["_order"]).append_column("edit_index", pa.array(index, pa.int64()))


def counts(statuses: Sequence[str], verdicts: pa.Table, corrections: pa.Table) -> dict[str, Any]:
    """The manifest's counts: files, paragraphs in/kept/removed by method, edits by stage and rule."""
    methods = collections.Counter(verdicts.column("method").drop_null().to_pylist())
    stages = collections.Counter(corrections.column("stage").to_pylist())
    rules = collections.Counter(
        f"{s}:{r}" for s, r in zip(corrections.column("stage").to_pylist(), corrections.column("rule").to_pylist())
    )
    by_status = collections.Counter(statuses)
    removed = verdicts.num_rows - verdicts.column("kept_paragraph_id").null_count
    return {
        "files": {"found": len(statuses), **dict(sorted(by_status.items()))},
        "paragraphs": {
            "in": verdicts.num_rows,
            "kept": verdicts.num_rows - removed,
            "removed": removed,
            "removed_by_method": dict(sorted(methods.items())),
        },
        "edits": {"total": corrections.num_rows, "by_stage": dict(sorted(stages.items())), "by_rule": dict(sorted(rules.items()))},
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    import platform

    out = {"python": platform.python_version()}
    for package in ("corpusclean", "prefect", "datasketch", "ftfy", "pyarrow", "numpy", "regex", "wordfreq", "charset-normalizer"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def default_workers() -> int:
    return max(1, min(usable_cores(), 8))


# --- shard jobs that persist their results as Arrow IPC files ----------------------------------
# Tasks exchange paths, not tables: Prefect hashes task arguments, and a Dask
# worker on another process only needs a path on a shared file system.


@dataclass(frozen=True)
class PrepareJob:
    """A shard of input files to prepare, each with its cache key.

    A key may be ``None``: the job then keys the entry by the digest of the
    bytes it reads (:func:`~corpusclean.cache.input_key` with ``fingerprint``),
    so a run with nothing to look up in the cache reads each input once, not
    once to hash it and again to prepare it.
    """

    files: tuple[tuple[InputFile, str | None], ...]
    config: CleanConfig
    cache_root: Path
    overrides: Overrides | None = None
    vocabulary_dir: Path | None = None
    """Also count the prepared paragraphs' words for the OCR vocabulary, into a file here (see :class:`PreparedJob`)."""
    fingerprint: str = ""
    """The run's :func:`~corpusclean.cache.settings_fingerprint`, for the keys the job makes."""


@dataclass
class PreparedJob:
    """What :func:`prepare_job` made: the cache entries, in file order, and (if asked) their vocabulary.

    ``vocabulary`` is a file (:func:`save_vocabulary`) of the words of every
    prepared paragraph of the job, with counts, in order of first occurrence
    (as :func:`count_run_vocabulary` over the entries): counted while the text
    is in memory, so the OCR vocabulary of a run whose inputs were all prepared
    now need not open each input's cache entry again. Words, not runs: a job
    has several times fewer distinct words than runs (``word``, ``word,``,
    ``(word``). A file, not lists: only the process that builds the corrector
    reads them (the flow's process held their ~250,000 strings through the
    rest of a 200 MB run otherwise).
    """

    entries: InputTable
    vocabulary: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds each step took, summed over the job's inputs."""


PREPARE_BATCH_BYTES = 2 << 20
"""Text of the small files segmented and repaired together in one call (see :func:`prepare_job`).

A batch's working set is ~17x its text (the text as Python strings, the segmented table with
``original_text``, ftfy's fixed strings, the edits): a prepare job of the 200 MB bench run peaked
at 157 MB above its worker's start with 8 MB batches, 53 MB with 2 MB ones, and took no longer
(3.0-3.5 s against 3.7-4.1 s; see ``docs/flow.md``, "Memory")."""


def prepare_job(job: PrepareJob) -> PreparedJob:
    """Prepare each file of the shard and store it in the cache; returns the entries, in file order.

    Small files -- often tens of thousands of them -- are read one by one but
    segmented and repaired in batches of about :data:`PREPARE_BATCH_BYTES`
    (one compiled segmentation pass, one encoding-stage table), then cut back
    into one cache entry per file: the same rows as :func:`prepare_shard` on
    each file alone, without its fixed cost per file. Large plain-text files
    are streamed (:func:`prepare_streamed`). With ``job.count_vocabulary``,
    the prepared text's words are counted too, in file order.
    """
    from corpusclean.vocabulary import RunCounter, words_of_runs

    cache = PreparedCache(job.cache_root)
    out: list[PreparedInput | None] = [None] * len(job.files)
    runs = RunCounter() if job.vocabulary_dir is not None else None
    pending: list[tuple[int, str, Document | None, FileReport]] = []
    pending_bytes = 0
    read_seconds = 0.0

    def flush() -> None:
        nonlocal pending, pending_bytes, read_seconds
        if pending:
            paragraphs = _prepare_batch(pending, read_seconds, job, cache, out)
            if runs is not None:
                runs.add(paragraphs.column("text"))
        pending, pending_bytes, read_seconds = [], 0, 0.0

    for position, (item, key) in enumerate(job.files):
        if can_stream(item):
            flush()  # the files before it first: runs are counted in file order
            # A streamed entry is written as it is read, under a key known before: hash first.
            key = key or input_key(item.source, file_sha256(item.path), job.fingerprint)
            streamed = prepare_streamed(item, key, job.config, job.overrides, cache)
            if streamed is not None:
                out[position] = streamed
                if runs is not None:
                    runs.add(_text_column([streamed.paragraphs]))
                continue
        start = time.perf_counter()
        document, report = read_input(item, text_field=job.config.text_field)
        read_seconds += time.perf_counter() - start
        key = key or input_key(item.source, report.sha256, job.fingerprint)
        pending.append((position, key, document, report))
        pending_bytes += len(document.text) if document is not None else 0
        if pending_bytes >= PREPARE_BATCH_BYTES:
            flush()
    flush()
    assert all(entry is not None for entry in out)
    vocabulary = None
    if runs is not None and job.vocabulary_dir is not None:
        vocabulary = save_vocabulary(words_of_runs(runs.counts()), job.vocabulary_dir)
    del runs
    seconds: dict[str, float] = collections.defaultdict(float)
    for entry in out:
        for step, spent in entry.seconds.items():  # type: ignore[union-attr]
            seconds[step] += spent
    entries = InputTable.from_entries(out)  # type: ignore[arg-type]
    del out
    # The job ran in a pool worker that idles while the run's corrector is built: give its heap back now.
    release_freed_memory()
    return PreparedJob(entries, vocabulary, dict(seconds))


def _prepare_batch(
    batch: list[tuple[int, str, Document | None, FileReport]],
    read_seconds: float,
    job: PrepareJob,
    cache: PreparedCache,
    out: list[PreparedInput | None],
) -> pa.Table:
    """Segment and repair the read documents of ``batch`` together, then cache one entry per file; returns their paragraphs."""
    from corpusclean.segment import segment_documents
    seconds: dict[str, float] = {"read": read_seconds}
    start = time.perf_counter()
    documents = [(document.source, document.text) for _, _, document, _ in batch if document is not None]
    table = segment_documents(documents, job.config.max_paragraph_chars) if documents else PARAGRAPH_SCHEMA.empty_table()
    # Each document's rows are consecutive, in order: find where each one's end.
    sources = table.column("source").to_pylist()
    ranges: list[tuple[int, int]] = []
    row = 0
    read_edits: list[pa.Table] = []
    for _, _, document, report in batch:
        first = row
        if document is not None:
            while row < len(sources) and sources[row] == document.source:
                row += 1
            report.paragraphs = row - first
            if document.edits:
                read_edits.append(_attach_document_edits(table.slice(first, row - first), document.edits))
        ranges.append((first, row))
    if row != table.num_rows:
        raise AssertionError("segmented rows do not match their documents")
    _timed(seconds, "segment", start)
    paragraphs, edits = clean_segmented(table, job.config, job.overrides, seconds)
    edits = concat_edits([*read_edits, edits])
    # Edits go to the file whose paragraph they edit (read edits first, as prepare_shard orders them).
    ids = paragraphs.column("paragraph_id").to_pylist()
    file_of_row = {pid: i for i, (first, end) in enumerate(ranges) for pid in ids[first:end]}
    owners = [file_of_row[pid] for pid in edits.column("paragraph_id").to_pylist()]
    edit_rows: list[list[int]] = [[] for _ in batch]
    for index, owner in enumerate(owners):
        edit_rows[owner].append(index)
    entries = [
        NewEntry(key, paragraphs.slice(first, end - first), edits.take(pa.array(edit_rows[i], pa.int64())) if edit_rows[i]
                 else EDIT_SCHEMA.empty_table(), report, seconds if i == 0 else {})
        for i, ((_, key, _, report), (first, end)) in enumerate(zip(batch, ranges))
    ]  # fmt: skip
    for (position, *_), entry in zip(batch, cache.put_many(entries)):
        out[position] = entry
    return paragraphs


def plan_prepare_jobs(
    files: Sequence[tuple[InputFile, str | None]],
    config: CleanConfig,
    cache_root: Path,
    shards: int,
    overrides: Overrides | None = None,
    vocabulary_dir: Path | None = None,
    fingerprint: str = "",
) -> list[PrepareJob]:
    """Shards of ``files`` (each with its cache key, or ``None`` for the job to key it; see :class:`PrepareJob`)."""
    planned = plan_shards([f for f, _ in files], shards)
    key_of = {id(f): k for f, k in files}
    return [PrepareJob(tuple((f, key_of[id(f)]) for f in shard), config, cache_root, overrides, vocabulary_dir, fingerprint)
            for shard in planned]  # fmt: skip


@dataclass(frozen=True)
class CorrectJob:
    """A shard of prepared inputs to run OCR correction over."""

    number: int
    inputs: InputTable
    settings_path: Path | None
    """The run's pickled :class:`OcrSettings` (:func:`load_ocr_settings`), written once for all shards;
    ``None`` for a run without OCR: the shard's inputs are only gathered into one file."""
    work_dir: Path


def save_ocr_settings(settings: OcrSettings, work_dir: Path) -> Path:
    path = work_dir / "ocr-settings.pickle"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(settings, protocol=pickle.HIGHEST_PROTOCOL))
    return path


@functools.lru_cache(maxsize=1)
def load_ocr_settings(path: Path) -> OcrSettings:
    """The run's OCR settings, loaded once per process: a worker's shards share one corrector and its memos
    (a shard starting with cold verdict memos costs ~12% more). Each run writes its own file."""
    return pickle.loads(path.read_bytes())


@dataclass
class CorrectedShard:
    paragraphs: Path
    edits: Path
    """The shard's ``ocr`` edits."""
    seconds: float
    prepared_edits: Path
    """The edits its inputs came with from the prepare stage, gathered: the writer opens one file
    per shard instead of one per input (thousands for a run of many small files)."""


OCR_BATCH_ROWS = 4096
"""Paragraphs per OCR call and output batch: small inputs' batches are gathered up to this many."""


def correct_job(job: CorrectJob) -> CorrectedShard:
    """OCR over a shard, a few thousand paragraphs at a time, in input order.

    Inputs arrive as record batches (one per small file, many per streamed
    one); consecutive batches are gathered into one call of about
    :data:`OCR_BATCH_ROWS` rows, so tens of thousands of small files do not
    cost one round of table building, edit collection and IPC writing each.
    Every paragraph is corrected on its own, so the grouping changes nothing
    in the output. Without OCR settings the inputs are only gathered: later
    steps read one file per shard, not one batch per input.
    """
    start = time.perf_counter()
    settings = load_ocr_settings(job.settings_path) if job.settings_path is not None else None
    base = job.work_dir / f"ocr-{job.number:05d}"
    with TableWriter(base / "corrected.arrow") as paragraphs_out, TableWriter(base / "edits-ocr.arrow") as edits_out:
        pending: list[pa.RecordBatch] = []
        rows = 0

        def flush() -> None:
            nonlocal rows
            if pending:
                # One batch per call, not one per small input: downstream steps work batch by batch.
                paragraphs, edits = _correct_or_gather(pa.Table.from_batches(pending).combine_chunks(), settings)
                paragraphs_out.write(paragraphs)
                edits_out.write(edits)
                pending.clear()
                rows = 0
                # Each batch's texts, as Python strings and Arrow buffers, leave the heap fragmented: two workers
                # held ~50 MB more each at the 200 MB run's peak, which is this stage, without this.
                release_freed_memory(collect=False)

        for batch in job.inputs.paragraph_batches():
            if batch.num_rows == 0:
                continue
            if pending and not batch.schema.equals(pending[0].schema):
                flush()
            pending.append(batch)
            rows += batch.num_rows
            if rows >= OCR_BATCH_ROWS:
                flush()
        flush()
        if not paragraphs_out.written:  # only empty inputs: still write the schemas
            paragraphs, edits = _correct_or_gather(pa.Table.from_batches(list(job.inputs[0].paragraph_batches())).slice(0, 0), settings)
            paragraphs_out.write(paragraphs)
            edits_out.write(edits)
    prepared = concat_edits(job.inputs.edit_tables())
    prepared_path = save_table(prepared.combine_chunks(), base / "edits-prepared.arrow")
    return CorrectedShard(paragraphs_out.path, edits_out.path, time.perf_counter() - start, prepared_path)


def _correct_or_gather(paragraphs: pa.Table, settings: OcrSettings | None) -> tuple[pa.Table, pa.Table]:
    return correct_shard(paragraphs, settings) if settings is not None else (paragraphs, EDIT_SCHEMA.empty_table())


@dataclass(frozen=True)
class OcrSettingsJob:
    """What building the run's corrector needs (see :func:`prepare_ocr_settings`)."""

    config: CleanConfig
    vocabulary: RunVocabulary
    substitutions: Path | None
    overrides: Overrides | None
    work_dir: Path


def prepare_ocr_settings(job: OcrSettingsJob) -> Path:
    """Build the run's corrector, decide every distinct token once and save it for the shards; returns its path.

    A job rather than a call so that the flow can run it in a worker
    process: the lexicon, tries and bigram counts it loads (~250 MB) then
    never sit in the flow's process through deduplication and writing.
    """
    settings = ocr_settings(job.config, load_run_vocabulary(job.vocabulary), job.substitutions, job.overrides)
    return save_ocr_settings(settings, job.work_dir)


def plan_correct_jobs(
    inputs: InputTable, settings_path: Path | None, work_dir: Path, workers: int, target_rows: int = 50_000
) -> list[CorrectJob]:
    """Group prepared inputs into OCR shards of about ``target_rows`` paragraphs (more shards than workers)."""
    if workers > 1:
        target_rows = max(1000, min(target_rows, inputs.total_rows() // (workers * 2) or 1))
    jobs: list[CorrectJob] = []
    first = rows = 0
    for position, item_rows in enumerate(inputs.column("rows")):
        if position > first and rows + item_rows > target_rows:
            jobs.append(CorrectJob(len(jobs), inputs[first:position], settings_path, work_dir))
            first, rows = position, 0
        rows += item_rows
    if first < len(inputs):
        jobs.append(CorrectJob(len(jobs), inputs[first:], settings_path, work_dir))
    return jobs
