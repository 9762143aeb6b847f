"""Values that must read back: declared dtypes (cast or refused on write), ragged arrays, array
limits, and bad arguments refused with atdata errors (docs/values.md)."""

from __future__ import annotations

import io
import os
import tarfile
from typing import Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata


@atdata.packable
class Declared:
    x: NDArray[np.float32]
    n: Optional[NDArray[np.int64]] = None


@atdata.packable
class Free:
    v: NDArray
    tag: str


def _read_every_way(ds) -> None:
    """Every reading path gives every sample: for-loop, ordered/shuffled, batch sizes 1, 2, many."""
    n = len(ds)
    assert len(list(ds)) == n
    assert len(ds.head(n)) == n
    for order in (ds.ordered, lambda b: ds.shuffled(batch_size=b, seed=3)):
        for size in (None, 1, 2, 3, n + 5):
            got = list(order(size))
            total = len(got) if size is None else sum(len(b) for b in got)
            assert total == n, (size, total)


def test_float64_in_a_float32_field_is_cast_on_write_and_reads_back(index):
    samples = [
        Declared(x=np.arange(3, dtype=np.float64 if i % 2 else np.float32) / 3) for i in range(6)
    ]
    index.write(samples, name="cast")
    ds = index.load("@local/cast", Declared)
    _read_every_way(ds)
    for s, want in zip(ds, samples):
        assert s.x.dtype == np.float32
        assert np.array_equal(s.x, want.x.astype(np.float32))
    batch = next(iter(ds.ordered(batch_size=6)))
    assert isinstance(batch.x, np.ndarray) and batch.x.shape == (6, 3)
    assert batch.x.dtype == np.float32


def test_safe_casts_follow_numpy_same_kind(index):
    # int32 -> int64 and bool -> int64 are allowed; big-endian is stored little-endian.
    samples = [
        Declared(x=np.array([1.5], dtype=">f4"), n=np.array([1, 2], dtype=np.int32)),
        Declared(x=np.array([2], dtype=np.uint8), n=np.array([True, False])),
    ]
    index.write(samples, name="safe")
    got = list(index.load("@local/safe", Declared))
    assert got[0].x.dtype == np.dtype("<f4") and got[0].x[0] == 1.5
    assert got[0].n.dtype == np.int64 and list(got[0].n) == [1, 2]
    assert got[1].x[0] == 2.0 and list(got[1].n) == [1, 0]


def test_float_in_an_int_field_is_refused_naming_field_and_sample(index):
    ok = Declared(x=np.zeros(2, np.float32))
    bad = Declared(x=np.zeros(2, np.float32), n=np.array([1.5]))
    with pytest.raises(atdata.SchemaMismatchError) as info:
        index.write([ok, ok, bad], name="refused")
    e = info.value
    assert isinstance(e, ValueError)
    assert e.field == "n" and e.sample == 2
    assert "<f8" in str(e) and "<i8" in str(e) and "same_kind" in str(e)
    with pytest.raises(atdata.NotFoundError):
        index.get_dataset("refused")
    # write_samples (no index) applies the same rule.
    with pytest.raises(atdata.SchemaMismatchError, match="field 'n'"):
        atdata.write_samples([bad], os.path.join(index.data_store.root, "x.tar"))


def test_plain_ndarray_fields_store_any_dtype_as_given(index):
    samples = [Free(v=np.arange(4, dtype=d), tag=d) for d in ("uint8", "float64", "int16")]
    index.write(samples, name="free")
    ds = index.load("@local/free")
    assert [s.v.dtype.name for s in ds] == ["uint8", "float64", "int16"]
    # The rebuilt type reads "float32" in the record as "any dtype", so writing with it keeps
    # the dtypes too.
    rebuilt = ds.sample_type
    assert rebuilt.__atdata_dtypes__ == {}
    index.write([rebuilt(v=np.arange(2, dtype=np.uint8), tag="again")], name="free2")
    assert next(iter(index.load("@local/free2"))).v.dtype == np.uint8


def test_ragged_arrays_read_back_in_every_order_and_batch_size(index):
    samples = [Free(v=np.full((i % 3 + 1, 2), i, np.float32), tag=str(i)) for i in range(7)]
    index.write(samples, name="ragged", maxcount=3)
    ds = index.load("@local/ragged")
    _read_every_way(ds)
    for s, want in zip(ds, samples):
        assert np.array_equal(s.v, want.v) and s.v.dtype == np.float32
    # A batch that cannot stack gives a list of arrays; one that can gives one array.
    b = next(iter(ds.ordered(batch_size=3)))
    assert isinstance(b.v, list) and [a.shape for a in b.v] == [(1, 2), (2, 2), (3, 2)]
    assert b.tag == ["0", "1", "2"]
    assert np.array_equal(b[2].v, samples[2].v)
    # Mixed dtypes in a plain NDArray field read back too.
    mixed = [Free(v=np.zeros(2, d), tag=d) for d in ("float32", "float64", "float32")]
    index.write(mixed, name="mixed")
    mds = index.load("@local/mixed")
    _read_every_way(mds)
    assert [s.v.dtype.name for s in mds] == ["float32", "float64", "float32"]


def test_ragged_arrays_written_without_an_index_read_back(tmp_path):
    samples = [Free(v=np.zeros(i + 1), tag=str(i)) for i in range(4)]
    ds = atdata.write_samples(samples, tmp_path / "r.tar")
    _read_every_way(ds)
    assert [s.v.shape for s in ds] == [(1,), (2,), (3,), (4,)]


