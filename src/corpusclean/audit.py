"""Audit queries over a run's output: what was removed, what it matched, what every edit changed.

Pure functions, no printing: each one runs a DuckDB query over the Parquet
part files of an output directory and returns a small Arrow table or dict, so
they work on outputs of any size (DuckDB streams the scans; only the answer
is materialised). :mod:`corpusclean.audit_view` renders them for the terminal,
:mod:`corpusclean.report` for the HTML report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import duckdb
import pyarrow as pa

from corpusclean.diff import DiffOp, diff_stats, word_diff
from corpusclean.edits import Edit
from corpusclean.errors import AuditError, UnknownId
from corpusclean.segment import join_lines

DATASETS = ("paragraphs", "duplicates", "corrections")
# Stages whose edits replay on the whitespace-joined original text (``read`` edits are byte offsets instead).
REPLAYED_STAGES = ("encoding", "ocr")


@dataclass(frozen=True)
class Output:
    """A run's output directory, checked to hold the three datasets.

    ``tables`` and ``manifest``, when given, are that output's datasets and
    manifest already in memory (a run about to write them): queries scan them
    instead of the files, so the report can be built while the files are written.
    """

    root: Path
    tables: Mapping[str, pa.Table] | None = field(default=None, compare=False, repr=False)
    manifest: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def parts(self, name: str) -> str:
        """DuckDB ``read_parquet`` argument for one dataset (a glob over its part files)."""
        return str(self.root / name / "*.parquet").replace("'", "''")

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"


def open_output(out_dir: Path | str) -> Output:
    """Check ``out_dir`` is a corpusclean output; raise :class:`AuditError` saying what is missing."""
    root = Path(out_dir)
    if not root.is_dir():
        raise AuditError(f"no such output directory: {root}")
    missing = [name for name in DATASETS if not any((root / name).glob("*.parquet"))]
    if missing:
        raise AuditError(f"{root} is not a corpusclean output (missing {', '.join(f'{m}/' for m in missing)})")
    return Output(root)


def connect(output: Output) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the three datasets as views."""
    con = duckdb.connect(":memory:")
    for name in DATASETS:
        if output.tables is not None:
            con.register(name, output.tables[name])
        else:
            con.execute(f"create view {name} as select * from read_parquet('{output.parts(name)}')")
    return con


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    return con.sql(sql, params=params or None).to_arrow_table()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return _arrow(con, sql, params).to_pylist()


