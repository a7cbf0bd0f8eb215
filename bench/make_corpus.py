"""Build a deterministic, labelled near-duplicate corpus for ``make bench``.

The corpus imitates scraped web pages: each page is a ``.txt`` file of
blank-line-separated paragraphs (the unit corpusclean deduplicates), with
site boilerplate (nav/footer lines) repeated on many pages, and with copies of
earlier paragraphs placed in *other* pages after one kind of edit:

``exact``, ``punct_case_ws``, ``word_ins_del_sub``, ``sentence_add_drop``,
``ocr_noise``, ``mojibake`` (and ``boilerplate`` for repeated site lines).

Every copy is written to ``labels.parquet`` with its original's location and
its true word-5-gram Jaccard to the original's clean text (``jaccard``); OCR
and mojibake copies also get ``jaccard_repaired``: the Jaccard the copy would
have after an ideal repair of the noise (they are duplicates in intent).

Prose comes from any plain-text file(s) given with ``--source`` (the bench set
up dumps the King James Bible of Debian's ``bible-kjv-text``). The source is
cut into distinct clauses; originals are made of new sentences of 1-4 clauses
drawn without replacement from a freshly shuffled clause stream, so that even
at 1 GB (hundreds of passes over a 4 MB source) unrelated paragraphs share
almost no 5-grams and none contains another. ``meta.json`` records a sampled
check of that.

Only the standard library is needed to generate; ``pyarrow`` writes the labels.
Same arguments and same source bytes give byte-identical output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

GENERATOR_VERSION = "1"
MB = 1_000_000
"""Sizes are decimal megabytes, as MB/s is in the results table."""

SHINGLE = 5
BOILERPLATE = "boilerplate.txt"
PAGES = "pages"
"""Pages live in ``OUT/pages`` (sources in the labels are relative to it), so tools
pointed at that folder never see ``labels.parquet`` or ``meta.json``."""
KINDS = (
    "exact",
    "punct_case_ws",
    "word_ins_del_sub",
    "sentence_add_drop",
    "ocr_noise",
    "mojibake",
)
# Share of copy slots per kind; noise kinds are over-weighted because they are
# where tools differ most.
KIND_WEIGHTS = (0.10, 0.15, 0.25, 0.15, 0.20, 0.15)
COPY_RATE = 0.3
"""Probability that a body paragraph slot holds a copy rather than a new original."""
MAX_CLAUSE_CHARS = 250
MAX_ORIGINAL_CHARS = 1200
"""Keeps every paragraph, even after edits, under corpusclean's 2000-char split."""
RECENT_ORIGINALS = 20_000
"""Copies are drawn from this many most recent originals (bounds memory at 1 GB)."""

# Realistic OCR confusions (each direction listed separately).
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("c", "e"), ("e", "c"), ("n", "a"), ("a", "n"), ("l", "t"), ("t", "l"),
    ("rn", "m"), ("m", "rn"), ("li", "h"), ("h", "li"), ("cl", "d"), ("d", "cl"),
    ("ii", "u"), ("u", "ii"), ("l", "1"), ("1", "l"), ("o", "0"), ("0", "o"),
)

_NON_WORD = re.compile(r"[\W_]+")
"""Punctuation, symbols, controls and spaces: everything that is not a letter or digit."""
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(])")
_CLAUSE_SPLIT = re.compile(r"(?<=[,;:])\s+")
_LOWER_WHEN_INNER = frozenset(
    "And But For Then So The That Which When Who Ye Thou He They It This There Now Behold Neither Nor Or If".split()
)
_VERSE_REF = re.compile(r"^\s*[0-9]?[A-Za-z]+\d+:\d+\s+")


# --------------------------------------------------------------------------- normalisation


def normalise_words(text: str) -> list[str]:
    """Words of ``text`` after NFKC, casefold and punctuation/symbol stripping.

    Punctuation and symbols become spaces (not nothing) so that ``king’s`` and
    ``king's`` and ``king€™s`` agree while ``kingâ€™s`` (a mojibake letter left
    inside) does not: that is what a reader would call the same text.
    """
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()


