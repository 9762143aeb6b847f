"""``load_dataset`` and the default index, in the manner of HF ``datasets``."""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

from . import _core
from ._dataset import Dataset, DatasetDict

_lock = threading.Lock()
_default: Any = None


def set_default_index(index: Any) -> None:
    """Sets the index ``load_dataset("@local/...")`` uses (None clears it)."""
    from ._index import Index

    global _default
    if index is not None and not isinstance(index, Index):
        raise TypeError(f"set_default_index expects an atdata.Index or None, got {index!r}")
    with _lock:
        _default = index


def get_default_index() -> Any:
    """The default index: the one set with ``set_default_index``, else the index of the atdata
    home (``$ATDATA_HOME/index.db`` with its store ``$ATDATA_HOME/data``; ``~/.atdata`` when
    unset or empty: the core's rule, ``_core.default_paths()``), made on first use.
    """
    from ._index import Index

    global _default
    with _lock:
        if _default is None:
            index_path, store_root = _core.default_paths()
            _default = Index(path=index_path, data_store=_core.LocalDiskStore(store_root))
        return _default


def _index_for_reading() -> Any:
    """The index ``load_dataset("@local/...")`` reads when none is passed: the default index if
    one is set or was made, else the home's index (``_core.default_paths()``) opened read-only.
    Loading never creates an index (a missing one raises ``NotFoundError`` naming the path) and
    works on read-only media. The core's ``load_dataset`` follows the same rule.
    """
    from ._index import Index

    with _lock:
        if _default is not None:
            return _default
    index_path, _ = _core.default_paths()
    return Index(provider=_core.SqliteProvider.open_read_only(index_path))


def _is_index_ref(path: str) -> bool:
    return path.startswith("@")


def load_dataset(
    path: "str | os.PathLike[str]",
    sample_type: Any = None,
    *,
    split: Optional[str] = None,
    index: Any = None,
    **kwargs: Any,
) -> Any:
    """Loads a dataset by index reference (``"@local/name"``, ``"@local/name@2"``) or by path
    (file, brace pattern, glob or directory of shards).

    With ``split`` returns a ``Dataset``; without, a ``DatasetDict`` of every split. Datasets
    from an index are typed by their stored schema unless ``sample_type`` is given; data without
    a schema reads as ``DictSample``.
    """
    unsupported = {k: v for k, v in kwargs.items() if v not in (None, False)}
    for key in kwargs:
        if key not in ("data_files", "streaming", "atmosphere"):
            raise TypeError(f"load_dataset() got an unexpected keyword argument {key!r}")
    if unsupported:
        raise _core.UnsupportedFeatureError(
            f"load_dataset({', '.join(unsupported)}=...) is not supported yet"
        )
    target = os.fspath(path)
    ix = None
    if _is_index_ref(target):
        ix = index if index is not None else _index_for_reading()
    # The core resolves the reference or the paths and owns the split rules.
    dd = _core.DatasetDict.load(target, ix._core if ix is not None else None)

    def wrap(core_ds: Any) -> Dataset:
        if ix is not None and sample_type is not None:
            return Dataset(core_ds).as_type(sample_type)
        return Dataset(core_ds, sample_type=sample_type)

    if split is not None:
        return wrap(dd.split(split))
    return DatasetDict({k: wrap(dd.split(k)) for k in dd.keys()})
