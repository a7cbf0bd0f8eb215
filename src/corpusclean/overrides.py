"""Reviewer overrides: restore wrongly removed paragraphs, reject wrong edits, and remember both.

The store is ``DIR/overrides.json`` next to the published outputs (runs
never touch it). :func:`load_overrides` gives the next run what to honour:
paragraph ids dedup must keep, and the words OCR must not fix.

:func:`restore` and :func:`reject_edit` also apply the override to the
existing outputs, so the audit and report show it at once. Under the output
lock (:mod:`corpusclean.lock`, the one runs take) they build a new snapshot
(:mod:`corpusclean.write`): the datasets they change are rewritten part file
by part file (memory bounded by one part), the others hard-linked, the
manifest's counts refreshed and the report rewritten; then one commit
publishes it all. The override is recorded first, so that even if the commit
fails the next run honours it (and a failed commit puts the old store back).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpusclean.edits import Edit, replay_edits
from corpusclean.errors import AuditError, UnknownId
from corpusclean.lock import output_lock
from corpusclean.write import (
    COMPRESSION, DATASETS, MANIFEST, REPORT, SNAPSHOTS, commit_snapshot, current_snapshot, new_snapshot, write_manifest,
)

OVERRIDES_FILE = "overrides.json"
FORMAT_VERSION = 1


class OverrideError(AuditError):
    """The override cannot be applied as asked (nothing to restore, an edit that cannot be rejected): exit 2."""


@dataclass(frozen=True)
class Restore:
    """A removed paragraph a reviewer put back: every later run must keep it."""

    paragraph_id: str
    cluster_id: str | None
    kept_paragraph_id: str | None
    method: str | None
    similarity: float | None
    source: str | None = None
    at: str = ""


@dataclass(frozen=True)
class RejectedEdit:
    """An edit a reviewer rejected: its ``before`` goes on the do-not-fix list (OCR) for later runs.

    ``dependents`` are the edit ids of later edits on the same text that could
    only exist because of this one (they were dropped with it).
    """

    paragraph_id: str
    edit_index: int
    stage: str
    rule: str
    before: str
    after: str
    confidence: float | None = None
    dependents: tuple[str, ...] = ()
    at: str = ""


@dataclass(frozen=True)
class Overrides:
    """Everything reviewers decided for one output directory."""

    restored: tuple[Restore, ...] = ()
    rejected_edits: tuple[RejectedEdit, ...] = ()

    @property
    def kept_paragraph_ids(self) -> frozenset[str]:
        """Paragraphs deduplication must never remove (ids are stable across reruns of the same input)."""
        return frozenset(r.paragraph_id for r in self.restored)

    @property
    def do_not_fix_words(self) -> tuple[str, ...]:
        """Words the OCR stage must leave as they are: the ``before`` of every rejected OCR edit.

        Feed them to the corrector's ``protected_words`` (with the config's own).
        """
        words = {e.before for e in self.rejected_edits if e.stage == "ocr" and e.before.strip() and " " not in e.before}
        return tuple(sorted(words))

    def filter_substitutions(self, table: Mapping[str, str]) -> dict[str, str]:
        """The user's OCR table without entries a reviewer rejected.

        The corrector refuses a word that is both protected and in the table,
        so a rejected table fix must leave the table before its word joins the
        protected list.
        """
        rejected = {w.casefold() for w in self.do_not_fix_words}
        return {wrong: right for wrong, right in table.items() if wrong.casefold() not in rejected}

    def rejects(self, paragraph_id: str, stage: str, rule: str, before: str, after: str) -> bool:
        """Whether a reviewer rejected this exact change in this paragraph."""
        return (paragraph_id, stage, rule, before, after) in {
            (e.paragraph_id, e.stage, e.rule, e.before, e.after) for e in self.rejected_edits
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "restored": [dataclasses.asdict(r) for r in self.restored],
            "rejected_edits": [dataclasses.asdict(e) | {"dependents": list(e.dependents)} for e in self.rejected_edits],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Overrides":
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise OverrideError(f"{OVERRIDES_FILE} has format version {version}; this corpusclean reads {FORMAT_VERSION}")
        return cls(
            restored=tuple(Restore(**r) for r in data.get("restored", [])),
            rejected_edits=tuple(
                RejectedEdit(**{**e, "dependents": tuple(e.get("dependents", ()))}) for e in data.get("rejected_edits", [])
            ),
        )


def overrides_path(out_dir: Path | str) -> Path:
    """``DIR/overrides.json``; given a snapshot (``DIR/.runs/<name>``, as the flow gives the report), its DIR's."""
    root = Path(out_dir)
    if root.parent.name == SNAPSHOTS and not (root / OVERRIDES_FILE).exists():
        return root.parent.parent / OVERRIDES_FILE
    return root / OVERRIDES_FILE


