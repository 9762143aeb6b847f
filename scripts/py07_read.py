"""Reads a dataset with the REAL Python atdata 0.7.0b1 and prints a JSON summary on stdout.

Run it with the reference venv's python (scripts/ref-venv.sh prints its path). Interop tests call it
to prove that atdata 0.7 reads what our implementation wrote.

Shards (anything atdata.load_dataset accepts: a .tar, a directory of .tar, a glob, a brace pattern):

    py07_read.py PATH [--schema SCHEMA.json] [--split train]

  Without --schema, 0.7 yields DictSample (raw msgpack maps; array fields stay bytes).
  With --schema (a schema record JSON, the text stored in the index's schemas.schema_json),
  the sample type is rebuilt by 0.7's own schema codec, as load_dataset("@local/...") does.

Index (an SQLite index file, ours or 0.7's):

    py07_read.py --index INDEX.db --name NAME [--version V] [--remap OLD=NEW ...]

  Opens the file with 0.7's SqliteProvider and loads atdata.load_dataset("@local/NAME[@V]"),
  i.e. label lookup -> entry -> schema_ref -> schemas row -> rebuilt type -> shards.
  SqliteProvider.__init__ WRITES to the file it opens (CREATE TABLE IF NOT EXISTS for missing
  tables, PRAGMA journal_mode=WAL), so by default the file is copied to a temp dir first;
  --in-place opens the given file itself. --remap rewrites the start of every data URL (for
  index fixtures whose absolute shard paths were moved).

    py07_read.py --dsn postgresql://... --name NAME [--version V]

  The same through 0.7's PostgresProvider (psycopg) on that database, which it opens as is.

Options for both: --batch-size N also iterates ordered(batch_size=N) and checks that the batched
columns agree with the per-sample values; --digest-only omits per-sample values; --raw reports
values exactly as 0.7 returned them (by default, fields whose schema kind is ndarray but that 0.7
left as bytes -- Optional[NDArray], NDArray[dtype] -- are decoded with 0.7's own bytes_to_array
and listed in "fields_left_as_bytes").

Output (stdout, one JSON object): {"ok": true, "atdata_version", "mode", "sample_type", "fields",
"count", "digest", "samples": [{"key", "url", "values": {field: JSON value}}], ...}; values use
the JSON form of scripts/py07_values.py. On failure: {"ok": false, "error", "error_type"} on stdout,
the traceback on stderr, exit status 1.
"""

import argparse
import contextlib
import dataclasses
import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from py07_values import to_json_value, values_digest  # noqa: E402


def _ndarray_fields(schema: dict | None) -> set[str]:
    if not schema:
        return set()
    out = set()
    for f in schema.get("fields", []):
        kind = f.get("fieldType", {}).get("$type", "").split("#")[-1]
        if kind == "ndarray":
            out.add(f["name"])
    return out


def _raw_keys(ds) -> list[tuple[str, str]]:
    """(key, shard url) of every sample, through the same webdataset stages Dataset.ordered uses."""
    import webdataset as wds
    from atdata.dataset import _ShardListStage, _StreamOpenerStage

    pipeline = wds.pipeline.DataPipeline(
        _ShardListStage(ds.source),
        _StreamOpenerStage(ds.source),
        wds.tariterators.tar_file_expander,
        wds.tariterators.group_by_keys,
    )
    return [(s.get("__key__"), s.get("__url__")) for s in pipeline]


def _sample_values(sample) -> dict[str, Any]:
    from atdata import DictSample

    if isinstance(sample, DictSample):
        return dict(sample.items())
    return {f.name: getattr(sample, f.name) for f in dataclasses.fields(sample)}


