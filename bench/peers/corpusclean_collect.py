"""Turn a finished ``corpusclean run`` output into benchmark edges (not timed).

Reads ``OUT/duplicates`` (``paragraph_id``, ``kept_paragraph_id``) and the
``source``/``paragraph_index`` of every paragraph in ``OUT/paragraphs`` and
``OUT/duplicates``, and maps them to the corpus ordinals. Runs in the
product's virtualenv (it needs pyarrow). The stage timings of the flow's
``manifest.json`` become this row's phases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, iter_paragraphs, parse_args, write_edges  # noqa: E402


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report(args)
    import pyarrow.dataset as ds

    flow_out = args.work
    canonical = {(p.source, p.index): p.ordinal for p in iter_paragraphs(args.pages)}
    where: dict[str, int] = {}
    unmapped = 0
    for name in ("paragraphs", "duplicates"):
        table = ds.dataset(flow_out / name, format="parquet").to_table(
            columns=["paragraph_id", "source", "paragraph_index"]
        )
        for pid, source, index in zip(*(table.column(c).to_pylist() for c in table.column_names)):
            ordinal = canonical.get((source, index))
            if ordinal is None:
                unmapped += 1
            else:
                where[pid] = ordinal
    dups = ds.dataset(flow_out / "duplicates", format="parquet").to_table(columns=["paragraph_id", "kept_paragraph_id"])
    pairs = zip(dups.column("kept_paragraph_id").to_pylist(), dups.column("paragraph_id").to_pylist())
    n = write_edges(args.out, ((where[k], where[r]) for k, r in pairs if k in where and r in where))
    # The flow times its own stages; show those as this row's phases.
    manifest = flow_out / "manifest.json"
    if manifest.exists():
        durations = json.loads(manifest.read_text()).get("durations_seconds", {})
        report.phases = {k: float(v) for k, v in durations.items() if isinstance(v, (int, float))}
    report.write(edges=n, paragraphs=len(where), unmapped=unmapped)


if __name__ == "__main__":
    main()
