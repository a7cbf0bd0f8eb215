"""Command line: parses arguments and calls the Prefect flow; no cleaning logic lives here."""

from __future__ import annotations

import atexit
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from corpusclean.embedded_api import EmbeddedApi
from corpusclean.own_process import return_freed_heap, skip_unused_imports, use_returning_memory_pool

# No outside network calls: this must be set before Prefect is imported.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The embedded API takes ~10 s to start on an idle 2-core machine; Prefect's 20 s default fails under load.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

app = typer.Typer(
    help="corpusclean: clean, repair and deduplicate text corpora, with an audit trail of every edit and removal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: a message naming a long path stays one line (rich would break it at the terminal width,
# or at 80 columns when stderr is not a terminal), so it can be read and matched as one line.
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _root() -> None:
    """corpusclean: clean, repair and deduplicate text corpora, with an audit trail of every edit and removal."""


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


def _load_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"config file not found: {path}") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from exc
    return dict(data.get("corpusclean", data))


def build_settings(
    paths: list[str] | None, out: str | None, config_file: Path | None, overrides: dict[str, Any]
) -> tuple[list[str], str, dict[str, Any]]:
    """Merge defaults < config file < command line; validate; return ``(paths, out, config)``."""
    from corpusclean.config import CleanConfig, ConfigError

    data = _load_config_file(config_file)
    file_paths = data.pop("paths", None)
    file_out = data.pop("out", None)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        config = CleanConfig.from_dict(data)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    final_paths = list(paths or file_paths or ["seeds"])
    missing = [p for p in final_paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)}")
    return final_paths, str(out or file_out or "data"), config.to_dict()