def shingles(text: str, size: int = SHINGLE) -> set[tuple[str, ...]]:
    """Word ``size``-grams of the normalised text (the whole text if shorter)."""
    words = normalise_words(text)
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: str, b: str, size: int = SHINGLE) -> float:
    """True word-``size``-gram Jaccard similarity of two texts."""
    sa, sb = shingles(a, size), shingles(b, size)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


# --------------------------------------------------------------------------- prose source


def load_clauses(paths: Sequence[Path]) -> list[str]:
    """Distinct clauses of at least 3 words from plain-text files, in file order.

    Lines are joined within blank-line blocks; a leading verse reference such
    as ``Ge1:1`` (the ``bible`` dump format) is dropped. Sentences are cut
    after ``,`` ``;`` ``:`` into clauses (short ones merged into the next), and
    trailing punctuation is dropped: :func:`compose_sentence` re-punctuates.
    """
    clauses: list[str] = []
    for path in paths:
        raw = path.read_text(encoding="utf-8", errors="replace")
        lines = [_VERSE_REF.sub("", line) for line in raw.splitlines()]
        for block in re.split(r"\n\s*\n", "\n".join(lines)):
            for sentence in _SENTENCE_SPLIT.split(" ".join(block.split())):
                pending = ""
                for clause in _CLAUSE_SPLIT.split(sentence):
                    pending = f"{pending} {clause}".strip()
                    if len(pending.split()) >= 3:
                        clauses.append(pending.rstrip(".,;:?!"))
                        pending = ""
                if pending:
                    clauses.append(pending.rstrip(".,;:?!"))
    # A clause may appear once only (formulae such as "And the LORD spake unto
    # Moses" recur in the source), and over-long ones are dropped so that every
    # paragraph stays well under corpusclean's 2000-character split.
    seen: set[str] = set()
    unique = []
    for clause in clauses:
        key = " ".join(normalise_words(clause))
        if len(key.split()) >= 3 and key not in seen and len(clause) <= MAX_CLAUSE_CHARS:
            seen.add(key)
            unique.append(clause)
    return unique


def compose_sentence(stream: "Shuffled", rng: random.Random) -> str:
    """A new sentence of 1-4 clauses from the stream.

    Recombining clauses is what lets a few MB of source text give a 1 GB corpus
    whose unrelated paragraphs still share (almost) no 5-grams: two paragraphs
    share a shingle run only if they drew the same clause, and clauses are
    drawn without replacement within each pass over the pool.
    """
    parts = [stream.next() for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))]
    out = parts[0][:1].upper() + parts[0][1:]
    for part in parts[1:]:
        first, _, rest = part.partition(" ")
        if first in _LOWER_WHEN_INNER:
            part = f"{first.lower()} {rest}"
        out += rng.choice((", ", ", ", "; ", ": ")) + part
    return out + rng.choice((".", ".", ".", ".", "?"))


def typographise(text: str) -> str:
    """Render ASCII prose the way web pages do: curly apostrophes, em dashes.

    This gives the originals the non-ASCII characters that mojibake mangles.
    """
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)
    return text.replace(": ", " \u2014 ")


class Shuffled:
    """Endless draws from a pool: the pool in a new seeded shuffle each pass."""

    def __init__(self, pool: Sequence[str], rng: random.Random) -> None:
        self._pool = list(pool)
        self._rng = rng
        self._order: list[int] = []
        self._pos = 0

    def next(self) -> str:
        """The next item of the stream."""
        if self._pos >= len(self._order):
            self._order = list(range(len(self._pool)))
            self._rng.shuffle(self._order)
            self._pos = 0
        item = self._pool[self._order[self._pos]]
        self._pos += 1
        return item


