"""The CLI's early Prefect API server (corpusclean.embedded_api): it answers, and starts without what a run never uses."""

from __future__ import annotations

import json
import urllib.request

from corpusclean.embedded_api import EmbeddedApi


def _post(url: str, body: dict) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_the_embedded_server_answers_without_registering_block_types(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))  # a database of its own, created on start
    api = EmbeddedApi()
    try:
        api._wait(120.0)
        # Prefect registers its block types (and imports every installed collection to find them) on start
        # unless told not to: a fresh database then holds dozens of them.
        assert _post(f"{api.url}/block_types/filter", {}) == []
        assert _post(f"{api.url}/flows/filter", {}) == []  # the API itself works
    finally:
        process = api.process
        api.stop()
    assert api.process is None and process is not None and process.poll() is not None
