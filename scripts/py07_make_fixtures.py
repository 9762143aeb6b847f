"""Generates the atdata 0.7 interop fixtures with the REAL Python atdata 0.7.0b1.

    PY=$(scripts/ref-venv.sh) && $PY scripts/py07_make_fixtures.py crates/atdata/tests/fixtures/py07

Writes into OUT (replacing what the script owns there):

  shards/        shard sets written by atdata.write_samples:
                   kinds-00000{0,1}.tar  AllKinds, 5 samples, maxcount=3 (every field kind)
                   text.tar              TextSample (the walkthrough's type), 6 samples
                   embedding.tar         EmbeddingSample (the walkthrough's type), 4 samples
  schemas/       {Type}.json: the schema record exactly as 0.7's Index stores it in
                 schemas.schema_json (also the --schema input of py07_read.py)
  index/         a full 0.7 index made by atdata.Index(provider=SqliteProvider(...),
                 data_store=LocalDiskStore(...)).write(...), as in the walkthrough:
                   index.db, data/docs-v1/data--XXXXXXXX--000000.tar (x2), data/embeddings-v1/...
  expected.json  the decoded value of every sample of every shard above (JSON form of
                 scripts/py07_values.py), its key and its exact msgpack bytes
  fixture_manifest.json  where the index was generated (its absolute paths), every row of every
                 index table (blobs decoded), and how '@local/...' refs resolve in 0.7

The index is generated at a fixed root (--index-root, default /tmp/atdata-py07-fixture) and then
copied into OUT/index, because 0.7 records ABSOLUTE shard paths in dataset_entries.data_urls and in
metadata["checksums"]. A test maps a recorded path to the copy by replacing the prefix
fixture_manifest["index_root"] with the copy's directory (see docs/python07-notes.md).

Nothing is made deterministic: keys (uuid1), tar mtimes, the 8 hex of shard names, createdAt and
created_at, and so the CIDs change on every run. Tests must read them from expected.json /
fixture_manifest.json, never hard-code them.

NOTE: no `from __future__ import annotations` here: 0.7 decides which fields hold arrays by
comparing the *runtime* annotation with NDArray; string annotations would change its behaviour.
"""

import argparse
import importlib.metadata
import json
import shutil
import sqlite3
import sys
import tarfile
from pathlib import Path
from typing import Optional

import msgpack
import numpy as np
from numpy.typing import NDArray

import atdata
from atdata.index._schema import _build_schema_record
from atdata.providers._sqlite import SqliteProvider

sys.path.insert(0, str(Path(__file__).resolve().parent))

from py07_read import read_index, read_shards, summarize  # noqa: E402
from py07_values import to_json_value, values_digest  # noqa: E402

ATDATA_VERSION = "0.7.0b1"


# --- sample types ---------------------------------------------------------------------------


@atdata.packable
class TextSample:
    """Simple text document."""

    text: str
    language: str
    word_count: int


@atdata.packable
class EmbeddingSample:
    """Dense embedding with label."""

    vector: NDArray
    label: str
    source: str


@atdata.packable
class AllKinds:
    """Every field kind atdata 0.7 can describe in a schema."""

    text: str
    small: int
    large: int
    negative: int
    ratio: float
    flag: bool
    blob: bytes
    ints: list[int]
    words: list[str]
    image: NDArray  # uint8, 3-d
    matrix: NDArray  # float32, 2-d
    mask: NDArray  # bool, 1-d
    scalar: NDArray  # int64, 0-d
    series: NDArray  # float64, 1-d
    typed: NDArray[np.float32]  # 0.7 leaves this as bytes on read
    # Optional fields last: 0.7 rebuilds a schema's type with make_dataclass and gives optional
    # fields a default of None, so a required field after an optional one fails to load there.
    maybe_text: Optional[str]
    maybe_int: Optional[int]
    maybe_arr: Optional[NDArray]  # 0.7 leaves this as bytes on read (when present)
    maybe_vec: NDArray | None  # ... but decodes this spelling


