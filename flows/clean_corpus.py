"""Prefect flow: clean a corpus into audited Parquet.

Thin orchestration only: every task calls plain functions of
:mod:`corpusclean.pipeline` and friends. Tasks exchange file paths (Arrow IPC
files in the output directory's cache and work directory), never large Python
objects. Arguments that grow with the number of input files (lists of files,
jobs, paths, the manifest) are passed ``quote``d: Prefect otherwise walks every
element of a task's arguments looking for futures (6 s for the manifest of
36,000 inputs).

Locally the CPU-bound steps run as one task each, over a process pool of
``workers`` (cheaper on a small machine than a task per shard); the prepare
and OCR stages share that pool, started as the run begins
(:mod:`corpusclean.run_pool`). With a
``dask_address`` they run as one task per shard on that Dask cluster through
Prefect's Dask task runner.

Runs are incremental: inputs whose bytes (and the relevant settings) are
unchanged since an earlier run reuse their cached prepared paragraphs; OCR
and deduplication always cover the whole corpus, so the output equals a full
run's. Everything a run writes becomes visible in one atomic commit.
"""

from __future__ import annotations

import collections
import functools
import json
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.utilities.annotations import quote

from corpusclean import pipeline
from corpusclean.arrow_io import load_table, save_table
from corpusclean.cache import PreparedCache, cache_root, file_sha256, input_key, settings_fingerprint
from corpusclean.config import CleanConfig
from corpusclean.lock import output_lock
from corpusclean.overrides import Overrides, load_overrides, overrides_path
from corpusclean.parallel import release_freed_memory
from corpusclean import run_pool
from corpusclean.input_table import InputTable
from corpusclean.read import FileReport, InputFile, discover_inputs
from corpusclean.tables import PARAGRAPH_SCHEMA
from corpusclean.write import MANIFEST, REPORT, clean_stale, commit_snapshot, current_snapshot, new_snapshot, write_dataset, write_manifest

IO_RETRIES = 2