# --------------------------------------------------------------------------- edits


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph (same splitter as the source loader)."""
    return [s for s in _SENTENCE_SPLIT.split(text) if s]


def edit_punct_case_ws(text: str, rng: random.Random) -> str:
    """Change punctuation, letter case and whitespace only (words untouched)."""
    out = []
    for word in text.split(" "):
        roll = rng.random()
        if roll < 0.08:
            word = word.upper()
        elif roll < 0.16:
            word = word.lower()
        elif roll < 0.22:
            word = word.capitalize()
        roll = rng.random()
        if roll < 0.15 and word[-1:] in ",;.":
            word = word[:-1] + rng.choice([",", ";", "", " ,", "."])
        word = word.replace("\u2019", "'") if rng.random() < 0.5 else word
        out.append(word)
    seps = [rng.choice([" ", " ", " ", " ", "  ", "\n", " \t"]) for _ in out[1:]]
    joined = out[0] + "".join(sep + word for sep, word in zip(seps, out[1:]))
    return joined.replace(" \u2014 ", rng.choice([" -- ", " - ", "\u2014", " \u2014 "]))


def edit_words(text: str, target: float, vocab: Sequence[str], rng: random.Random) -> str:
    """Insert, delete or substitute words until the Jaccard is about ``target``.

    Each edit touches up to ``SHINGLE`` shingles, so the number of edits for a
    target Jaccard J over N shingles is about N(1-J)/(SHINGLE(1+J)).
    """
    words = text.split(" ")
    n_shingles = max(1, len(words) - SHINGLE + 1)
    n_edits = max(1, round(n_shingles * (1 - target) / (SHINGLE * (1 + target))))
    for _ in range(n_edits):
        op = rng.choice(("ins", "del", "sub"))
        pos = rng.randrange(len(words))
        if op == "ins":
            words.insert(pos, rng.choice(vocab))
        elif op == "del" and len(words) > SHINGLE + 1:
            del words[pos]
        else:
            words[pos] = rng.choice(vocab)
    return " ".join(words)


def edit_sentences(text: str, stream: Shuffled, rng: random.Random) -> str:
    """Drop one sentence or add one new, unrelated sentence at a random place."""
    sentences = split_sentences(text)
    if len(sentences) > 2 and rng.random() < 0.5:
        del sentences[rng.randrange(len(sentences))]
    else:
        sentences.insert(rng.randrange(len(sentences) + 1), typographise(compose_sentence(stream, rng)))
    return " ".join(sentences)


def ocr_noise(text: str, word_rate: float, rng: random.Random) -> str:
    """Apply OCR character confusions to about ``word_rate`` of the words."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if rng.random() >= word_rate:
            continue
        options = [(a, b) for a, b in OCR_CONFUSIONS if a in word]
        if not options:
            continue
        wrong, right = rng.choice(options)
        starts = [m.start() for m in re.finditer(re.escape(wrong), word)]
        at = rng.choice(starts)
        words[i] = word[:at] + right + word[at + len(wrong) :]
    return " ".join(words)


def mojibake(text: str, variant: str) -> str:
    """UTF-8 bytes of ``text`` decoded as cp1252 (what a mis-set page shows).

    ``lead_lost`` also drops the first byte's character (``’`` → ``€™``), as
    happens when a later step strips "invalid" Latin-1 letters; ``latin1``
    decodes as ISO-8859-1, leaving C1 control characters.
    """
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
            continue
        raw = ch.encode("utf-8")
        if variant == "latin1":
            out.append(raw.decode("latin-1"))
            continue
        garbled = raw.decode("cp1252", errors="replace")
        out.append(garbled[1:] if variant == "lead_lost" else garbled)
    return "".join(out)


# --------------------------------------------------------------------------- pages


@dataclass
class Site:
    """A fake website: its name and the boilerplate lines on its pages."""

    name: str
    header: str
    footer: str


SITE_WORDS = (
    "Grace", "Olive", "Cedar", "Harbor", "Lantern", "Meadow", "Granite", "Willow",
    "Beacon", "Juniper", "Heron", "Summit", "Quarry", "Orchard", "Falcon", "Ember",
)
HEADERS = (
    "{name} | Home | Daily readings | Archive | Commentary | About {name} | Contact the editors",
    "Skip to main content. {name} online library: browse texts, search the concordance, sign in",
    "You are here: {name} > Library > Old and New Testament > Reading plan > Current page",
    "Welcome to {name}, the free reading room; today's page was updated by our volunteers",
)
FOOTERS = (
    "Copyright {name}. All rights reserved. Privacy policy | Terms of use | Cookie settings | Sitemap",
    "Subscribe to the {name} newsletter to receive new readings and study notes every week by email.",
    "Share this page on social media, print it, or send it to a friend from {name} today.",
    "Was this page helpful? Report an error to {name} support and help us improve the archive.",
)


