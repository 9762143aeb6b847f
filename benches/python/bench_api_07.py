"""atdata 0.7's Python API, the same code run on atdata 0.7 and on this package, side by side.

Issue 15 made 0.7's API run unchanged here; this measures what those calls cost on each side.
One worker function, run in two subprocesses (this package with the current interpreter,
atdata 0.7 with the reference venv's), over the walkthrough's embedding type
(``EmbeddingSample``: a 128-d float32 vector, a label, a source) and text type:

- ``packed``: encode every sample (``sample.packed``, what ``as_wds`` carries);
- ``write_samples(samples, path, maxcount=...)``: plain shards, and again with ``manifest=True``;
- ``Dataset[T](url=...)`` then ``to_pandas()``, ``to_parquet(path)`` (1-d arrays, which 0.7
  can export), ``process_shards(fn)``;
- ``ds.as_type(View)`` through an ``@atdata.lens``, read whole;
- ``LocalDiskStore(root).write_shards(ds, prefix=...)``.

Every figure is the best of ``--repeat`` runs for ours and one run for 0.7 (slower by one to
two orders of magnitude, so its run-to-run noise does not change the ratio). The workers check
that both sides read back the same data (a digest of labels and the sum of the vectors).

    python benches/python/bench_api_07.py [--ref-python .venv-ref/bin/python]
                                          [--text N] [--emb N] [--repeat R]
"""

# No `from __future__ import annotations`: atdata 0.7 turns text-annotated NDArray fields into
# bytes, and cannot resolve them for manifests in classes made inside a function.
import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

WORKER = "--worker"


def worker(n_text: int, n_emb: int, repeat: int) -> dict:
    import numpy as np
    from numpy.typing import NDArray

    import atdata

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
    class LabelOnly:
        label: str
        norm: float

    @atdata.lens
    def label_only(s: EmbeddingSample) -> LabelOnly:
        return LabelOnly(label=s.label, norm=float(np.abs(s.vector).sum()))

    rng = np.random.default_rng(5)
    texts = [
        TextSample(text=f"Document number {i} about topic {i % 5}.",
                   language="en" if i % 3 else "es", word_count=6)
        for i in range(n_text)
    ]
    embs = [
        EmbeddingSample(vector=rng.standard_normal(128).astype(np.float32),
                        label=f"class_{i % 10}", source="synthetic")
        for i in range(n_emb)
    ]

    times: dict = {}
    checks: dict = {}

    def timed(name: str, fn):
        best = float("inf")
        out = None
        for _ in range(repeat):
            with contextlib.redirect_stdout(io.StringIO()):  # 0.7 prints per shard
                t0 = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - t0)
        times[name] = best
        return out

    root = tempfile.mkdtemp(prefix="atdata_api_bench_")
    try:
        counter = iter(range(10**6))

        def fresh(stem: str) -> str:
            d = os.path.join(root, f"{stem}-{next(counter)}")
            os.makedirs(d)
            return d

        timed("packed (emb)", lambda: [s.packed for s in embs])
        timed("packed (text)", lambda: [s.packed for s in texts])
        timed("write_samples (text)", lambda: atdata.write_samples(
            texts, os.path.join(fresh("t"), "t.tar"), maxcount=10_000))
        timed("write_samples (emb)", lambda: atdata.write_samples(
            embs, os.path.join(fresh("e"), "e.tar"), maxcount=2_000))
        timed("write_samples manifest=True (emb)", lambda: atdata.write_samples(
            embs, os.path.join(fresh("m"), "m.tar"), maxcount=2_000, manifest=True))

        # One copy of the shards for the reads; 0.7 and ours both name them stem-%06d.tar.
        data = fresh("data")
        atdata.write_samples(embs, os.path.join(data, "e.tar"), maxcount=2_000)
        shards = sorted(f for f in os.listdir(data) if f.endswith(".tar"))
        url = os.path.join(data, "e-{000000..%06d}.tar" % (len(shards) - 1))
        ds = atdata.Dataset[EmbeddingSample](url=url)

        df = timed("to_pandas (emb)", ds.to_pandas)
        checks["labels"] = hashlib.sha256("".join(df["label"]).encode()).hexdigest()[:16]
        checks["vector_sum"] = round(float(np.stack(df["vector"].to_list()).sum()), 2)
        timed("to_parquet (emb)", lambda: ds.to_parquet(os.path.join(fresh("pq"), "e.parquet")))
        per_shard = timed("process_shards (emb)",
                          lambda: ds.process_shards(lambda samples: sum(1 for _ in samples)))
        checks["per_shard"] = sorted(per_shard.values())
        norms = timed("as_type through a lens (emb)",
                      lambda: sum(v.norm for v in ds.as_type(LabelOnly).ordered()))
        checks["lens_norm_sum"] = round(norms, 1)
        timed("LocalDiskStore.write_shards (emb)", lambda: atdata.LocalDiskStore(
            root=fresh("store")).write_shards(ds, prefix="emb", maxcount=2_000))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    try:
        from importlib.metadata import version

        ver = version("atdata")
    except Exception:  # noqa: BLE001 - informational only
        ver = getattr(atdata, "__version__", "?")
    return {"version": ver, "times": times, "checks": checks, "n_text": n_text, "n_emb": n_emb}


def run(python: str, args: argparse.Namespace, repeat: int) -> dict:
    cmd = [python, os.path.abspath(__file__), WORKER, str(args.text), str(args.emb), str(repeat)]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"benchmark worker {python} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == WORKER:
        n_text, n_emb, repeat = map(int, sys.argv[2:5])
        print(json.dumps(worker(n_text, n_emb, repeat)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-python", default=os.environ.get("ATDATA_REF_PYTHON",
                                                           ".venv-ref/bin/python"))
    ap.add_argument("--text", type=int, default=50_000)
    ap.add_argument("--emb", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs (ours)")
    args = ap.parse_args()

    ours = run(sys.executable, args, args.repeat)
    ref = run(args.ref_python, args, 1)
    if ours["checks"] != ref["checks"]:
        raise SystemExit(f"the two packages read different data:\nours {ours['checks']}\n"
                         f"0.7  {ref['checks']}")

    print(f"atdata (Rust core) {ours['version']} vs atdata {ref['version']} (Python); "
          f"{args.text:,} text and {args.emb:,} embedding samples; best of {args.repeat} "
          "for ours, 1 run for 0.7; both read back the same data\n")
    print("| call (0.7's API, same code) | atdata 0.7 | ours | speedup |")
    print("|---|---:|---:|---:|")
    for name, theirs in ref["times"].items():
        mine = ours["times"][name]
        print(f"| `{name}` | {theirs:.3f} s | {mine:.4f} s | {theirs / mine:.1f}x |")


if __name__ == "__main__":
    main()