def summarize(
    ds,
    schema: dict | None,
    *,
    raw: bool = False,
    batch_size: int | None = None,
    digest_only: bool = False,
) -> dict[str, Any]:
    """Iterates an atdata 0.7 Dataset and returns the JSON summary (see module doc)."""
    import numpy as np
    from atdata._helpers import bytes_to_array

    nd_fields = _ndarray_fields(schema)
    left_as_bytes: set[str] = set()
    samples: list[dict[str, Any]] = []
    field_names: list[str] | None = None
    native: list[dict[str, Any]] = []
    for sample in ds.ordered():
        vals = _sample_values(sample)
        if field_names is None:
            field_names = list(vals)
        if not raw:
            for name in nd_fields:
                v = vals.get(name)
                if isinstance(v, (bytes, bytearray)):
                    left_as_bytes.add(name)
                    vals[name] = bytes_to_array(bytes(v))
        native.append(vals)
        samples.append({k: to_json_value(v) for k, v in vals.items()})

    keys = _raw_keys(ds)
    if len(keys) != len(samples):
        raise RuntimeError(f"{len(samples)} samples decoded but {len(keys)} keys seen in the shards")

    out: dict[str, Any] = {
        "ok": True,
        "atdata_version": _atdata_version(),
        "sample_type": ds.sample_type.__name__,
        "fields": field_names or [],
        "count": len(samples),
        "shards": ds.list_shards(),
        "fields_left_as_bytes": sorted(left_as_bytes),
        "digest": values_digest(samples),
    }

    if batch_size is not None:
        # The walkthrough reads through batches (batch.text, batch.vector): check that 0.7's batch path
        # sees the same values, and report what each column aggregates to.
        columns: dict[str, list[Any]] = {}
        column_kinds: dict[str, str] = {}
        nbatches = 0
        for batch in ds.ordered(batch_size=batch_size):
            nbatches += 1
            names = field_names or [f.name for f in dataclasses.fields(ds.sample_type)]
            for name in names:
                col = getattr(batch, name)
                if isinstance(col, np.ndarray):
                    column_kinds[name] = f"ndarray {col.dtype.str} shape[1:]={list(col.shape[1:])}"
                    # np.asarray keeps 0-d rows arrays (iterating a stacked array yields scalars).
                    columns.setdefault(name, []).extend(np.asarray(row) for row in col)
                else:
                    column_kinds.setdefault(name, "list")
                    columns.setdefault(name, []).extend(col)
        for name, col in columns.items():
            if len(col) != len(native):
                raise RuntimeError(f"batched column {name!r} has {len(col)} rows, expected {len(native)}")
            for i, (a, b) in enumerate(zip(col, (s[name] for s in native))):
                if not raw and name in left_as_bytes and isinstance(a, (bytes, bytearray)):
                    a = bytes_to_array(bytes(a))
                if to_json_value(a) != to_json_value(b):
                    raise RuntimeError(f"batched column {name!r} row {i} differs from the per-sample value")
        out["batches"] = {"batch_size": batch_size, "count": nbatches, "columns": column_kinds}

    if not digest_only:
        out["samples"] = [
            {"key": k, "url": u, "values": v} for (k, u), v in zip(keys, samples)
        ]
    return out


def _atdata_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("atdata")


def read_shards(path: str, schema_file: str | None, split: str | None):
    """Returns (Dataset, schema dict or None) for shards at `path`, through atdata.load_dataset."""
    import atdata
    from atdata._schema_codec import _schema_to_type

    schema = None
    sample_type = None
    if schema_file:
        schema = json.loads(Path(schema_file).read_text())
        sample_type = _schema_to_type(schema)
    dd = atdata.load_dataset(path, sample_type)
    if split is None:
        if len(dd) != 1:
            raise ValueError(f"{path}: several splits {sorted(dd)}: pass --split")
        split = next(iter(dd))
    return dd[split], schema


class _Remapping:
    """Rewrites the start of each data URL of entries an IndexProvider returns."""

    def __init__(self, remaps: list[tuple[str, str]]):
        self.remaps = remaps

    def apply(self, entry):
        urls = []
        for u in entry.data_urls:
            for old, new in self.remaps:
                if u.startswith(old):
                    u = new + u[len(old):]
                    break
            urls.append(u)
        entry.data_urls = urls
        return entry


