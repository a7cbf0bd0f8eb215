import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasketch import LeanMinHash, MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _seed_paragraphs import seed_paragraphs
from corpusclean import parallel
from corpusclean.dedup import DedupResult, deduplicate
from corpusclean.minhash import char_shingle_hashfunc, shingle_hashfunc
from corpusclean.normalize import tokenize, tokenize_batch
from corpusclean.fold import fold_text
from corpusclean.shingles import char_shingle_strings, shingle_sets, shingle_strings

SEEDS = seed_paragraphs()
SEED_TEXTS = SEEDS.column("text").to_pylist()


def variants(text: str) -> list[str]:
    """Real-looking duplicates of ``text``: case/quote/space changes, OCR-like edits, a fragment."""
    words = text.split()
    out = [text.upper(), "  ".join(words).replace("'", "\u2019")]
    if len(words) >= 30:
        out.append(" ".join(w for k, w in enumerate(words) if k % 50 != 3))  # J ~ 0.83
        out.append(" ".join(words[5:25]))  # contained
    return out


POOL = SEED_TEXTS + [v for t in SEED_TEXTS[::4] for v in variants(t)] + ["ok", "", "Ok!", "* * *"]


def table_of(texts: list[str], sources: list[str] | None = None) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "paragraph_id": pa.array([f"p{i:05d}" for i in range(n)], pa.string()),
            "source": pa.array(sources or [f"s{i % 3}" for i in range(n)], pa.string()),
            "paragraph_index": pa.array(range(n), pa.int64()),
            "start_offset": pa.array(range(n), pa.int64()),
            "text": pa.array(texts, pa.string()),
        }
    )


def outcome(result: DedupResult) -> dict[str, tuple]:
    """Row id -> (kept id or None, method) for comparing runs."""
    out = {pid: (None, None) for pid in result.kept.column("paragraph_id").to_pylist()}
    d = result.duplicates
    for pid, kept, method in zip(*(d.column(c).to_pylist() for c in ("paragraph_id", "kept_paragraph_id", "method"))):
        out[pid] = (kept, method)
    return out


def check_invariants(table: pa.Table, result: DedupResult, threshold=0.8, containment_threshold=0.9, shingle="word",
                     fold_ocr=True) -> None:  # fmt: skip
    base = shingle_strings if shingle == "word" else char_shingle_strings
    strings = (lambda text: base(fold_text(text))) if fold_ocr else base
    kept_ids = result.kept.column("paragraph_id").to_pylist()
    dup_ids = result.duplicates.column("paragraph_id").to_pylist()
    assert sorted(kept_ids + dup_ids) == sorted(table.column("paragraph_id").to_pylist())
    assert result.kept.schema.names[: table.num_columns] == table.schema.names
    assert result.duplicates.schema.names[: table.num_columns] == table.schema.names
    kept_set = set(kept_ids)
    text_of = dict(zip(table.column("paragraph_id").to_pylist(), table.column("text").to_pylist()))
    counts = {k: 0 for k in kept_ids}
    for row in result.duplicates.to_pylist():
        assert row["kept_paragraph_id"] in kept_set and row["cluster_id"] == row["kept_paragraph_id"]
        counts[row["kept_paragraph_id"]] += 1
        ours, kept = text_of[row["paragraph_id"]], text_of[row["kept_paragraph_id"]]
        a, b = set(strings(ours)), set(strings(kept))
        if row["method"] == "exact":
            assert tokenize(ours) == tokenize(kept)
            assert row["similarity"] == 1.0 and row["estimated_similarity"] is None
        elif row["method"] == "near":
            assert row["similarity"] == pytest.approx(len(a & b) / len(a | b)) and row["similarity"] >= threshold
        else:
            assert row["method"] == "contained" and len(a) < len(b)
            assert row["similarity"] == pytest.approx(len(a & b) / len(a)) and row["similarity"] >= containment_threshold
        if row["method"] != "exact":
            assert 0.0 <= row["estimated_similarity"] <= 1.0
    for row in result.kept.select(["paragraph_id", "cluster_id", "duplicates_removed"]).to_pylist():
        assert row["duplicates_removed"] == counts[row["paragraph_id"]]
        assert row["cluster_id"] == (row["paragraph_id"] if counts[row["paragraph_id"]] else None)


