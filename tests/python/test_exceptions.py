"""atdata 0.7's exception names catch our errors, and so do the builtins 0.7 raised."""

from __future__ import annotations

import tarfile

import pytest

import atdata


def test_corrupt_shard_is_a_shard_error_and_a_tar_error(tmp_path):
    bad = tmp_path / "bad-000000.tar"
    bad.write_bytes(b"not a tar archive " * 64)
    for cls in (atdata.CorruptDataError, atdata.ShardError, tarfile.TarError, ValueError):
        with pytest.raises(cls) as info:
            list(atdata.Dataset(str(bad)).ordered())
        assert str(bad) in str(info.value)
        assert info.value.shard == str(bad)


def test_hierarchy_matches_what_07_users_catch():
    assert issubclass(atdata.SchemaMismatchError, atdata.SchemaError)
    assert issubclass(atdata.SchemaMismatchError, TypeError)
    assert issubclass(atdata.ShardNotFoundError, FileNotFoundError)
    assert issubclass(atdata.ShardNotFoundError, atdata.ShardError)
    assert issubclass(atdata.SampleKeyError, KeyError)
    assert issubclass(atdata.LensNotFoundError, ValueError)
    for name in (
        "ShardError",
        "SchemaError",
        "SampleKeyError",
        "LensNotFoundError",
        "PartialFailureError",
    ):
        assert issubclass(getattr(atdata, name), atdata.AtdataError), name


def test_python_layer_errors_say_what():
    err = atdata.SampleKeyError("abc", "shard x.tar")
    assert err.key == "abc" and str(err) == "no sample with key 'abc' in shard x.tar"
    err = atdata.PartialFailureError(["a"], ["b"], {"b": OSError("boom")}, {"a": 1})
    assert "1 of 2 shards failed" in str(err) and "b: boom" in str(err)
    assert err.results == {"a": 1} and err.failed_shards == ["b"]


def test_lens_not_found_has_07s_attribute_names():
    class A: ...

    class B: ...

    err = atdata.LensNotFoundError(A, B, [int])
    assert (err.source_type, err.view_type, err.available_targets) == (A, B, [int])
    assert str(err) == "no lens from A to B; registered views of A: int"


@atdata.packable
class Have:
    x: int


@atdata.packable
class Want:
    y: str


def test_errors_survive_pickling_with_their_message_and_attributes(tmp_path):
    """Errors cross process boundaries (DataLoader workers, multiprocessing pools)."""
    import pickle

    ds = atdata.write_samples([Have(x=1)], tmp_path / "h.tar")
    with pytest.raises(atdata.LensNotFoundError) as lens_error:
        ds.as_type(Want)
    raised = [
        atdata.SampleKeyError("k1", "shard a.tar"),
        atdata.PartialFailureError(["a"], ["b"], {"b": ValueError("boom")}, {"a": 1}),
        atdata.LensNotFoundError(Have, Want, [int]),
        lens_error.value,
    ]
    with pytest.raises(atdata.ShardNotFoundError) as missing:
        list(atdata.Dataset(str(tmp_path / "none.tar")).ordered())
    raised.append(missing.value)
    for err in raised:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err)
    assert pickle.loads(pickle.dumps(raised[0])).key == "k1"
    assert pickle.loads(pickle.dumps(raised[1])).results == {"a": 1}
    back = pickle.loads(pickle.dumps(lens_error.value))
    assert isinstance(back, atdata.SchemaMismatchError) and back.view is Want
