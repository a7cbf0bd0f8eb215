"""Terminal rendering of the audit queries (rich). No queries here: see :mod:`corpusclean.audit`."""

from __future__ import annotations

from typing import Any, Iterable

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from corpusclean import audit
from corpusclean.diff import DiffOp, condense
from corpusclean.overrides import Overrides

PREVIEW = 70
DELETED = "bold red on #3b0d0d"
INSERTED = "bold green on #0d3b16"
EDITED = "bold yellow"


def _preview(text: str | None, width: int = PREVIEW) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _sim(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _conf(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _table(title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAVY, pad_edge=False)
    for name, justify in columns:
        # One line per row: ids and numbers keep their width; text columns are cut with an ellipsis to fit.
        is_text = name in TEXT_COLUMNS
        width = 12 if is_text else max(len(name), ID_WIDTHS.get(name, 0))
        table.add_column(name, justify=justify, no_wrap=not is_text, overflow="fold", min_width=width)  # type: ignore[arg-type]
    return table


ID_WIDTHS = {"cluster": 16, "paragraph": 16, "edit": 18}
TEXT_COLUMNS = {"text", "kept paragraph", "removed text", "kept twin", "note", "source", "before → after", "rule", "duplicate of / sim"}


# --- summary ------------------------------------------------------------------------------------


def summary_view(output: audit.Output, overrides: Overrides, limit: int = 10) -> list[RenderableType]:
    """The `corpusclean audit DIR` screen: run, inputs, counts, clusters, edits, and what to look at first."""
    s = audit.summary(output)
    p, e = s["paragraphs"], s["edits"]
    run = s["run"]
    head = Text.assemble(
        ("corpusclean audit ", "bold"), (str(output.root), "bold cyan"),
        f"   run {str(run['run_id'] or '?')[:8]}, finished {str(run['finished_at'] or '?')[:19].replace('T', ' ')} UTC",
    )
    counts = _table("Paragraphs", ("what", "left"), ("count", "right"), ("share", "right"))
    total = p["in"] or 1
    counts.add_row("in", f"{p['in']:,}", "")
    counts.add_row("kept", f"{p['kept']:,}", f"{p['kept'] / total:.1%}")
    counts.add_row("removed", f"{p['removed']:,}", f"{p['removed'] / total:.1%}")
    for method, n in p["removed_by_method"].items():
        counts.add_row(f"  {method}", f"{n:,}", f"{n / total:.1%}")
    counts.add_row("duplicate clusters", f"{s['clusters']:,}", "")
    counts.add_row("edits", f"{e['total']:,}", "")
    for stage, n in e["by_stage"].items():
        counts.add_row(f"  {stage}", f"{n:,}", "")
    counts.add_row("paragraphs edited", f"{e['paragraphs_edited']:,}", f"{e['paragraphs_edited'] / total:.1%}")
    if overrides.restored or overrides.rejected_edits:
        counts.add_row("restored by a reviewer", f"{len(overrides.restored):,}", "")
        counts.add_row("edits rejected by a reviewer", f"{len(overrides.rejected_edits):,}", "")

    inputs = _table("Inputs", ("source", "left"), ("status", "left"), ("encoding", "left"), ("bytes", "right"),
                    ("kept", "right"), ("removed", "right"), ("edits", "right"), ("note", "left"))
    rows = audit.inputs(output).to_pylist()
    for r in rows[:limit]:
        inputs.add_row(r["source"], r["status"] or "—", r["encoding"] or "—", f"{r['size_bytes']:,}" if r["size_bytes"] is not None else "—",
                       f"{r['kept']:,}", f"{r['removed']:,}", f"{r['edits']:,}", _preview(r["note"], 40))
    if len(rows) > limit:
        inputs.caption = f"{len(rows) - limit:,} more inputs: corpusclean audit DIR --source FILE"

    clusters = _table("Largest duplicate clusters", ("cluster", "left"), ("removed", "right"), ("methods", "left"),
                      ("min sim", "right"), ("kept paragraph", "left"))
    for r in audit.clusters(output, "largest", limit).to_pylist():
        clusters.add_row(r["cluster_id"], f"{r['removed']:,}", r["methods"], _sim(r["min_similarity"]),
                         f"[dim]{r['kept_source']}[/dim] {_preview(r['kept_text'], 50)}")

    least = _table("Least similar removals (most worth a look)", ("paragraph", "left"), ("method", "left"), ("similarity", "right"),
                   ("removed text", "left"), ("kept twin", "left"))
    for r in audit.least_similar_removals(output, limit).to_pylist():
        least.add_row(r["paragraph_id"], r["method"], _sim(r["similarity"]), _preview(r["text"], 40),
                      f"[dim]{r['kept_source']}[/dim] {_preview(r['kept_text'], 40)}")

    rules = _table("Edits by stage and rule", ("stage", "left"), ("rule", "left"), ("edits", "right"), ("paragraphs", "right"),
                   ("min conf", "right"), ("mean conf", "right"))
    by_rule = audit.edits_by_rule(output).to_pylist()
    for r in by_rule[: limit * 2]:
        rules.add_row(r["stage"], r["rule"], f"{r['edits']:,}", f"{r['paragraphs']:,}", _conf(r["min_confidence"]), _conf(r["mean_confidence"]))
    if len(by_rule) > limit * 2:
        rules.caption = f"{len(by_rule) - limit * 2} more rules"

    low = _table("Lowest-confidence edits", ("edit", "left"), ("stage", "left"), ("rule", "left"), ("before → after", "left"), ("conf", "right"))
    for r in audit.lowest_confidence_edits(output, limit).to_pylist():
        low.add_row(audit.edit_id(r["paragraph_id"], r["edit_index"]), r["stage"], r["rule"], _change(r), _conf(r["confidence"]))

    hint = Text(
        "Look closer: corpusclean audit DIR --paragraph ID | --cluster ID | --source FILE;  "
        "undo: corpusclean restore DIR --paragraph ID | --reject-edit ID;  HTML: corpusclean report DIR",
        style="dim",
    )
    return [head, counts, inputs, clusters, least, rules, low, hint]


def _change(row: dict[str, Any]) -> Text:
    return Text.assemble((row["before"] or "∅", DELETED), " → ", (row["after"] or "∅", INSERTED))


# --- one paragraph ---------------------------------------------------------------------------------


def highlighted_original(row: dict[str, Any], edits: list[dict[str, Any]]) -> Text:
    """The whitespace-joined original, with every ``before`` an edit replaced struck out in red.

    Built from the clean-text segments: an edited run shows what was there before.
    """
    text = Text()
    for seg in audit.highlight_edits(row["original_text"], edits):
        if seg.edit is None:
            text.append(seg.text)
        else:
            text.append(seg.edit["before"], style=DELETED)
    return text


def highlighted_clean(row: dict[str, Any], edits: list[dict[str, Any]]) -> Text:
    """The clean text with every run an edit wrote in green, tagged with its edit number."""
    text = Text()
    for seg in audit.highlight_edits(row["original_text"], edits):
        if seg.edit is None:
            text.append(seg.text)
        else:
            text.append(seg.text, style=INSERTED)
            text.append(f"[{seg.edit['edit_index']}]", style="dim")
    return text


def diff_texts(ops: Iterable[DiffOp]) -> tuple[Text, Text]:
    """Left (removed) and right (kept) texts of a word diff, changed words highlighted."""
    left, right = Text(), Text()
    for op in ops:
        if op.kind == "equal":
            left.append(op.a)
            right.append(op.b)
        else:
            left.append(op.a, style=DELETED)
            right.append(op.b, style=INSERTED)
    return left, right


def _edits_table(paragraph_id: str, edits: list[dict[str, Any]], overrides: Overrides) -> Table:
    table = _table("Edits", ("edit", "left"), ("stage", "left"), ("rule", "left"), ("pos", "right"), ("before → after", "left"), ("conf", "right"))
    for e in edits:
        table.add_row(audit.edit_id(paragraph_id, e["edit_index"]), e["stage"], e["rule"], str(e["position"]), _change(e), _conf(e["confidence"]))
    rejected = [r for r in overrides.rejected_edits if r.paragraph_id == paragraph_id]
    for r in rejected:
        table.add_row(f"[dim]{r.paragraph_id}:{r.edit_index} (rejected)[/dim]", r.stage, r.rule, "", _change({"before": r.before, "after": r.after}), _conf(r.confidence))
    if not edits and not rejected:
        table.add_row("[dim]no edits[/dim]", "", "", "", "", "")
    return table


def _removal_panel(removed: dict[str, Any], twin: dict[str, Any] | None, ops: list[DiffOp], stats: dict[str, int]) -> RenderableType:
    left, right = diff_texts(condense(ops))
    side = Table(box=box.SIMPLE, expand=True, show_edge=False)
    side.add_column(f"removed {removed['paragraph_id']}  ({removed['source']} ¶{removed['paragraph_index']})", ratio=1)
    twin_label = f"kept twin {twin['paragraph_id']}  ({twin['source']} ¶{twin['paragraph_index']})" if twin else "kept twin: not found"
    side.add_column(twin_label, ratio=1)
    side.add_row(left, right)
    title = Text.assemble(
        ("method ", "dim"), (str(removed["method"]), "bold"), ("   similarity ", "dim"), (_sim(removed["similarity"]), "bold"),
        ("   MinHash estimate ", "dim"), (_sim(removed.get("estimated_similarity")), ""),
        ("   words shared ", "dim"), (str(stats["shared_words"]), ""), (" / only removed ", "dim"), (str(stats["only_left"]), DELETED),
        (" / only kept ", "dim"), (str(stats["only_right"]), INSERTED),
    )
    return Panel(side, title=title, title_align="left", border_style="cyan")


def paragraph_view(output: audit.Output, paragraph_id: str, overrides: Overrides) -> list[RenderableType]:
    """`audit --paragraph ID`: the paragraph's texts with edits highlighted, and its twin or its removals."""
    d = audit.paragraph(output, paragraph_id)
    row = d["row"]
    restored = paragraph_id in overrides.kept_paragraph_ids
    status = "removed" if row["status"] == "removed" else ("kept (restored by a reviewer)" if restored else "kept")
    head = Text.assemble(
        ("paragraph ", "bold"), (paragraph_id, "bold cyan"), f"  {status}  ", (f"{row['source']} ¶{row['paragraph_index']}", ""),
        f"  chars {row['start_offset']}–{row['end_offset']}  cluster {row['cluster_id'] or '—'}",
    )
    out: list[RenderableType] = [head]
    if d["edits"]:
        out.append(Panel(highlighted_original(row, d["edits"]), title="original (replaced text in red)", title_align="left", border_style="red"))
        out.append(Panel(highlighted_clean(row, d["edits"]), title="clean (edited text in green, \\[n] = edit number)", title_align="left", border_style="green"))
    else:
        out.append(Panel(Text(row["text"]), title="text (no edits: original and clean are the same, whitespace aside)", title_align="left"))
    out.append(_edits_table(paragraph_id, d["edits"], overrides))
    if row["status"] == "removed":
        out.append(_removal_panel(row, d["twin"], d["diff"], d["diff_stats"]))
        out.append(Text(f"Wrongly removed? corpusclean restore {output.root} --paragraph {paragraph_id}", style="dim"))
    elif d["removed"]:
        table = _table(f"Removed in its favour ({len(d['removed'])})", ("paragraph", "left"), ("source", "left"), ("method", "left"),
                       ("similarity", "right"), ("text", "left"))
        for r in d["removed"]:
            table.add_row(r["paragraph_id"], f"{r['source']} ¶{r['paragraph_index']}", r["method"], _sim(r["similarity"]), _preview(r["text"], 50))
        out.append(table)
    return out


def cluster_view(output: audit.Output, cluster_id: str, overrides: Overrides, limit: int = 50) -> list[RenderableType]:
    """`audit --cluster ID`: the kept paragraph(s), then each removal side by side with its twin."""
    d = audit.cluster(output, cluster_id, limit)
    restored = overrides.kept_paragraph_ids
    n_kept = len(d["kept"])
    head = Text.assemble(("cluster ", "bold"), (cluster_id, "bold cyan"), f"  {n_kept} kept, {d['removed_total']} removed")
    kept = _table("Kept", ("paragraph", "left"), ("source", "left"), ("removed in its favour", "right"), ("text", "left"))
    for k in d["kept"]:
        note = " [dim](restored)[/dim]" if k["paragraph_id"] in restored else ""
        kept.add_row(k["paragraph_id"] + note, f"{k['source']} ¶{k['paragraph_index']}", str(k["duplicates_removed"]), _preview(k["text"], 60))
    out: list[RenderableType] = [head, kept]
    twins = {k["paragraph_id"]: k for k in d["kept"]}
    for r in d["removed"]:
        out.append(_removal_panel(r, twins.get(r["kept_paragraph_id"]) or {"paragraph_id": r["kept_paragraph_id"], "source": "?", "paragraph_index": "?"},
                                  r["diff"], r["diff_stats"]))
    if d["removed_total"] > len(d["removed"]):
        out.append(Text(f"{d['removed_total'] - len(d['removed']):,} more removals not shown (least similar shown first)", style="dim"))
    return out


def source_view(output: audit.Output, name: str, overrides: Overrides) -> list[RenderableType]:
    """`audit --source FILE`: the input's manifest entry and every paragraph with what happened to it."""
    d = audit.source(output, name)
    item = d["input"] or {}
    rows = d["paragraphs"]
    removed = sum(r["status"] == "removed" for r in rows)
    head = Text.assemble(
        ("source ", "bold"), (name, "bold cyan"),
        f"  {item.get('status', '?')}, {item.get('format', '?')}, {item.get('encoding', '?')}, {item.get('size_bytes', 0) or 0:,} bytes, "
        f"sha256 {str(item.get('sha256', '?'))[:12]}…  {len(rows)} paragraphs, {removed} removed",
    )
    out: list[RenderableType] = [head]
    if item.get("reason") or item.get("warnings"):
        out.append(Text(f"{item.get('reason') or ''} {'; '.join(item.get('warnings') or [])}".strip(), style="yellow"))
    table = _table("Paragraphs", ("¶", "right"), ("paragraph", "left"), ("status", "left"), ("duplicate of / sim", "left"), ("edits", "right"), ("text", "left"))
    for r in rows:
        if r["status"] == "removed":
            status, link = Text("removed", style="red"), f"{r['kept_paragraph_id']} {r['method']} {_sim(r['similarity'])}"
        else:
            label = "kept (restored)" if r["paragraph_id"] in overrides.kept_paragraph_ids else "kept"
            status = Text(label, style="green")
            link = f"{r['duplicates_removed']} removed as its duplicates" if r["duplicates_removed"] else ""
        table.add_row(str(r["paragraph_index"]), r["paragraph_id"], status, link, str(r["edit_count"] or ""), _preview(r["text"], 50))
    out.append(table)
    return out


def render(console: Any, renderables: Iterable[RenderableType]) -> None:
    """Print the renderables; piped output gets 120 columns (rich would use 80) unless COLUMNS says otherwise."""
    import os

    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    console.print(Group(*renderables))


def guarded(action: Any, error_console: Any) -> int:
    """Run ``action()`` and map failures to the CLI's exit codes: 2 for a usage error, 1 for anything else."""
    try:
        action()
    except audit.AuditError as exc:
        error_console.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        error_console.print("[red]interrupted[/red]")
        return 130
    except Exception as exc:  # one line, like `run`: the reviewer needs the reason, not a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        error_console.print(f"[red]failed:[/red] {type(exc).__name__}: {reason}")
        return 1
    return 0


def audit_screen(out_dir: str, paragraph: str | None, cluster: str | None, source: str | None, limit: int) -> list[RenderableType]:
    """What `corpusclean audit` prints for its arguments (at most one of paragraph/cluster/source)."""
    from corpusclean.overrides import load_overrides

    chosen = [x for x in (paragraph, cluster, source) if x is not None]
    if len(chosen) > 1:
        raise audit.AuditError("give at most one of --paragraph, --cluster, --source")
    output = audit.open_output(out_dir)
    overrides = load_overrides(output.root)
    if paragraph is not None:
        return paragraph_view(output, paragraph, overrides)
    if cluster is not None:
        return cluster_view(output, cluster, overrides, limit=max(limit, 1) * 5)
    if source is not None:
        return source_view(output, source, overrides)
    return summary_view(output, overrides, limit)


def restore_action(out_dir: str, paragraph_ids: list[str], cluster_id: str | None, edit_ids: list[str], out_console: Any) -> None:
    """`corpusclean restore`: apply the overrides, say what changed, refresh DIR/report.html if there is one."""

    from corpusclean import overrides as ov

    if not paragraph_ids and cluster_id is None and not edit_ids:
        raise audit.AuditError("nothing to do: give --paragraph ID, --cluster ID or --reject-edit PARAGRAPH_ID:EDIT_INDEX")
    root = audit.open_output(out_dir).root
    if paragraph_ids or cluster_id is not None:
        result = ov.restore(root, paragraph_ids, cluster_id)
        for r in result.restored:
            if r.kept_paragraph_id:
                out_console.print(f"restored {r.paragraph_id} ({r.source}; was {r.method} duplicate of {r.kept_paragraph_id}, similarity {_sim(r.similarity)})")
        for pid in result.already:
            out_console.print(f"{pid} is already kept; recorded so later runs keep it too")
    for edit_id in edit_ids:
        result = ov.reject_edit(root, edit_id)
        rec = result.record
        out_console.print(Text.assemble(f"rejected {edit_id} ({rec.stage} {rec.rule}): ", _change({"before": rec.after, "after": rec.before})))
        if rec.dependents:
            out_console.print(f"  also dropped the edits that depended on it: {', '.join(rec.dependents)}")
        if rec.stage == "ocr":
            out_console.print(f"  '{rec.before}' is on the do-not-fix list for the next run")
    out_console.print(f"recorded in {ov.overrides_path(root)}; {root} and its report.html now show it")
