"""The sample surface of atdata 0.7 (issue 15): ``packed``/``as_wds``/``from_bytes``/
``from_data`` on both sample styles, ``PackableSample`` subclasses, ``dict`` fields, printf
shard patterns in ``write_samples`` and the empty-input error. Where 0.7 is the spec the test
runs the real 0.7 in a subprocess (``ref_python``) and compares.
"""

from __future__ import annotations

import abc
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata

from conftest import run_py

# Sample classes defined the same way on both sides: this text runs in 0.7's interpreter and
# here, so both encode the very same values.
CLASSES = r'''
from dataclasses import dataclass
from typing import Optional
import numpy as np
from numpy.typing import NDArray
import atdata

@atdata.packable
class Deco:
    """Every primitive, an array, a list, an optional."""
    name: str
    n: int
    x: float
    flag: bool
    raw: bytes
    v: NDArray
    tags: list[str]
    opt: Optional[int] = None

@dataclass
class Sub(atdata.PackableSample):
    """Subclass style with a dict field."""
    label: str
    meta: dict
    img: NDArray
    score: Optional[float] = None

def make_samples():
    return [
        Deco(name="é ünïcode", n=-3, x=1.5, flag=True, raw=b"\x00\x01",
             v=np.arange(6, dtype=np.int16).reshape(2, 3), tags=["a", "b"]),
        Deco(name="", n=2**40, x=-0.0, flag=False, raw=b"", v=np.zeros((0,), np.float32),
             tags=[], opt=7),
        Deco(name="big", n=-(2**63), x=1e300, flag=True, raw=bytes(range(256)),
             v=np.array([[1.5, 2.5]], dtype=">f8"), tags=["x" * 40], opt=0),
        # numpy scalars and an int in a float field: both sides store the plain value.
        Deco(name="np", n=np.int64(5), x=2, flag=np.bool_(True), raw=b"r",
             v=np.array(3.5, dtype=np.float16), tags=["t"], opt=np.int32(-1)),
        Sub(label="cat", meta={"k": 1, "z": [1, 2.5, None], "d": {"x": "y"}, "b": b"\xff"},
            img=np.arange(12, dtype=np.uint8).reshape(3, 4)),
        Sub(label="dog", meta={}, img=np.array([True, False]), score=0.25),
    ]
'''

ns: dict = {}
exec(compile(CLASSES, "<compat-classes>", "exec", dont_inherit=True), ns)
Deco, Sub, make_samples = ns["Deco"], ns["Sub"], ns["make_samples"]


def run_07(ref_python: str, body: str) -> str:
    """Runs ``CLASSES`` then ``body`` under atdata 0.7; its last stdout line."""
    p = run_py(CLASSES + "\n" + body, python=ref_python)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


# --- packed / as_wds / from_bytes / from_data --------------------------------------------


def test_packed_is_byte_identical_to_07(ref_python):
    theirs = json.loads(
        run_07(ref_python, "import json; print(json.dumps([s.packed.hex() for s in make_samples()]))")
    )
    ours = [s.packed.hex() for s in make_samples()]
    assert len(ours) == 6
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"sample #{i} encodes differently"


def test_from_bytes_reads_07_packed_and_from_data_builds(ref_python):
    theirs = json.loads(
        run_07(ref_python, "import json; print(json.dumps([s.packed.hex() for s in make_samples()]))")
    )
    for want, hx in zip(make_samples(), theirs):
        got = type(want).from_bytes(bytes.fromhex(hx))
        assert type(got) is type(want)
        assert got == want
    # from_data: field values by name; array fields may hold their encoded bytes.
    s = make_samples()[4]
    raw = {"label": "cat", "meta": s.meta, "img": s.packed and Sub.from_bytes(s.packed).img}
    assert Sub.from_data(raw) == s
    encoded = atdata._core.unpack(s.packed)  # without a schema arrays stay bytes
    assert isinstance(encoded["img"], bytes)
    back = Sub.from_data(encoded)
    assert isinstance(back.img, np.ndarray) and back == s
    with pytest.raises(TypeError, match="from_data takes a dict"):
        Sub.from_data([("label", "x")])


