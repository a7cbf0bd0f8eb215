import regex
from hypothesis import given, settings, strategies as st

from corpusclean.segment import PARAGRAPH_SCHEMA, join_lines, paragraph_spans, segment_document
from conftest import SEED_000, SEED_003

_SPACE = regex.compile(r"\s+")


def _without_space(text: str) -> str:
    return _SPACE.sub("", text)


def test_blank_line_blocks_and_hard_wraps():
    text = "Title\n\nFirst line\nwrapped here.\n  \n\n\tSecond para.\n"
    table = segment_document("x.txt", text)
    assert table.schema == PARAGRAPH_SCHEMA
    assert table.column("text").to_pylist() == ["Title", "First line wrapped here.", "Second para."]
    for start, end, original in zip(*(table.column(c).to_pylist() for c in ("start_offset", "end_offset", "original_text"))):
        assert text[start:end] == original


def test_seed_003_single_line_is_split_at_sentences():
    text = SEED_003.read_text(encoding="utf-8")
    table = segment_document(SEED_003.name, text, max_chars=2000)
    lengths = [len(t) for t in table.column("original_text").to_pylist()]
    assert len(lengths) > 5 and max(lengths) <= 2000
    # pieces end at sentence ends, not mid-word
    assert all(regex.search(r"[.!?…][\"'”’)\]]*$", t) for t in table.column("original_text").to_pylist()[:-1])


def test_seed_ids_are_stable_and_unique():
    text = SEED_000.read_text(encoding="utf-8")
    a = segment_document(SEED_000.name, text)
    b = segment_document(SEED_000.name, text)
    ids = a.column("paragraph_id").to_pylist()
    assert ids == b.column("paragraph_id").to_pylist()
    assert len(set(ids)) == len(ids)


def test_sentence_longer_than_limit_is_cut_without_loss():
    text = "word " * 1000 + "x" * 5000
    spans = list(paragraph_spans(text, max_chars=300))
    assert all(end - start <= 300 for start, end in spans)
    assert _without_space("".join(text[s:e] for s, e in spans)) == _without_space(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
            st.sampled_from(["\n\n", ". ", "! ", "\n", "  ", "… ", "?” "]),
        ),
        max_size=60,
    ),
    st.integers(min_value=200, max_value=600),
)
def test_conservation_spans_cover_all_non_space(parts, max_chars):
    text = "".join(parts)
    spans = list(paragraph_spans(text, max_chars))
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:]))
    assert all(e - s <= max_chars for s, e in spans)
    assert _without_space("".join(text[s:e] for s, e in spans)) == _without_space(text)
    assert all(not _SPACE.match(text[s]) and not _SPACE.match(text[e - 1]) for s, e in spans)


@given(st.text(max_size=200))
def test_join_lines_is_idempotent(text):
    assert join_lines(join_lines(text)) == join_lines(text)


def _chunked(text: str, size: int):
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_streamed_segmentation_equals_whole_document_at_blank_lines():
    import pyarrow as pa

    from corpusclean.segment import segment_stream

    text = (SEED_000.read_text(encoding="utf-8") + "\n\n") * 30
    whole = segment_document("s.txt", text)
    streamed = pa.concat_tables(list(segment_stream("s.txt", _chunked(text, 7_001))))
    assert streamed.equals(whole)


def test_streamed_segmentation_of_one_huge_line_conserves_text():
    import pyarrow as pa

    from corpusclean.segment import segment_stream

    text = SEED_003.read_text(encoding="utf-8").replace("\n", " ") * 20
    tables = list(segment_stream("s.txt", _chunked(text, 50_000)))
    assert len(tables) > 3  # emitted as it went, not all at the end
    streamed = pa.concat_tables(tables)
    assert streamed.column("paragraph_index").to_pylist() == list(range(streamed.num_rows))
    assert all(len(t) <= 2000 for t in streamed.column("original_text").to_pylist())
    starts, originals = streamed.column("start_offset").to_pylist(), streamed.column("original_text").to_pylist()
    assert all(text[s : s + len(o)] == o for s, o in zip(starts, originals))
    assert _without_space("".join(originals)) == _without_space(text)


_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
        | st.text(alphabet="ab. é—’!?\n" + _SPACES, max_size=60),
        max_size=8,
    ),
    st.sampled_from([5, 20, 2000]),
)
def test_compiled_segmentation_equals_the_per_paragraph_strings(parts, max_chars):
    from corpusclean.segment import _segment_document_strings, segment_documents

    text = "\n\n".join(parts)
    fast = segment_document("dir/ä.txt", text, max_chars, first_index=3, offset=10)
    slow = _segment_document_strings("dir/ä.txt", text, max_chars, first_index=3, offset=10)
    assert fast.equals(slow)
    documents = [("a.txt", text), ("b.txt", ""), ("c.txt", " x\n\n\ny ")]
    many = segment_documents(documents, max_chars, batch_bytes=7)
    assert many.equals(pa_concat([segment_document(s, t, max_chars) for s, t in documents]))
    lean = segment_documents(documents, max_chars, original_text=False)
    assert lean.equals(many.drop_columns(["original_text"]))
    assert segment_documents(documents, max_chars, batch_bytes=7, workers=2).equals(many)


def pa_concat(tables):
    import pyarrow as pa

    return pa.concat_tables(tables)


def test_join_lines_spaces_are_python_whitespace():
    import sys

    from corpusclean.segment import _collapse_spaces
    import numpy as np

    for c in range(sys.maxunicode + 1):
        if 0xD800 <= c < 0xE000:
            continue
        data = np.frombuffer(f"a{chr(c)}b".encode(), dtype=np.uint8)
        _, out = _collapse_spaces(data, np.array([0]), np.array([len(data)]))
        assert out.tobytes().decode() == join_lines(f"a{chr(c)}b"), hex(c)