def make_sites(rng: random.Random, count: int) -> list[Site]:
    """``count`` sites with distinct names and templated boilerplate."""
    sites = []
    for i in range(count):
        name = f"{rng.choice(SITE_WORDS)} {rng.choice(SITE_WORDS)} {i:03d}"
        sites.append(Site(name, rng.choice(HEADERS).format(name=name), rng.choice(FOOTERS).format(name=name)))
    return sites


@dataclass
class Original:
    """An original paragraph already placed in a page."""

    source: str
    index: int
    text: str


@dataclass
class Labels:
    """Column lists of ``labels.parquet`` (one row per copy paragraph)."""

    columns: dict[str, list] = field(
        default_factory=lambda: {
            "source": [], "paragraph_index": [], "kind": [], "variant": [],
            "orig_source": [], "orig_paragraph_index": [],
            "jaccard": [], "jaccard_repaired": [],
        }
    )

    def add(self, source: str, index: int, kind: str, variant: str, orig: Original,
            jac: float, jac_repaired: float | None) -> None:
        """Record one copy."""
        row = (source, index, kind, variant, orig.source, orig.index, jac, jac_repaired)
        for column, value in zip(self.columns, row):
            self.columns[column].append(value)


class CorpusBuilder:
    """Generates pages one at a time from a seeded RNG."""

    def __init__(self, clauses: Sequence[str], seed: int) -> None:
        self.rng = random.Random(seed)
        self.stream = Shuffled(clauses, random.Random(seed + 1))
        self.vocab = sorted({w for c in clauses[:5000] for w in c.split() if w.isalpha()})
        self.sites = make_sites(self.rng, 200)
        self.recent: deque[Original] = deque(maxlen=RECENT_ORIGINALS)
        self.boilerplate_first: dict[str, Original] = {}
        self.labels = Labels()
        self.counts = {k: 0 for k in (*KINDS, "boilerplate", "original")}

    def new_original(self) -> str:
        """A fresh paragraph of 40-160 words of newly composed sentences."""
        target = self.rng.randint(40, 160)
        parts: list[str] = []
        n_words = 0
        n_chars = 0
        while n_words < target:
            sentence = compose_sentence(self.stream, self.rng)
            if parts and n_chars + len(sentence) > MAX_ORIGINAL_CHARS:
                break
            parts.append(sentence)
            n_words += len(sentence.split())
            n_chars += len(sentence) + 1
        return typographise(" ".join(parts))

    def make_copy(self, orig: Original) -> tuple[str, str, str, float | None]:
        """A copy of ``orig``: (text, kind, variant, jaccard_repaired)."""
        kind = self.rng.choices(KINDS, KIND_WEIGHTS)[0]
        if kind == "mojibake" and orig.text.isascii():
            kind = "ocr_noise"  # nothing for mojibake to mangle
        text = orig.text
        if kind == "exact":
            return text, kind, "", None
        if kind == "punct_case_ws":
            return edit_punct_case_ws(text, self.rng), kind, "", None
        if kind == "word_ins_del_sub":
            target = self.rng.uniform(0.5, 0.98)
            return edit_words(text, target, self.vocab, self.rng), kind, f"target={target:.2f}", None
        if kind == "sentence_add_drop":
            return edit_sentences(text, self.stream, self.rng), kind, "", None
        # Noise on top of a clean or lightly edited base; the base is what an
        # ideal repair gives back, hence ``jaccard_repaired``.
        roll = self.rng.random()
        if roll < 0.6:
            base = text
        elif roll < 0.8:
            base = edit_punct_case_ws(text, self.rng)
        else:
            base = edit_words(text, 0.95, self.vocab, self.rng)
        if kind == "ocr_noise":
            rate = self.rng.uniform(0.01, 0.08)
            return ocr_noise(base, rate, self.rng), kind, f"word_rate={rate:.2f}", jaccard(text, base)
        variant = self.rng.choices(("cp1252", "lead_lost", "latin1"), (0.7, 0.2, 0.1))[0]
        return mojibake(base, variant), kind, variant, jaccard(text, base)

    def page(self, number: int) -> tuple[str, str]:
        """Relative path and text of page ``number``."""
        site = self.sites[self.rng.randrange(len(self.sites))]
        source = f"{number // 1000:04d}/{site.name.split()[-1]}-{number:07d}.txt"
        paragraphs: list[str] = []

        def boilerplate(line: str) -> None:
            first = self.boilerplate_first.get(line)
            if first is None:
                self.boilerplate_first[line] = Original(source, len(paragraphs), line)
                self.counts["original"] += 1
            else:
                self.labels.add(source, len(paragraphs), "boilerplate", "", first, 1.0, None)
                self.counts["boilerplate"] += 1
            paragraphs.append(line)

        if self.rng.random() < 0.7:
            boilerplate(site.header)
        page_originals: list[Original] = []
        for _ in range(self.rng.randint(4, 14)):
            if self.recent and self.rng.random() < COPY_RATE:
                orig = self.recent[self.rng.randrange(len(self.recent))]
                text, kind, variant, jac_rep = self.make_copy(orig)
                self.labels.add(source, len(paragraphs), kind, variant, orig, jaccard(orig.text, text), jac_rep)
                self.counts[kind] += 1
            else:
                text = self.new_original()
                page_originals.append(Original(source, len(paragraphs), text))
                self.counts["original"] += 1
            paragraphs.append(text)
        if self.rng.random() < 0.7:
            boilerplate(site.footer)
        # Originals join the copy pool only after their page: copies land in other files.
        self.recent.extend(page_originals)
        return source, "\n\n".join(paragraphs) + "\n"


