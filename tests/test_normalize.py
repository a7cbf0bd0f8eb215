import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from _seed_paragraphs import seed_paragraphs
from corpusclean.normalize import normalize_batch, normalize_text, read_mojibake, token_hash, tokenize, tokenize_batch


def reference_hashes(text: str) -> list[int]:
    return [token_hash(t) for t in tokenize(text)]


def test_folds_case_quotes_punctuation_whitespace_and_compatibility_forms():
    assert normalize_text("  Stalin AND  Lenin — “relationship”! ") == "stalin and lenin relationship"
    assert normalize_text("don\u2019t") == normalize_text("don't") == normalize_text("DONT")
    assert normalize_text("ﬁne Ｔｅｘｔ") == "fine text"
    assert normalize_text("Straße") == normalize_text("STRASSE")
    assert normalize_text("well-known\u00a0fact") == "well known fact"


def test_keeps_letters_and_numbers_of_any_script():
    assert tokenize("Ленин и Сталин, 1922 г.") == ["ленин", "и", "сталин", "1922", "г"]


def test_batch_matches_reference_on_seed_text():
    texts = seed_paragraphs().column("text").to_pylist()
    batch = tokenize_batch(texts)
    assert len(batch) == len(texts)
    assert all(batch.row(i).tolist() == reference_hashes(t) for i, t in enumerate(texts))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.text("ab'` -.\t\n\u00e9\u00a0\u0301\ufb01") | st.none(), max_size=6))
def test_batch_matches_reference_on_any_text(texts):
    batch = tokenize_batch(texts)
    assert [batch.row(i).tolist() for i in range(len(texts))] == [reference_hashes(t or "") for t in texts]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_normalisation_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert normalize_text(unicodedata.normalize("NFD", text.upper())) == normalize_text(unicodedata.normalize("NFD", text).upper())


def test_batch_handles_arrow_slices_and_non_ascii_chunks():
    import pyarrow as pa

    texts = pa.array(["skip me", "Don’t  STOP—believing ﬁne", "x y z", None], pa.string()).slice(1, 3)
    batch = tokenize_batch(texts)
    assert [batch.row(i).tolist() for i in range(3)] == [reference_hashes(t or "") for t in texts.to_pylist()]
    assert len(batch.row(0)) == 4  # dont stop believing fine


def test_token_hashes_differ_for_different_tokens():
    hashes = {token_hash(t) for t in ["a", "b", "ab", "ba", "", "é", "e"]}
    assert len(hashes) == 7


def test_normalize_batch_matches_reference_on_seed_text():
    texts = seed_paragraphs().column("text").to_pylist()
    batch = normalize_batch(texts)
    assert len(batch) == len(texts)
    assert all(batch.text(i) == normalize_text(t) for i, t in enumerate(texts))
    assert batch.lengths().tolist() == [len(normalize_text(t)) for t in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.text("ab'` -.\t\n\u00e9\u00a0\u0301\ufb01") | st.none(), max_size=6))
def test_normalize_batch_matches_reference_on_any_text(texts):
    batch = normalize_batch(texts)
    assert [batch.text(i) for i in range(len(texts))] == [normalize_text(t or "") for t in texts]


def test_normalize_batch_handles_arrow_slices_and_mixed_chunks():
    import pyarrow as pa

    texts = pa.array(["skip me", "Don’t  STOP—believing ﬁne it's", "", None, "a\u00a0b"], pa.string()).slice(1, 4)
    batch = normalize_batch(texts)
    assert [batch.text(i) for i in range(4)] == ["dont stop believing fine its", "", "", "a b"]


def test_characters_that_combine_with_a_neighbour_are_all_marks_or_jamo():
    """The premise of the compiled non-ASCII path (``normalize._stable``): every character that is the
    second half of a canonical composition (NFC_QC=Maybe) or has a non-zero combining class is unstable."""
    import sys

    from corpusclean.normalize import _stable

    for cp in range(sys.maxunicode + 1):
        char = chr(cp)
        if unicodedata.combining(char):
            assert not _stable(char), hex(cp)
        decomposition = unicodedata.decomposition(char)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                assert not _stable(chr(int(parts[1], 16))), (hex(cp), decomposition)
    # Hangul syllables compose algorithmically from L, V and T jamo.
    assert not any(_stable(chr(cp)) for cp in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)])


def test_batch_matches_reference_for_every_bmp_character_in_context():
    chars = [chr(cp) for cp in range(0x80, 0x10000) if not 0xD800 <= cp < 0xE000]
    texts = [f"A{c}b'{c}\u00e9 {c}{c}x" for c in chars] + [f"é{c}" for c in chars[::7]]
    batch = tokenize_batch(texts)
    assert [batch.row(i).tolist() for i in range(len(texts))] == [reference_hashes(t) for t in texts]


def _garbled(text: str, how: str) -> str:
    """``text`` as a mis-set page shows it: each non-ASCII character's UTF-8 bytes decoded as cp1252 or Latin-1,
    or (``lead_lost``) as cp1252 with the first byte's character gone."""
    out = []
    for char in text:
        raw = char.encode("utf-8")
        if char.isascii():
            out.append(char)
        elif how == "latin1":
            out.append(raw.decode("latin-1"))
        else:
            shown = raw.decode("cp1252")
            out.append(shown[1:] if how == "lead_lost" else shown)
    return "".join(out)


def test_mojibake_is_read_as_the_characters_it_stands_for():
    text = "The king’s men — ‘all of them’ — met at the café… in Zürich"  # not ”: E2 80 9D, and cp1252 has no 9D
    for how in ("cp1252", "latin1"):
        assert _garbled(text, how) != text
        assert tokenize(_garbled(text, how)) == tokenize(text)
    # A lost lead byte leaves only punctuation's trail (E2 80 xx), which is read again too.
    assert tokenize(_garbled("The king’s men — “all…", "lead_lost")) == tokenize("The king’s men — “all…")
    assert tokenize("5€–10€ and São") == ["5", "10", "and", "são"]  # a price range and a real "ã" stay as they are


# Characters whose UTF-8 bytes all show in cp1252 (none of 0x81, 0x8D, 0x8F, 0x90, 0x9D), the kind a page carries.
_SHOWABLE = [c for c in "’‘“”—–…éèàçñüößœ€©°½ÂÃâ" if all(b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) for b in c.encode())]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["the", "king", "s", " ", "'", "-", *_SHOWABLE]), max_size=30), st.sampled_from(["cp1252", "latin1"]))
def test_garbled_text_compares_as_its_original_and_the_batch_agrees(parts, how):
    text = "".join(parts)
    garbled = _garbled(text, how)
    if read_mojibake(text) == text:  # an original that is not itself readable as mojibake
        assert tokenize(garbled) == tokenize(text)
    batch = tokenize_batch([text, garbled])
    assert [batch.row(0).tolist(), batch.row(1).tolist()] == [reference_hashes(text), reference_hashes(garbled)]


# Leads, continuations, a deleted quote and a combining mark that composes a lead: folding can make mojibake.
_FOLDING_INTO_MOJIBAKE = ["a", " ", "'", "\u0302", "1", *"ÂÃâãáÅ€ŠŒšœžƒˆ™©ª\u0080\u0099\u212b"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(_FOLDING_INTO_MOJIBAKE), max_size=12))
def test_batch_matches_reference_and_stays_idempotent_where_folding_makes_mojibake(text):
    batch = tokenize_batch([text])
    assert batch.row(0).tolist() == reference_hashes(text)
    once = normalize_text(text)
    assert normalize_text(once) == once