def all_kinds_samples() -> list[AllKinds]:
    rng = np.random.default_rng(7)
    larges = [2**40, 2**53 + 1, 2**62, 2**63 - 1, 1234567890123]
    negatives = [-1, -33, -(2**31), -(2**63), -129]
    ratios = [0.5, -2.25, 1e-300, 3.141592653589793, 0.1]
    out = []
    for i in range(5):
        out.append(
            AllKinds(
                text=["hello", "", "héllo wörld ✓", "x" * 40, "line\nbreak"][i],
                small=[0, 1, 127, 128, 255][i],
                large=larges[i],
                negative=negatives[i],
                ratio=ratios[i],
                flag=i % 2 == 0,
                blob=[b"", b"\x00\x01\xff", bytes(range(40)), b"abc", b"\x00"][i],
                ints=[[], [1], [1, -2, 300], [2**40, -(2**40)], [0, 0, 0]][i],
                words=[[], ["a"], ["b", "c"], ["ü", ""], ["x", "y", "z"]][i],
                image=(np.arange(24, dtype=np.uint8).reshape(2, 3, 4) + i).astype(np.uint8),
                matrix=rng.standard_normal((2, 3)).astype(np.float32),
                mask=np.array([True, False, i % 2 == 0, True]),
                scalar=np.array(i - 2, dtype=np.int64),
                series=np.linspace(-1.0, 1.0, 3) * (i + 1),
                typed=np.arange(4, dtype=np.float32) / (i + 1),
                maybe_text=None if i % 2 else f"text {i}",
                maybe_int=None if i % 3 == 1 else i * 1000,
                maybe_arr=None if i % 2 else np.full((2,), i, dtype=np.int32),
                maybe_vec=None if i % 2 == 0 else np.array([0.25 * i, -1.0], dtype=np.float32),
            )
        )
    return out


def text_samples(n: int, prefix: str = "Document number") -> list[TextSample]:
    out = []
    for i in range(n):
        text = f"{prefix} {i} about topic {i % 5}."
        out.append(TextSample(text=text, language="en" if i % 3 else "es", word_count=len(text.split())))
    return out


def embedding_samples(n: int, dim: int, seed: int) -> list[EmbeddingSample]:
    rng = np.random.default_rng(seed)
    return [
        EmbeddingSample(
            vector=rng.standard_normal(dim).astype(np.float32),
            label=f"class_{i % 10}",
            source="synthetic",
        )
        for i in range(n)
    ]


# --- helpers --------------------------------------------------------------------------------


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    """(member name, data) of every regular member, in file order."""
    with tarfile.open(path) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile()]


def expected_for(shards: list[Path], samples: list, rel_to: Path, sample_type) -> dict:
    """Expected decoded values of `samples`, checked against the bytes 0.7 put in `shards`."""
    rows = []
    members = [(shard, name, data) for shard in shards for name, data in tar_members(shard)]
    if len(members) != len(samples):
        raise SystemExit(f"{len(members)} members in {shards}, expected {len(samples)}")
    for (shard, name, data), sample in zip(members, samples):
        key, _, ext = name.partition(".")
        if ext != "msgpack":
            raise SystemExit(f"unexpected member {name} in {shard}")
        if data != sample.packed:
            raise SystemExit(f"{shard}:{name}: bytes differ from the sample's .packed")
        values = {f: to_json_value(getattr(sample, f)) for f in msgpack.unpackb(data)}
        rows.append(
            {
                "shard": str(shard.relative_to(rel_to)),
                "key": key,
                "msgpack_hex": data.hex(),
                "values": values,
            }
        )
    record = _build_schema_record(sample_type, version="1.0.0")
    return {
        "sample_type": sample_type.__name__,
        "shards": [str(s.relative_to(rel_to)) for s in shards],
        "fields": record["fields"],
        "count": len(rows),
        "digest": values_digest([r["values"] for r in rows]),
        "samples": rows,
    }


