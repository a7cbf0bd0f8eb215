"""Scheduled operation against a real `prefect server`: serve, trigger, grow; kill -9 at random points."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("prefect server did not become healthy")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on a free loopback port, with its own SQLite home."""
    port = _free_port()
    home = tmp_path_factory.mktemp("prefect-home")
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [BIN / "corpusclean", "server", "--port", str(port), "--home", str(home)],
        env=CLEAN_ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        _wait_healthy(url, proc)
        yield url, CLEAN_ENV | {"PREFECT_API_URL": url, "PREFECT_HOME": str(home)}
    finally:
        _stop(proc)
        log.close()


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _check_consistent(out: Path) -> dict:
    """The published output is one whole run: readable, and its rows agree with its manifest."""
    manifest = _manifest(out)
    kept = ds.dataset(out / "paragraphs").to_table()
    removed = ds.dataset(out / "duplicates").to_table()
    counts = manifest["counts"]["paragraphs"]
    assert (kept.num_rows, removed.num_rows) == (counts["kept"], counts["removed"])
    ids = kept.column("paragraph_id").to_pylist() + removed.column("paragraph_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert ds.dataset(out / "corrections").count_rows() == manifest["counts"]["edits"]["total"]
    return manifest


def test_serve_on_a_schedule_and_grow_the_dataset(prefect_server, tmp_path):
    url, env = prefect_server
    inbox, out = tmp_path / "inbox", tmp_path / "clean"
    inbox.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    (inbox / "night1.txt").write_text(texts[0], encoding="utf-8")
    serve_log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        [BIN / "corpusclean", "serve", str(inbox), "--out", str(out), "--cron", "0 2 * * *", "--name", "e2e"],
        env=env, cwd=ROOT, stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([BIN / "prefect", "deployment", "inspect", "clean-corpus/e2e"], env=env, capture_output=True).returncode:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "deployment was not registered"
            time.sleep(1)
        inspect = subprocess.run([BIN / "prefect", "deployment", "inspect", "clean-corpus/e2e"], env=env, capture_output=True, text=True)
        assert "0 2 * * *" in inspect.stdout

        sizes = []
        for night, text in enumerate(texts, start=1):
            (inbox / f"night{night}.txt").write_text(text, encoding="utf-8")
            run = subprocess.run(
                [BIN / "prefect", "deployment", "run", "clean-corpus/e2e", "--watch", "--watch-timeout", "300"],
                env=env, capture_output=True, text=True, timeout=360,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            manifest = _check_consistent(out)
            assert manifest["incremental"]["new"] == 1
            sizes.append(manifest["counts"]["paragraphs"]["in"])
        assert sizes[1] > sizes[0]
        assert (out / "report.html").is_file()
    finally:
        _stop(serve)
        serve_log.close()


def test_serve_without_a_server_is_a_usage_error(tmp_path):
    result = subprocess.run([BIN / "corpusclean", "serve", str(SEEDS)], env=CLEAN_ENV, capture_output=True, text=True)
    assert result.returncode == 2 and "corpusclean server" in result.stderr


def _kill_corpus(root: Path, files: int) -> None:
    root.mkdir(exist_ok=True)
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for i in range(files):
        rng = random.Random(i)  # a file's text depends only on its number: earlier files stay unchanged
        text = texts[i % 2]
        words = text.split(" ")
        rng.shuffle(words[: len(words) // 3])
        (root / f"doc{i:03d}.txt").write_text(f"Document {i}.\n\n" + " ".join(words), encoding="utf-8")


def test_kill_9_at_random_points_never_corrupts(prefect_server, tmp_path):
    url, env = prefect_server
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    command = [BIN / "corpusclean", "run", str(corpus), "--out", str(out), "--workers", "2"]
    _kill_corpus(corpus, 8)
    started = time.monotonic()
    assert subprocess.run(command, env=env, cwd=ROOT, capture_output=True).returncode == 0
    duration = time.monotonic() - started
    _check_consistent(out)

    survived = 0
    for seed in range(5):
        _kill_corpus(corpus, 9 + seed)  # a new file each time, so every run has work to commit
        before = _manifest(out)["run_id"]
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(random.Random(seed).uniform(0.2, duration))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        manifest = _check_consistent(out)  # the last good run, or the new one if it had committed
        assert manifest["run_id"] == before or len(manifest["inputs"]) == 9 + seed
        survived += 1
    assert survived == 5

    assert subprocess.run(command, env=env, cwd=ROOT, capture_output=True).returncode == 0
    final = _check_consistent(out)
    fresh = tmp_path / "fresh"
    assert subprocess.run([*command[:4], str(fresh), "--workers", "1", "--full"], env=env, cwd=ROOT, capture_output=True).returncode == 0
    for name in ("paragraphs", "duplicates", "corrections"):
        a = ds.dataset(out / name).to_table().to_pylist()
        b = ds.dataset(fresh / name).to_table().to_pylist()
        assert a == b, name
    assert final["counts"]["paragraphs"]["in"] == _manifest(fresh)["counts"]["paragraphs"]["in"]
    assert not [p for p in out.iterdir() if p.name.startswith((".work-", ".staging-"))]
