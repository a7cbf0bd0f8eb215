from hypothesis import example, given, settings, strategies as st

from corpusclean.edits import replay_edits
from corpusclean.encoding import LOST_LEAD_BYTE, diff_edits, fix_lost_lead_byte, repair_encoding
from conftest import SEED_000, SEED_003


def test_lost_lead_byte_in_seed_003():
    text = SEED_003.read_text(encoding="utf-8")
    assert "€œInfected”" in text
    fixed, edits = repair_encoding(text)
    assert "“Infected”" in fixed and "€" not in fixed
    assert {(e.before, e.after, e.rule) for e in edits} >= {("€œ", "“", "lost-lead-byte"), ("€¦", "…", "lost-lead-byte")}
    assert replay_edits(text, edits) == fixed


def test_lost_lead_byte_table_is_general_punctuation():
    assert LOST_LEAD_BYTE["€™"] == "’" and LOST_LEAD_BYTE["€œ"] == "“" and LOST_LEAD_BYTE["€¦"] == "…"
    assert all(0x2000 <= ord(v) <= 0x203F for v in LOST_LEAD_BYTE.values())


def test_euro_prices_are_not_mojibake():
    for text in ("5€–10€", "€100", "costs 20€"):
        assert fix_lost_lead_byte(text) == (text, [])


def test_full_mojibake_entities_and_controls_are_explained():
    text = "He said â€œInfectedâ€\x9d in the cafÃ© &amp; left\x00."
    fixed, edits = repair_encoding(text)
    assert fixed == "He said “Infected” in the café & left."
    rules = {e.rule for e in edits}
    assert "ftfy:unescape_html" in rules and any(r.startswith("ftfy:mojibake") for r in rules)
    assert replay_edits(text, edits) == fixed
    assert any(e.before == "&amp;" and e.after == "&" for e in edits)


def test_typographic_quotes_are_kept():
    text = "“Quoted” and it’s fine"
    assert repair_encoding(text) == (text, [])


def test_clean_seed_000_is_untouched():
    text = SEED_000.read_text(encoding="utf-8")
    fixed, edits = repair_encoding(text)
    assert fixed == text and edits == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
@example("\x80\x98\x86")  # "€˜" rebuilt as "‘" makes "‘†", which ftfy then reads as mojibake
def test_repair_is_replayable_and_idempotent(text):
    fixed, edits = repair_encoding(text)
    assert replay_edits(text, edits) == fixed
    again, more = repair_encoding(fixed)
    assert again == fixed and more == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_diff_edits_replay(a, b):
    from corpusclean.edits import sequence_edits

    assert replay_edits(a, sequence_edits(diff_edits(a, b, "x"))) == b


_TRICKY = st.text(
    alphabet=st.one_of(
        st.characters(max_codepoint=0x7F),
        st.sampled_from(list("’‘“”…–—éèàüöÃÂâ€™œ©®¢¤¦§¨ª«¬\xa0 ?&;#ÐÑÎÏðŸžƒ‚„†‡ˆ‰Š‹Œ√ÄÅÇÉÑÖÜ")),
        st.characters(),
    ),
    max_size=80,
)


@settings(max_examples=1500, deadline=None)
@given(_TRICKY)
def test_the_fast_gate_never_skips_text_ftfy_would_change(text):
    import ftfy

    from corpusclean.encoding import FTFY_CONFIG, needs_repair

    if not needs_repair(text):
        assert ftfy.fix_text(text, FTFY_CONFIG) == text
        assert fix_lost_lead_byte(text) == (text, [])


def test_the_fast_gate_on_real_text():
    from corpusclean.encoding import needs_repair

    clean = SEED_000.read_text(encoding="utf-8")
    assert not needs_repair(clean)
    assert needs_repair("He said â€œhiâ€\x9d") and needs_repair("cafÃ©") and needs_repair("x &amp; y")
    assert not needs_repair("Lenin’s “Testament” — café, naïve, Ålesund…")


@settings(max_examples=1500, deadline=None)
@given(_TRICKY)
def test_the_compiled_gate_scans_agree_with_their_definitions(text):
    """The gate's two compiled scans find exactly what the per-character definitions find."""
    from corpusclean import encoding as e

    assert bool(e._SUSPECT_RE.search(text)) == (not e._SUSPECT.isdisjoint(text))
    by_pairs = any(e._could_be_mojibake(pair.group(1)) for pair in e._NON_ASCII_PAIR.finditer(text))
    assert bool(e._MOJIBAKE_PAIR_RE.search(text)) == by_pairs


