"""atdata against its peers: Hugging Face datasets, webdataset, Lance and Arrow IPC, side by side.

One invocation, one interpreter, the same generated data for every library (issue 13, item 7):

- text: 50,000 samples (text, language, word_count), as the walkthrough's ``TextSample``
- embeddings: 10,000 samples (vector: 128-d float32, label, source)
- images: 2,000 samples (image: 256x256 float32, label: int)

For each library and workload it measures, in samples/s (best of ``--repeat``):

- write: ours and webdataset from Python objects (one per sample); HF datasets, Lance and Arrow
  IPC from columns (Python lists + numpy arrays -> an Arrow table -> files). Building the
  objects or columns is not timed.
- ordered read: every batch of 256 in storage order, every field turned into Python-usable
  values (numpy arrays, lists of str) inside the timed loop.
- shuffled read: batches of 256 in random order. Ours and webdataset permute the shards, then
  mix samples through a buffer of 10,000; HF datasets, Lance and Arrow IPC take an exact
  permutation of all rows (``Dataset.shuffle``, ``take`` per batch).
- random access: single samples by position, and batches of 256 sorted positions; n/a where a
  library has no random access (ours: issue 13, item 1; webdataset: a streaming format).
- size on disk: the bytes of the files written.

The files were just written, so reads come from the page cache. Before the timed passes, one
untimed pass of each kind (also the warm-up) keeps every batch and the script checks them
against the generated data, row by row (a hash of every field of every row; order-independent
for shuffled reads, which must not come back in order), and fails loudly if any library returned
different data; random-access results are checked the same way. The timed passes drop each batch
after counting its rows, as a training loop would. Prints one markdown table per workload with
ratios ours/peer.

    python benches/python/bench_peers.py [--quick] [--text N] [--emb N] [--img N]
                                         [--repeat R] [--workdir DIR]

The peers are not dependencies of atdata: scripts/bench-peers.sh makes a venv with them pinned.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Iterable, Iterator, Optional

# Hugging Face datasets must not try the network, nor write into ~/.cache.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np

BATCH = 256
BUFFER = 10_000  # shuffle buffer of the streaming libraries (ours' default)
SEED = 1234


class BenchError(SystemExit):
    """A library returned other data than was written: the figures would mean nothing."""


# -- workloads ----------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # "str", "int" or "array"
    shape: tuple = ()


@dataclass
class Workload:
    """One kind of data, in each form the libraries are written from, plus per-row hashes."""

    name: str
    fields: list
    sample_type: Any
    samples: list  # our packable objects
    columns: dict  # field -> list[str] | list[int] | np.ndarray (n, *shape)
    shard_rows: int  # rows per shard for the sharded formats (ours, webdataset)
    row_hashes: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.samples)


def make_workloads(n_text: int, n_emb: int, n_img: int, only: set) -> list:
    from numpy.typing import NDArray

    import atdata

    @atdata.packable
    class TextSample:
        """Short text document (the walkthrough's type)."""

        text: str
        language: str
        word_count: int

    @atdata.packable
    class EmbeddingSample:
        """Dense embedding with its label."""

        vector: NDArray
        label: str
        source: str

    @atdata.packable
    class ImageSample:
        """A single-channel float image with a class."""

        image: NDArray
        label: int

    rng = np.random.default_rng(99)
    out = []
    if "text" in only:
        words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        texts = []
        for i in range(n_text):
            k = 4 + i % 9
            texts.append(f"Document {i}: " + " ".join(words[(i + j) % 8] for j in range(k)))
        langs = ["es" if i % 3 == 0 else "en" for i in range(n_text)]
        counts = [len(t.split()) for t in texts]
        cols = {"text": texts, "language": langs, "word_count": counts}
        samples = [TextSample(text=t, language=la, word_count=c)
                   for t, la, c in zip(texts, langs, counts)]
        out.append(Workload("text", [Field("text", "str"), Field("language", "str"),
                                     Field("word_count", "int")],
                            TextSample, samples, cols, shard_rows=10_000))
    if "embeddings" in only:
        vec = rng.standard_normal((n_emb, 128), dtype=np.float32)
        labels = [f"class_{i % 10}" for i in range(n_emb)]
        sources = ["synthetic" if i % 4 else "crawl" for i in range(n_emb)]
        cols = {"vector": vec, "label": labels, "source": sources}
        samples = [EmbeddingSample(vector=vec[i], label=labels[i], source=sources[i])
                   for i in range(n_emb)]
        out.append(Workload("embeddings", [Field("vector", "array", (128,)),
                                           Field("label", "str"), Field("source", "str")],
                            EmbeddingSample, samples, cols, shard_rows=2_000))
    if "images" in only:
        img = rng.standard_normal((n_img, 256, 256), dtype=np.float32)
        labels = [i % 10 for i in range(n_img)]
        cols = {"image": img, "label": labels}
        samples = [ImageSample(image=img[i], label=labels[i]) for i in range(n_img)]
        out.append(Workload("images", [Field("image", "array", (256, 256)),
                                       Field("label", "int")],
                            ImageSample, samples, cols, shard_rows=500))
    for wl in out:
        wl.row_hashes = row_hashes(wl, wl.columns)
    return out


def row_hashes(wl: Workload, cols: dict) -> list:
    """A hash of every field of every row, whatever container a library returned them in."""
    n = len(cols[wl.fields[0].name])
    per_field = []
    for f in wl.fields:
        c = cols[f.name]
        if len(c) != n:
            raise BenchError(f"{wl.name}: field {f.name} has {len(c)} rows, "
                             f"{wl.fields[0].name} {n}")
        if f.kind == "str":
            per_field.append([str(v).encode() + b"\0" for v in c])
        elif f.kind == "int":
            per_field.append([int(v).to_bytes(8, "little", signed=True) for v in c])
        else:
            a = np.asarray(c)
            if a.dtype != np.float32 or a.shape != (n, *f.shape):
                raise BenchError(f"{wl.name}: field {f.name} came back as {a.dtype} {a.shape}, "
                                 f"expected float32 {(n, *f.shape)}")
            a = np.ascontiguousarray(a).reshape(n, -1)
            per_field.append([a[i].tobytes() for i in range(n)])
    return [hashlib.blake2b(b"".join(parts), digest_size=16).digest()
            for parts in zip(*per_field)]


def concat(wl: Workload, batches: list) -> dict:
    """The batches of one pass joined into one column dict (for the check, not timed)."""
    if not batches:
        return {f.name: [] for f in wl.fields}
    out = {}
    for f in wl.fields:
        parts = [b[f.name] for b in batches]
        if f.kind == "array":
            out[f.name] = np.concatenate([np.asarray(p) for p in parts])
        else:
            out[f.name] = [v for p in parts for v in p]
    return out


def check_batches(wl: Workload, lib: str, what: str, batches: list, expect: list,
                  ordered: bool) -> None:
    sizes = [len(b[wl.fields[0].name]) for b in batches]
    if any(s > BATCH for s in sizes) or any(s != BATCH for s in sizes[:-1]):
        raise BenchError(f"{wl.name}/{lib}/{what}: batch sizes {sorted(set(sizes))}, "
                         f"expected {BATCH} (the last may be smaller)")
    got = row_hashes(wl, concat(wl, batches))
    if len(got) != len(expect):
        raise BenchError(f"{wl.name}/{lib}/{what}: {len(got)} rows, expected {len(expect)}")
    if ordered:
        if got != expect:
            first = next(i for i, (a, b) in enumerate(zip(got, expect)) if a != b)
            raise BenchError(f"{wl.name}/{lib}/{what}: row {first} differs from what was written")
    else:
        if sorted(got) != sorted(expect):
            raise BenchError(f"{wl.name}/{lib}/{what}: not the rows that were written")
        if len(got) > 2 * BATCH and got == expect:
            raise BenchError(f"{wl.name}/{lib}/{what}: the shuffled read came back in order")


def digest(wl: Workload) -> str:
    h = hashlib.sha256()
    for r in wl.row_hashes:
        h.update(r)
    return h.hexdigest()[:16]


def array_sum(wl: Workload) -> Optional[float]:
    arrays = [f for f in wl.fields if f.kind == "array"]
    if not arrays:
        return None
    return float(sum(np.asarray(wl.columns[f.name], dtype=np.float64).sum() for f in arrays))


# -- the libraries ------------------------------------------------------------------------


def dir_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def arrow_columns(wl: Workload, table: Any) -> dict:
    """Columns of an Arrow table/record batch as numpy arrays and lists of str."""
    import pyarrow as pa

    out = {}
    for f in wl.fields:
        col = table.column(f.name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if f.kind == "str":
            out[f.name] = col.to_pylist()
        elif f.kind == "int":
            out[f.name] = col.to_numpy()
        else:
            out[f.name] = col.flatten().to_numpy().reshape(len(col), *f.shape)
    return out


def arrow_table(wl: Workload) -> Any:
    """The workload's columns as an Arrow table (fixed-size lists for arrays)."""
    import pyarrow as pa

    arrays = {}
    for f in wl.fields:
        c = wl.columns[f.name]
        if f.kind == "str":
            arrays[f.name] = pa.array(c, type=pa.string())
        elif f.kind == "int":
            arrays[f.name] = pa.array(c, type=pa.int64())
        else:
            width = int(np.prod(f.shape))
            flat = pa.array(np.ascontiguousarray(c).reshape(-1))
            arrays[f.name] = pa.FixedSizeListArray.from_arrays(flat, width)
    return pa.table(arrays)


def permutation_batches(n: int, seed: int) -> Iterator[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    for off in range(0, n, BATCH):
        yield perm[off:off + BATCH]


class Library:
    """One library's way to write, read, shuffle and take the same data."""

    name = ""
    dist = ""  # the distribution whose version is reported
    written_from = ""
    shuffle_kind = ""
    random_access = True

    def write(self, wl: Workload, path: str) -> None:
        raise NotImplementedError

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        raise NotImplementedError

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        raise NotImplementedError

    def open(self, wl: Workload, path: str) -> Any:
        """A handle for random access (opening is not part of the timed takes)."""
        raise NotImplementedError

    def take(self, wl: Workload, handle: Any, indices: list) -> dict:
        raise NotImplementedError


class Ours(Library):
    name = "atdata (ours)"
    dist = "atdata"
    written_from = "Python objects (@packable samples)"
    shuffle_kind = f"shards permuted, then a buffer of {BUFFER:,} samples"
    random_access = False

    def write(self, wl: Workload, path: str) -> None:
        import atdata

        atdata.write_samples(wl.samples, os.path.join(path, "shard-%06d.tar"),
                             maxcount=wl.shard_rows, progress=False)

    def _dataset(self, wl: Workload, path: str) -> Any:
        import atdata

        return atdata.Dataset[wl.sample_type](path)

    def _rows(self, wl: Workload, batches: Iterable[Any]) -> Iterator[dict]:
        names = [f.name for f in wl.fields]
        for b in batches:
            yield {n: getattr(b, n) for n in names}

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        ds = self._dataset(wl, path)
        return self._rows(wl, ds.ordered(batch_size=BATCH, progress=False))

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        ds = self._dataset(wl, path)
        return self._rows(wl, ds.shuffled(buffer_samples=BUFFER, batch_size=BATCH, seed=seed,
                                          progress=False))


class WebDatasetLib(Library):
    name = "webdataset"
    dist = "webdataset"
    written_from = "Python objects (a dict per sample)"
    shuffle_kind = f"shards permuted, then a buffer of {BUFFER:,} samples (.shuffle)"
    random_access = False
    EXT = {"str": "txt", "int": "cls", "array": "npy"}

    def _keys(self, wl: Workload) -> list:
        return [f"{f.name}.{self.EXT[f.kind]}" for f in wl.fields]

    def write(self, wl: Workload, path: str) -> None:
        import webdataset as wds

        keys = self._keys(wl)
        names = [f.name for f in wl.fields]
        with wds.ShardWriter(os.path.join(path, "shard-%06d.tar"), maxcount=wl.shard_rows,
                             verbose=0) as sink:
            for i, s in enumerate(wl.samples):
                d = {"__key__": f"{i:09d}"}
                for k, n in zip(keys, names):
                    d[k] = getattr(s, n)
                sink.write(d)

    def _urls(self, path: str) -> list:
        return sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".tar"))

    def _rows(self, wl: Workload, pipeline: Any) -> Iterator[dict]:
        names = [f.name for f in wl.fields]
        for batch in pipeline.to_tuple(*self._keys(wl)).batched(BATCH, partial=True):
            yield dict(zip(names, batch))

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        import webdataset as wds

        return self._rows(wl, wds.WebDataset(self._urls(path), shardshuffle=False).decode())

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        import webdataset as wds

        urls = self._urls(path)
        ds = wds.WebDataset(urls, shardshuffle=len(urls), seed=seed).shuffle(BUFFER, seed=seed)
        return self._rows(wl, ds.decode())


class HFDatasets(Library):
    name = "HF datasets"
    dist = "datasets"
    written_from = "columns (Dataset.from_dict + save_to_disk)"
    shuffle_kind = "exact permutation (Dataset.shuffle: an indices mapping)"

    def _features(self, wl: Workload) -> Any:
        import datasets as hf

        spec = {}
        for f in wl.fields:
            if f.kind == "str":
                spec[f.name] = hf.Value("string")
            elif f.kind == "int":
                spec[f.name] = hf.Value("int64")
            elif len(f.shape) == 1:
                spec[f.name] = hf.List(hf.Value("float32"), length=f.shape[0])
            else:
                spec[f.name] = hf.Array2D(shape=f.shape, dtype="float32")
        return hf.Features(spec)

    def write(self, wl: Workload, path: str) -> None:
        import datasets as hf

        ds = hf.Dataset.from_dict(dict(wl.columns), features=self._features(wl))
        ds.save_to_disk(path)

    def _load(self, path: str) -> Any:
        import datasets as hf

        return hf.load_from_disk(path).with_format("numpy")

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        return self._load(path).iter(batch_size=BATCH)

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        return self._load(path).shuffle(seed=seed).iter(batch_size=BATCH)

    def open(self, wl: Workload, path: str) -> Any:
        return self._load(path)

    def take(self, wl: Workload, handle: Any, indices: list) -> dict:
        if len(indices) == 1:
            row = handle[indices[0]]
            return {f.name: np.asarray(row[f.name])[None] if f.kind == "array"
                    else [row[f.name]] for f in wl.fields}
        return handle[indices]


class Lance(Library):
    name = "Lance"
    dist = "pylance"
    written_from = "columns (Arrow table -> lance.write_dataset)"
    shuffle_kind = "exact permutation (take per batch)"

    def write(self, wl: Workload, path: str) -> None:
        import lance

        lance.write_dataset(arrow_table(wl), os.path.join(path, "data.lance"))

    def open(self, wl: Workload, path: str) -> Any:
        import lance

        return lance.dataset(os.path.join(path, "data.lance"))

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        ds = self.open(wl, path)
        for rb in ds.to_batches(batch_size=BATCH, scan_in_order=True):
            yield arrow_columns(wl, rb)

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        ds = self.open(wl, path)
        for idx in permutation_batches(wl.n, seed):
            yield arrow_columns(wl, ds.take(idx.tolist()))

    def take(self, wl: Workload, handle: Any, indices: list) -> dict:
        return arrow_columns(wl, handle.take(indices))


class ArrowIPC(Library):
    name = "Arrow IPC"
    dist = "pyarrow"
    written_from = "columns (Arrow table -> IPC file)"
    shuffle_kind = "exact permutation (Table.take per batch)"

    def write(self, wl: Workload, path: str) -> None:
        import pyarrow as pa

        table = arrow_table(wl)
        with pa.OSFile(os.path.join(path, "data.arrow"), "wb") as sink:
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)

    def open(self, wl: Workload, path: str) -> Any:
        import pyarrow as pa

        # Memory-mapped: the table's buffers are the page cache's pages, no read() copy.
        return pa.ipc.open_file(pa.memory_map(os.path.join(path, "data.arrow"))).read_all()

    def ordered(self, wl: Workload, path: str) -> Iterator[dict]:
        table = self.open(wl, path)
        for off in range(0, table.num_rows, BATCH):
            yield arrow_columns(wl, table.slice(off, BATCH))

    def shuffled(self, wl: Workload, path: str, seed: int) -> Iterator[dict]:
        table = self.open(wl, path)
        for idx in permutation_batches(wl.n, seed):
            yield arrow_columns(wl, table.take(idx))

    def take(self, wl: Workload, handle: Any, indices: list) -> dict:
        if len(indices) == 1:
            return arrow_columns(wl, handle.slice(indices[0], 1))
        return arrow_columns(wl, handle.take(indices))