def check_with_reader(ds, schema: dict, expected: dict, what: str) -> None:
    """Reads with 0.7 (py07_read.summarize) and compares to the expected values."""
    got = summarize(ds, schema, batch_size=2)
    if got["count"] != expected["count"] or got["digest"] != expected["digest"]:
        for a, b in zip(got.get("samples", []), expected["samples"]):
            if a["values"] != b["values"]:
                print(json.dumps(a["values"])[:2000], file=sys.stderr)
                print(json.dumps(b["values"])[:2000], file=sys.stderr)
                break
        raise SystemExit(f"{what}: 0.7 read back something else than was written")
    if [s["key"] for s in got["samples"]] != [s["key"] for s in expected["samples"]]:
        raise SystemExit(f"{what}: keys differ")


def dump_tables(db: Path) -> dict:
    """Every row of every table, blobs decoded from msgpack, in rowid order."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    out = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for t in tables:
        rows = []
        for r in conn.execute(f"SELECT rowid AS _rowid, * FROM {t} ORDER BY rowid"):
            row = {}
            for k in r.keys():
                v = r[k]
                if isinstance(v, bytes):
                    row[k] = {"$msgpack": msgpack.unpackb(v), "hex": v.hex()}
                else:
                    row[k] = v
            rows.append(row)
        out[t] = rows
    out["_ddl"] = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]
    out["_journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    return out


# --- main -----------------------------------------------------------------------------------


def make_shards(out: Path, expected: dict) -> None:
    shard_dir = out / "shards"
    schema_dir = out / "schemas"
    shard_dir.mkdir(parents=True)
    schema_dir.mkdir(parents=True)

    sets = [
        ("kinds", AllKinds, all_kinds_samples(), shard_dir / "kinds.tar", 3),
        ("text", TextSample, text_samples(6), shard_dir / "text.tar", None),
        ("embedding", EmbeddingSample, embedding_samples(4, 16, seed=3), shard_dir / "embedding.tar", None),
    ]
    for name, st, samples, path, maxcount in sets:
        ds = atdata.write_samples(samples, path, maxcount=maxcount)
        shards = [Path(p) for p in ds.list_shards()]
        schema = _build_schema_record(st, version="1.0.0")
        schema_file = schema_dir / f"{st.__name__}.json"
        # json.dumps with default separators: the exact text Index stores in schemas.schema_json.
        schema_file.write_text(json.dumps(schema))
        exp = expected_for(shards, samples, out, st)
        exp["schema"] = str(schema_file.relative_to(out))
        expected[name] = exp
        # Read back through 0.7 exactly as the interop tests will: shards + schema file.
        rds, rschema = read_shards(str(path.parent / (path.stem + ("-*" if maxcount else "") + path.suffix)),
                                   str(schema_file), None)
        check_with_reader(rds, rschema, exp, name)


def make_index(out: Path, root: Path, expected: dict) -> dict:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    provider = SqliteProvider(path=root / "index.db")
    store = atdata.LocalDiskStore(root=root / "data")
    index = atdata.Index(provider=provider, data_store=store, atmosphere=None)

    docs1 = text_samples(20)
    emb = embedding_samples(12, 128, seed=99)
    docs2 = text_samples(8, prefix="Revised document")

    # index.write as in the walkthrough (deprecated alias of write_samples); maxcount is ignored for the
    # stored shards (one shard each), description/tags are dropped for local datasets.
    e_docs1 = index.write(docs1, name="docs-v1", description="20 synthetic text documents",
                          tags=["text", "multilingual"], maxcount=10)
    # A versioned label for the first write, so '@local/docs-v1@1.0.0' has something to resolve.
    index.label("docs-v1", e_docs1.cid, version="1.0.0", description="first write")
    e_emb = index.write(emb, name="embeddings-v1", description="12 synthetic 128-d embeddings",
                        tags=["embeddings", "synthetic"], maxcount=6)
    e_docs2 = index.write(docs2, name="docs-v1", description="second write of docs-v1")

    entries = [("docs-v1", 1, e_docs1, docs1, TextSample),
               ("embeddings-v1", 1, e_emb, emb, EmbeddingSample),
               ("docs-v1", 2, e_docs2, docs2, TextSample)]
    for name, nth, entry, samples, st in entries:
        exp = expected_for([Path(u) for u in entry.data_urls], samples, root, st)
        exp["shards"] = ["index/" + s for s in exp["shards"]]
        for r in exp["samples"]:
            r["shard"] = "index/" + r["shard"]
        exp["cid"] = entry.cid
        exp["name"] = name
        expected[f"index:{name}:{nth}"] = exp

    resolution = {}
    for ref, want in [("@local/docs-v1", e_docs2), ("@local/docs-v1@1.0.0", e_docs1),
                      ("@local/embeddings-v1", e_emb)]:
        ds = atdata.load_dataset(ref, index=index, split="train")
        n = sum(1 for _ in ds.ordered())
        got = [e for e in (e_docs1, e_docs2, e_emb) if e.data_urls == ds.list_shards()]
        if not got or got[0].cid != want.cid:
            raise SystemExit(f"{ref} resolved to {ds.list_shards()}, expected {want.data_urls}")
        resolution[ref] = {"cid": want.cid, "count": n}
    provider.close()

    # Read back through our reader (as the interop tests will), on the generated root.
    for name, version, key in [("docs-v1", None, "index:docs-v1:2"),
                               ("docs-v1", "1.0.0", "index:docs-v1:1"),
                               ("embeddings-v1", None, "index:embeddings-v1:1")]:
        ds, schema, _entry, _via, idx = read_index(str(root / "index.db"), name, version, [])
        check_with_reader(ds, schema, expected[key], key)
        idx.provider.close()

    if any(root.glob("index.db-*")):
        raise SystemExit(f"{root}: WAL/SHM files left behind; the index was not closed cleanly")
    shutil.copytree(root, out / "index")
    return {
        "index_root": str(root),
        "index_db": "index/index.db",
        "data_root": "index/data",
        "how_to_relocate": "replace the prefix index_root in data_urls and metadata.checksums keys "
                           "with the directory the index/ folder was copied to",
        "resolution": resolution,
        "entries": [
            {"name": name, "write": nth, "cid": entry.cid, "schema_ref": entry.schema_ref,
             "data_urls": entry.data_urls, "metadata": entry.metadata, "count": len(samples),
             "expected": f"index:{name}:{nth}"}
            for name, nth, entry, samples, _st in entries
        ],
        "tables": dump_tables(out / "index" / "index.db"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description="Generate atdata 0.7 interop fixtures.")
    p.add_argument("out", help="output dir, e.g. crates/atdata/tests/fixtures/py07")
    p.add_argument("--index-root", default="/tmp/atdata-py07-fixture",
                   help="where the index is generated before being copied to OUT/index")
    args = p.parse_args()

    have = importlib.metadata.version("atdata")
    if have != ATDATA_VERSION:
        raise SystemExit(f"need atdata {ATDATA_VERSION}, found {have}")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for owned in ("shards", "schemas", "index", "expected.json", "fixture_manifest.json"):
        target = out / owned
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    expected: dict = {}
    make_shards(out, expected)
    manifest = make_index(out, Path(args.index_root).resolve(), expected)

    header = {
        "atdata_version": ATDATA_VERSION,
        "generator": "scripts/py07_make_fixtures.py",
        "value_encoding": "scripts/py07_values.py",
    }
    (out / "expected.json").write_text(json.dumps({**header, "datasets": expected}, indent=1, allow_nan=False) + "\n")
    (out / "fixture_manifest.json").write_text(json.dumps({**header, **manifest}, indent=1) + "\n")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"fixtures written to {out} ({total} bytes)", file=sys.stderr)
    if total > 2_000_000:
        raise SystemExit("fixtures exceed 2 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
