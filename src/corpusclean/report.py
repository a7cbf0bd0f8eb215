"""The HTML audit report: one self-contained static file (no network, no server).

The data a reviewer needs is gathered with the audit queries (DuckDB scans,
so output size only costs scan time) and embedded in the page as compact
JSON; plain JS in the page renders it with pagination. Totals, method counts
and the similarity histogram always cover every row; for large outputs the
page embeds only the clusters most worth a look, and the lowest-confidence
corrections, up to fixed budgets, and says so.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from corpusclean import audit
from corpusclean.overrides import load_overrides
from corpusclean.write import current_snapshot

TEMPLATE = Path(__file__).with_name("report_page.html")
REPORT_FILE = "report.html"


@dataclass(frozen=True)
class Budget:
    """How much the page embeds: enough for review, small enough to open fast (~10 MB at most)."""

    removals: int = 3000
    """Removed paragraphs shown with their diffs, across clusters."""
    per_cluster: int = 12
    """Removals shown per cluster (least similar first); the rest are counted."""
    per_exact_cluster: int = 3
    largest_share: float = 0.2
    """Share of the removal budget spent on the largest clusters; the rest goes to the least similar."""
    corrections: int = 20000
    inputs: int = 5000
    max_text_chars: int = 4000
    """Longer texts are cut (paragraphs are at most ``max_paragraph_chars``, 2000 by default)."""


def _cut(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + " …[cut]"


def _shown(cluster: dict[str, Any], budget: Budget) -> int:
    """Removals of a cluster to embed: exact copies all look the same, so a few of them say it all."""
    cap = budget.per_exact_cluster if cluster["methods"] == "exact" else budget.per_cluster
    return min(cluster["removed"], cap)


def _pick_clusters(output: audit.Output, budget: Budget) -> list[dict[str, Any]]:
    """Clusters to embed: the least similar first (most of the budget), then the largest ones."""
    for_largest = int(budget.removals * budget.largest_share)
    picked: dict[str, dict[str, Any]] = {}
    spent = 0
    for order, until in (("worth_a_look", budget.removals - for_largest), ("largest", budget.removals)):
        for row in audit.clusters(output, order, budget.removals, kept_text=False).to_pylist():
            if spent >= until:
                break
            if row["cluster_id"] not in picked:
                picked[row["cluster_id"]] = row
                spent += _shown(row, budget)
    return list(picked.values())


def _cluster_members(output: audit.Output, cluster_ids: list[str], budget: Budget) -> dict[str, list[dict[str, Any]]]:
    con = audit.connect(output)
    rows = audit._arrow(
        con,
        """
        select * from (
            select cluster_id, paragraph_id, source, paragraph_index, method, similarity, estimated_similarity,
                   kept_paragraph_id, text,
                   row_number() over (partition by cluster_id order by similarity, source, paragraph_index) as rank
            from duplicates where list_contains(?, cluster_id)
        ) where rank <= ? order by cluster_id, rank
        """,
        [cluster_ids, budget.per_cluster],
    ).to_pylist()
    members: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        members.setdefault(r["cluster_id"], []).append(r)
    return members


def _kept_rows(output: audit.Output, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = audit._arrow(
        audit.connect(output),
        "select paragraph_id, source, paragraph_index, cluster_id, duplicates_removed, text from paragraphs "
        "where list_contains(?, paragraph_id)",
        [ids],
    ).to_pylist()
    return {r["paragraph_id"]: r for r in rows}


def _corrections(output: audit.Output, limit: int) -> list[list[Any]]:
    """The corrections rows to embed, lowest confidence first, with a little clean-text context."""
    # An edit's position is exact in the clean text unless a later edit earlier in the paragraph changed
    # the length before it; the context is only shown where the edit's text is found at that position.
    rows = audit._arrow(
        audit.connect(output),
        """
        with c as (select * from corrections order by confidence asc nulls last, paragraph_id, edit_index limit ?),
             t as (select paragraph_id, text from paragraphs union all select paragraph_id, text from duplicates)
        select c.paragraph_id, c.edit_index, c.stage, c.rule, c.before, c.after, c.confidence,
               case when substr(t.text, c.position + 1, length(c.after)) = c.after
                    then substr(t.text, greatest(c.position - 59, 1), least(c.position, 60)) end as left_ctx,
               case when substr(t.text, c.position + 1, length(c.after)) = c.after
                    then substr(t.text, c.position + length(c.after) + 1, 60) end as right_ctx
        from c left join t using (paragraph_id)
        order by c.confidence asc nulls last, c.paragraph_id, c.edit_index
        """,
        [limit],
    )
    return [list(r.values()) for r in rows.to_pylist()]


def report_data(source: Path | audit.Output, budget: Budget = Budget()) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready values (see the page's ``render*`` functions).

    ``source`` is an output directory, or an :class:`~corpusclean.audit.Output` whose tables are in memory.
    """
    output = source if isinstance(source, audit.Output) else audit.open_output(source)
    summary = audit.summary(output)
    overrides = load_overrides(output.root)
    if summary["paragraphs"]["removed"] <= budget.removals:  # everything fits: no per-cluster caps
        budget = dataclasses.replace(budget, per_cluster=budget.removals, per_exact_cluster=budget.removals)
    picked = _pick_clusters(output, budget)
    members = _cluster_members(output, [c["cluster_id"] for c in picked], budget)
    kept_ids = sorted({m["kept_paragraph_id"] for ms in members.values() for m in ms if m["kept_paragraph_id"]}
                      | {c["kept_paragraph_id"] for c in picked if c["kept_paragraph_id"]})
    kept = _kept_rows(output, kept_ids)
    restored = overrides.kept_paragraph_ids
    sources: dict[str, int] = {}

    def src(name: str | None) -> int:
        return sources.setdefault(name or "?", len(sources))

    texts = {pid: [src(k["source"]), k["paragraph_index"], _cut(k["text"], budget.max_text_chars), k["duplicates_removed"]]
             for pid, k in kept.items()}
    clusters = []
    for c in picked:
        rows = members.get(c["cluster_id"], [])[: _shown(c, budget)]
        clusters.append({
            "id": c["cluster_id"], "n": c["removed"], "min": c["min_similarity"], "max": c["max_similarity"],
            "methods": c["methods"].split(","), "kept": c["kept_paragraph_id"], "files": c["removed_sources"],
            "removed": [[r["paragraph_id"], src(r["source"]), r["paragraph_index"], r["method"], r["similarity"],
                         r["estimated_similarity"], r["kept_paragraph_id"], _cut(r["text"], budget.max_text_chars)] for r in rows],
        })
    inputs = audit.inputs(output).to_pylist()
    by_rule = audit.edits_by_rule(output).to_pylist()
    corrections = _corrections(output, budget.corrections)
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "summary": summary,
        "histogram": audit.similarity_histogram(output),
        "inputs": inputs[: budget.inputs],
        "inputs_total": len(inputs),
        "rules": by_rule,
        "sources": list(sources),
        "kept": texts,
        "clusters": clusters,
        "clusters_total": summary["clusters"],
        "corrections": corrections,
        "corrections_total": summary["edits"]["total"],
        "restored": sorted(restored),
        "rejected": [[r.paragraph_id, r.edit_index, r.stage, r.rule, r.before, r.after] for r in overrides.rejected_edits],
        "budget": {"removals": budget.removals, "per_cluster": budget.per_cluster, "corrections": budget.corrections},
    }