def test_as_wds_matches_07_layout(ref_python):
    theirs = json.loads(
        run_07(
            ref_python,
            "import json\nw = make_samples()[4].as_wds\n"
            "print(json.dumps({k: type(v).__name__ for k, v in w.items()}))",
        )
    )
    for s in make_samples():
        w = s.as_wds
        assert {k: type(v).__name__ for k, v in w.items()} == theirs == {
            "__key__": "str",
            "msgpack": "bytes",
        }
        assert w["msgpack"] == s.packed
    keys = [make_samples()[0].as_wds["__key__"] for _ in range(200)]
    assert len(set(keys)) == 200, "as_wds keys must never repeat"
    assert all("." not in k for k in keys)  # a dot would split the WebDataset member name


def test_tar_written_with_webdataset_from_as_wds_reads_back(tmp_path):
    wds = pytest.importorskip("webdataset")
    samples = [s for s in make_samples() if isinstance(s, Sub)] * 3
    with wds.TarWriter(str(tmp_path / "user.tar")) as sink:
        for s in samples:
            sink.write(s.as_wds)
    ds = atdata.Dataset[Sub](str(tmp_path / "user.tar"))
    assert list(ds) == samples
    batch = next(iter(ds.ordered(batch_size=2)))
    assert batch.label == ["cat", "dog"]


def test_tar_written_with_tarfile_from_as_wds_reads_back(tmp_path):
    samples = [s for s in make_samples() if isinstance(s, Deco)]
    with tarfile.open(tmp_path / "plain.tar", "w") as tar:
        for s in samples:
            w = s.as_wds
            info = tarfile.TarInfo(f"{w['__key__']}.msgpack")
            info.size = len(w["msgpack"])
            tar.addfile(info, io.BytesIO(w["msgpack"]))
    assert list(atdata.Dataset[Deco](str(tmp_path / "plain.tar"))) == samples


def test_07_reads_our_shards_of_both_styles(ref_python, tmp_path):
    atdata.write_samples(make_samples()[:4], tmp_path / "deco.tar")
    atdata.write_samples(make_samples()[4:], tmp_path / "sub.tar")
    out = run_07(
        ref_python,
        f"""
import json
from atdata import Dataset
root = {str(tmp_path)!r}
a = list(Dataset[Deco](root + "/deco.tar").ordered())
b = list(Dataset[Sub](root + "/sub.tar").ordered())
want = make_samples()
print(json.dumps([x.packed.hex() for x in a + b] == [x.packed.hex() for x in want]))
""",
    )
    assert out == "true"


# --- PackableSample subclasses ------------------------------------------------------------


@atdata.packable
class DecoTwin:
    """Twin."""

    label: str
    meta: dict
    img: NDArray
    score: float | None = None


@dataclass
class SubTwin(atdata.PackableSample):
    """Twin."""

    label: str
    meta: dict
    img: NDArray
    score: float | None = None


def test_subclass_and_decorator_give_the_same_schema_and_bytes():
    assert atdata._packable.schema_json_of(SubTwin) == atdata._packable.schema_json_of(
        DecoTwin
    ).replace('"DecoTwin"', '"SubTwin"')
    kw = dict(label="l", meta={"a": [1]}, img=np.ones((2, 2), np.float32))
    assert SubTwin(**kw).packed == DecoTwin(**kw).packed
    for cls in (SubTwin, DecoTwin):
        s = cls(**kw)
        assert isinstance(s, atdata.PackableSample)
        assert isinstance(s, atdata.Packable)
        assert issubclass(cls, atdata.PackableSample)
        assert s == cls(**kw) and s != cls(**{**kw, "img": np.zeros((2, 2), np.float32)})
        assert cls.__hash__ is None
        assert s.as_dict() == {"label": "l", "meta": {"a": [1]}, "img": s.img, "score": None}
    # Both at once (a subclass decorated with @packable) is the same class again.
    @atdata.packable
    class Both(atdata.PackableSample):
        """Twin."""

        label: str
        meta: dict
        img: NDArray
        score: float | None = None

    assert Both.__atdata_schema_json__ == SubTwin.__atdata_schema_json__.replace(
        '"SubTwin"', '"Both"'
    )
    assert Both(**kw).packed == DecoTwin(**kw).packed
    # Nominal checks between classes stay nominal.
    assert not isinstance(SubTwin(**kw), DecoTwin)
    assert not isinstance(DecoTwin(**kw), SubTwin)
    assert not isinstance(object(), atdata.PackableSample)
    assert not isinstance(object(), atdata.Packable)