def load_manifest(output: Output) -> dict[str, Any]:
    """The run's manifest (empty dict if absent: the datasets alone are still auditable)."""
    if output.manifest is not None:
        return dict(output.manifest)
    try:
        return json.loads(output.manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


# --- summary ---------------------------------------------------------------------------------


def summary(output: Output) -> dict[str, Any]:
    """Counts computed from the datasets themselves (not the manifest, which overrides may have outdated).

    Returns ``paragraphs`` (in/kept/removed/removed_by_method), ``edits``
    (total/by_stage), ``clusters`` (clusters with removals), ``run`` (id, times
    and config from the manifest) and ``thresholds``.
    """
    con = connect(output)
    kept = con.execute("select count(*) from paragraphs").fetchall()[0][0]
    by_method = dict(con.execute("select method, count(*) from duplicates group by method order by method").fetchall())
    removed = sum(by_method.values())
    by_stage = dict(con.execute("select stage, count(*) from corrections group by stage order by stage").fetchall())
    clusters = con.execute("select count(distinct cluster_id) from duplicates").fetchall()[0][0]
    edited = con.execute("select count(distinct paragraph_id) from corrections").fetchall()[0][0]
    manifest = load_manifest(output)
    config = manifest.get("config", {})
    return {
        "run": {
            "run_id": manifest.get("run_id"),
            "started_at": manifest.get("started_at"),
            "finished_at": manifest.get("finished_at"),
            "paths": manifest.get("paths", []),
            "out": str(output.root),
        },
        "paragraphs": {"in": kept + removed, "kept": kept, "removed": removed, "removed_by_method": by_method},
        "edits": {"total": sum(by_stage.values()), "by_stage": by_stage, "paragraphs_edited": edited},
        "clusters": clusters,
        "thresholds": {"near": config.get("threshold"), "contained": config.get("containment_threshold")},
    }


def inputs(output: Output) -> pa.Table:
    """One row per input file: manifest status/encoding/size, and kept/removed/edit counts from the data.

    Sources absent from the manifest (an output written without one) still appear, from the data.
    """
    con = connect(output)
    per_source = _rows(
        con,
        """
        with p as (select source, count(*) as kept from paragraphs group by source),
             d as (select source, count(*) as removed from duplicates group by source),
             e as (select x.source, count(*) as edits from corrections c
                   join (select paragraph_id, source from paragraphs union all
                         select paragraph_id, source from duplicates) x using (paragraph_id) group by x.source)
        select coalesce(p.source, d.source) as source, coalesce(kept, 0) as kept, coalesce(removed, 0) as removed,
               coalesce(e.edits, 0) as edits
        from p full outer join d on p.source = d.source left join e on e.source = coalesce(p.source, d.source)
        """,
    )
    counts = {r["source"]: r for r in per_source}
    rows: list[dict[str, Any]] = []
    for item in load_manifest(output).get("inputs", []):
        c = counts.pop(item["source"], {"kept": 0, "removed": 0, "edits": 0})
        rows.append(
            {
                "source": item["source"],
                "status": item.get("status"),
                "format": item.get("format"),
                "encoding": item.get("encoding"),
                "size_bytes": item.get("size_bytes"),
                "kept": c["kept"],
                "removed": c["removed"],
                "edits": c["edits"],
                "note": item.get("reason") or "; ".join(item.get("warnings") or []),
            }
        )
    for source, c in sorted(counts.items()):
        rows.append({"source": source, "status": None, "format": None, "encoding": None, "size_bytes": None,
                     "kept": c["kept"], "removed": c["removed"], "edits": c["edits"], "note": "not in manifest"})
    return pa.Table.from_pylist(rows, schema=_INPUTS_SCHEMA)


_INPUTS_SCHEMA = pa.schema(
    [("source", pa.string()), ("status", pa.string()), ("format", pa.string()), ("encoding", pa.string()),
     ("size_bytes", pa.int64()), ("kept", pa.int64()), ("removed", pa.int64()), ("edits", pa.int64()), ("note", pa.string())]
)


def edits_by_rule(output: Output) -> pa.Table:
    """Edit counts per ``(stage, rule)`` with their confidence range, most frequent first."""
    return _arrow(
        connect(output),
        """
        select stage, rule, count(*) as edits, count(distinct paragraph_id) as paragraphs,
               min(confidence) as min_confidence, avg(confidence) as mean_confidence
        from corrections group by stage, rule order by edits desc, stage, rule
        """,
    )


CLUSTER_ORDERS = {
    # Least similar member first: a cluster is as doubtful as its weakest removal.
    "worth_a_look": "min_similarity asc, removed desc, cluster_id",
    "largest": "removed desc, min_similarity asc, cluster_id",
}


def clusters(output: Output, order: str = "largest", limit: int = 10, offset: int = 0, kept_text: bool = True) -> pa.Table:
    """Clusters with at least one removal: size, methods, similarity range, and the kept paragraph.

    ``order`` is ``largest`` (most removals first) or ``worth_a_look`` (least
    similar removal first). ``kept_paragraph_id`` is the paragraph most of the
    cluster's removals point to; with ``kept_text``, its ``kept_source`` and
    ``kept_text`` too (a scan of every kept paragraph's text).
    """
    if order not in CLUSTER_ORDERS:
        raise ValueError(f"order must be one of {', '.join(CLUSTER_ORDERS)}")
    kept = "p.source as kept_source, p.text as kept_text" if kept_text else "null as kept_source, null as kept_text"
    join = "left join paragraphs p on p.paragraph_id = c.kept_paragraph_id" if kept_text else ""
    return _arrow(
        connect(output),
        f"""
        with c as (
            select cluster_id, count(*) as removed, min(similarity) as min_similarity, max(similarity) as max_similarity,
                   string_agg(distinct method, ',' order by method) as methods,
                   mode(kept_paragraph_id) as kept_paragraph_id, count(distinct source) as removed_sources
            from duplicates group by cluster_id
            order by {CLUSTER_ORDERS[order]} limit ? offset ?
        )
        select c.*, {kept}
        from c {join}
        order by {CLUSTER_ORDERS[order]}
        """,
        [limit, offset],
    )


def least_similar_removals(output: Output, limit: int = 10) -> pa.Table:
    """Removals with the lowest verified similarity to their kept twin: the ones most worth a look."""
    return _arrow(
        connect(output),
        """
        select d.paragraph_id, d.source, d.paragraph_index, d.method, d.similarity, d.estimated_similarity,
               d.cluster_id, d.kept_paragraph_id, p.source as kept_source, d.text, p.text as kept_text
        from (select * from duplicates order by similarity asc, paragraph_id limit ?) d
        left join paragraphs p on p.paragraph_id = d.kept_paragraph_id
        order by d.similarity asc, d.paragraph_id
        """,
        [limit],
    )


def lowest_confidence_edits(output: Output, limit: int = 10) -> pa.Table:
    """Edits with the lowest confidence (stages without a confidence are left out)."""
    return _arrow(
        connect(output),
        """
        select paragraph_id, edit_index, stage, rule, before, after, confidence
        from corrections where confidence is not null
        order by confidence asc, paragraph_id, edit_index limit ?
        """,
        [limit],
    )


def similarity_histogram(output: Output, bins: int = 20, low: float | None = None) -> dict[str, Any]:
    """Removal counts per similarity bin and method, over every removal.

    Bins are equal-width from ``low`` (default: the lowest of the run's
    thresholds and the lowest similarity seen, rounded down to 0.05) to 1.0;
    1.0 itself goes in the last bin.
    """
    con = connect(output)
    lowest = con.execute("select min(similarity) from duplicates").fetchall()[0][0]
    if low is None:
        # Start at the run's lowest threshold, so the empty room below a cluster of near-1.0 removals shows.
        config = load_manifest(output).get("config", {})
        floor = min([t for t in (config.get("threshold"), config.get("containment_threshold"), lowest) if t is not None] or [0.0])
        low = min(0.95, int(floor * 20) / 20)
    width = (1.0 - low) / bins
    rows = con.execute(
        """
        select least(greatest(floor((similarity - ?) / ?), 0), ? - 1)::int as bin, method, count(*)
        from duplicates group by all order by bin, method
        """,
        [low, width, bins],
    ).fetchall()
    methods = sorted({m for _, m, _ in rows})
    counts = {m: [0] * bins for m in methods}
    for b, method, n in rows:
        counts[method][b] = n
    edges = [round(low + i * width, 6) for i in range(bins + 1)]
    edges[-1] = 1.0
    return {"edges": edges, "counts": counts}


# --- one paragraph, cluster or source ----------------------------------------------------------

_PARAGRAPH_COLUMNS = (
    "paragraph_id, source, paragraph_index, start_offset, end_offset, original_text, text, cluster_id, "
    "word_count, char_count, edit_count"
)


def _find_paragraph(con: duckdb.DuckDBPyConnection, paragraph_id: str) -> dict[str, Any] | None:
    rows = _rows(
        con,
        f"""
        select {_PARAGRAPH_COLUMNS}, 'kept' as status, duplicates_removed, null::varchar as kept_paragraph_id,
               null::varchar as method, null::double as similarity, null::double as estimated_similarity
        from paragraphs where paragraph_id = $id
        union all
        select {_PARAGRAPH_COLUMNS}, 'removed' as status, 0 as duplicates_removed, kept_paragraph_id,
               method, similarity, estimated_similarity
        from duplicates where paragraph_id = $id
        """,
        {"id": paragraph_id},  # type: ignore[arg-type]
    )
    return rows[0] if rows else None


def paragraph_edits(con: duckdb.DuckDBPyConnection, paragraph_id: str) -> list[dict[str, Any]]:
    """A paragraph's corrections rows in ``edit_index`` (replay) order."""
    return _rows(
        con,
        "select edit_index, stage, rule, position, before, after, confidence from corrections "
        "where paragraph_id = ? order by edit_index",
        [paragraph_id],
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the clean text: ``edit`` is the edit that produced it, ``None`` for untouched text."""

    text: str
    edit: dict[str, Any] | None


def highlight_edits(original_text: str, edits: list[dict[str, Any]]) -> list[Segment]:
    """Split a paragraph's clean text into untouched runs and the runs its edits wrote.

    Replays the ``encoding``/``ocr`` edits on the whitespace-joined original,
    tracking where each edit's ``after`` ends up as later edits shift the text;
    a later edit that overlaps an earlier one's span takes it over.
    """
    text = join_lines(original_text)
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for edit in edits:
        if edit["stage"] not in REPLAYED_STAGES:
            continue
        start, end = edit["position"], edit["position"] + len(edit["before"])
        if text[start:end] != edit["before"]:
            raise ValueError(f"edit {edit['edit_index']} does not match the paragraph text at {start}")
        text = text[:start] + edit["after"] + text[end:]
        shift = len(edit["after"]) - len(edit["before"])
        moved: list[tuple[int, int, dict[str, Any]]] = []
        for s, e, other in spans:
            if e <= start and not (s == e == start):
                moved.append((s, e, other))
            elif s >= end:
                moved.append((s + shift, e + shift, other))
            # an overlapped span is now part of this edit's span
        moved.append((start, start + len(edit["after"]), edit))
        spans = sorted(moved, key=lambda x: x[0])
    segments: list[Segment] = []
    cursor = 0
    for s, e, edit in spans:
        if s > cursor:
            segments.append(Segment(text[cursor:s], None))
        segments.append(Segment(text[s:e], edit))
        cursor = e
    if cursor < len(text):
        segments.append(Segment(text[cursor:], None))
    return segments


def paragraph(output: Output, paragraph_id: str) -> dict[str, Any]:
    """Everything about one paragraph.

    Keys: ``row`` (its columns, ``status`` kept/removed), ``edits``,
    ``segments`` (clean text split by edit, see :func:`highlight_edits`), and
    for a removal ``twin`` (the kept paragraph), ``diff`` (word diff of the
    removed text against the twin's) and ``diff_stats``; for a kept paragraph
    ``removed`` (the paragraphs removed in its favour).
    """
    con = connect(output)
    row = _find_paragraph(con, paragraph_id)
    if row is None:
        raise UnknownId(f"no paragraph with id {paragraph_id!r} in {output.root}")
    edits = paragraph_edits(con, paragraph_id)
    result: dict[str, Any] = {"row": row, "edits": edits, "segments": highlight_edits(row["original_text"], edits)}
    if row["status"] == "removed":
        twin = _find_paragraph(con, row["kept_paragraph_id"]) if row["kept_paragraph_id"] else None
        result["twin"] = twin
        ops: list[DiffOp] = word_diff(row["text"], twin["text"]) if twin else []
        result["diff"] = ops
        result["diff_stats"] = diff_stats(ops)
    else:
        result["removed"] = _rows(
            con,
            "select paragraph_id, source, paragraph_index, method, similarity, text from duplicates "
            "where kept_paragraph_id = ? order by similarity, paragraph_id",
            [paragraph_id],
        )
    return result


def cluster(output: Output, cluster_id: str, limit: int = 200) -> dict[str, Any]:
    """One cluster: its kept paragraph(s) and up to ``limit`` removals, least similar first.

    Each removal carries its word diff against its own kept twin.
    """
    con = connect(output)
    kept = _rows(con, f"select {_PARAGRAPH_COLUMNS}, duplicates_removed from paragraphs where cluster_id = ? "
                      "order by duplicates_removed desc, source, paragraph_index", [cluster_id])
    total = con.execute("select count(*) from duplicates where cluster_id = ?", [cluster_id]).fetchall()[0][0]
    if not kept and not total:
        raise UnknownId(f"no cluster with id {cluster_id!r} in {output.root}")
    removed = _rows(
        con,
        f"select {_PARAGRAPH_COLUMNS}, kept_paragraph_id, method, similarity, estimated_similarity from duplicates "
        "where cluster_id = ? order by similarity, source, paragraph_index limit ?",
        [cluster_id, limit],
    )
    texts = {k["paragraph_id"]: k["text"] for k in kept}
    for r in removed:
        twin_text = texts.get(r["kept_paragraph_id"])
        if twin_text is None and r["kept_paragraph_id"]:
            twin = _find_paragraph(con, r["kept_paragraph_id"])
            twin_text = texts[r["kept_paragraph_id"]] = twin["text"] if twin else ""
        r["diff"] = word_diff(r["text"], twin_text or "")
        r["diff_stats"] = diff_stats(r["diff"])
    return {"cluster_id": cluster_id, "kept": kept, "removed": removed, "removed_total": total}


def source(output: Output, name: str) -> dict[str, Any]:
    """One input file: its manifest entry and every paragraph with what happened to it, in order."""
    con = connect(output)
    rows = _rows(
        con,
        """
        select paragraph_index, paragraph_id, 'kept' as status, cluster_id, duplicates_removed,
               null::varchar as kept_paragraph_id, null::varchar as method, null::double as similarity, edit_count, text
        from paragraphs where source = $s
        union all
        select paragraph_index, paragraph_id, 'removed', cluster_id, 0, kept_paragraph_id, method, similarity, edit_count, text
        from duplicates where source = $s
        order by paragraph_index
        """,
        {"s": name},  # type: ignore[arg-type]
    )
    entry = next((i for i in load_manifest(output).get("inputs", []) if i["source"] == name), None)
    if not rows and entry is None:
        raise UnknownId(f"no source {name!r} in {output.root} (see `corpusclean audit {output.root}` for the inputs)")
    return {"source": name, "input": entry, "paragraphs": rows}


def edit(output: Output, edit_id: str) -> dict[str, Any]:
    """One corrections row by id ``PARAGRAPH_ID:EDIT_INDEX`` (as shown by ``audit --paragraph``)."""
    paragraph_id, edit_index = parse_edit_id(edit_id)
    rows = _rows(
        connect(output),
        "select paragraph_id, edit_index, stage, rule, position, before, after, confidence from corrections "
        "where paragraph_id = ? and edit_index = ?",
        [paragraph_id, edit_index],
    )
    if not rows:
        raise UnknownId(f"no edit {edit_id!r} in {output.root}")
    return rows[0]


def parse_edit_id(edit_id: str) -> tuple[str, int]:
    """``"0123456789abcdef:2"`` → ``("0123456789abcdef", 2)``; :class:`AuditError` if malformed."""
    paragraph_id, _, index = edit_id.rpartition(":")
    if not paragraph_id or not index.isdigit():
        raise AuditError(f"an edit id is PARAGRAPH_ID:EDIT_INDEX (e.g. 218d97c9492a7754:0), got {edit_id!r}")
    return paragraph_id, int(index)


def edit_id(paragraph_id: str, edit_index: int) -> str:
    return f"{paragraph_id}:{edit_index}"


def to_edit(row: dict[str, Any]) -> Edit:
    """A corrections row as an :class:`~corpusclean.edits.Edit`."""
    return Edit(row["stage"], row["rule"], row["position"], row["before"], row["after"], row.get("confidence"))
