"""``write_samples``: samples to plain shard files, without an index."""

from __future__ import annotations

import itertools
import os
from typing import Any, Iterable, Optional

from . import _core
from ._args import check_int, check_progress
from ._dataset import Dataset
from ._packable import schema_json_of


def peek_samples(samples: Iterable[Any], empty_message: str) -> tuple:
    """``(first, samples, total)``: the first sample (its type gives the schema), an iterable
    yielding every sample including the first, and the count when known without consuming
    anything (lists and tuples), else None.

    Iterators and generators are not materialised: the writer pulls from them chunk by chunk.
    No samples is a ``ValueError`` whose message says the samples "must be non-empty", the
    words atdata 0.7's callers match on, after ``empty_message``.
    """
    empty = f"{empty_message}; samples must be non-empty"
    if isinstance(samples, (list, tuple)):
        if len(samples) == 0:
            raise ValueError(empty)
        return samples[0], samples, len(samples)
    it = iter(samples)
    for first in it:
        return first, itertools.chain((first,), it), None
    raise ValueError(empty)


def write_samples(
    samples: Iterable[Any],
    path: "str | os.PathLike[str]",
    *,
    maxcount: Optional[int] = None,
    maxsize: Optional[int] = None,
    progress: Optional[bool] = None,
    manifest: bool = False,
) -> Dataset:
    """Writes samples to WebDataset tar file(s) and returns a ``Dataset`` over them.

    A file name with a printf-style number, ``"out/shard-%04d.tar"`` (``%d``, ``%06d``, ...;
    ``%%`` for a literal ``%``), names the shards as WebDataset's ``ShardWriter`` does:
    ``shard-0000.tar``, ``shard-0001.tar``, ... (one shard, number 0, without a limit).
    Otherwise, without ``maxcount``/``maxsize`` the output is the single file ``path``; with
    either, shards ``{stem}-000000.tar``, ``{stem}-000001.tar``, ... are written beside it.
    Only that ``%`` is a pattern: commas, braces and brackets are ordinary characters (a brace
    pattern names the shards when reading them back, as ``Dataset("out/shard-{0000..0003}.tar")``).
    A ``%`` that is no number pattern is refused with a limit, and taken literally without one.
    A file already there with other content is never replaced (``AlreadyExistsError``). ``samples``
    may be any iterable, a generator too: it is consumed as the shards are written, not held
    whole. If a sample fails (wrong field type, an exception in the generator) no shard is
    left behind.

    ``progress``: None shows a bar on stderr for long writes when stderr is a terminal; True
    always shows one; False never does. ``manifest=True`` also writes each shard's manifest
    (``.manifest.json`` + ``.manifest.parquet``, see ``atdata.manifest``) beside it.
    """
    check_progress(progress)
    maxcount = check_int("maxcount", maxcount, minimum=1, optional=True)
    maxsize = check_int("maxsize", maxsize, minimum=1, optional=True)
    first, items, total = peek_samples(samples, "no samples to write: the iterable is empty")
    sample_type = type(first)
    if manifest:  # atdata.manifest: records the fields as the samples go by
        from .manifest import manifest_for_write

        recorder, items = manifest_for_write(sample_type, items)
    # The core names the files, writes and publishes them; the dataset it returns lists them.
    core = _core.write_samples(
        os.fspath(path), schema_json_of(sample_type), items, maxcount, maxsize, progress, total
    )
    ds = Dataset(core, sample_type=sample_type)
    if manifest:
        recorder.finish(ds.urls)
    return ds