def test_subclass_may_also_derive_from_other_abcs():
    class Describable(abc.ABC):
        @abc.abstractmethod
        def describe(self) -> str: ...

    @dataclass
    class Doc(atdata.PackableSample, Describable):
        text: str

        def describe(self) -> str:
            return self.text.upper()

    d = Doc(text="hi")
    assert isinstance(d, Describable) and isinstance(d, atdata.PackableSample)
    assert Doc.from_bytes(d.packed).describe() == "HI"

    @dataclass
    class Incomplete(atdata.PackableSample, Describable):
        text: str

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(text="x")


def test_subclass_converts_arrays_then_runs_its_own_post_init():
    seen = []

    @dataclass
    class P(atdata.PackableSample):
        v: NDArray

        def __post_init__(self):
            seen.append(type(self.v))

    p = P(v=[1, 2, 3])
    assert seen == [np.ndarray] and p.v.dtype == np.int64
    assert P.from_bytes(p.packed) == p


def test_subclass_of_subclass_has_its_own_schema():
    @dataclass
    class Base(atdata.PackableSample):
        a: int

    assert '"Base"' in Base.__atdata_schema_json__

    @dataclass
    class Child(Base):
        b: str = "x"

    schema = json.loads(Child.__atdata_schema_json__)
    assert schema["name"] == "Child"
    assert [f["name"] for f in schema["fields"]] == ["a", "b"]
    assert [f["name"] for f in json.loads(Base.__atdata_schema_json__)["fields"]] == ["a"]
    assert Child.from_bytes(Child(a=1).packed) == Child(a=1, b="x")


def test_subclass_with_string_annotations_inside_a_function(tmp_path):
    # The annotations are strings (this module uses ``from __future__ import annotations``)
    # naming a local of this function: the schema, built later, still resolves them.
    LocalArray = np.ndarray

    @dataclass
    class Holder(atdata.PackableSample):
        items: list[int]
        arr: LocalArray

    del LocalArray  # gone from the frame's locals by the time the schema is built
    ds = atdata.write_samples([Holder(items=[1], arr=np.ones(2))], tmp_path / "h.tar")
    assert list(ds) == [Holder(items=[1], arr=np.ones(2))]
    kinds = [f["fieldType"]["$type"] for f in json.loads(Holder.__atdata_schema_json__)["fields"]]
    assert kinds == ["local#array", "local#ndarray"]


def test_subclass_without_dataclass_or_the_base_itself_is_a_clear_error(tmp_path):
    class NotDc(atdata.PackableSample):
        x: int

    with pytest.raises(TypeError, match="NotDc subclasses atdata.PackableSample but is not a dataclass"):
        NotDc.from_bytes(b"\x80")
    with pytest.raises(TypeError, match="PackableSample"):
        atdata._packable.schema_json_of(atdata.PackableSample)


def test_subclass_through_an_index(index):
    samples = [SubTwin(label=str(i), meta={"i": i, "tags": ["t"] * i}, img=np.full(3, i, np.float32)) for i in range(5)]
    entry = index.write(samples, name="subs")
    assert len(entry.data_urls) == 1
    got = list(atdata.Dataset[SubTwin](entry.data_urls[0]))
    assert got == samples
    rec = [r for r in index.schemas if r.name == "SubTwin"]
    assert rec, "the schema is stored"


# --- dict fields --------------------------------------------------------------------------


@atdata.packable
class WithMeta:
    text: str
    metadata: dict
    extra: dict[str, int] | None = None