def test_seed_heading_is_kept_once_and_five_copies_removed_as_exact():
    result = deduplicate(SEEDS)
    check_invariants(SEEDS, result)
    key = "stalin and lenin relationship"
    kept = [t for t in result.kept.column("text").to_pylist() if t.lower() == key]
    removed = [r for r in result.duplicates.to_pylist() if r["text"].lower() == key]
    assert len(kept) == 1 and len(removed) == 5
    assert {r["method"] for r in removed} == {"exact"}


def test_seed_eight_days_earlier_is_contained_in_a_piece_of_seed_003():
    result = deduplicate(SEEDS)
    rows = [r for r in result.duplicates.to_pylist() if r["text"].startswith("Eight days earlier, on December 12")]
    assert len(rows) == 1 and rows[0]["source"].startswith("000_") and rows[0]["method"] == "contained"
    kept = result.kept.filter(pc.equal(result.kept.column("paragraph_id"), rows[0]["kept_paragraph_id"]))
    assert kept.column("source")[0].as_py().startswith("003_")
    assert rows[0]["text"] in kept.column("text")[0].as_py()


def test_short_paragraphs_are_exact_only_and_never_dropped():
    texts = ["Chapter One", "CHAPTER  one.", "Chapter Two", "Chapter One Two", "ok", "* * *", "- - -"]
    result = deduplicate(table_of(texts))
    # The longer clean text is the one kept.
    assert result.duplicates.column("text").to_pylist() == ["Chapter One"]
    assert result.kept.num_rows == len(texts) - 1
    assert result.signatures.num_rows == 0


def test_chains_do_not_form_giant_clusters():
    words = SEED_TEXTS[5].split()
    # Each link drops a different block of words: neighbours are ~0.85 similar, the ends are not.
    chain = [" ".join(words[:k] + words[k + 6 :]) for k in range(0, 60, 6)]
    table = table_of(chain)
    result = deduplicate(table)
    check_invariants(table, result)
    assert result.kept.num_rows > 1


def test_signatures_table_is_usable_with_datasketch():
    result = deduplicate(SEEDS, seed=3)
    row = result.signatures.slice(7, 1).to_pylist()[0]
    text = SEEDS.filter(pc.equal(SEEDS.column("paragraph_id"), row["paragraph_id"])).column("text")[0].as_py()
    m = MinHash(num_perm=128, seed=3, hashfunc=shingle_hashfunc)
    m.update_batch(shingle_strings(fold_text(text)))
    assert LeanMinHash(seed=3, hashvalues=row["hashvalues"], scheme="affine32").jaccard(LeanMinHash(m)) == 1.0
    assert result.signatures.schema.field("hashvalues").type == pa.list_(pa.uint32(), 128)


def test_empty_input():
    result = deduplicate(table_of([]))
    assert result.kept.num_rows == result.duplicates.num_rows == result.signatures.num_rows == 0
    assert "cluster_id" in result.kept.schema.names and "method" in result.duplicates.schema.names


def test_worker_count_does_not_change_the_result(monkeypatch):
    table = table_of(POOL)
    one = deduplicate(table, workers=1)
    monkeypatch.setattr(parallel, "SHARD_CHARS", 2000)
    two = deduplicate(table, workers=2)
    assert one.kept.equals(two.kept) and one.duplicates.equals(two.duplicates) and one.signatures.equals(two.signatures)


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_recomputing_shingle_sets_gives_the_same_result(monkeypatch, shingle):
    """Large inputs drop the shingle sets after the first pass and recompute them (two more passes)."""
    from corpusclean import dedup

    table = table_of(POOL)
    held = deduplicate(table, shingle=shingle)
    monkeypatch.setattr(dedup, "KEEP_SETS_BYTES", {"word": 0, "char": 0})
    monkeypatch.setattr(parallel, "SHARD_CHARS", 3000)
    recomputed = deduplicate(table, shingle=shingle, workers=2)
    assert held.kept.equals(recomputed.kept) and held.duplicates.equals(recomputed.duplicates)
    assert held.signatures.equals(recomputed.signatures)
    assert set(recomputed.duplicates.column("method").to_pylist()) == {"exact", "near", "contained"}


@pytest.mark.parametrize("sets_held", [True, False])
def test_without_signatures_the_verdicts_are_the_same(monkeypatch, sets_held):
    """The flow's way: band keys instead of signatures, and the estimates' signatures computed again."""
    from corpusclean import dedup

    table = table_of(POOL)
    if not sets_held:
        monkeypatch.setattr(dedup, "KEEP_SETS_BYTES", {"word": 0, "char": 0})
    monkeypatch.setattr(parallel, "SHARD_CHARS", 3000)
    held = deduplicate(table, workers=2)
    lean = deduplicate(table, workers=2, keep_signatures=False)
    assert lean.signatures is None
    assert lean.verdicts.equals(held.verdicts)
    estimated = lean.verdicts.column("estimated_similarity")
    assert estimated.null_count < len(estimated) - 10  # near and contained rows have their estimates