def render_html(data: dict[str, Any]) -> str:
    """The page: the template with the data embedded as JSON (``</`` escaped so no text can end the script)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
    title = html.escape(f"corpusclean audit — {data['summary']['run']['out']}")
    page = TEMPLATE.read_text(encoding="utf-8")
    return page.replace("__TITLE__", title, 1).replace("__DATA__", payload, 1)


def _json_safe(value: Any) -> Any:
    """NaN (a confidence-less aggregate) is not JSON: make it null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_report(out_dir: Path, path: Path | None = None, budget: Budget = Budget()) -> Path:
    """Write the report for the output in ``out_dir`` to ``path``; return the path to open.

    By default it goes in the current snapshot (``DIR/report.html`` links
    there; see :mod:`corpusclean.write`), or ``DIR/report.html`` for an output
    without snapshots. Written under a temporary name and renamed, so an open
    report is never half-written.
    """
    out_dir = Path(out_dir)
    if path is None:
        published = out_dir / REPORT_FILE
        snapshot = current_snapshot(out_dir)
        target = snapshot / REPORT_FILE if snapshot is not None else published
    else:
        published = target = Path(path)
    save_page(report_page(out_dir, budget), target)
    return published if published.resolve() == target.resolve() else target


def report_page(source: Path | audit.Output, budget: Budget = Budget()) -> str:
    """The report page for an output directory, or for an :class:`~corpusclean.audit.Output` held in memory."""
    return render_html(_json_safe(report_data(source, budget)))


def save_page(page: str, target: Path) -> None:
    """Write ``page`` to ``target`` under a temporary name and rename it: an open report is never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".staging-{target.name}-{uuid.uuid4().hex[:8]}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