def test_dict_fields_round_trip_through_write_samples(tmp_path):
    samples = [
        WithMeta(text="a", metadata={"src": "web", "n": 3, "nested": {"ok": True, "l": [1.5, None]}}),
        WithMeta(text="b", metadata={}, extra={"x": 1}),
        WithMeta(text="c", metadata={"bytes": b"\x00", "ü": "ñ"}),
    ]
    ds = atdata.write_samples(samples, tmp_path / "m.tar")
    got = list(ds)
    assert got == samples
    assert got[0].metadata["nested"] == {"ok": True, "l": [1.5, None]}
    schema = json.loads(atdata._packable.schema_json_of(WithMeta))
    kinds = {f["name"]: (f["fieldType"]["$type"], f["optional"]) for f in schema["fields"]}
    assert kinds == {
        "text": ("local#primitive", False),
        "metadata": ("local#dict", False),
        "extra": ("local#dict", True),
    }


def test_dict_fields_through_an_index_rebuild_the_type(index):
    samples = [WithMeta(text=str(i), metadata={"i": i}) for i in range(4)]
    index.write(samples, name="with-meta")
    atdata.set_default_index(index)
    ds = atdata.load_dataset("@local/with-meta", split="train")
    rebuilt = ds.sample_type
    assert rebuilt is not WithMeta and rebuilt.__name__ == "WithMeta"
    got = list(ds)
    assert [s.metadata for s in got] == [{"i": i} for i in range(4)]
    assert rebuilt.__dataclass_fields__["metadata"].type is dict


def test_dict_field_values_are_checked(tmp_path):
    with pytest.raises(atdata.SchemaMismatchError, match="metadata") as e:
        atdata.write_samples([WithMeta(text="a", metadata=[1, 2])], tmp_path / "bad.tar")
    assert "dict" in str(e.value)
    with pytest.raises(atdata.SchemaMismatchError, match="not a string"):
        atdata.write_samples([WithMeta(text="a", metadata={1: "x"})], tmp_path / "bad.tar")
    with pytest.raises(atdata.SchemaMismatchError, match=r"cannot hold n-d arrays .*\[\"a\"\]\[1\]"):
        WithMeta(text="a", metadata={"a": [0, np.zeros(2)]}).packed
    assert not (tmp_path / "bad.tar").exists()
    with pytest.raises(TypeError, match="str keys"):

        @atdata.packable
        class IntKeys:
            m: dict[int, str]


def test_07_writes_dict_fields_to_plain_shards_we_read(ref_python, tmp_path):
    run_07(
        ref_python,
        f"""
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    atdata.write_samples([s for s in make_samples() if isinstance(s, Sub)], {str(tmp_path / "s.tar")!r})
print("ok")
""",
    )
    got = list(atdata.Dataset[Sub](str(tmp_path / "s.tar")))
    assert got == [s for s in make_samples() if isinstance(s, Sub)]


def test_07_on_our_index_with_a_dict_field_refuses_only_that_type(ref_python, tmp_path):
    # 0.7 has no schema kind for dict fields (its own Index.write refuses them): our
    # ``local#dict`` record makes its type rebuild fail with a clear error, while the other
    # datasets of the index and the shards themselves (read with the user's class) still work.
    index = atdata.Index(path=tmp_path / "index.db", data_store=atdata.LocalDiskStore(tmp_path / "data"))
    index.write([WithMeta(text="a", metadata={"k": 1})], name="meta")
    index.write([s for s in make_samples() if isinstance(s, Deco)], name="deco")
    out = run_07(
        ref_python,
        f"""
import json
ix = atdata.Index(provider="sqlite", path={str(tmp_path / "index.db")!r},
                  data_store=atdata.LocalDiskStore(root={str(tmp_path / "data")!r}))
deco = list(atdata.load_dataset("@local/deco", split="train", index=ix).ordered())
try:
    atdata.load_dataset("@local/meta", split="train", index=ix)
    refused = None
except ValueError as e:
    refused = str(e)
@atdata.packable
class WithMeta:
    text: str
    metadata: dict
    extra: dict = None
urls = ix.get_dataset("meta").data_urls
own = [s.metadata for s in atdata.Dataset[WithMeta](urls[0]).ordered()]
print(json.dumps({{"deco": len(deco), "refused": refused, "own": own}}))
""",
    )
    got = json.loads(out)
    assert got["deco"] == 4
    assert got["refused"] and "dict" in got["refused"]
    assert got["own"] == [{"k": 1}]