texts_strategy = st.lists(st.sampled_from(POOL), min_size=0, max_size=40)
hsettings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@hsettings
@given(texts_strategy, st.data())
def test_every_row_once_and_removals_verified_against_kept_rows(texts, data):
    table = table_of(texts)
    threshold = data.draw(st.sampled_from([0.6, 0.8, 0.95]))
    result = deduplicate(table, threshold=threshold)
    check_invariants(table, result, threshold=threshold)


@hsettings
@given(texts_strategy, st.data())
def test_result_does_not_depend_on_input_order(texts, data):
    table = table_of(texts)
    perm = data.draw(st.permutations(range(len(texts))))
    assert outcome(deduplicate(table.take(pa.array(perm, pa.int64())))) == outcome(deduplicate(table))


@hsettings
@given(texts_strategy)
def test_deduplicating_the_kept_rows_removes_nothing(texts):
    kept = deduplicate(table_of(texts)).kept.drop_columns(["cluster_id", "duplicates_removed"])
    assert deduplicate(kept).duplicates.num_rows == 0


def test_pool_has_all_three_kinds_of_duplicate():
    result = deduplicate(table_of(POOL))
    check_invariants(table_of(POOL), result)
    methods = set(result.duplicates.column("method").to_pylist())
    assert methods == {"exact", "near", "contained"}
    shingled = shingle_sets(tokenize_batch(POOL), 5).sizes() > 0
    assert result.signatures.num_rows == int(np.sum(shingled))


def test_fewer_ocr_edits_wins_between_equally_long_near_duplicates():
    words = SEED_TEXTS[5].split()
    a = " ".join(words)
    b = " ".join(words[:-1] + [words[-1].upper()])  # same length, exact duplicate after folding
    table = table_of([a, b]).append_column("ocr_edits", pa.array([3, 1], pa.int64()))
    result = deduplicate(table)
    assert result.kept.column("paragraph_id").to_pylist() == ["p00001"]
    assert result.duplicates.column("ocr_edits").to_pylist() == [3]  # extra columns carried through


def test_banding_can_be_overridden():
    table = table_of(POOL)
    default = outcome(deduplicate(table))
    assert outcome(deduplicate(table, bands=32, rows=4)) == default
    with pytest.raises(ValueError):
        deduplicate(table, bands=40, rows=4)


def test_original_with_two_dissimilar_copies_is_kept_and_holds_both():
    words = SEED_TEXTS[5].split()[:80]
    original = " ".join(words)
    longer = " ".join(words[:20] + words[22:] + ["accordingly", "thereafter", "it", "was", "written"])
    other = " ".join(words[:50] + words[54:])
    sets = [set(shingle_strings(t)) for t in (original, longer, other)]
    jac = lambda a, b: len(a & b) / len(a | b)  # noqa: E731
    # The premise: each copy is a near duplicate of the original, not of the other copy,
    # and the longest text is a copy (so "keep the longest" would strand the other copy).
    assert jac(sets[0], sets[1]) >= 0.8 and jac(sets[0], sets[2]) >= 0.8 and jac(sets[1], sets[2]) < 0.8
    assert len(longer) > len(original)
    table = table_of([longer, other, original])
    result = deduplicate(table)
    check_invariants(table, result)
    assert result.kept.column("paragraph_id").to_pylist() == ["p00002"]
    assert sorted(result.duplicates.column("method").to_pylist()) == ["near", "near"]


def ocr_noisy(text: str) -> str:
    """An OCR-like copy: every ~25th letter misread (e/c, l/1, m/rn), as the bench's ocr_noise edits."""
    swaps = {"e": "c", "l": "1", "m": "rn", "o": "0"}
    return "".join(swaps.get(ch, ch) if k % 25 == 7 else ch for k, ch in enumerate(text))