@task(name="discover-inputs", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def discover_task(paths: list[str], out_dir: Path) -> tuple[list[InputFile], list[FileReport]]:
    files, problems = discover_inputs(paths, exclude=[out_dir])
    logger = get_run_logger()
    logger.info("found %d input file(s) under %s", len(files), ", ".join(paths))
    for problem in problems:
        logger.warning("skipped %s: %s", problem.source, problem.reason)
    return files, problems


@task(name="hash-inputs", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def hash_task(files: list[InputFile], fingerprint: str) -> list[tuple[InputFile, str]]:
    """Each file with its cache key; an unreadable file gets a one-off key (prepare reports why)."""
    return [(item, input_key(item.source, file_sha256(item.path), fingerprint)) for item in files]


@task(name="prepare-shard", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def prepare_shard_task(job: pipeline.PrepareJob) -> pipeline.PreparedJob:
    return pipeline.prepare_job(job)


@task(name="prepare-shards", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def prepare_shards_task(jobs: list[pipeline.PrepareJob], workers: int) -> list[pipeline.PreparedJob]:
    return run_pool.map_items(pipeline.prepare_job, jobs, workers)


@task(name="correct-ocr-shard", cache_policy=NO_CACHE)
def correct_shard_task(job: pipeline.CorrectJob) -> pipeline.CorrectedShard:
    return pipeline.correct_job(job)


@task(name="correct-ocr", cache_policy=NO_CACHE)
def correct_shards_task(jobs: list[pipeline.CorrectJob], workers: int) -> list[pipeline.CorrectedShard]:
    return run_pool.map_items(pipeline.correct_job, jobs, workers)


@task(name="deduplicate", cache_policy=NO_CACHE)
def deduplicate_task(paragraph_paths: list[Path], config: CleanConfig, work_dir: Path, overrides: Overrides) -> Path:
    """The run's deduplication verdicts, one row per paragraph in ``paragraph_paths`` order (an Arrow file)."""
    tables = [load_table(p) for p in paragraph_paths]
    paragraphs = pa.concat_tables(tables, promote_options="default") if tables else PARAGRAPH_SCHEMA.empty_table()
    verdicts = pipeline.deduplication_verdicts(paragraphs, config, overrides)
    removed = verdicts.num_rows - verdicts.column("kept_paragraph_id").null_count
    get_run_logger().info("deduplicated %d paragraphs: %d kept, %d removed", paragraphs.num_rows, paragraphs.num_rows - removed, removed)
    return save_table(verdicts, work_dir / "verdicts.arrow")


@task(name="write-outputs", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def write_task(out_dir: Path, paragraph_paths: list[Path], verdicts_path: Path, edit_paths: list[Path], manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the datasets, the manifest and the report as one snapshot, and commit it.

    The paragraphs are streamed from the run's files a piece at a time; the
    report is built from the written Parquet files.
    """
    logger = get_run_logger()
    corrections = pipeline.assemble_corrections(pipeline.concat_edits(load_table(p) for p in edit_paths))
    verdicts = load_table(verdicts_path)
    manifest["counts"] = pipeline.counts([i["status"] for i in manifest["inputs"]], verdicts, corrections)
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat()
    staging = new_snapshot(out_dir)
    try:
        # Corrections are written while the paragraphs stream (Parquet encoding releases the GIL).
        with ThreadPoolExecutor(max_workers=1) as background:
            corrections_written = background.submit(write_dataset, corrections, staging / "corrections")
            pipeline.write_paragraph_datasets(paragraph_paths, verdicts, pipeline.EditCounts(corrections), staging)
            corrections_written.result()
        del verdicts, corrections
        write_manifest(staging, manifest)
        _save_report(staging, manifest, logger)
        commit_snapshot(out_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %s", out_dir)
    return manifest


def _save_report(staging: Path, manifest: dict[str, Any], logger) -> None:
    from corpusclean.audit import Output  # DuckDB: imported only when there is an output to query
    from corpusclean.report import report_page, save_page

    try:
        save_page(report_page(Output(staging, manifest=manifest)), staging / REPORT)
    except Exception as exc:  # the report is a view of the data: never lose the data for it
        logger.warning("could not write %s: %s: %s", REPORT, type(exc).__name__, exc)


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # outside a flow run (tests calling the function directly)
        return uuid.uuid4().hex


def summary_markdown(manifest: dict[str, Any], out_dir: Path) -> str:
    c = manifest["counts"]
    p = c["paragraphs"]
    inc = manifest.get("incremental", {})
    report = (out_dir / REPORT).resolve()
    lines = [
        f"# corpusclean run `{manifest['run_id']}`",
        "",
        f"Output: `{out_dir.resolve()}` — audit report: [{REPORT}](file://{report})",
        "",
        "| what | count |",
        "|---|---:|",
        f"| input files | {c['files']['found']} |",
        *(f"| files {status} | {n} |" for status, n in c["files"].items() if status != "found"),
        *(f"| inputs {what} | {n} |" for what, n in inc.items() if isinstance(n, int)),
        f"| paragraphs in | {p['in']} |",
        f"| paragraphs kept | {p['kept']} |",
        f"| paragraphs removed | {p['removed']} |",
        *(f"| removed as {m} | {n} |" for m, n in p["removed_by_method"].items()),
        *(f"| edits: {stage} | {n} |" for stage, n in c["edits"]["by_stage"].items()),
    ]
    troubled = [i for i in manifest["inputs"] if i["status"] != "read"]
    if troubled:
        lines += ["", "## Inputs with problems", "", "| source | status | reason / warnings |", "|---|---|---|"]
        lines += [f"| {i['source']} | {i['status']} | {i['reason'] or '; '.join(i['warnings'])} |" for i in troubled]
    return "\n".join(lines) + "\n"


class RunManifest(Mapping[str, Any]):
    """The manifest a run wrote (``manifest.json``), as the flow returns it: a read-only mapping.

    Not a ``dict`` on purpose: Prefect walks a flow's ``dict``/``list`` return
    value looking for futures, which took 7 s for the input rows of a
    36,000-file run; it leaves other mappings alone.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@flow(name="clean-corpus", log_prints=True)
def clean_corpus(paths: list[str] | None = None, out: str = "data", config: dict[str, Any] | None = None) -> RunManifest:
    """Clean the text files under ``paths`` into Parquet datasets under ``out``.

    ``config`` holds :class:`corpusclean.config.CleanConfig` fields; returns the manifest.
    """
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat()
    cfg = CleanConfig.from_dict(config or {})
    paths = list(paths or ["seeds"])
    out_dir = Path(out)
    with output_lock(out_dir):
        clean_stale(out_dir)
        manifest = _clean_locked(paths, out_dir, cfg, started, started_at)
    create_markdown_artifact(key="corpusclean-summary", markdown=summary_markdown(manifest, out_dir), description="corpusclean run summary")
    return RunManifest(manifest)


def _previous_manifest(out_dir: Path) -> dict[str, Any] | None:
    snapshot = current_snapshot(out_dir)
    try:
        return json.loads((snapshot / MANIFEST).read_text(encoding="utf-8")) if snapshot else None
    except (OSError, ValueError):
        return None


def _clean_locked(paths: list[str], out_dir: Path, cfg: CleanConfig, started: float, started_at: str) -> dict[str, Any]:
    logger = get_run_logger()
    run_id = _run_id()
    work_dir = out_dir / f".work-{run_id[:12]}"
    durations: dict[str, float] = collections.defaultdict(float)
    on_dask = cfg.dask_address is not None
    cache = PreparedCache(cache_root(out_dir))
    first_fill = cache.is_empty()  # then every entry at the end is this run's, for one of its inputs: none to drop
    previous = _previous_manifest(out_dir)
    overrides = load_overrides(out_dir)  # a reviewer's restores and rejected edits (corpusclean restore)
    overrides_file = overrides_path(out_dir)
    overrides_digest = file_sha256(overrides_file) or "" if overrides_file.is_file() else ""

    try:
        if not on_dask:  # the prepare and OCR stages' worker processes start while inputs are found and hashed
            run_pool.warm(cfg.workers, cfg.language if cfg.ocr else None)
        t = time.perf_counter()
        files, problems = discover_task(paths, out_dir)
        substitutions = pipeline.resolve_substitutions(cfg, out_dir)
        fingerprint = settings_fingerprint(cfg, overrides_digest)
        if cfg.incremental and not first_fill:  # each input's key first, to look it up
            keyed: list[tuple[InputFile, str | None]] = hash_task(quote(files), fingerprint)
        else:  # nothing to look up: the prepare jobs key what they read (each input is read once)
            keyed = [(f, None) for f in files]
        durations["discover+hash(wall)"] = time.perf_counter() - t

        t = time.perf_counter()
        hits = cache.get_many(key for _, key in keyed if key is not None) if cfg.incremental else {}
        missing = [(f, k) for f, k in keyed if hits.get(k) is None]
        shards = cfg.workers if not on_dask else max(cfg.workers, 2)
        jobs = pipeline.plan_prepare_jobs(missing, cfg, cache.root, shards, overrides, fingerprint=fingerprint,
                                          vocabulary_dir=work_dir / "vocabulary" if cfg.ocr else None)  # fmt: skip
        if on_dask:
            prepared = [f.result() for f in prepare_shard_task.map(jobs)]
        else:
            prepared = prepare_shards_task(quote(jobs), cfg.workers)
        durations["prepare(wall)"] = time.perf_counter() - t
        for job in prepared:
            for stage, seconds in job.seconds.items():
                durations[stage] += seconds
        # One row per input, as columns: the flow's process holds them to the end (see corpusclean.input_table).
        parts = [job.entries for job in prepared] + [InputTable.from_entries(e for e in hits.values() if e is not None)]
        present = {f.source for f in files}
        prepare_shards = len(jobs)
        del files, keyed, missing, hits, jobs  # discovery's paths, needed no more

        deleted = sorted(i["source"] for i in (previous or {}).get("inputs", []) if i["source"] not in present and i.get("cache_key"))
        del present
        if cfg.keep_deleted:
            kept_deleted = cache.get_many(i["cache_key"] for i in previous["inputs"] if i["source"] in deleted)
            parts.append(InputTable.from_entries(e for e in kept_deleted.values() if e is not None))
        for source in deleted:
            logger.warning("input %s has disappeared since the last run: its rows are %s", source, "kept" if cfg.keep_deleted else "retired")
        inputs = InputTable.concat(parts).sorted_by_source()
        del parts

        t = time.perf_counter()
        settings_path = None
        if cfg.ocr:
            over_pool = None if on_dask else functools.partial(run_pool.map_items, workers=cfg.workers)
            vocabulary = pipeline.run_vocabulary(inputs, prepared, cfg.workers, over_pool)
            durations["vocabulary"] = time.perf_counter() - t
        del prepared
        # What discovery and the prepare jobs' results left free: this process idles from here to deduplication.
        release_freed_memory()
        if cfg.ocr:
            settings_job = pipeline.OcrSettingsJob(cfg, vocabulary, substitutions, overrides, work_dir)
            del vocabulary
            if on_dask:
                settings_path = pipeline.prepare_ocr_settings(settings_job)
            else:  # in a process of its own: the OCR model's memory leaves with it, before deduplication
                # Idle workers would add ~230 MB to the builder's memory (the 200 MB run's peak, 1,104 MB, was
                # there); the OCR stage starts new ones from the forkserver.
                run_pool.close(stop_forkserver=False)
                settings_path = run_pool.call(pipeline.prepare_ocr_settings, settings_job, cfg.workers)
            del settings_job  # and its vocabulary: the corrector has it, in the settings file
            release_freed_memory()
        # Without OCR the shards only gather their inputs (packed many to a cache file) into one file each.
        correct_jobs = pipeline.plan_correct_jobs(inputs, settings_path, work_dir, shards)
        if on_dask:
            corrected = [f.result() for f in correct_shard_task.map(correct_jobs)]
        else:
            corrected = correct_shards_task(quote(correct_jobs), cfg.workers)
        # each shard's inputs' prepare-stage edits, then every shard's OCR edits: the order the writer expects
        edit_paths = [c.prepared_edits for c in corrected] + [c.edits for c in corrected]
        paragraph_paths = [c.paragraphs for c in corrected]
        durations["ocr" if cfg.ocr else "gather"] = sum(c.seconds for c in corrected)
        durations["ocr(wall)" if cfg.ocr else "gather(wall)"] = time.perf_counter() - t

        run_pool.close()  # idle workers would only add to deduplication's memory
        pipeline.load_ocr_settings.cache_clear()  # the corrector, if one worker ran OCR in this process
        t = time.perf_counter()
        verdicts_path = deduplicate_task(quote(paragraph_paths), cfg, work_dir, overrides)
        durations["dedup(wall)"] = time.perf_counter() - t

        input_rows = [r.as_dict() for r in problems] + [
            report | {"cache_key": key, "reused": cached}
            for report, key, cached in zip(inputs.report_dicts(), inputs.column("key"), inputs.column("cached"))
        ]
        for row in input_rows:
            if row["status"] == "skipped":
                logger.warning("skipped %s: %s", row["source"], row["reason"])
            for warning in row["warnings"]:
                logger.warning("%s: %s", row["source"], warning)
        previous_keys = {i["source"]: i.get("cache_key") for i in (previous or {}).get("inputs", [])}
        sources, keys = inputs.column("source"), inputs.column("key")
        manifest: dict[str, Any] = {
            "run_id": run_id,
            "started_at": started_at,
            "paths": paths,
            "out": str(out_dir),
            "config": cfg.to_dict(),
            "substitutions": str(substitutions) if substitutions else None,
            "overrides": {
                "restored_paragraphs": len(overrides.kept_paragraph_ids),
                "do_not_fix_words": list(overrides.do_not_fix_words),
            },
            "inputs": input_rows,
            "incremental": {
                "new": sum(1 for source in sources if source not in previous_keys),
                "changed": sum(1 for source, key in zip(sources, keys) if previous_keys.get(source) not in (None, key)),
                "unchanged": sum(1 for source, key in zip(sources, keys) if previous_keys.get(source) == key),
                "reused_from_cache": sum(inputs.column("cached")),
                "deleted": len(deleted),
                "deleted_inputs": deleted,
                "deleted_rows": "kept" if cfg.keep_deleted else "retired",
            },
            "versions": pipeline.versions(),
            "execution": {
                "task_runner": f"dask {cfg.dask_address}" if on_dask else f"local process pool of {cfg.workers}",
                "prepare_shards": prepare_shards,
            },
        }
        durations["before_write"] = time.perf_counter() - started
        manifest["durations_seconds"] = {k: round(v, 3) for k, v in durations.items()}
        manifest = write_task(out_dir, quote(paragraph_paths), verdicts_path, quote(edit_paths), quote(manifest))
        if not first_fill:  # (36,000 inputs: 0.2 s to read every pack's index and find nothing to drop)
            cache.retain(i["cache_key"] for i in manifest["inputs"] if i.get("cache_key"))
    finally:
        run_pool.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return manifest


if __name__ == "__main__":
    print(json.dumps(clean_corpus()["counts"], indent=2))
