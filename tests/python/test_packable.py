"""@packable: construction, defaults, repr, equality, schemas and array round trips."""

from __future__ import annotations

import json
from typing import List, Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata

from conftest import EmbeddingSample, TextSample


@atdata.packable
class Kinds:
    """Every supported annotation."""

    s: str
    i: int
    f: float
    b: bool
    raw: bytes
    arr: NDArray
    arr32: NDArray[np.float32]
    arr_i16: NDArray[np.int16]
    plain: np.ndarray
    opt_arr: Optional[NDArray]
    union_arr: NDArray | None
    opt_i: Optional[int]
    names: list[str]
    nums: List[int]
    arrs: list[NDArray]
    maybe: str | None = None
    default_i: int = 7


def make_kinds(**over) -> Kinds:
    kw = dict(
        s="x",
        i=-3,
        f=1.5,
        b=True,
        raw=b"\x00\x01",
        arr=np.arange(6, dtype=np.float64).reshape(2, 3),
        arr32=np.ones(3, np.float32),
        arr_i16=np.array([1, -2], np.int16),
        plain=np.array([[1, 2]], np.uint8),
        opt_arr=np.zeros(2, np.float32),
        union_arr=np.array([True, False]),
        opt_i=None,
        names=["a", "b"],
        nums=[1, 2, 3],
        arrs=[np.ones(2, np.float32), np.zeros((1, 1), np.int64)],
    )
    kw.update(over)
    return Kinds(**kw)


def test_keyword_construction_defaults_repr_eq():
    a = TextSample(text="t", language="en", word_count=1)
    assert a == TextSample(text="t", language="en", word_count=1)
    assert a != TextSample(text="t", language="en", word_count=2)
    assert repr(a) == "TextSample(text='t', language='en', word_count=1)"
    k = make_kinds()
    assert k.maybe is None and k.default_i == 7
    with pytest.raises(TypeError):
        TextSample(text="t")  # missing fields
    assert isinstance(a, atdata.PackableSample)
    assert not isinstance(object(), atdata.PackableSample)


def test_array_equality_by_value():
    v = np.arange(3, dtype=np.float32)
    a = EmbeddingSample(vector=v, label="l", source="s")
    assert a == EmbeddingSample(vector=v.copy(), label="l", source="s")
    assert a != EmbeddingSample(vector=v + 1, label="l", source="s")
    assert a != EmbeddingSample(vector=v.astype(np.float64), label="l", source="s")


def test_schema_from_class():
    schema = json.loads(Kinds.__atdata_schema_json__)
    assert schema["name"] == "Kinds"
    assert schema["description"] == "Every supported annotation."
    fields = {f["name"]: f for f in schema["fields"]}
    assert list(fields) == list(Kinds.__atdata_fields__)
    assert fields["arr"]["fieldType"] == {"$type": "local#ndarray", "dtype": "float32"}
    assert fields["arr32"]["fieldType"]["dtype"] == "float32"
    assert fields["arr_i16"]["fieldType"]["dtype"] == "int16"
    assert fields["plain"]["fieldType"]["$type"] == "local#ndarray"
    assert fields["opt_arr"]["optional"] and fields["union_arr"]["optional"]
    assert fields["maybe"]["optional"] and not fields["s"]["optional"]
    assert fields["names"]["fieldType"] == {
        "$type": "local#array",
        "items": {"$type": "local#primitive", "primitive": "str"},
    }
    assert fields["arrs"]["fieldType"]["items"]["$type"] == "local#ndarray"


def test_unsupported_annotation_is_a_type_error():
    with pytest.raises(TypeError, match="field Bad.x"):

        @atdata.packable
        class Bad:
            x: set

    with pytest.raises(TypeError, match="union"):

        @atdata.packable
        class Bad2:
            x: int | str

    with pytest.raises(TypeError):
        atdata.packable(42)