def unrelated_similarity(texts: Sequence[str], rng: random.Random, pairs: int = 2000) -> dict[str, float]:
    """Jaccard and containment over random pairs of distinct originals: should be near zero.

    Containment is the share of the smaller shingle set inside the larger one
    (what a containment-aware deduplicator looks at).
    """
    if len(texts) < 2:
        return {"pairs": 0, "max": 0.0, "mean": 0.0, "max_containment": 0.0}
    jaccards, containments = [], []
    for _ in range(pairs):
        a, b = (shingles(texts[i]) for i in rng.sample(range(len(texts)), 2))
        shared = len(a & b)
        jaccards.append(shared / len(a | b) if a or b else 0.0)
        containments.append(shared / min(len(a), len(b)) if a and b else 0.0)
    return {"pairs": pairs, "max": max(jaccards), "mean": sum(jaccards) / pairs, "max_containment": max(containments)}


def build(sources: Sequence[Path], size_mb: float, seed: int, out: Path) -> dict:
    """Write the corpus under ``out`` and return its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    clauses = load_clauses(sources)
    if len(clauses) < 200:
        raise SystemExit(f"prose source too small: {len(clauses)} clauses")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    builder = CorpusBuilder(clauses, seed)
    total = 0
    number = 0
    limit = int(size_mb * MB)
    while total < limit:
        source, text = builder.page(number)
        path = out / PAGES / source
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
        number += 1
    pq.write_table(pa.table(builder.labels.columns), out / "labels.parquet")
    # Every boilerplate line, including those seen once: scorers leave them all out of pair counts.
    (out / BOILERPLATE).write_text("".join(line + "\n" for line in builder.boilerplate_first), encoding="utf-8")
    check_rng = random.Random(seed + 2)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "size_mb": size_mb,
        "seed": seed,
        "bytes": total,
        "pages": number,
        "sources": [str(p) for p in sources],
        "source_sha256": source_digest(sources),
        "generator_sha256": generator_digest(),
        "clauses": len(clauses),
        "paragraphs": sum(builder.counts.values()),
        "counts": builder.counts,
        "unrelated_jaccard": unrelated_similarity([o.text for o in builder.recent], check_rng),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def source_digest(sources: Iterable[Path]) -> str:
    """SHA-256 over the source files' bytes (part of the cache key)."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def generator_digest() -> str:
    """SHA-256 of this file: a changed generator invalidates cached corpora."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", type=Path, action="append", required=True,
                        help="plain-text prose file (repeatable)")
    args = parser.parse_args(argv)
    meta = build(args.source, args.size_mb, args.seed, args.out)
    print(json.dumps({k: meta[k] for k in ("bytes", "pages", "paragraphs", "counts", "unrelated_jaccard")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