def test_folded_word_shingles_and_char_shingles_find_an_ocr_noise_copy_that_plain_word_shingles_miss():
    original = SEED_TEXTS[5]
    copy = ocr_noisy(original)
    word = [set(shingle_strings(t)) for t in (original, copy)]
    folded = [set(shingle_strings(fold_text(t))) for t in (original, copy)]
    char = [set(char_shingle_strings(t)) for t in (original, copy)]
    jac = lambda a, b: len(a & b) / len(a | b)  # noqa: E731
    assert jac(*word) < 0.8 <= min(jac(*char), jac(*folded))  # the premise
    table = table_of([original, copy, SEED_TEXTS[40]])
    assert deduplicate(table, fold_ocr=False).duplicates.num_rows == 0
    for shingle in ("word", "char"):
        result = deduplicate(table, shingle=shingle)
        check_invariants(table, result, shingle=shingle)
        assert result.duplicates.column("paragraph_id").to_pylist() == ["p00001"]
        assert result.duplicates.column("method").to_pylist() == ["near"]


def test_an_ocr_noise_copy_is_near_not_exact_and_fold_off_compares_plain_shingles():
    original = SEED_TEXTS[5]
    copy = original.replace("e", "c")  # identical once folded
    table = table_of([original, copy])
    for shingle in ("word", "char"):
        result = deduplicate(table, shingle=shingle)
        check_invariants(table, result, shingle=shingle)
        assert result.duplicates.column("method").to_pylist() == ["near"]
        assert result.duplicates.column("similarity").to_pylist() == [1.0]
    plain = deduplicate(table_of([original, original.upper(), copy]), fold_ocr=False)
    check_invariants(table_of([original, original.upper(), copy]), plain, fold_ocr=False)
    assert plain.duplicates.column("method").to_pylist() == ["exact"]


@hsettings
@given(texts_strategy, st.data())
def test_char_every_row_once_and_removals_verified_against_kept_rows(texts, data):
    table = table_of(texts)
    threshold = data.draw(st.sampled_from([0.6, 0.8, 0.95]))
    result = deduplicate(table, threshold=threshold, shingle="char")
    check_invariants(table, result, threshold=threshold, shingle="char")


def test_char_pool_has_all_three_kinds_and_does_not_depend_on_workers(monkeypatch):
    table = table_of(POOL)
    one = deduplicate(table, shingle="char")
    check_invariants(table, one, shingle="char")
    assert set(one.duplicates.column("method").to_pylist()) == {"exact", "near", "contained"}
    monkeypatch.setattr(parallel, "SHARD_CHARS", 2000)
    two = deduplicate(table, shingle="char", workers=2)
    assert one.kept.equals(two.kept) and one.duplicates.equals(two.duplicates) and one.signatures.equals(two.signatures)


def test_char_signatures_table_is_usable_with_datasketch():
    result = deduplicate(SEEDS, seed=3, shingle="char", shingle_size=6)
    row = result.signatures.slice(7, 1).to_pylist()[0]
    text = SEEDS.filter(pc.equal(SEEDS.column("paragraph_id"), row["paragraph_id"])).column("text")[0].as_py()
    m = MinHash(num_perm=128, seed=3, hashfunc=char_shingle_hashfunc)
    m.update_batch(char_shingle_strings(fold_text(text), 6))
    assert LeanMinHash(seed=3, hashvalues=row["hashvalues"], scheme="affine32").jaccard(LeanMinHash(m)) == 1.0


def test_char_exact_duplicates_and_short_texts():
    texts = ["Chapter One", "CHAPTER  one.", "ok", "OK", "* * *", "- - -", ""]
    result = deduplicate(table_of(texts), shingle="char")
    assert sorted(result.duplicates.column("text").to_pylist()) == ["Chapter One", "ok"]
    assert set(result.duplicates.column("method").to_pylist()) == {"exact"}
    assert result.signatures.num_rows == 2  # only the two chapter headings have a 5-gram


def test_unknown_shingling_is_rejected():
    with pytest.raises(ValueError):
        deduplicate(table_of(["a b c d e f"]), shingle="sentence")


def test_char_shingles_do_not_remove_short_headings_as_contained():
    import pyarrow as pa

    from corpusclean.dedup import deduplicate

    long = ("What is the relationship between Lenin and Stalin like? Stalin and Lenin had a relationship "
            "that changed over time, and the relationship of Stalin and Lenin is the subject here. ") * 2
    table = pa.table({
        "paragraph_id": ["a", "b"], "source": ["s", "s"], "paragraph_index": [0, 1],
        "text": ["Stalin and lenin relationship", long],
    })
    result = deduplicate(table, shingle="char")
    assert result.duplicates.num_rows == 0