def summary_table(manifest: dict[str, Any]) -> Table:
    counts = manifest["counts"]
    table = Table(title=f"corpusclean run {manifest['run_id'][:8]}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    files = counts["files"]
    table.add_row("input files", str(files["found"]))
    for status, n in files.items():
        if status != "found":
            table.add_row(f"  {status}", str(n))
    paragraphs = counts["paragraphs"]
    table.add_row("paragraphs in", str(paragraphs["in"]))
    table.add_row("paragraphs kept", str(paragraphs["kept"]))
    table.add_row("paragraphs removed", str(paragraphs["removed"]))
    for method, n in paragraphs["removed_by_method"].items():
        table.add_row(f"  {method}", str(n))
    for stage, n in counts["edits"]["by_stage"].items():
        table.add_row(f"edits: {stage}", str(n))
    return table


@app.command()
def run(
    paths: Optional[list[str]] = typer.Argument(None, help="Files or directories (recursive) to clean. Default: seeds/."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output directory. Default: data/."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML file with the same options (a [corpusclean] table or top level)."),
    no_encoding: bool = typer.Option(False, "--no-encoding", help="Skip encoding repair."),
    no_ocr: bool = typer.Option(False, "--no-ocr", help="Skip OCR correction."),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Skip deduplication (keep every paragraph)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", "-t", help="Jaccard similarity for near duplicates (default 0.8)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes for CPU-bound stages (default 1)."),
    shingle: Optional[str] = typer.Option(None, "--shingle", help="Dedup shingles: 'word' 5-grams (default) or 'char' 5-grams (robust to OCR noise, slower)."),
    no_fold_ocr: bool = typer.Option(False, "--no-fold-ocr", help="Dedup compares plain normalised text, not OCR-folded text (e/c, rn/m, ... kept apart)."),
    dask_address: Optional[str] = typer.Option(None, "--dask-address", help="Run shard tasks on this existing Dask cluster (tcp://host:port)."),
    text_field: Optional[str] = typer.Option(None, "--text-field", help="JSONL field / Parquet column holding the text (default 'text')."),
    substitutions: Optional[Path] = typer.Option(None, "--substitutions", help="OCR substitution table (TSV wrong<TAB>right). Default: OUT/substitutions.tsv if present."),
    max_paragraph_chars: Optional[int] = typer.Option(None, "--max-paragraph-chars", help="Split longer blocks at sentence boundaries (default 2000)."),
    ocr_min_confidence: Optional[float] = typer.Option(None, "--ocr-min-confidence", help="Only apply automatic OCR fixes at or above this confidence (default 0.9)."),
    full: bool = typer.Option(False, "--full", help="Rebuild from scratch: ignore what earlier runs cached for unchanged inputs."),
    keep_deleted: bool = typer.Option(False, "--keep-deleted", help="Keep the rows of inputs deleted since the last run (default: retire them)."),
) -> None:
    """Clean PATHs into Parquet datasets under OUT: paragraphs/, duplicates/, corrections/ and manifest.json."""
    overrides: dict[str, Any] = {
        "threshold": threshold,
        "workers": workers,
        "shingle": shingle,
        "dask_address": dask_address,
        "text_field": text_field,
        "substitutions": str(substitutions) if substitutions else None,
        "max_paragraph_chars": max_paragraph_chars,
        "ocr_min_confidence": ocr_min_confidence,
    }
    if no_encoding:
        overrides["encoding"] = False
    if no_ocr:
        overrides["ocr"] = False
    if no_dedup:
        overrides["dedup"] = False
    if no_fold_ocr:
        overrides["fold_ocr"] = False
    if full:
        overrides["incremental"] = False
    if keep_deleted:
        overrides["keep_deleted"] = True
    try:
        final_paths, final_out, settings = build_settings(paths, out, config, overrides)
    except UsageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)

    started = time.perf_counter()
    # Prefect's temporary API server boots while this process imports the flow (see embedded_api);
    # it stops at exit, after Prefect has sent its last logs and events.
    api = EmbeddedApi.start_early()
    if _OWNS_PROCESS:
        use_returning_memory_pool()
        return_freed_heap()
    try:
        with console.status(f"cleaning {', '.join(final_paths)} into {final_out} …"):
            flow = _flow_for(settings)
            if api is not None:
                if not settings.get("dask_address"):  # the run's workers start while the server finishes booting
                    from corpusclean import run_pool

                    run_pool.warm(int(settings.get("workers") or 1), settings.get("language") if settings.get("ocr") else None)
                api.adopt()
            manifest = flow(paths=final_paths, out=final_out, config=settings)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        raise typer.Exit(130)
    except Exception as exc:  # the one place that turns any failure into a one-line reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        console.print(f"[red]failed:[/red] {type(exc).__name__}: {reason}")
        raise typer.Exit(1)
    Console().print(summary_table(manifest))
    console.print(f"wrote {final_out}/ in {time.perf_counter() - started:.1f} s")
    global _RUN_FINISHED
    _RUN_FINISHED = _OWNS_PROCESS


@app.command()
def audit(
    out: str = typer.Argument("data", help="A run's output directory. Default: data/."),
    paragraph: Optional[str] = typer.Option(None, "--paragraph", "-p", help="Everything about one paragraph (its id)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", "-k", help="One duplicate cluster: kept paragraph and each removal with its diff."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="One input file (as in the manifest's `source`)."),
    limit: int = typer.Option(10, "--limit", "-n", help="Rows per summary table."),
) -> None:
    """Show what a run removed and edited: a summary, or one paragraph, cluster or source in full."""
    from corpusclean import audit_view

    code = audit_view.guarded(lambda: audit_view.render(Console(), audit_view.audit_screen(out, paragraph, cluster, source, limit)), console)
    raise typer.Exit(code)


