"""Prefect flow: clean a corpus into audited Parquet.

Thin orchestration only: every task calls a plain function of
:mod:`corpusclean.pipeline`. Tasks exchange file paths (Arrow IPC files in a
work directory inside the output directory), never large Python objects.

Locally the CPU-bound steps run as one task each, over a process pool of
``workers`` (cheaper on a small machine than a task per shard). With a
``dask_address`` they run as one task per shard on that Dask cluster through
Prefect's Dask task runner.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context

from corpusclean import pipeline
from corpusclean.config import CleanConfig
from corpusclean.read import FileReport, InputFile, discover_inputs
from corpusclean.lock import output_lock
from corpusclean.parallel import map_items
from corpusclean.write import clean_stale, write_outputs

IO_RETRIES = 2


@task(name="discover-inputs", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def discover_task(paths: list[str], out_dir: Path) -> tuple[list[InputFile], list[FileReport]]:
    files, problems = discover_inputs(paths, exclude=[out_dir])
    logger = get_run_logger()
    logger.info("found %d input file(s) under %s", len(files), ", ".join(paths))
    for problem in problems:
        logger.warning("skipped %s: %s", problem.source, problem.reason)
    return files, problems


@task(name="prepare-shard", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def prepare_shard_task(job: pipeline.PrepareJob) -> pipeline.PreparedFiles:
    return pipeline.prepare_job(job)


@task(name="prepare-shards", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def prepare_shards_task(jobs: list[pipeline.PrepareJob], workers: int) -> list[pipeline.PreparedFiles]:
    return map_items(pipeline.prepare_job, jobs, workers)


@task(name="correct-ocr-shard", cache_policy=NO_CACHE)
def correct_shard_task(job: pipeline.CorrectJob) -> pipeline.CorrectedFiles:
    return pipeline.correct_job(job)


@task(name="correct-ocr", cache_policy=NO_CACHE)
def correct_shards_task(jobs: list[pipeline.CorrectJob], workers: int) -> list[pipeline.CorrectedFiles]:
    return map_items(pipeline.correct_job, jobs, workers)


@task(name="deduplicate", cache_policy=NO_CACHE)
def deduplicate_task(paragraph_paths: list[Path], config: CleanConfig, work_dir: Path) -> tuple[Path, Path]:
    paragraphs = pa.concat_tables([pipeline.load_table(p) for p in paragraph_paths])
    kept, duplicates = pipeline.deduplicate_all(paragraphs, config)
    get_run_logger().info("deduplicated %d paragraphs: %d kept, %d removed", paragraphs.num_rows, kept.num_rows, duplicates.num_rows)
    return pipeline.save_table(kept, work_dir / "kept.arrow"), pipeline.save_table(duplicates, work_dir / "duplicates.arrow")


@task(name="write-outputs", cache_policy=NO_CACHE, retries=IO_RETRIES, retry_delay_seconds=1)
def write_task(out_dir: Path, kept_path: Path, duplicates_path: Path, edit_paths: list[Path], manifest: dict[str, Any]) -> dict[str, Any]:
    corrections = pipeline.assemble_corrections(pipeline.concat_edits(pipeline.load_table(p) for p in edit_paths))
    kept = pipeline.sort_paragraphs(pipeline.add_paragraph_stats(pipeline.load_table(kept_path), corrections))
    duplicates = pipeline.sort_paragraphs(pipeline.add_paragraph_stats(pipeline.load_table(duplicates_path), corrections))
    reports = [FileReport(**r) for r in manifest["inputs"]]
    manifest["counts"] = pipeline.counts(reports, kept, duplicates, corrections)
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat()
    write_outputs(out_dir, {"paragraphs": kept, "duplicates": duplicates, "corrections": corrections}, manifest)
    get_run_logger().info("wrote %s", out_dir)
    return manifest


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # outside a flow run (tests calling the function directly)
        return uuid.uuid4().hex


def summary_markdown(manifest: dict[str, Any], out_dir: Path) -> str:
    c = manifest["counts"]
    p = c["paragraphs"]
    lines = [
        f"# corpusclean run `{manifest['run_id']}`",
        "",
        f"Output: `{out_dir}`",
        "",
        "| what | count |",
        "|---|---:|",
        f"| input files | {c['files']['found']} |",
        *(f"| files {status} | {n} |" for status, n in c["files"].items() if status != "found"),
        f"| paragraphs in | {p['in']} |",
        f"| paragraphs kept | {p['kept']} |",
        f"| paragraphs removed | {p['removed']} |",
        *(f"| removed as {m} | {n} |" for m, n in p["removed_by_method"].items()),
        *(f"| edits: {stage} | {n} |" for stage, n in c["edits"]["by_stage"].items()),
    ]
    skipped = [i for i in manifest["inputs"] if i["status"] != "read"]
    if skipped:
        lines += ["", "## Inputs with problems", "", "| source | status | reason / warnings |", "|---|---|---|"]
        lines += [f"| {i['source']} | {i['status']} | {i['reason'] or '; '.join(i['warnings'])} |" for i in skipped]
    return "\n".join(lines) + "\n"


@flow(name="clean-corpus", log_prints=True)
def clean_corpus(paths: list[str] | None = None, out: str = "data", config: dict[str, Any] | None = None) -> dict[str, Any]:
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
    return manifest


def _clean_locked(paths: list[str], out_dir: Path, cfg: CleanConfig, started: float, started_at: str) -> dict[str, Any]:
    logger = get_run_logger()
    run_id = _run_id()
    work_dir = out_dir / f".work-{run_id[:12]}"
    durations: dict[str, float] = collections.defaultdict(float)
    on_dask = cfg.dask_address is not None

    try:
        t = time.perf_counter()
        files, problems = discover_task(paths, out_dir)
        substitutions = pipeline.resolve_substitutions(cfg, out_dir)
        shards = pipeline.plan_shards(files, cfg.workers)
        jobs = [pipeline.PrepareJob(n, tuple(s), cfg, work_dir) for n, s in enumerate(shards)]
        if on_dask:
            prepared = [f.result() for f in prepare_shard_task.map(jobs)]
        else:
            prepared = prepare_shards_task(jobs, cfg.workers)
        durations["discover+prepare(wall)"] = time.perf_counter() - t
        for shard in prepared:
            for stage, seconds in shard.seconds.items():
                durations[stage] += seconds
        edit_paths = [s.edits for s in prepared]
        paragraph_paths = [s.paragraphs for s in prepared]

        if cfg.ocr:
            t = time.perf_counter()
            vocabulary: collections.Counter[str] = collections.Counter()
            for shard in prepared:
                vocabulary.update(shard.vocabulary)
            settings = pipeline.ocr_settings(cfg, vocabulary, substitutions)
            correct_jobs = [pipeline.CorrectJob(s, settings) for s in prepared]
            if on_dask:
                corrected = [f.result() for f in correct_shard_task.map(correct_jobs)]
            else:
                corrected = correct_shards_task(correct_jobs, cfg.workers)
            edit_paths += [c.edits for c in corrected]
            paragraph_paths = [c.paragraphs for c in corrected]
            durations["ocr"] = sum(c.seconds for c in corrected)
            durations["ocr(wall)"] = time.perf_counter() - t

        t = time.perf_counter()
        kept_path, duplicates_path = deduplicate_task(paragraph_paths, cfg, work_dir)
        durations["dedup(wall)"] = time.perf_counter() - t

        reports = problems + [r for s in prepared for r in s.reports]
        for report in reports:
            if report.status == "skipped":
                logger.warning("skipped %s: %s", report.source, report.reason)
            for warning in report.warnings:
                logger.warning("%s: %s", report.source, warning)
        manifest: dict[str, Any] = {
            "run_id": run_id,
            "started_at": started_at,
            "paths": paths,
            "out": str(out_dir),
            "config": cfg.to_dict(),
            "substitutions": str(substitutions) if substitutions else None,
            "inputs": [dataclasses.asdict(r) for r in reports],
            "versions": pipeline.versions(),
            "execution": {
                "task_runner": f"dask {cfg.dask_address}" if on_dask else f"local process pool of {cfg.workers}",
                "shards": len(shards),
            },
            "durations_seconds": {},
        }
        durations["before_write"] = time.perf_counter() - started
        manifest["durations_seconds"] = {k: round(v, 3) for k, v in durations.items()}
        manifest = write_task(out_dir, kept_path, duplicates_path, edit_paths, manifest)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return manifest


if __name__ == "__main__":
    print(json.dumps(clean_corpus()["counts"], indent=2))