LIBRARIES: list = [Ours(), HFDatasets(), WebDatasetLib(), Lance(), ArrowIPC()]


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    write: float = float("nan")  # samples/s
    ordered: float = float("nan")
    shuffled: float = float("nan")
    single: Optional[float] = None  # None: no random access
    takes: Optional[float] = None
    size: int = 0


def timed(fn: Callable[[], Any]) -> tuple:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(lib: Library, wl: Workload, root: str, args: argparse.Namespace) -> Result:
    res = Result()
    path = ""
    best = float("inf")
    for r in range(args.repeat):
        if path:
            shutil.rmtree(path)
        path = os.path.join(root, f"{wl.name}-{lib.dist}-{r}")
        os.makedirs(path)
        best = min(best, timed(lambda: lib.write(wl, path))[0])
    res.write = wl.n / best
    res.size = dir_size(path)

    for what in ("ordered", "shuffled"):
        def passes(seed: int) -> Iterator[dict]:
            return lib.ordered(wl, path) if what == "ordered" else lib.shuffled(wl, path, seed)

        # The check's pass keeps every batch; the timed ones drop each batch as a training
        # loop does (keeping them would time fresh memory's page faults too).
        check_batches(wl, lib.name, what, list(passes(SEED)), wl.row_hashes,
                      ordered=what == "ordered")
        best = float("inf")
        first = wl.fields[0].name
        for r in range(args.repeat):
            secs, rows = timed(lambda: sum(len(b[first]) for b in passes(SEED + r)))
            if rows != wl.n:
                raise BenchError(f"{wl.name}/{lib.name}/{what}: {rows} rows, wrote {wl.n}")
            best = min(best, secs)
        setattr(res, what, wl.n / best)

    if lib.random_access:
        handle = lib.open(wl, path)
        rng = np.random.default_rng(SEED)
        single = rng.integers(0, wl.n, size=min(args.single, wl.n)).tolist()
        takes = [sorted(rng.choice(wl.n, size=min(BATCH, wl.n), replace=False).tolist())
                 for _ in range(args.takes)]
        best_s = best_t = float("inf")
        for _ in range(args.repeat):
            secs, got = timed(lambda: [lib.take(wl, handle, [i]) for i in single])
            want = [wl.row_hashes[i] for i in single]
            if [row_hashes(wl, g)[0] for g in got] != want:
                raise BenchError(f"{wl.name}/{lib.name}: a single take returned another row")
            best_s = min(best_s, secs)
            secs, got = timed(lambda: [lib.take(wl, handle, idx) for idx in takes])
            for idx, g in zip(takes, got):
                if row_hashes(wl, g) != [wl.row_hashes[i] for i in idx]:
                    raise BenchError(f"{wl.name}/{lib.name}: a sorted take returned other rows")
            best_t = min(best_t, secs)
        res.single = len(single) / best_s
        res.takes = len(takes) * len(takes[0]) / best_t
    shutil.rmtree(path)
    return res


