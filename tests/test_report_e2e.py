"""End to end: the flow on seeds/, the audit queries and CLI on its output, and the report in real Chromium.

Chromium runs headless on the report file (``--dump-dom`` gives the DOM after
the page's JS ran; the page reads its view from the URL fragment, so a
fragment like ``#tab=corrections&q=Liebknecht`` is what a reviewer typing in
the search box sees). A screenshot is saved to ``build/report-screenshot.png``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from conftest import ROOT, SEEDS
from corpusclean import audit
from corpusclean.cli import app
from corpusclean.report import write_report

pytestmark = pytest.mark.slow

HEADING = "stalin and lenin relationship"
SCREENSHOT = ROOT / "build" / "report-screenshot.png"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


# --- Chromium -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get if missing (we run as root in CI and dev containers)."""
    path = shutil.which("chromium")
    if path is None:
        try:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"chromium is not installed and `apt-get install -y chromium` failed: {exc}")
        path = shutil.which("chromium")
        if path is None:
            pytest.skip("chromium is not on PATH after apt-get install")
    return path


def run_chromium(binary: str, url: str, *extra: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(binary: str, page: Path, fragment: str) -> "Node":
    html = run_chromium(binary, f"{page.as_uri()}#{fragment}", "--dump-dom", "--virtual-time-budget=5000")
    return parse(html)


# --- a minimal DOM for assertions (no HTML parser dependency in the venv) -----------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list["Node | str"] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes) and all(
                    child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.find_all(tag, cls, **attrs))
        return found

    def by_id(self, id_: str) -> "Node":
        (node,) = [n for n in self.find_all() if n.attrs.get("id") == id_]
        return node


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


# --- the seeds run -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_out(prefect_harness, tmp_path_factory) -> Path:
    from flows.clean_corpus import clean_corpus

    out = tmp_path_factory.mktemp("audit-seeds")
    clean_corpus(paths=[str(SEEDS)], out=str(out), config={})
    return out


def _heading_cluster(out: Path) -> str:
    kept = [r for r in ds.dataset(out / "paragraphs").to_table().to_pylist() if r["text"].strip().lower() == HEADING]
    assert len(kept) == 1
    return kept[0]["cluster_id"]


def _eight_days(out: Path) -> dict:
    (row,) = [r for r in ds.dataset(out / "duplicates").to_table().to_pylist() if r["text"].startswith("Eight days earlier")]
    return row


def test_audit_queries_on_the_seeds(seeds_out):
    output = audit.open_output(seeds_out)
    cluster = audit.cluster(output, _heading_cluster(seeds_out))
    assert len(cluster["kept"]) == 1 and cluster["removed_total"] == 5
    assert all(r["text"].strip().lower() == HEADING for r in cluster["removed"])
    eight = audit.paragraph(output, _eight_days(seeds_out)["paragraph_id"])
    assert eight["twin"]["source"].startswith("003_")
    assert eight["diff_stats"]["shared_words"] == len(eight["row"]["text"].split())  # contained: every word is in the twin
    manifest = json.loads((seeds_out / "manifest.json").read_text())
    assert audit.summary(output)["paragraphs"] == manifest["counts"]["paragraphs"]


