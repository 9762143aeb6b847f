"""Writes stream: samples are pulled from any iterable chunk by chunk while shards are written,
never all held at once; a failure part-way leaves nothing behind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import atdata
from conftest import REPO, EmbeddingSample, TextSample, run_py, text_samples


def _tars(root: Path) -> list:
    return sorted(p.name for p in root.rglob("*.tar"))


def _temp_files(root: Path) -> list:
    return sorted(p.name for p in root.rglob(".atdata-shard-*"))


def test_generator_write_equals_list_write(index):
    listed = index.write_samples(text_samples(2500), name="docs", maxcount=1000)
    generated = index.write_samples(
        (s for s in text_samples(2500)), name="docs-gen", maxcount=1000
    )
    assert generated.num_samples == 2500
    assert len(generated.data_urls) == 3
    # Same samples, byte-identical shards, however they were handed over.
    assert [s["sha256"] for s in generated.shards] == [s["sha256"] for s in listed.shards]
    back = [s.text for s in index.load("docs-gen").ordered()]
    assert back == [s.text for s in text_samples(2500)]


def test_any_iterable_works(index):
    class Samples:
        def __iter__(self):
            return iter(text_samples(5))

    assert index.write_samples(Samples(), name="it").num_samples == 5
    assert index.write_samples(iter(text_samples(4)), name="it2").num_samples == 4
    assert index.write_samples(tuple(text_samples(3)), name="tup").num_samples == 3
    with pytest.raises(ValueError, match="empty"):
        index.write_samples((s for s in []), name="none")
    assert [e.name for e in index.list_datasets()] == ["it", "it2", "tup"]


def test_copy_a_dataset_by_streaming_it_into_a_new_write(index):
    # The source iterator itself calls into the Rust reader while the writer is running.
    index.write_samples(text_samples(3000), name="docs", maxcount=1000)
    copy = index.write_samples(index.load("docs").ordered(), name="copy", maxcount=1000)
    assert copy.num_samples == 3000
    src = index.get_dataset("docs")
    assert [s["sha256"] for s in copy.shards] == [s["sha256"] for s in src.shards]


def test_generator_is_consumed_while_shards_are_written(index, tmp_path):
    """By the time the generator yields its last sample, earlier shards are already on disk
    (in the store's staging area): the samples were not collected first."""
    staged_before_end = []

    def samples():
        for i, s in enumerate(text_samples(6000)):
            if i == 5999:
                staged_before_end.extend(_temp_files(tmp_path / "data"))
            yield s

    entry = index.write_samples(samples(), name="docs", maxcount=1000)
    assert entry.num_samples == 6000
    assert len(staged_before_end) >= 3, staged_before_end
    assert _temp_files(tmp_path / "data") == []


def test_error_mid_stream_names_sample_and_field_and_leaves_nothing(index, tmp_path):
    def samples():
        for i, s in enumerate(text_samples(5000)):
            if i == 3210:
                s = TextSample(text="x", language="en", word_count="many")
            yield s

    with pytest.raises(atdata.SchemaMismatchError) as ei:
        index.write_samples(samples(), name="docs", maxcount=1000)
    e = ei.value
    assert e.sample == 3210 and e.field == "word_count"
    assert "sample #3210" in str(e) and "word_count" in str(e)
    assert index.list_datasets() == []
    assert _tars(tmp_path / "data") == []
    assert _temp_files(tmp_path / "data") == []
    # The name is still free.
    assert index.write_samples(text_samples(10), name="docs").version == "1"


def test_exception_in_the_generator_propagates_and_leaves_nothing(index, tmp_path):
    class Boom(Exception):
        pass

    def samples():
        yield from text_samples(3000)
        raise Boom("source went away")

    with pytest.raises(Boom, match="source went away"):
        index.write_samples(samples(), name="docs", maxcount=1000)
    assert index.list_datasets() == []
    assert _tars(tmp_path / "data") == []
    assert _temp_files(tmp_path / "data") == []


def test_plain_write_samples_from_a_generator(tmp_path):
    ds = atdata.write_samples(
        (s for s in text_samples(2500)), tmp_path / "out" / "docs.tar", maxcount=1000
    )
    assert _tars(tmp_path / "out") == [
        "docs-000000.tar",
        "docs-000001.tar",
        "docs-000002.tar",
    ]
    assert [s.word_count for s in ds.ordered()] == [s.word_count for s in text_samples(2500)]
    single = atdata.write_samples((s for s in text_samples(3)), tmp_path / "one.tar")
    assert single.urls == [str(tmp_path / "one.tar")]
    assert len(single) == 3


def test_plain_write_error_mid_stream_leaves_no_shard(tmp_path):
    def samples():
        yield from text_samples(2500)
        yield EmbeddingSample(vector=np.zeros(3, np.float32), label="l", source="s")

    out = tmp_path / "out"
    with pytest.raises(atdata.SchemaMismatchError) as ei:
        atdata.write_samples(samples(), out / "docs.tar", maxcount=1000)
    assert ei.value.sample == 2500
    assert _tars(out) == []
    assert _temp_files(out) == []


def test_large_arrays_are_chunked_by_size(index):
    # 40 samples of 1 MiB: chunks are cut by bytes, not only by count.
    rng = np.random.default_rng(0)
    vectors = [rng.standard_normal(1 << 18).astype(np.float32) for _ in range(40)]
    entry = index.write_samples(
        (EmbeddingSample(vector=v, label=str(i), source="s") for i, v in enumerate(vectors)),
        name="big",
        maxsize=8 << 20,
    )
    assert entry.num_samples == 40 and len(entry.data_urls) >= 5
    got = [b.vector for b in index.load("big").ordered(batch_size=8)]
    np.testing.assert_array_equal(np.concatenate(got), np.stack(vectors))


PEAK = """
import os, sys, tempfile
import numpy as np
sys.path.insert(0, {tests!r})
from conftest import EmbeddingSample
import atdata

def hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

tmp = tempfile.mkdtemp()
index = atdata.Index(path=os.path.join(tmp, "i.db"),
                     data_store=atdata.LocalDiskStore(root=os.path.join(tmp, "d")))
index.write_samples([EmbeddingSample(vector=np.zeros(4, np.float32), label="w", source="s")],
                    name="warmup")
base = hwm_kib()
# 192 MiB of samples, made on the fly: one 256 KiB vector at a time.
vec = np.ones(1 << 16, np.float32)
entry = index.write_samples(
    (EmbeddingSample(vector=vec, label=str(i), source="s") for i in range(768)),
    name="big", maxcount=100,
)
assert entry.num_samples == 768
print((hwm_kib() - base) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_peak_memory_does_not_grow_with_the_dataset():
    p = run_py(PEAK.format(tests=str(REPO / "tests" / "python")), python=sys.executable)
    assert p.returncode == 0, p.stderr
    grew_mib = int(p.stdout.strip())
    # Holding the encoded dataset would take 192 MiB; a chunk is at most 8 MiB plus the
    # shard writer's 1 MiB buffer. Loose bound, well clear of both.
    assert grew_mib < 96, grew_mib


def test_plain_write_to_a_folder_with_pattern_characters_reads_back(tmp_path):
    # The shards are handed over as a list of paths, never joined into a pattern: commas,
    # braces, brackets and stars in the path are plain characters.
    odd = tmp_path / "a,b{c,d}[e]*"
    sharded = atdata.write_samples(text_samples(25), odd / "docs.tar", maxcount=10)
    assert sharded.urls == [str(odd / f"docs-00000{i}.tar") for i in range(3)]
    assert list(sharded.ordered()) == text_samples(25)
    assert len(sharded) == 25
    single = atdata.write_samples(text_samples(4), odd / "x,{y}[1].tar")
    assert single.urls == [str(odd / "x,{y}[1].tar")]
    assert list(single) == text_samples(4)
    assert _tars(odd) == [f"docs-00000{i}.tar" for i in range(3)] + ["x,{y}[1].tar"]


def test_plain_write_exception_in_the_generator_publishes_no_shard(tmp_path):
    class Boom(Exception):
        pass

    def samples():
        # Two shards are complete before the source fails.
        yield from text_samples(2500)
        raise Boom("source went away")

    out = tmp_path / "out"
    with pytest.raises(Boom, match="source went away"):
        atdata.write_samples(samples(), out / "docs.tar", maxcount=1000)
    assert _tars(out) == []
    assert _temp_files(out) == []
    with pytest.raises(Boom):
        atdata.write_samples(samples(), out / "one.tar")
    assert _tars(out) == [] and _temp_files(out) == []


def test_plain_write_never_replaces_a_file_with_other_content(tmp_path):
    # The core's publishing rule for every shard (no clobber; same content is fine) holds for
    # a single-file write too: two copies of the rule disagreed here, the core's won.
    path = tmp_path / "one.tar"
    atdata.write_samples(text_samples(3), path)
    before = path.read_bytes()
    assert atdata.write_samples(text_samples(3), path).urls == [str(path)]
    with pytest.raises(atdata.AlreadyExistsError, match="one.tar"):
        atdata.write_samples(text_samples(4), path)
    assert path.read_bytes() == before
    assert _tars(tmp_path) == ["one.tar"] and _temp_files(tmp_path) == []
