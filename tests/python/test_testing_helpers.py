"""atdata.testing (atdata 0.7's module path): make_samples, make_dataset, mock_index, fixtures."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata
from atdata import testing as at_test
from atdata.testing import tmp_dataset, tmp_index  # noqa: F401 (fixtures, as a plugin gives them)


@atdata.packable
class Mixed:
    name: str
    n: int
    x: float
    flag: bool
    raw: bytes
    arr: NDArray
    tags: list[str]
    note: Optional[str] = None


def test_make_samples_fills_every_kind():
    s = at_test.make_samples(Mixed, n=4, seed=1)
    assert [x.name for x in s] == ["name_0", "name_1", "name_2", "name_3"]
    assert [x.n for x in s] == [0, 1, 2, 3]
    assert [x.flag for x in s] == [True, False, True, False]
    assert all(0 <= x.x < 1 for x in s) and all(len(x.raw) == 16 for x in s)
    assert s[0].arr.shape == (4, 4) and s[0].arr.dtype == np.float32
    assert s[1].tags == ["tags_1_0", "tags_1_1", "tags_1_2"] and s[0].note is None
    again = at_test.make_samples(Mixed, n=4, seed=1)
    assert np.array_equal(s[3].arr, again[3].arr) and s[2].raw == again[2].raw


def test_make_dataset_reads_back(tmp_path):
    samples = at_test.make_samples(Mixed, n=7, seed=0)
    ds = at_test.make_dataset(tmp_path, samples, name="mix")
    assert (tmp_path / "mix-000000.tar").exists()
    back = list(ds.ordered())
    assert [b.name for b in back] == [s.name for s in samples]
    assert np.array_equal(back[6].arr, samples[6].arr)
    with pytest.raises(ValueError, match="non-empty"):
        at_test.make_dataset(tmp_path, [])
    with pytest.raises(TypeError, match="not a sample type"):
        at_test.make_samples(dict)


def test_mock_index_is_its_own(tmp_path):
    index = at_test.mock_index(tmp_path / "a")
    assert (tmp_path / "a" / "test_index.db").exists()
    assert index.list_datasets() == []


def test_fixtures(tmp_dataset, tmp_index):
    assert [s.value for s in tmp_dataset.ordered()] == list(range(10))
    assert tmp_index.list_datasets() == []