def _assert_kinds_equal(got: Kinds, want: Kinds) -> None:
    for name in Kinds.__atdata_fields__:
        g, w = getattr(got, name), getattr(want, name)
        if isinstance(w, np.ndarray):
            assert isinstance(g, np.ndarray), name
            assert g.dtype == w.dtype and g.shape == w.shape, name
            assert np.array_equal(g, w), name
        else:
            assert type(g) is type(w) or (g is None and w is None), name
    assert got == want


def test_pack_round_trip_every_spelling():
    k = make_kinds(maybe="m", opt_i=5)
    back = Kinds.from_bytes(k.packed)
    _assert_kinds_equal(back, k)
    for a in back.arrs:
        assert isinstance(a, np.ndarray)


def test_shard_round_trip_every_spelling(tmp_path, index):
    samples = [make_kinds(i=i, opt_arr=None if i % 2 else np.ones(2, np.float32)) for i in range(5)]
    # Through plain shards with the class, and through the index with the rebuilt type.
    ds = atdata.write_samples(samples, tmp_path / "k.tar")
    got = list(ds.ordered())
    for g, w in zip(got, samples):
        _assert_kinds_equal(g, w)
    index.write(samples, name="kinds")
    loaded = list(index.load("@local/kinds"))
    assert type(loaded[0]).__name__ == "Kinds"
    for g, w in zip(loaded, samples):
        for name in Kinds.__atdata_fields__:
            gv, wv = getattr(g, name), getattr(w, name)
            if isinstance(wv, np.ndarray):
                assert isinstance(gv, np.ndarray) and np.array_equal(gv, wv), name
            elif name == "arrs":
                assert all(isinstance(a, np.ndarray) for a in gv)
            else:
                assert gv == wv, name


def test_numpy_scalars_and_byte_order(tmp_path):
    @atdata.packable
    class S:
        i: int
        f: float
        b: bool
        a: NDArray

    be = np.arange(4, dtype=">i4")
    s = S(i=np.int64(3), f=np.float32(0.5), b=np.bool_(True), a=be)
    back = S.from_bytes(s.packed)
    assert back.i == 3 and type(back.i) is int
    assert back.f == 0.5 and back.b is True
    assert back.a.dtype.str == ">i4" and np.array_equal(back.a, be)
    # Non-contiguous arrays are stored in C order.
    t = np.arange(6, dtype=np.float32).reshape(2, 3).T
    assert np.array_equal(S.from_bytes(S(i=1, f=1.0, b=False, a=t).packed).a, t)


def test_arrays_given_as_lists_become_arrays():
    e = EmbeddingSample(vector=[1.0, 2.0], label="l", source="s")
    assert isinstance(e.vector, np.ndarray)


def test_arrays_given_as_encoded_bytes_are_decoded_by_the_core():
    # An array field may be built from the bytes a shard stores for it (the core's array
    # encoding); the core decodes them, no msgpack is written by hand.
    v = np.arange(6, dtype=np.int16).reshape(2, 3)
    stored = atdata._core.unpack(
        EmbeddingSample(vector=v, label="l", source="s").packed
    )["vector"]
    assert isinstance(stored, bytes)
    e = EmbeddingSample(vector=stored, label="l", source="s")
    assert isinstance(e.vector, np.ndarray) and e.vector.dtype == np.int16
    np.testing.assert_array_equal(e.vector, v)
    with pytest.raises(atdata.CorruptDataError):
        EmbeddingSample(vector=b"\x05", label="l", source="s")


def test_type_from_stored_schema_is_a_real_packable():
    from atdata._packable import type_from_schema

    T = type_from_schema(Kinds.__atdata_schema_json__)
    assert T.__name__ == "Kinds" and T.__doc__ == "Every supported annotation."
    assert T.__atdata_fields__ == Kinds.__atdata_fields__
    assert isinstance(T.from_bytes(make_kinds().packed), atdata.PackableSample)
