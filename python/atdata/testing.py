"""Helpers for testing code that uses atdata, under atdata 0.7's module path ``atdata.testing``.

``make_samples`` fills any sample type with generated values, ``make_dataset`` writes samples
to a one-shard dataset and ``mock_index`` gives an index of its own in a folder; with
``pytest_plugins = ["atdata.testing"]`` the fixtures ``tmp_dataset`` and ``tmp_index`` are
available too. 0.7's ``MockAtmosphere`` (a fake AT Protocol client) is not provided: this
package does not talk to the AT Protocol network (docs/compat-07.md).
"""

from __future__ import annotations

import dataclasses
import tempfile
import typing
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ._dataset import Dataset
from ._index import Index
from ._packable import _is_ndarray, _unwrap_optional, field_hints
from ._write import write_samples


def make_dataset(
    path: "str | Path",
    samples: Sequence[Any],
    *,
    name: str = "test",
    sample_type: Optional[type] = None,
) -> Dataset:
    """Writes ``samples`` to ``{path}/{name}-000000.tar`` and returns the Dataset reading it."""
    if not samples:
        raise ValueError("make_dataset: samples must be non-empty")
    shard = Path(path) / f"{name}-000000.tar"
    shard.parent.mkdir(parents=True, exist_ok=True)
    written = write_samples(samples, shard, progress=False)
    if sample_type is not None and sample_type is not type(samples[0]):
        return written.as_type(sample_type)
    return written


def _value_for(tp: Any, field: str, i: int, rng: np.random.Generator) -> Any:
    if tp is str:
        return f"{field}_{i}"
    if tp is bool:  # before int: bool is an int
        return i % 2 == 0
    if tp is int:
        return i
    if tp is float:
        return float(rng.random())
    if tp is bytes:
        return rng.bytes(16)
    if _is_ndarray(tp):
        return rng.standard_normal((4, 4)).astype(np.float32)
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp) or (str,)
        return [_value_for(item, f"{field}_{i}", j, rng) for j in range(3)]
    if tp is dict or origin is dict:
        return {"index": i}
    raise TypeError(f"make_samples: no generator for field {field!r} of type {tp!r}")


def make_samples(sample_type: type, n: int = 10, seed: Optional[int] = None) -> list:
    """``n`` instances of ``sample_type`` with generated field values.

    Text is ``"{field}_{i}"``, integers count up from 0, floats are uniform in [0, 1), booleans
    alternate, bytes are 16 random bytes, arrays are 4x4 float32 normals, lists hold three
    items; optional fields are left at None. ``seed`` makes the random parts repeatable.
    """
    if not dataclasses.is_dataclass(sample_type):
        raise TypeError(f"make_samples: {sample_type!r} is not a sample type (use @atdata.packable)")
    hints = field_hints(sample_type)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kwargs = {}
        for f in dataclasses.fields(sample_type):
            tp, optional = _unwrap_optional(hints[f.name])
            if optional:
                continue
            kwargs[f.name] = _value_for(tp, f.name, i, rng)
        out.append(sample_type(**kwargs))
    return out


def mock_index(path: "str | Path | None" = None, **kwargs: Any) -> Index:
    """An Index of its own: SQLite at ``{path}/test_index.db`` (a new temporary folder if None).

    Other keyword arguments go to ``Index`` (``data_store=`` for one that writes datasets).
    """
    folder = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="atdata-test-"))
    folder.mkdir(parents=True, exist_ok=True)
    return Index(path=str(folder / "test_index.db"), **kwargs)


try:
    import pytest
except ImportError:  # pytest is optional: the helpers above work without it
    pytest = None

if pytest is not None:

    @pytest.fixture
    def tmp_index(tmp_path: Path) -> Index:
        """A fresh SQLite index in the test's temporary folder."""
        return mock_index(tmp_path)

    @pytest.fixture
    def tmp_dataset(tmp_path: Path) -> Dataset:
        """A 10-sample dataset of ``(name: str, value: int)`` samples."""
        from ._packable import packable

        @packable
        class TmpSample:
            name: str
            value: int

        return make_dataset(tmp_path, [TmpSample(name=f"s{i}", value=i) for i in range(10)])


__all__ = ["make_dataset", "make_samples", "mock_index"]
