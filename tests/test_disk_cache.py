"""Derived word-list data kept on disk: built once, read back equal, rebuilt when anything it depends on changes."""

from __future__ import annotations

import numpy as np
import pytest

from corpusclean import disk_cache, ocr_context, ocr_model


def test_an_entry_is_built_once_then_read_and_rebuilt_when_unreadable(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUSCLEAN_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"a": len(calls)}

    key = disk_cache.entry_key("x", ["numpy"], [], ["en", 1])
    assert disk_cache.cached(key, build) == {"a": 1}
    assert disk_cache.cached(key, build) == {"a": 1} and len(calls) == 1  # read back, not built
    (tmp_path / f"{key}.pickle").write_bytes(b"cut short")
    assert disk_cache.cached(key, build) == {"a": 2}  # a broken entry is rebuilt, and replaced
    assert disk_cache.cached(key, build) == {"a": 2} and len(calls) == 2
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.pickle"]  # no temporary file left


def test_the_key_follows_what_the_entry_is_derived_from(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("A = 1\n")
    key = disk_cache.entry_key("x", ["numpy"], [source], ["en"])
    assert key == disk_cache.entry_key("x", ["numpy"], [source], ["en"])
    assert key != disk_cache.entry_key("x", ["numpy"], [source], ["fr"])
    assert key != disk_cache.entry_key("x", ["numpy", "pyarrow"], [source], ["en"])
    source.write_text("A = 2\n")
    assert key != disk_cache.entry_key("x", ["numpy"], [source], ["en"])


def test_off_or_unwritable_only_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUSCLEAN_CACHE_DIR", "off")
    assert disk_cache.cache_dir() is None and disk_cache.cached("k", lambda: 3) == 3
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("CORPUSCLEAN_CACHE_DIR", str(blocked / "cache"))
    assert disk_cache.cached("k", lambda: 4) == 4


@pytest.mark.parametrize("cached_first", [False, True])
def test_the_corrector_data_read_back_equals_a_fresh_build(tmp_path, monkeypatch, cached_first):
    monkeypatch.setenv("CORPUSCLEAN_CACHE_DIR", str(tmp_path))
    loaders = (ocr_model.load_lexicon, ocr_model.load_lexicon_trie, ocr_model.load_char_model, ocr_context.load_bigram_context)

    def load_all():
        for loader in loaders:
            loader.cache_clear()
        return [loader("en") for loader in loaders]

    try:
        if cached_first:
            load_all()  # the entries now exist: the next loads read them
        lexicon, trie, chars, bigrams = load_all()
        assert len(list(tmp_path.glob("*.pickle"))) == 4
        monkeypatch.setenv("CORPUSCLEAN_CACHE_DIR", "off")
        fresh_lexicon, fresh_trie, fresh_chars, fresh_bigrams = load_all()
    finally:
        for loader in loaders:
            loader.cache_clear()
    assert list(lexicon.items()) == list(fresh_lexicon.items())  # in wordfreq's order: the char model relies on it
    assert trie.words == fresh_trie.words and np.array_equal(trie.nodes, fresh_trie.nodes)
    assert [chars.log_prob(w) for w in ("liebknecht", "pctrograd", "the")] == [fresh_chars.log_prob(w) for w in ("liebknecht", "pctrograd", "the")]
    assert bigrams.association("of", "the") == fresh_bigrams.association("of", "the") and vars(bigrams).keys() == vars(fresh_bigrams).keys()