def read_index(index_file: str, name: str, version: str | None, remaps: list[tuple[str, str]],
               dsn: str | None = None):
    """Returns (Dataset, schema dict, entry) for @local/NAME[@VERSION] in an SQLite index file
    (or, with ``dsn``, a PostgreSQL database)."""
    import atdata
    from atdata.providers._sqlite import SqliteProvider
    from atdata.providers._postgres import PostgresProvider

    base = PostgresProvider if dsn else SqliteProvider

    class Provider(base):
        def get_entry_by_cid(self, cid):
            return _Remapping(remaps).apply(super().get_entry_by_cid(cid))

        def get_entry_by_name(self, name):
            return _Remapping(remaps).apply(super().get_entry_by_name(name))

    provider = Provider(dsn=dsn) if dsn else Provider(path=index_file)
    index = atdata.Index(provider=provider, atmosphere=None)
    ref = f"@local/{name}" + (f"@{version}" if version else "")
    ds = atdata.load_dataset(ref, index=index, split="train")
    # Same resolution as 0.7's load_dataset: the label (name, version); failing that,
    # Index.get_dataset: the newest label of the name (any version), else the first entry by name.
    try:
        entry = index.get_label(f"@local/{name}", version)
        via = "label"
    except KeyError:
        entry = index.get_dataset(f"@local/{name}")
        via = "fallback"
    schema = index.get_schema(entry.schema_ref)
    return ds, schema, entry, via, index


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", nargs="?", help="shard file, directory, glob or brace pattern")
    p.add_argument("--schema", help="schema record JSON file used to rebuild the sample type")
    p.add_argument("--split", help="split to read when the path holds several")
    p.add_argument("--index", help="SQLite index file")
    p.add_argument("--dsn", help="PostgreSQL index (0.7's PostgresProvider) instead of --index")
    p.add_argument("--name", help="dataset name in the index (loaded as @local/NAME)")
    p.add_argument("--version", help="label version (@local/NAME@VERSION)")
    p.add_argument("--remap", action="append", default=[], metavar="OLD=NEW",
                   help="rewrite data URLs starting with OLD to start with NEW (repeatable)")
    p.add_argument("--in-place", action="store_true", help="open the index file itself, not a copy")
    p.add_argument("--batch-size", type=int, help="also check ordered(batch_size=N)")
    p.add_argument("--digest-only", action="store_true", help="omit per-sample values")
    p.add_argument("--raw", action="store_true", help="values exactly as 0.7 returned them")
    args = p.parse_args(argv)
    if bool(args.path) + bool(args.index) + bool(args.dsn) != 1:
        p.error("give either PATH, --index FILE --name NAME or --dsn DSN --name NAME")
    if (args.index or args.dsn) and not args.name:
        p.error("--index needs --name")
    remaps = []
    for r in args.remap:
        old, sep, new = r.partition("=")
        if not sep or not old:
            p.error(f"--remap wants OLD=NEW, got {r!r}")
        remaps.append((old, new))

    tmp = None
    try:
        # Library chatter (webdataset prints "# writing ..." etc.) must not pollute the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            if args.index or args.dsn:
                index_file = Path(args.index or ".")
                if args.index and not index_file.is_file():
                    raise FileNotFoundError(f"index file not found: {index_file}")
                if args.index and not args.in_place:
                    tmp = tempfile.mkdtemp(prefix="py07-read-")
                    for suffix in ("", "-wal", "-shm"):
                        src = Path(str(index_file) + suffix)
                        if src.exists():
                            shutil.copy2(src, Path(tmp) / (index_file.name + suffix))
                    index_file = Path(tmp) / index_file.name
                ds, schema, entry, via, index = read_index(str(index_file), args.name, args.version, remaps,
                                                         dsn=args.dsn)
                out = summarize(ds, schema, raw=args.raw, batch_size=args.batch_size,
                                digest_only=args.digest_only)
                out["mode"] = "index"
                out["entry"] = {
                    "resolved_via": via,
                    "cid": entry.cid,
                    "name": entry.name,
                    "schema_ref": entry.schema_ref,
                    "data_urls": entry.data_urls,
                    "metadata": to_json_value(entry.metadata),
                }
                out["schema"] = schema
                index.provider.close()
            else:
                ds, schema = read_shards(args.path, args.schema, args.split)
                out = summarize(ds, schema, raw=args.raw, batch_size=args.batch_size,
                                digest_only=args.digest_only)
                out["mode"] = "shards"
        print(json.dumps(out, allow_nan=False))
        return 0
    except Exception as e:  # noqa: BLE001 -- every failure becomes a JSON error + exit 1
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"ok": False, "error": str(e), "error_type": type(e).__name__}))
        return 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
