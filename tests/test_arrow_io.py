"""Arrow IPC files between steps: large files are mapped, and a pass can let their pages go."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpusclean.arrow_io import MAP_BYTES, load_table, release_mapped_pages, save_table
from corpusclean.parallel import map_shards
from conftest import SEEDS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")


def _resident_kb(path: Path) -> int:
    """Resident size of this process's mapping of ``path`` (0 if unmapped)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if not line[:1].isupper() or ":" not in line.split()[0]:  # a mapping's header line
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.fixture
def mapped_file(tmp_path) -> Path:
    seed_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    rows = [f"{i} {seed_text[i % 997:][:3000]}" for i in range(3 * MAP_BYTES // 3000)]
    return save_table(pa.table({"text": rows, "n": list(range(len(rows)))}), tmp_path / "big.arrow")


def test_released_pages_leave_the_process_and_the_values_stay(mapped_file):
    table = load_table(mapped_file)
    before = pc.sum(pc.utf8_length(table.column("text"))).as_py()  # touches every text byte
    assert _resident_kb(mapped_file) * 1024 > 2 * MAP_BYTES
    release_mapped_pages([table.column("text"), table.column("n")])
    assert _resident_kb(mapped_file) * 1024 < MAP_BYTES // 8
    assert pc.sum(pc.utf8_length(table.column("text"))).as_py() == before  # read back from the page cache
    assert table.equals(load_table(mapped_file))


def test_a_sharded_pass_over_a_mapped_column_holds_a_few_shards(mapped_file):
    table = load_table(mapped_file)
    expected = [len(t) for t in table.column("text").to_pylist()]
    release_mapped_pages([table.column("text")])
    lengths = map_shards(lambda shard: pc.utf8_length(shard), table.column("text"), 2)
    assert [n for shard in lengths for n in shard.to_pylist()] == expected
    assert _resident_kb(mapped_file) * 1024 < MAP_BYTES // 4  # of the ~24 MB mapped


def test_a_slice_releases_its_own_rows_only(mapped_file):
    table = load_table(mapped_file)
    text = table.column("text")
    pc.sum(pc.utf8_length(text))
    full = _resident_kb(mapped_file)
    release_mapped_pages([text.slice(0, len(text) // 2)])
    left = _resident_kb(mapped_file)
    assert 0.3 * full < left < 0.7 * full


def test_the_buffered_ipc_writer_writes_the_bytes_pyarrow_does(tmp_path):
    from corpusclean.arrow_io import WRITE_BUFFER, ipc_file_writer

    batches = [pa.record_batch({"text": [f"paragraph {i}"] * (i % 5 + 1), "n": list(range(i % 5 + 1))}) for i in range(6000)]
    footer = {"index": "x" * 100}
    with ipc_file_writer(tmp_path / "buffered.arrow", batches[0].schema, metadata=footer) as writer:
        for batch in batches:
            writer.write_batch(batch)
    with pa.OSFile(str(tmp_path / "plain.arrow"), "wb") as sink, pa.ipc.new_file(sink, batches[0].schema, metadata=footer) as writer:
        for batch in batches:
            writer.write_batch(batch)
    written = (tmp_path / "buffered.arrow").read_bytes()
    assert len(written) > WRITE_BUFFER  # the buffer filled and was written out before the end
    assert written == (tmp_path / "plain.arrow").read_bytes()
    reader = pa.ipc.open_file(str(tmp_path / "buffered.arrow"))
    assert reader.num_record_batches == 6000 and reader.get_batch(7).equals(batches[7])
