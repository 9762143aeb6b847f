"""``write_samples``: samples to plain shard files, without an index."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional

from . import _core
from ._dataset import Dataset
from ._packable import schema_json_of


def _first_and_all(samples: Iterable[Any]) -> tuple:
    items = samples if isinstance(samples, (list, tuple)) else list(samples)
    if len(items) == 0:
        raise ValueError("no samples to write: the iterable is empty")
    return items[0], items


def write_samples(
    samples: Iterable[Any],
    path: "str | os.PathLike[str]",
    *,
    maxcount: Optional[int] = None,
    maxsize: Optional[int] = None,
) -> Dataset:
    """Writes samples to WebDataset tar file(s) and returns a ``Dataset`` over them.

    Without ``maxcount``/``maxsize`` the output is the single file ``path``; with either, shards
    ``{stem}-000000.tar``, ``{stem}-000001.tar``, ... are written beside it.
    """
    first, items = _first_and_all(samples)
    sample_type = type(first)
    schema_json = schema_json_of(sample_type)
    p = Path(os.fspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    stem = p.name[:-4] if p.name.endswith(".tar") else p.name
    stem = stem.replace("%06d", "").rstrip("-_.") or "data"
    sharded = maxcount is not None or maxsize is not None
    paths = _core.write_shards(str(p.parent), stem, schema_json, items, maxcount, maxsize)
    if not sharded and len(paths) == 1 and "%" not in p.name:
        os.replace(paths[0], p)
        paths = [str(p)]
    core = _core.Dataset.open("{" + ",".join(paths) + "}" if len(paths) > 1 else paths[0])
    return Dataset(core.with_schema(schema_json), sample_type=sample_type)