def test_cli_audit_on_the_seeds(seeds_out):
    runner = CliRunner()
    result = runner.invoke(app, ["audit", str(seeds_out)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    manifest = json.loads((seeds_out / "manifest.json").read_text())
    removed = manifest["counts"]["paragraphs"]["removed"]
    assert re.search(rf"^\s*removed\s+{removed}\s", result.output, re.M), "the paragraphs table counts the removals"
    for title in ("Inputs", "Largest duplicate clusters", "Least similar removals", "Edits by stage and rule", "Lowest-confidence edits"):
        assert title in result.output
    eight = _eight_days(seeds_out)["paragraph_id"]
    detail = runner.invoke(app, ["audit", str(seeds_out), "--paragraph", eight], env={"COLUMNS": "160"})
    assert detail.exit_code == 0 and "003_" in detail.output and "kept twin" in detail.output
    print(result.output)


def test_report_in_chromium(seeds_out, chromium):
    page = write_report(seeds_out)
    assert page == seeds_out / "report.html"
    heading_cluster = _heading_cluster(seeds_out)
    eight = _eight_days(seeds_out)

    removals = dump_dom(chromium, page, "tab=removals")
    card = removals.by_id(f"cluster-{heading_cluster}")
    assert card.attrs["data-kept"] == "1" and card.attrs["data-removed"] == "5"
    assert "1 kept · 5 removed" in card.text
    assert len(card.find_all("div", cls="removal")) == 5

    (row,) = removals.find_all("div", cls="removal", data_paragraph=eight["paragraph_id"])
    assert row.attrs["data-twin-source"].startswith("003_")
    (removed_side,) = row.find_all("div", cls="removed-side")
    (kept_side,) = row.find_all("div", cls="kept-side")
    assert "Eight days earlier" in removed_side.text and "003_" in kept_side.text
    assert kept_side.find_all("ins"), "the twin's extra words are marked as a diff"
    assert f"{eight['similarity']:.4f}" in row.text

    corrections = ds.dataset(seeds_out / "corrections").to_table().to_pylist()
    body = dump_dom(chromium, page, "tab=corrections").by_id("corrections-table").find_all("tbody")[0].find_all("tr")
    assert len(body) == min(50, len(corrections))
    filtered = dump_dom(chromium, page, "tab=corrections&q=Liebknecht")
    rows = filtered.by_id("corrections-table").find_all("tbody")[0].find_all("tr")
    expected = sum("liebknecht" in (c["before"] + c["after"]).lower() for c in corrections)
    assert 0 < expected < len(corrections)
    assert len(rows) >= expected and all("liebknecht" in r.text.lower() for r in rows)
    assert len(rows) < len(body)
    assert filtered.by_id("corrections-q").attrs.get("value", "Liebknecht") == "Liebknecht"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    for path, fragment in ((SCREENSHOT, "tab=overview"),
                           (SCREENSHOT.with_name("report-screenshot-removals.png"), "tab=removals"),
                           (SCREENSHOT.with_name("report-screenshot-corrections.png"), "tab=corrections&q=Liebknecht")):
        path.unlink(missing_ok=True)
        run_chromium(chromium, f"{page.as_uri()}#{fragment}", f"--screenshot={path}", "--window-size=1400,1000")
        assert path.stat().st_size > 20_000
        print(f"screenshot: {path}")


def test_restore_and_reject_on_the_seeds(seeds_out, tmp_path, chromium):
    out = tmp_path / "copy"
    shutil.copytree(seeds_out, out, symlinks=True)  # keep the snapshot layout (links into .runs/)
    write_report(out)
    eight = _eight_days(out)["paragraph_id"]
    runner = CliRunner()
    result = runner.invoke(app, ["restore", str(out), "--paragraph", eight])
    assert result.exit_code == 0, result.output
    assert eight in {r["paragraph_id"] for r in ds.dataset(out / "paragraphs").to_table().to_pylist()}
    assert eight not in {r["paragraph_id"] for r in ds.dataset(out / "duplicates").to_table().to_pylist()}
    edit = next(r for r in ds.dataset(out / "corrections").to_table().to_pylist() if r["before"] == "Licbknccht")
    result = runner.invoke(app, ["restore", str(out), "--reject-edit", f"{edit['paragraph_id']}:{edit['edit_index']}"])
    assert result.exit_code == 0, result.output
    stored = json.loads((out / "overrides.json").read_text())
    assert [r["paragraph_id"] for r in stored["restored"]] == [eight]
    assert stored["rejected_edits"][0]["before"] == "Licbknccht"
    text = audit.paragraph(audit.open_output(out), edit["paragraph_id"])["row"]["text"]
    assert "Licbknccht" in text
    dom = dump_dom(chromium, out / "report.html", "tab=overview")
    assert "1 paragraph(s) restored, 1 edit(s) rejected" in dom.text