def test_the_compiled_gate_scans_on_every_suspect_and_mojibake_character():
    from corpusclean import encoding as e

    for ch in e._SUSPECT:
        assert e._SUSPECT_RE.search(f"ab{ch}c")
    for lead in e._MOJIBAKE_LEAD | e._LATIN1_LEAD | {"a", "\u2014"}:
        for follower in e._MOJIBAKE_CONTINUATION | {" ", "?", "a", "\u2014"}:
            pair = lead + follower
            by_pair = any(e._could_be_mojibake(m.group(1)) for m in e._NON_ASCII_PAIR.finditer(pair))
            assert bool(e._MOJIBAKE_PAIR_RE.search(pair)) == by_pair, pair


@settings(max_examples=1500, deadline=None)
@given(_TRICKY)
def test_ftfy_driven_step_by_step_gives_ftfys_own_result(text):
    """fix_with_ftfy skips ftfy's second pass and the fixers that cannot act; the text is still ftfy's."""
    import ftfy

    from corpusclean.encoding import FTFY_CONFIG, fix_with_ftfy
    from corpusclean.edits import sequence_edits

    fixed, steps = fix_with_ftfy(text)
    assert fixed == ftfy.fix_and_explain(text, FTFY_CONFIG).text
    assert replay_edits(text, [edit for step in steps for edit in sequence_edits(step)]) == fixed


def test_ftfy_driven_step_by_step_on_entities_mojibake_and_html():
    import ftfy

    from corpusclean.encoding import FTFY_CONFIG, fix_with_ftfy

    cases = [
        "He said â€œInfectedâ€\x9d in the cafÃ© &amp; left\x00.",
        "&amp;eacute; twice escaped, then cafÃƒÂ© twice encoded",  # a second pass is needed
        "<p>caf&eacute; in HTML stays</p> but cafÃ© is fixed",  # "<": entities are left alone
        "&lt;b&gt; becomes a tag, then &amp;eacute;",  # unescaping makes a "<": entities still decoded
        "ﬁne ＦＵＬＬ width\r\nand a line\u2028break",
        "voilÃ le travail",  # restore_byte_a0
        "\x93quoted\x94 in C1 controls",
    ]
    for text in cases:
        fixed, steps = fix_with_ftfy(text)
        assert fixed == ftfy.fix_and_explain(text, FTFY_CONFIG).text, text
    rules = {edit.rule for step in fix_with_ftfy(cases[4])[1] for edit in step}
    assert {"ftfy:fix_latin_ligatures", "ftfy:fix_character_width", "ftfy:fix_line_breaks"} <= rules
    assert {e.rule for s in fix_with_ftfy(cases[1])[1] for e in s} >= {"ftfy:unescape_html", "ftfy:mojibake:sloppy-windows-1252>utf-8"}


@settings(max_examples=1500, deadline=None)
@given(st.lists(_TRICKY, max_size=6))
def test_the_compiled_gate_over_many_texts_is_the_gate(texts):
    from corpusclean.encoding import needs_repair, needs_repair_many, repair_encoding, repair_encodings

    assert needs_repair_many(texts) == [needs_repair(t) for t in texts]
    assert repair_encodings(texts) == [repair_encoding(t) for t in texts]
    _check_gate_scan(texts)


def _check_gate_scan(texts):
    """What the compiled scan says of each text is what the gate's three regular expressions say."""
    import numpy as np

    from corpusclean import encoding as e
    from corpusclean.word_scan import text_code_points

    if not texts:
        return
    verdicts = np.empty(len(texts), np.uint8)
    e._gate_scan(*text_code_points(texts), e._GATE_TABLE, verdicts)
    for text, verdict in zip(texts, verdicts.tolist()):
        if not e._MAY_NEED_FIX.search(text):
            assert verdict == e._CLEAN
        elif e._SUSPECT_RE.search(text):
            assert verdict == e._TO_FIX
        else:
            assert verdict == (e._PAIRED if e._MOJIBAKE_PAIR_RE.search(text) else e._UNPAIRED)


def test_the_compiled_gate_on_real_text_and_every_gate_character():
    from corpusclean import encoding as e

    texts = [p for seed in (SEED_000, SEED_003) for p in seed.read_text(encoding="utf-8").split("\n\n")]
    texts += [f"ab{ch}c" for ch in sorted(e._SUSPECT)] + ["He said â€œhiâ€\x9d", "cafÃ©", "cafÃ ", "Ã?", "x &amp; y", "", "plain"]
    texts += [lead + follower for lead in sorted(e._NON_ASCII_LEAD | e._LATIN1_LEAD)[:40] for follower in (" ", "?", "\x80", "©", "a")]
    assert e.needs_repair_many(texts) == [e.needs_repair(t) for t in texts]
    assert any(e.needs_repair_many(texts)) and not all(e.needs_repair_many(texts))
    _check_gate_scan(texts)
