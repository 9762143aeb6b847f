"""``load_dataset`` and the default index, in the manner of HF ``datasets``."""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

from . import _core
from ._dataset import Dataset, DatasetDict
from ._exceptions import SplitNotFoundError

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


def _has_scheme(path: str) -> bool:
    head, sep, _ = path.partition("://")
    return bool(sep) and head.isalnum()


def _data_files(base: str, data_files: Any) -> list:
    """``data_files=`` as ``[(split, [file, ...])]``: a path or list of paths is the split
    ``train``; a dict maps splits to a path or list of paths. Relative paths are below
    ``base`` when it is a local path (as atdata 0.7 and HF resolve them)."""

    def files(split: str, value: Any) -> list:
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(items, (list, tuple)):
            raise TypeError(
                f"data_files[{split!r}] must be a path or a list of paths, got "
                f"{type(value).__name__}"
            )
        out = []
        for f in items:
            if not isinstance(f, (str, os.PathLike)):
                raise TypeError(f"data_files for split {split!r}: {f!r} is not a path")
            f = os.fspath(f)
            if not _has_scheme(base) and not _has_scheme(f) and not os.path.isabs(f):
                f = os.path.join(base, f)
            out.append(f)
        return out

    if isinstance(data_files, dict):
        pairs = []
        for split, value in data_files.items():
            if not isinstance(split, str) or not split:
                raise TypeError(f"data_files split names must be non-empty str, got {split!r}")
            pairs.append((split, files(split, value)))
        if not pairs:
            raise _core.InvalidArgumentError("data_files is an empty dict: name at least one split")
        return pairs
    return [("train", files("train", data_files))]


def load_dataset(
    path: "str | os.PathLike[str]",
    sample_type: Any = None,
    *,
    split: Optional[str] = None,
    data_files: Any = None,
    streaming: bool = False,
    index: Any = None,
    atmosphere: Any = None,
) -> Any:
    """Loads a dataset by index reference (``"@local/name"``, ``"@local/name@2"``) or by path
    (file, brace pattern, glob or directory of shards), in the manner of HF ``datasets``.

    With ``split`` returns a ``Dataset``; without, a ``DatasetDict`` of every split (an unknown
    split is a ``SplitNotFoundError``, both ``ValueError`` and ``KeyError``, listing those that
    exist). Datasets from an index are typed by their stored schema unless ``sample_type`` is
    given; data without a schema reads as ``DictSample``. ``data_files`` names the files of
    each split explicitly (a path or list: ``train``; a dict: split -> path or list), relative
    to ``path``. ``streaming`` is recorded on the ``DatasetDict``: every dataset streams.
    """
    if not isinstance(streaming, bool):
        raise TypeError(f"streaming must be True or False, got {streaming!r}")
    if atmosphere is not None:
        raise _core.UnsupportedFeatureError("load_dataset(atmosphere=...) is not supported yet")
    if split is not None and not isinstance(split, str):
        raise TypeError(f"split must be a str or None, got {type(split).__name__}")
    target = os.fspath(path)
    ix = None
    if _is_index_ref(target):
        if data_files is not None:
            raise _core.InvalidArgumentError(
                f"data_files= names shard files; '{target}' is an index reference, whose "
                "files the index knows"
            )
        ix = index if index is not None else _index_for_reading()
    # The core resolves the reference or the paths and owns the split rules.
    if data_files is not None:
        dd = _core.DatasetDict.from_files(target, _data_files(target, data_files))
    else:
        dd = _core.DatasetDict.load(target, ix._core if ix is not None else None)

    def wrap(core_ds: Any) -> Dataset:
        if ix is not None and sample_type is not None:
            return Dataset(core_ds).as_type(sample_type)
        return Dataset(core_ds, sample_type=sample_type)

    if split is not None:
        try:
            chosen = dd.split(split)
        except _core.NotFoundError as e:
            raise SplitNotFoundError(str(e)) from None
        return wrap(chosen)
    return DatasetDict(
        {k: wrap(dd.split(k)) for k in dd.keys()}, sample_type=sample_type, streaming=streaming
    )