# -- printing -----------------------------------------------------------------------------


def rate(x: Optional[float]) -> str:
    if x is None:
        return "n/a"
    return f"{x / 1e6:,.2f} M/s" if x >= 1e6 else f"{x:,.0f}/s"


def size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.0f} KiB"


def ratio(ours: Optional[float], peer: Optional[float]) -> str:
    if ours is None or peer is None or peer == 0:
        return ""
    return f" ({ours / peer:.2f}x)"


def report(wl: Workload, results: dict) -> None:
    ours = results[LIBRARIES[0].name]
    extra = f", sum of arrays {array_sum(wl):.6g}" if array_sum(wl) is not None else ""
    print(f"\n### {wl.name}: {wl.n:,} samples, batches of {BATCH} "
          f"(data digest {digest(wl)}{extra}; every library returned exactly these rows)\n")
    print("| library | write | ordered read | shuffled read | random single | "
          "sorted takes of 256 | size on disk |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lib in LIBRARIES:
        r = results.get(lib.name)
        if r is None:
            continue
        single = rate(r.single) if lib.random_access else (
            "n/a (issue 13 item 1)" if lib is LIBRARIES[0] else "n/a (no random access)")
        takes = rate(r.takes) if lib.random_access else "n/a"
        if lib is LIBRARIES[0]:
            print(f"| **{lib.name}** | {rate(r.write)} | {rate(r.ordered)} | "
                  f"{rate(r.shuffled)} | {single} | {takes} | {size(r.size)} |")
        else:
            print(f"| {lib.name} | {rate(r.write)}{ratio(ours.write, r.write)} | "
                  f"{rate(r.ordered)}{ratio(ours.ordered, r.ordered)} | "
                  f"{rate(r.shuffled)}{ratio(ours.shuffled, r.shuffled)} | {single} | {takes} | "
                  f"{size(r.size)} ({ours.size / r.size:.2f}x) |")


def versions() -> str:
    out = []
    for lib in LIBRARIES:
        try:
            out.append(f"{lib.dist} {version(lib.dist)}")
        except PackageNotFoundError:
            out.append(f"{lib.dist} (not installed)")
    out.append(f"numpy {np.__version__}")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="5k text, 2k embeddings, 200 images, 1 repeat: a smoke check")
    ap.add_argument("--text", type=int, default=50_000)
    ap.add_argument("--emb", type=int, default=10_000)
    ap.add_argument("--img", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs of each measurement")
    ap.add_argument("--single", type=int, default=1_000, help="single-row takes per run")
    ap.add_argument("--takes", type=int, default=20, help="sorted takes of 256 rows per run")
    ap.add_argument("--only", default="text,embeddings,images",
                    help="comma-separated workloads to run")
    ap.add_argument("--workdir", default=None, help="where the files go (default: a temp dir)")
    args = ap.parse_args()
    if args.quick:
        args.text, args.emb, args.img, args.repeat = 5_000, 2_000, 200, 1
        args.single, args.takes = 200, 5
    only = set(args.only.split(","))
    unknown = only - {"text", "embeddings", "images"}
    if unknown:
        ap.error(f"--only: unknown workload(s) {sorted(unknown)}")

    missing = []
    for lib in LIBRARIES:
        try:
            version(lib.dist)
        except PackageNotFoundError:
            missing.append(lib.dist)
    if missing:
        raise SystemExit(f"not installed: {', '.join(missing)}; run scripts/bench-peers.sh, "
                         "which makes a venv with the pinned peers")

    import datasets as hf

    hf.disable_progress_bars()
    hf.logging.set_verbosity_error()

    root = tempfile.mkdtemp(prefix="atdata_peers_", dir=args.workdir)
    os.environ["HF_DATASETS_CACHE"] = os.path.join(root, "hf-cache")
    load0 = os.getloadavg()
    t_start = time.time()
    print(f"# atdata against its peers ({'quick' if args.quick else 'full'} run)\n")
    print(f"- {versions()}")
    print(f"- Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; load average at start {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}")
    print(f"- best of {args.repeat}; reads from the page cache; samples/s; (Nx) = ours / peer "
          f"(for size: ours / peer, below 1 = ours smaller)")
    for lib in LIBRARIES:
        print(f"- {lib.name}: written from {lib.written_from}; shuffled = {lib.shuffle_kind}")
    sys.stdout.flush()
    try:
        for wl in make_workloads(args.text, args.emb, args.img, only):
            results = {}
            for lib in LIBRARIES:
                results[lib.name] = measure(lib, wl, root, args)
                print(f"  ({wl.name}: {lib.name} done)", file=sys.stderr, flush=True)
            report(wl, results)
            sys.stdout.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"\n- load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"{time.time() - t_start:.0f} s in all")


if __name__ == "__main__":
    main()