@app.command()
def report(
    out: str = typer.Argument("data", help="A run's output directory. Default: data/."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML file to write. Default: DIR/report.html."),
) -> None:
    """Write a self-contained HTML audit report (no network, no server needed to open it)."""
    from corpusclean import audit_view
    from corpusclean.report import write_report

    code = audit_view.guarded(lambda: console.print(f"wrote {write_report(Path(out), output)}"), console)
    raise typer.Exit(code)


@app.command()
def restore(
    out: str = typer.Argument(..., help="A run's output directory."),
    paragraph: Optional[list[str]] = typer.Option(None, "--paragraph", "-p", help="Removed paragraph id to put back (repeatable)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", "-k", help="Put back every removal of this cluster."),
    reject_edit: Optional[list[str]] = typer.Option(None, "--reject-edit", "-r", help="Edit id PARAGRAPH_ID:EDIT_INDEX to undo (repeatable)."),
) -> None:
    """Undo a removal or an edit in DIR and record it in DIR/overrides.json for the next run."""
    from corpusclean import audit_view

    code = audit_view.guarded(lambda: audit_view.restore_action(out, paragraph or [], cluster, reject_edit or [], Console()), console)
    raise typer.Exit(code)


@app.command()
def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(4200, "--port", help="Port of the API and UI."),
    home: Path = typer.Option(Path(".prefect"), "--home", help="PREFECT_HOME: where the server keeps its SQLite database."),
) -> None:
    """Start a Prefect server (SQLite under --home, telemetry off): schedules fire only against a running server."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)  # the server itself must not point at another API
    prefect = Path(sys.executable).with_name("prefect")
    console.print(f"Prefect server on http://{host}:{port} (PREFECT_HOME={home}); use PREFECT_API_URL=http://{host}:{port}/api")
    os.execve(prefect, [str(prefect), "server", "start", "--host", host, "--port", str(port)], env)


@app.command()
def serve(
    paths: Optional[list[str]] = typer.Argument(None, help="Input folders or files to clean on every run. Default: seeds/."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output directory. Default: data/."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML file with the run options (see `run`)."),
    cron: str = typer.Option("0 2 * * *", "--cron", help="When to run (cron syntax, server's time zone unless --timezone)."),
    timezone: Optional[str] = typer.Option(None, "--timezone", help="IANA time zone of the cron schedule, e.g. Europe/Berlin."),
    name: str = typer.Option("nightly", "--name", help="Deployment name: runs are clean-corpus/NAME."),
) -> None:
    """Register the deployment clean-corpus/NAME on a schedule and serve it (runs execute in this process).

    Needs a running Prefect server (`corpusclean server`) and PREFECT_API_URL pointing at it. Ad-hoc runs:
    `prefect deployment run clean-corpus/NAME`.
    """
    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[red]error:[/red] schedules only fire against a running Prefect server: start one with "
            "`corpusclean server` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
        raise typer.Exit(2)
    try:
        from prefect.schedules import Cron

        schedule = Cron(cron, timezone=timezone) if timezone else Cron(cron)
        final_paths, final_out, settings = build_settings(paths, out, config, {})
    except UsageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    except ValueError as exc:
        console.print(f"[red]error:[/red] invalid --cron {cron!r}: {exc}")
        raise typer.Exit(2)
    from flows.clean_corpus import clean_corpus

    parameters = {"paths": [str(Path(p).resolve()) for p in final_paths], "out": str(Path(final_out).resolve()), "config": settings}
    console.print(f"serving clean-corpus/{name} on {cron!r}: {', '.join(parameters['paths'])} -> {parameters['out']}")
    try:
        clean_corpus.serve(name=name, schedule=schedule, parameters=parameters, print_starting_message=True)
    except Exception as exc:
        console.print(f"[red]failed:[/red] {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        raise typer.Exit(1)


def _flow_for(settings: dict[str, Any]):
    from flows.clean_corpus import clean_corpus

    address = settings.get("dask_address")
    if not address:
        return clean_corpus
    from prefect_dask import DaskTaskRunner

    return clean_corpus.with_options(task_runner=DaskTaskRunner(address=address))


_OWNS_PROCESS = False
"""Set by :func:`main`: the CLI runs as its own program, not inside a caller's process (tests, notebooks)."""
_RUN_FINISHED = False


def main() -> None:  # pragma: no cover - console script entry point
    global _OWNS_PROCESS
    _OWNS_PROCESS = True
    skip_unused_imports()  # before anything imports pyarrow or loads a kernel (see own_process)
    # Registered before anything else is, so it runs after every other exit handler: Prefect's last logs
    # and events are sent, its API server stopped, the pool's processes gone.
    atexit.register(_exit_without_teardown)
    app()


def _exit_without_teardown() -> None:  # pragma: no cover - runs at interpreter exit
    # After a finished run the interpreter's own teardown changes nothing (the outputs are written and
    # closed): it frees, one by one, every object of a process that held the run (~1 s at 200 MB).
    if _RUN_FINISHED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