def test_ragged_nested_list_in_an_array_field_is_a_located_error():
    with pytest.raises(atdata.SchemaMismatchError) as info:
        Free(v=[[1, 2], [3]], tag="x")
    assert isinstance(info.value, ValueError)
    assert "field 'v' of Free" in str(info.value) and "list[list" in str(info.value)
    # A regular nested list is an array.
    assert Free(v=[[1, 2], [3, 4]], tag="x").v.shape == (2, 2)


@atdata.packable
class Nested:
    rows: list[list[int]]


def test_ragged_lists_in_a_list_field_are_stored_as_lists(index):
    index.write([Nested(rows=[[1, 2], [3]])], name="nested")
    assert next(iter(index.load("@local/nested"))).rows == [[1, 2], [3]]


def _shard_with(tmp_path, payload: bytes) -> str:
    path = tmp_path / "hostile.tar"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("000000.msgpack")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return str(path)


def _sample_with_array(dtype: bytes, shape: list, data: bytes) -> bytes:
    enc = bytes([len(dtype)]) + dtype + bytes([len(shape)])
    enc += b"".join(int(d).to_bytes(8, "little", signed=True) for d in shape) + data
    head = bytes([0x82, 0xA1]) + b"v" + bytes([0xC5]) + len(enc).to_bytes(2, "big")
    return head + enc + bytes([0xA3]) + b"tag" + bytes([0xA1]) + b"t"


@pytest.mark.parametrize(
    "shape, why",
    [([1] * 40, "40 dimensions"), ([0, 2**62], "describes more than")],
)
def test_arrays_numpy_cannot_read_are_refused_on_load_with_location(tmp_path, shape, why):
    data = b"" if 0 in shape else b"\0" * 4
    shard = _shard_with(tmp_path, _sample_with_array(b"<f4", shape, data))
    ds = atdata.Dataset(shard).as_type(Free)
    with pytest.raises(atdata.CorruptDataError) as info:
        list(ds)
    e = info.value
    assert why in str(e) and e.field == "v" and e.shard == shard and e.key == "000000"
    with pytest.raises(atdata.CorruptDataError, match=why):
        ds.head(1)


def test_arrays_beyond_the_limits_are_refused_on_write(index):
    deep = np.zeros((1,) * 33, np.float32)
    with pytest.raises(atdata.SchemaMismatchError) as info:
        index.write([Free(v=deep, tag="x")], name="deep")
    assert info.value.field == "v" and info.value.sample == 0 and "33 dimensions" in str(info.value)
    # 32 dimensions is the limit, and it reads back (batches give it per sample).
    ok = np.zeros((1,) * 32, np.float32)
    index.write([Free(v=ok, tag="x"), Free(v=ok, tag="y")], name="deep32")
    ds = index.load("@local/deep32")
    _read_every_way(ds)
    assert next(iter(ds)).v.shape == (1,) * 32


def test_lone_surrogates_are_invalid_argument_errors_naming_what(index):
    s = [Free(v=np.zeros(1), tag="x")]
    for kw, what in [
        ({"name": "a\udc80"}, "name"),
        ({"name": "ok", "description": "\ud800"}, "description"),
        ({"name": "ok", "tags": ["t\udc80"]}, "tag"),
    ]:
        with pytest.raises(atdata.InvalidArgumentError, match=what) as info:
            index.write(s, **kw)
        assert isinstance(info.value, ValueError) and "surrogate" in str(info.value)
    with pytest.raises(atdata.InvalidArgumentError, match="ref"):
        index.load("a\udc80")
    # A str field holding one: a SchemaMismatchError naming the field and the sample.
    with pytest.raises(atdata.SchemaMismatchError) as info:
        index.write([Free(v=np.zeros(1), tag="ok"), Free(v=np.zeros(1), tag="\udc80")], name="t")
    assert info.value.field == "tag" and info.value.sample == 1


def test_integer_options_out_of_range_are_value_errors_naming_the_option(index, tmp_path):
    s = [Free(v=np.zeros(1), tag="x")]
    index.write(s, name="ok")
    ds = index.load("@local/ok")
    cases = [
        (lambda: index.write(s, name="m", maxcount=-1), "maxcount must be >= 1"),
        (lambda: index.write(s, name="m", maxcount=0), "maxcount must be >= 1"),
        (lambda: index.write(s, name="m", maxsize=-5), "maxsize must be >= 1"),
        (lambda: atdata.write_samples(s, tmp_path / "w.tar", maxcount=-1), "maxcount"),
        (lambda: atdata.write_samples(s, tmp_path / "w.tar", maxsize=2**70), "maxsize"),
        (lambda: list(ds.ordered(batch_size=-1)), "batch_size must be >= 1"),
        (lambda: list(ds.ordered(batch_size=2**64)), "batch_size must be <="),
        (lambda: list(ds.shuffled(seed=-1)), "seed must be >= 0"),
        (lambda: list(ds.shuffled(seed=2**70)), "seed must be <="),
        (lambda: list(ds.shuffled(seed=1, epoch=-1)), "epoch"),
        (lambda: list(ds.shuffled(seed=1, buffer_samples=0)), "buffer_samples must be >= 1"),
        (lambda: ds.head(-1), "n must be >= 0"),
        (lambda: ds.part(-1, 2), "index must be >= 0"),
        (lambda: ds.part(2, 2), "index must be <= 1"),
        (lambda: ds.part(0, 0), "count must be >= 1"),
    ]
    for call, msg in cases:
        with pytest.raises(atdata.InvalidArgumentError, match=msg.replace("*", r"\*")):
            call()
    with pytest.raises(TypeError, match="batch_size"):
        list(ds.ordered(batch_size=1.5))
    with pytest.raises(TypeError, match="maxcount"):
        index.write(s, name="m", maxcount=True)
    # numpy integers are integers.
    assert len(list(ds.ordered(batch_size=np.int64(1)))) == 1