def load_overrides(out_dir: Path | str) -> Overrides:
    """The overrides recorded for ``out_dir`` (empty if there are none)."""
    path = overrides_path(out_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Overrides()
    except json.JSONDecodeError as exc:
        raise OverrideError(f"{path} is not valid JSON: {exc}") from exc
    return Overrides.from_json(data)


def save_overrides(out_dir: Path, overrides: Overrides) -> Path:
    """Write ``overrides.json`` atomically (temporary file, then rename)."""
    path = out_dir / OVERRIDES_FILE
    tmp = out_dir / f".staging-{OVERRIDES_FILE}-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(overrides.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- rewriting datasets part by part -------------------------------------------------------------

PartTransform = Callable[[pa.Table, bool], pa.Table]


def _rewrite_dataset(src: Path, dst: Path, transform: PartTransform) -> None:
    """Write ``transform(part, is_last)`` of each part file of ``src`` under the same name in ``dst``."""
    dst.mkdir(parents=True)
    parts = sorted(src.glob("*.parquet"))
    for n, part in enumerate(parts):
        table = transform(pq.read_table(part), n == len(parts) - 1)
        pq.write_table(table, dst / part.name, compression=COMPRESSION)


def _link_dataset(src: Path, dst: Path) -> None:
    """Put an unchanged dataset in the new snapshot: hard links (snapshots are never modified in place)."""
    dst.mkdir(parents=True)
    for part in sorted(src.glob("*.parquet")):
        try:
            os.link(part, dst / part.name)
        except OSError:  # another file system, or no hard links: copy
            shutil.copy2(part, dst / part.name)


def _commit_change(root: Path, rewrites: Mapping[str, PartTransform], overrides: Overrides) -> None:
    """Publish a new snapshot of ``root`` with ``rewrites`` applied, after recording ``overrides``.

    Call with the output lock held. The manifest's counts are recomputed from
    the new datasets and the report is rewritten (a failure there is not fatal:
    the report is a view of the data).
    """
    source = current_snapshot(root) or root
    store = overrides_path(root)
    previous = store.read_bytes() if store.exists() else None
    save_overrides(root, overrides)
    staging = new_snapshot(root)
    try:
        for name in DATASETS:
            if name in rewrites:
                _rewrite_dataset(source / name, staging / name, rewrites[name])
            else:
                _link_dataset(source / name, staging / name)
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8")) if (source / MANIFEST).is_file() else {}
        _recount(staging)(manifest)
        write_manifest(staging, manifest)
        try:
            from corpusclean.report import write_report

            write_report(staging, staging / REPORT)
        except Exception:  # noqa: BLE001 - never lose the override for the view
            pass
        commit_snapshot(root, staging)
    except BaseException:
        if previous is None:
            store.unlink(missing_ok=True)
        else:
            store.write_bytes(previous)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_rows(table: pa.Table, key: str, updates: Mapping[str, Mapping[str, Any]]) -> pa.Table:
    """``table`` with the rows whose ``key`` is in ``updates`` changed column-wise."""
    if not updates:
        return table
    ids = table.column(key).to_pylist()
    hits = [i for i, v in enumerate(ids) if v in updates]
    if not hits:
        return table
    columns = {}
    for name in {c for u in updates.values() for c in u}:
        values = table.column(name).to_pylist()
        for i in hits:
            if name in updates[ids[i]]:
                values[i] = updates[ids[i]][name]
        columns[name] = pa.array(values, table.schema.field(name).type)
    for name, array in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


def _recount(out_dir: Path) -> Callable[[dict[str, Any]], None]:
    """A manifest change that refreshes paragraph and edit counts from the datasets in ``out_dir``."""
    from corpusclean import audit

    output = audit.open_output(out_dir)
    con = audit.connect(output)
    kept = con.execute("select count(*) from paragraphs").fetchall()[0][0]
    methods = dict(con.execute("select method, count(*) from duplicates group by 1 order by 1").fetchall())
    stages = dict(con.execute("select stage, count(*) from corrections group by 1 order by 1").fetchall())
    rules = dict(con.execute("select stage || ':' || rule, count(*) from corrections group by 1 order by 1").fetchall())

    def change(manifest: dict[str, Any]) -> None:
        counts = manifest.setdefault("counts", {})
        counts["paragraphs"] = {"in": kept + sum(methods.values()), "kept": kept, "removed": sum(methods.values()),
                                "removed_by_method": methods}
        counts["edits"] = {"total": sum(stages.values()), "by_stage": stages, "by_rule": rules}
        overrides = load_overrides(out_dir)
        manifest["overrides"] = {"restored": len(overrides.restored), "rejected_edits": len(overrides.rejected_edits),
                                 "file": OVERRIDES_FILE}

    return change


# --- restore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    restored: tuple[Restore, ...]
    already: tuple[str, ...]
    """Ids that were already restored (nothing to do for them)."""


def _sort_key(row: Mapping[str, Any]) -> tuple[str, int]:
    return (row["source"], row["paragraph_index"])


def restore(out_dir: Path | str, paragraph_ids: Sequence[str] = (), cluster_id: str | None = None) -> RestoreResult:
    """Put removed paragraphs back into ``paragraphs/`` and record them as kept for later runs.

    Give paragraph ids, or a ``cluster_id`` to restore all of its removals.
    A restored row keeps its ``cluster_id`` and gets ``duplicates_removed`` 0;
    its kept twin's ``duplicates_removed`` goes down by one.

    Raises:
        UnknownId: an id that is neither removed nor kept, or an unknown cluster.
    """
    from corpusclean import audit

    root = audit.open_output(out_dir).root
    with output_lock(root):
        output = audit.open_output(current_snapshot(root) or root)  # read the snapshot we will replace
        con = audit.connect(output)
        if cluster_id is not None:
            ids = [r[0] for r in con.execute("select paragraph_id from duplicates where cluster_id = ?", [cluster_id]).fetchall()]
            if not ids and not con.execute("select count(*) from paragraphs where cluster_id = ?", [cluster_id]).fetchall()[0][0]:
                raise UnknownId(f"no cluster with id {cluster_id!r} in {root}")
            paragraph_ids = [*paragraph_ids, *ids]
        wanted = list(dict.fromkeys(paragraph_ids))
        rows = audit._arrow(con, "select * from duplicates where list_contains(?, paragraph_id)", [wanted])
        found = set(rows.column("paragraph_id").to_pylist())
        missing = [p for p in wanted if p not in found]
        already_kept = {r[0] for r in con.execute(
            "select paragraph_id from paragraphs where list_contains(?, paragraph_id)", [missing]).fetchall()} if missing else set()
        unknown = [p for p in missing if p not in already_kept]
        if unknown:
            raise UnknownId(f"no paragraph with id {', '.join(map(repr, unknown))} in {root}")
        overrides = load_overrides(root)
        now = _now()
        records = tuple(
            Restore(r["paragraph_id"], r["cluster_id"], r["kept_paragraph_id"], r["method"], r["similarity"], r["source"], now)
            for r in rows.to_pylist()
        )
        # Ids already kept: record them still, so a restore whose outputs were rewritten by a later run
        # (which did not honour it yet) is not lost; just nothing to move.
        known = overrides.kept_paragraph_ids
        records += tuple(Restore(p, None, None, None, None, None, now) for p in sorted(already_kept) if p not in known)
        updated = dataclasses.replace(overrides, restored=overrides.restored + records)
        if rows.num_rows:
            _commit_change(root, _move_to_paragraphs(output.root, rows), updated)
        elif records:
            save_overrides(root, updated)
        return RestoreResult(records, tuple(sorted(already_kept)))


def _move_to_paragraphs(source: Path, removed: pa.Table) -> dict[str, PartTransform]:
    """Rewrites of ``paragraphs`` (``removed`` rows merged in order) and ``duplicates`` (without them)."""
    paragraph_schema = pq.read_schema(next(iter(sorted((source / "paragraphs").glob("*.parquet")))))
    n = removed.num_rows
    as_kept = removed.append_column("duplicates_removed", pa.array([0] * n, pa.int64()))
    as_kept = as_kept.select(paragraph_schema.names).cast(paragraph_schema)
    pending = sorted(as_kept.to_pylist(), key=_sort_key)
    decrements = Counter(removed.column("kept_paragraph_id").to_pylist())
    moved_ids = pa.array(removed.column("paragraph_id").to_pylist(), pa.string())

    def paragraphs(part: pa.Table, last: bool) -> pa.Table:
        ids = part.column("paragraph_id").to_pylist()
        counts = part.column("duplicates_removed").to_pylist()
        updates = {pid: {"duplicates_removed": max(0, c - decrements[pid])} for pid, c in zip(ids, counts) if pid in decrements}
        part = _replace_rows(part, "paragraph_id", updates)
        # Parts are in (source, paragraph_index) order: a restored row goes in the first part that ends after it.
        if last or not part.num_rows:
            take = len(pending) if last else 0
        else:
            end = _sort_key({"source": part.column("source")[-1].as_py(), "paragraph_index": part.column("paragraph_index")[-1].as_py()})
            take = sum(1 for r in pending if _sort_key(r) <= end)
        if not take:
            return part
        merged = pa.concat_tables([part, pa.Table.from_pylist(pending[:take], schema=paragraph_schema)])
        del pending[:take]
        return merged.sort_by([("source", "ascending"), ("paragraph_index", "ascending")])

    def duplicates(part: pa.Table, last: bool) -> pa.Table:
        return part.filter(pc.invert(pc.is_in(part.column("paragraph_id"), value_set=moved_ids)))

    return {"paragraphs": paragraphs, "duplicates": duplicates}


# --- reject an edit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """The edits left after rejecting one, and the paragraph's rebuilt text."""

    text: str
    kept: list[dict[str, Any]]
    """The remaining corrections rows, re-positioned and renumbered (``edit_index`` 0…)."""
    dropped: list[int]
    """``edit_index`` of the rejected edit and of the later edits that depended on it."""


def without_edit(base_text: str, rows: Sequence[Mapping[str, Any]], edit_index: int) -> Rejection:
    """Rebuild a paragraph's text with one of its edits taken out.

    ``base_text`` is the text the edits replay on (the whitespace-joined
    ``original_text``); ``rows`` are the paragraph's corrections in ``edit_index`` order. A later
    edit that touches the text the rejected edit wrote depended on it and is
    dropped too; later edits elsewhere are re-positioned for the text as it
    now stands. ``read`` edits (undecodable bytes) cannot be rejected.
    """
    from corpusclean import audit

    target = next((r for r in rows if r["edit_index"] == edit_index), None)
    if target is None:
        raise UnknownId(f"paragraph has no edit {edit_index}")
    if target["stage"] not in audit.REPLAYED_STAGES:
        raise OverrideError(f"a {target['stage']!r} edit cannot be rejected (the bytes could not be decoded)")
    kept: list[dict[str, Any]] = []
    dropped = [edit_index]
    # The region the rejected edit wrote, in the text *with* it: [start, end); in the text without it,
    # that region holds ``width`` characters (its ``before``, plus what dropped dependents spanned).
    start = end = width = -1
    for row in rows:
        if row["edit_index"] < edit_index or row["stage"] not in audit.REPLAYED_STAGES:
            kept.append(dict(row))
            continue
        if row is target:
            start, end, width = row["position"], row["position"] + len(row["after"]), len(row["before"])
            continue
        q, lb = row["position"], len(row["before"])
        shift = len(row["after"]) - lb
        overlaps = q < end and q + lb > start or (lb == 0 and start < q < end)
        if overlaps:
            dropped.append(row["edit_index"])
            width += max(0, start - q) + max(0, q + lb - end)
            start, end = min(start, q), max(end, q + lb) + shift
        elif q + lb <= start and not (lb == 0 and q == end):
            # (An insertion exactly where a rejected deletion was came after it in the original text.)
            kept.append(dict(row))
            start, end = start + shift, end + shift
        else:
            kept.append(dict(row) | {"position": q - (end - start) + width})
    text = replay_edits(base_text, [audit.to_edit(r) for r in kept if r["stage"] in audit.REPLAYED_STAGES])
    for n, row in enumerate(kept):
        row["edit_index"] = n
    return Rejection(text, kept, dropped)


@dataclass(frozen=True)
class RejectResult:
    record: RejectedEdit
    text: str
    dataset: str
    """``paragraphs`` or ``duplicates``: where the rebuilt paragraph lives."""


def reject_edit(out_dir: Path | str, edit_id: str) -> RejectResult:
    """Reject one edit (``PARAGRAPH_ID:EDIT_INDEX``): rebuild the text without it and remember it.

    The paragraph's ``text``/``word_count``/``char_count``/``edit_count`` and
    its ``corrections`` rows are rewritten; dedup is not rerun (the next run
    sees the text as rebuilt, with the word on the do-not-fix list).
    """
    from corpusclean import audit
    from corpusclean.segment import join_lines

    root = audit.open_output(out_dir).root
    paragraph_id, edit_index = audit.parse_edit_id(edit_id)
    with output_lock(root):
        output = audit.open_output(current_snapshot(root) or root)
        row = audit.edit(output, edit_id)
        detail = audit.paragraph(output, paragraph_id)
        rejection = without_edit(join_lines(detail["row"]["original_text"]), detail["edits"], edit_index)
        dataset = "paragraphs" if detail["row"]["status"] == "kept" else "duplicates"
        text = rejection.text
        updates = {paragraph_id: {"text": text, "word_count": len(text.split()), "char_count": len(text),
                                  "edit_count": len(rejection.kept)}}
        new_rows = [r | {"paragraph_id": paragraph_id} for r in rejection.kept]

        def paragraphs(part: pa.Table, last: bool) -> pa.Table:
            return _replace_rows(part, "paragraph_id", updates)

        def corrections(part: pa.Table, last: bool) -> pa.Table:
            mask = pc.equal(part.column("paragraph_id"), paragraph_id)
            if not pc.any(mask).as_py():
                return part
            rest = part.filter(pc.invert(mask))
            replacement = pa.Table.from_pylist(new_rows, schema=part.schema)
            return pa.concat_tables([rest, replacement]).sort_by([("paragraph_id", "ascending"), ("edit_index", "ascending")])

        record = RejectedEdit(
            paragraph_id, edit_index, row["stage"], row["rule"], row["before"], row["after"], row["confidence"],
            tuple(audit.edit_id(paragraph_id, i) for i in rejection.dropped[1:]), _now(),
        )
        overrides = load_overrides(root)
        updated = dataclasses.replace(overrides, rejected_edits=overrides.rejected_edits + (record,))
        _commit_change(root, {dataset: paragraphs, "corrections": corrections}, updated)
        return RejectResult(record, text, dataset)


# --- for the pipeline: honour rejected edits of any stage --------------------------------------


def undo_rejected(text: str, edits: Sequence[Edit], paragraph_id: str, overrides: Overrides) -> tuple[str, list[Edit]]:
    """One stage's output for one paragraph, with the edits reviewers rejected taken back out.

    ``edits`` are the stage's edits in replay order and ``text`` its output. For
    stages that cannot take a do-not-fix list (encoding), the pipeline can run
    this after the stage: it undoes every edit to get the stage's input, then
    replays all but the rejected ones (and any that depended on them).
    """
    if not any(overrides.rejects(paragraph_id, e.stage, e.rule, e.before, e.after) for e in edits):
        return text, list(edits)
    source = text
    for e in reversed(edits):
        source = source[: e.position] + e.before + source[e.position + len(e.after):]
    rows = [dataclasses.asdict(e) | {"edit_index": i} for i, e in enumerate(edits)]
    while True:
        hit = next((r for r in rows if overrides.rejects(paragraph_id, r["stage"], r["rule"], r["before"], r["after"])), None)
        if hit is None:
            break
        rows = without_edit(source, rows, hit["edit_index"]).kept
    kept = [Edit(r["stage"], r["rule"], r["position"], r["before"], r["after"], r["confidence"]) for r in rows]
    return replay_edits(source, kept), kept


def apply_rejections(paragraphs: pa.Table, stage_edits: pa.Table, overrides: Overrides) -> tuple[pa.Table, pa.Table]:
    """A text stage's output tables (as :func:`corpusclean.edits.run_text_stage` returns them) without rejected edits.

    For the pipeline, after a stage that cannot take a do-not-fix list
    (encoding): paragraphs with a rejected edit get their text rebuilt by
    :func:`undo_rejected` and their edit rows replaced; others pass unchanged.
    """
    if not overrides.rejected_edits or stage_edits.num_rows == 0:
        return paragraphs, stage_edits
    targets = {e.paragraph_id for e in overrides.rejected_edits}
    ids = stage_edits.column("paragraph_id").to_pylist()
    if not targets.intersection(ids):
        return paragraphs, stage_edits
    rows = stage_edits.to_pylist()
    per_paragraph: dict[str, list[Edit]] = {}
    for row in rows:
        if row["paragraph_id"] in targets:
            per_paragraph.setdefault(row["paragraph_id"], []).append(
                Edit(row["stage"], row["rule"], row["position"], row["before"], row["after"], row["confidence"]))
    texts = paragraphs.column("text").to_pylist()
    new_edits: dict[str, list[Edit]] = {}
    for i, pid in enumerate(paragraphs.column("paragraph_id").to_pylist()):
        if pid in per_paragraph:
            texts[i], new_edits[pid] = undo_rejected(texts[i], per_paragraph[pid], pid, overrides)
    index = paragraphs.schema.get_field_index("text")
    paragraphs = paragraphs.set_column(index, "text", pa.array(texts, pa.string()))
    kept_rows = [r for r in rows if r["paragraph_id"] not in new_edits]
    kept_rows += [dataclasses.asdict(e) | {"paragraph_id": pid} for pid, edits in new_edits.items() for e in edits]
    return paragraphs, pa.Table.from_pylist(kept_rows, schema=stage_edits.schema)


def restore_verdicts(verdicts: pa.Table, ids: pa.ChunkedArray | pa.Array, overrides: Overrides) -> pa.Table:
    """Deduplication's ``verdicts`` (:mod:`corpusclean.verdicts`) with every restored paragraph kept.

    ``ids`` are the rows' paragraph ids. A restored row keeps its ``cluster_id``
    and has ``duplicates_removed`` 0; its kept twin's count goes down by one.
    """
    restored = overrides.kept_paragraph_ids
    if not restored or verdicts.num_rows == 0:
        return verdicts
    target = verdicts.column("kept_paragraph_id")
    moving = pc.and_(pc.is_valid(target), pc.is_in(ids, value_set=pa.array(sorted(restored), pa.string())))
    if not pc.any(moving).as_py():
        return verdicts
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    twins = pc.index_in(pc.filter(target, moving), value_set=ids).to_numpy(zero_copy_only=False)
    counts = verdicts.column("duplicates_removed").to_numpy() - np.bincount(twins, minlength=verdicts.num_rows)
    staying = pc.invert(moving)
    columns = {name: pc.if_else(staying, verdicts.column(name), pa.scalar(None, verdicts.schema.field(name).type))
               for name in ("kept_paragraph_id", "method", "similarity", "estimated_similarity")}  # fmt: skip
    columns["duplicates_removed"] = pa.array(np.maximum(counts, 0), pa.int64())
    for name, column in columns.items():
        verdicts = verdicts.set_column(verdicts.schema.get_field_index(name), name, column)
    return verdicts