# --- printf shard patterns ----------------------------------------------------------------


def _names(d: Path) -> list:
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize(
    "pattern, kwargs",
    [
        ("shard-%04d.tar", {"maxcount": 2}),
        ("s_%d.tar", {"maxcount": 3}),
        ("x-%06d.tar", {"maxcount": 4}),
        ("plain.tar", {"maxcount": 2}),
    ],
)
def test_printf_patterns_name_shards_as_07(ref_python, tmp_path, pattern, kwargs):
    samples = [WithMeta(text=str(i), metadata={}) for i in range(7)]
    ours = tmp_path / "ours"
    ours.mkdir()
    ds = atdata.write_samples(samples, ours / pattern, **kwargs)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    out = run_07(
        ref_python,
        f"""
import os, json, contextlib, io
@atdata.packable
class T:
    text: str
with contextlib.redirect_stdout(io.StringIO()):
    atdata.write_samples([T(text=str(i)) for i in range(7)], {str(theirs / pattern)!r}, **{kwargs!r})
print(json.dumps(sorted(os.listdir({str(theirs)!r}))))
""",
    )
    assert _names(ours) == json.loads(out)
    assert list(ds) == samples
    assert sorted(Path(u).name for u in ds.urls) == _names(ours)


def test_printf_pattern_in_a_subfolder_without_limit(tmp_path):
    samples = [WithMeta(text=str(i), metadata={}) for i in range(3)]
    ds = atdata.write_samples(samples, tmp_path / "out" / "shard-%04d.tar")
    assert _names(tmp_path / "out") == ["shard-0000.tar"]
    assert list(ds) == samples
    # Read back by a brace pattern over the names written.
    ds = atdata.write_samples(samples, tmp_path / "b" / "part-%02d.tar", maxcount=1)
    assert _names(tmp_path / "b") == ["part-00.tar", "part-01.tar", "part-02.tar"]
    assert list(atdata.Dataset[WithMeta](str(tmp_path / "b" / "part-{00..02}.tar"))) == samples


def test_bad_printf_patterns_are_refused_before_writing(tmp_path):
    samples = [WithMeta(text="a", metadata={})] * 3
    for bad in ("x-%s.tar", "x-%d-%d.tar", "x-%.tar"):
        with pytest.raises(atdata.InvalidArgumentError, match="%"):
            atdata.write_samples(samples, tmp_path / bad, maxcount=2)
    assert _names(tmp_path) == []
    # Without a limit a % that is no number is an ordinary character, as in 0.7.
    atdata.write_samples(samples, tmp_path / "100%.tar")
    assert _names(tmp_path) == ["100%.tar"]


# --- empty input --------------------------------------------------------------------------


def test_empty_samples_error_has_07s_words(ref_python, tmp_path, index):
    theirs = run_07(
        ref_python,
        f"""
import contextlib, io
try:
    with contextlib.redirect_stderr(io.StringIO()):
        atdata.write_samples([], {str(tmp_path / "e.tar")!r})
except ValueError as e:
    print(e)
""",
    )
    assert "must be non-empty" in theirs
    key = "samples must be non-empty"
    assert key in theirs
    for call in (
        lambda: atdata.write_samples([], tmp_path / "ours.tar"),
        lambda: atdata.write_samples(iter(()), tmp_path / "ours.tar"),
        lambda: index.write([], name="empty"),
        lambda: index.write_samples((x for x in ()), name="empty"),
    ):
        with pytest.raises(ValueError, match=key):
            call()
    assert not (tmp_path / "ours.tar").exists()
