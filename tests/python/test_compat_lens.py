"""Lenses as atdata 0.7 has them: @atdata.lens, putters, composition, LensNetwork, as_type.

Where 0.7 is the spec, the same user script runs under the real 0.7 (reference venv) and
under ours, and the outputs are compared.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata
from atdata.lens import Lens, LensNetwork, lens

from conftest import TextSample, run_py, text_samples

OUR_PATH = os.path.dirname(os.path.dirname(os.path.abspath(atdata.__file__)))


@atdata.packable
class Full:
    name: str
    age: int
    emb: NDArray


@atdata.packable
class NameOnly:
    name: str


@atdata.packable
class Older:
    name: str
    older: int
    emb: NDArray


@lens
def full_to_older(src: Full) -> Older:
    return Older(name=src.name.upper(), older=src.age + 1, emb=src.emb * 2)


@full_to_older.putter
def full_to_older_put(view: Older, source: Full) -> Full:
    return Full(name=view.name.lower(), age=view.older - 1, emb=source.emb)


@atdata.lens
def older_to_name(src: Older) -> NameOnly:
    return NameOnly(name="<" + src.name + ">")


def fulls(n: int) -> list:
    return [Full(name=f"n{i}", age=i, emb=np.full(3, i, np.float32)) for i in range(n)]


@pytest.fixture
def full_ds(tmp_path):
    return atdata.write_samples(fulls(25), tmp_path / "full.tar", maxcount=10)


# -- the module and the decorator ---------------------------------------------------------


def test_package_attribute_is_the_decorator_and_the_module_is_importable():
    import importlib

    mod = importlib.import_module("atdata.lens")
    assert callable(atdata.lens) and not isinstance(atdata.lens, type(mod))
    assert atdata.lens is mod.lens is lens
    assert atdata.Lens is mod.Lens is Lens and atdata.LensNetwork is mod.LensNetwork
    assert isinstance(full_to_older, Lens)
    assert full_to_older.source_type is Full and full_to_older.view_type is Older
    # functools.wraps: the lens looks like its getter.
    assert full_to_older.__name__ == "full_to_older"


def test_string_annotations_are_resolved():
    # This module has `from __future__ import annotations`: the annotations are strings.
    assert full_to_older.__annotations__["src"] == "Full"
    assert LensNetwork().transform(Full, Older) is full_to_older


def test_get_put_call_and_lens_laws():
    s = Full(name="ada", age=36, emb=np.arange(3, dtype=np.float32))
    v = full_to_older.get(s)
    want = Older(name="ADA", older=37, emb=np.arange(3, dtype=np.float32) * 2)
    assert v == full_to_older(s) == want
    # GetPut: putting back an unchanged view gives the source.
    assert full_to_older.put(v, s) == s
    # PutGet: viewing what was put gives the view put.
    v2 = Older(name="BOB", older=10, emb=v.emb)
    assert full_to_older.get(full_to_older.put(v2, s)).name == "BOB"
    assert full_to_older.get(full_to_older.put(v2, s)).older == 10


def test_without_putter_put_returns_the_source_and_identity():
    trivial = Lens(lambda s: s)  # not registered; no annotations
    marker = object()
    assert trivial.put("view", marker) is marker
    ident = Lens.identity(Full)
    s = fulls(1)[0]
    assert ident.get(s) is s and ident.put("v", s) == "v"
    assert ident.source_type is Full and ident.view_type is Full


def test_composition_both_ways():
    s = Full(name="x", age=1, emb=np.zeros(2))
    piped = full_to_older | older_to_name
    assert piped.source_type is Full and piped.view_type is NameOnly
    assert piped(s) == NameOnly(name="<X>")
    assert (older_to_name @ full_to_older)(s) == NameOnly(name="<X>")
    # put through a composite: older_to_name has no putter, so the source comes back.
    assert piped.put(NameOnly(name="zz"), s) == s
    with pytest.raises(TypeError):
        full_to_older | (lambda x: x)


def test_bad_getters_are_refused_with_the_function_named():
    def two(a: Full, b: Full) -> NameOnly:
        return NameOnly(name=a.name)

    with pytest.raises(ValueError, match="exactly one parameter.*two takes 2"):
        lens(two)

    def bare(a):
        return a

    with pytest.raises(TypeError, match="bare.*type annotation"):
        lens(bare)
    with pytest.raises(TypeError, match="putter must be callable"):
        full_to_older.putter(3)


def test_network_is_one_registry_and_later_lenses_replace_earlier():
    assert LensNetwork() is LensNetwork()

    @atdata.packable
    class P:
        a: int

    @atdata.packable
    class Q:
        a: int

    @lens
    def first(p: P) -> Q:
        return Q(a=1)

    @lens
    def second(p: P) -> Q:
        return Q(a=2)

    assert LensNetwork().transform(P, Q) is second
    with pytest.raises(atdata.LensNotFoundError) as info:
        LensNetwork().transform(Q, P)
    assert isinstance(info.value, ValueError)
    assert "no lens from Q to P" in str(info.value)
    with pytest.raises(atdata.LensNotFoundError, match="registered views of Full: Older"):
        LensNetwork().transform(Full, P)
    with pytest.raises(TypeError, match="takes a Lens"):
        LensNetwork().register(first.get)


def test_dict_sample_reaches_every_packable_type():
    # 0.7 registers DictSample -> T for every @packable T.
    got = LensNetwork().transform(atdata.DictSample, NameOnly)
    assert got(atdata.DictSample(name="q", other=1)) == NameOnly(name="q")


# -- Dataset.as_type through lenses -------------------------------------------------------


def test_as_type_applies_the_lens_per_sample(full_ds):
    view = full_ds.as_type(Older)
    assert view.sample_type is Older
    got = list(view)
    assert got == [full_to_older(s) for s in fulls(25)]
    assert view.head(2) == got[:2]
    assert len(view) == 25
    assert sorted(s.older for s in view.shuffled(seed=1)) == list(range(1, 26))
    # part() keeps the lens.
    parts = [s for i in range(3) for s in view.part(i, 3)]
    assert sorted(s.name for s in parts) == sorted(s.name for s in got)


def test_as_type_batches_are_sample_batches_of_the_view(full_ds):
    batches = list(full_ds.as_type(Older).ordered(batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    b = batches[0]
    assert isinstance(b, atdata.SampleBatch) and b.sample_type is Older
    assert b.name == [f"N{i}" for i in range(10)]
    assert b.older == list(range(1, 11))
    assert isinstance(b.emb, np.ndarray) and b.emb.shape == (10, 3)
    assert np.array_equal(b.emb, np.stack([np.full(3, 2 * i, np.float32) for i in range(10)]))
    assert b[3] == full_to_older(fulls(4)[3])


def test_chained_as_type_composes_registered_lenses(full_ds):
    names = [s.name for s in full_ds.as_type(Older).as_type(NameOnly)]
    assert names == [f"<N{i}>" for i in range(25)]


def test_plain_paths_stay_plain(full_ds):
    # Same type or a type read directly: no Python lens in the loop.
    assert type(full_ds.as_type(Full)) is atdata.Dataset
    assert type(full_ds.as_type(NameOnly)) is atdata.Dataset
    assert [s.name for s in full_ds.as_type(NameOnly)][:2] == ["n0", "n1"]


def test_no_lens_and_missing_fields_is_lens_not_found(full_ds):
    @atdata.packable
    class Unrelated:
        zzz: int

    with pytest.raises(atdata.LensNotFoundError) as info:
        full_ds.as_type(Unrelated)
    e = info.value
    # Also what our own code and 0.7's structural check raise.
    assert isinstance(e, atdata.SchemaMismatchError) and isinstance(e, ValueError)
    assert "['zzz']" in str(e) and "no lens from Full to Unrelated" in str(e)
    assert e.source is Full and e.view is Unrelated and e.available == [Older]
    with pytest.raises(TypeError, match="sample class"):
        full_ds.as_type("Older")


def test_lens_found_for_a_dataset_typed_from_its_stored_schema(index):
    index.write_samples(fulls(5), name="people")
    ds = index.load("people")
    assert ds.sample_type is not Full and ds.sample_type.__name__ == "Full"
    assert [s.older for s in ds.as_type(Older)] == [1, 2, 3, 4, 5]


def test_untyped_data_still_reads_as_any_packable_type(tmp_path):
    paths = atdata.write_samples(text_samples(6), tmp_path / "plain.tar").urls
    raw = atdata.load_dataset(paths[0])["train"]
    assert raw.sample_type is atdata.DictSample
    assert list(raw.as_type(TextSample)) == text_samples(6)
    # A lens registered from DictSample wins over the direct read.

    @atdata.packable
    class Shout:
        text: str

    @lens
    def shout(d: atdata.DictSample) -> Shout:
        return Shout(text=d["text"].upper())

    assert raw.as_type(Shout).head(1) == [Shout(text="DOCUMENT NUMBER 0 ABOUT TOPIC 0.")]
    assert raw.as_type(atdata.DictSample).head(1)[0]["word_count"] == 6


# -- the same script under 0.7 and under ours --------------------------------------------

SCRIPT = r'''
import contextlib, io, json, sys
import numpy as np
from numpy.typing import NDArray
import atdata
from atdata.lens import Lens, LensNetwork, lens

@atdata.packable
class ImageSample:
    image: NDArray
    label: str
    score: float

@atdata.packable
class ProcessedSample:
    features: NDArray
    label: str

@atdata.lens
def preprocess(sample: ImageSample) -> ProcessedSample:
    return ProcessedSample(features=sample.image.mean(axis=0), label=sample.label + "!")

@preprocess.putter
def preprocess_put(view: ProcessedSample, source: ImageSample) -> ImageSample:
    return ImageSample(image=source.image, label=view.label.rstrip("!"), score=source.score)

out = {}
samples = [ImageSample(image=np.arange(6, dtype=np.float32).reshape(2, 3) + i,
                       label=f"c{i % 3}", score=i / 4) for i in range(7)]
with contextlib.redirect_stdout(io.StringIO()):
    ds = atdata.write_samples(samples, sys.argv[1] + "/img.tar")
typed = atdata.Dataset[ImageSample](ds.list_shards()[0])
view = typed.as_type(ProcessedSample)
out["per_sample"] = [(s.label, s.features.tolist()) for s in view.ordered(batch_size=None)]
b = next(iter(view.ordered(batch_size=4)))
feats = np.asarray(b.features)
out["batch"] = [type(b).__name__, b.label, feats.shape, feats.dtype.str]
out["transform_is_lens"] = LensNetwork().transform(ImageSample, ProcessedSample) is preprocess
out["put"] = preprocess.put(ProcessedSample(features=np.zeros(3), label="z!"), samples[0]).label
out["lens_is_function"] = callable(atdata.lens) and type(atdata.lens).__name__ == "function"
out["network_methods"] = sorted(m for m in dir(LensNetwork) if not m.startswith("_"))
out["lens_methods"] = sorted(m for m in dir(Lens) if not m.startswith("_"))
@atdata.packable
class Other:
    nothing_like_it: int
try:
    typed.as_type(Other)
    out["no_lens"] = "no error"
except atdata.LensNotFoundError as e:
    out["no_lens"] = ["LensNotFoundError", isinstance(e, ValueError)]
try:
    LensNetwork().transform(ProcessedSample, ImageSample)
except atdata.LensNotFoundError:
    out["transform_missing"] = "LensNotFoundError"
raw = atdata.Dataset[atdata.DictSample](ds.list_shards()[0])
out["dict_to_typed"] = [s.label for s in raw.as_type(ImageSample).ordered()]
print(json.dumps(out, default=str))
'''


def _run(python: str, tmp_path, ours: bool) -> dict:
    d = tmp_path / ("ours" if ours else "ref")
    d.mkdir()
    env = {"PYTHONPATH": OUR_PATH} if ours else {}
    p = run_py(SCRIPT.replace("sys.argv[1]", repr(str(d))), python=python, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_readme_lens_script_behaves_as_under_07(ref_python, tmp_path):
    ref = _run(ref_python, tmp_path, ours=False)
    ours = _run(sys.executable, tmp_path, ours=True)
    # Every public method 0.7 has, we have (we add a few).
    assert set(ref.pop("network_methods")) <= set(ours.pop("network_methods"))
    assert set(ref.pop("lens_methods")) <= set(ours.pop("lens_methods"))
    assert ours == ref
    assert ref["per_sample"][0] == ["c0!", [1.5, 2.5, 3.5]]
    assert ref["batch"][:3] == ["SampleBatch", ["c0!", "c1!", "c2!", "c0!"], [4, 3]]


def test_unresolvable_annotation_is_named():
    def make():
        def f(src: "NoSuchClass") -> NameOnly:  # noqa: F821
            return NameOnly(name="x")

        return f

    msg = "make.<locals>.f: cannot resolve its parameter annotation .*NoSuchClass"
    with pytest.raises(TypeError, match=msg):
        lens(make())


@atdata.packable
class Counted:
    x: int
    name: str


@atdata.packable
class Tenfold:
    y: int


@atdata.lens
def _tenfold(c: Counted) -> Tenfold:
    return Tenfold(y=c.x * 10)


def test_dataset_methods_see_the_view_not_the_source(tmp_path):
    ds = atdata.write_samples([Counted(x=i, name=str(i)) for i in range(10)], tmp_path / "c.tar")
    view = ds.as_type(Tenfold)
    kept = view.filter(lambda s: s.y > 50)
    assert [s.y for s in kept.ordered()] == [60, 70, 80, 90] and len(kept) == 4
    assert [b.y for b in kept.ordered(batch_size=3)] == [[60, 70, 80], [90]]
    assert kept.head(1) == [Tenfold(y=60)]
    assert view.map(lambda s: s.y + 1).head(3) == [1, 11, 21]
    assert view.to_dict() == {"y": [i * 10 for i in range(10)]}
    assert view.to_pandas()["y"].tolist() == [i * 10 for i in range(10)]
    assert view.select([1, 3]) == [Tenfold(y=10), Tenfold(y=30)]
    assert list(view.process_shards(lambda s: sum(x.y for x in s)).values()) == [450]
    # A map to another sample type exports that type's fields.
    assert ds.map(lambda c: Tenfold(y=c.x)).to_dict() == {"y": list(range(10))}
