"""Write and read throughput of this atdata against Python atdata 0.7, side by side.

Runs the same workload in two subprocesses: one with this package (the current interpreter),
one with atdata 0.7 (the reference venv's interpreter), on the walkthrough's two sample types:

- text: 50,000 ``TextSample`` (text, language, word_count)
- embeddings: 10,000 ``EmbeddingSample`` with a 128-d float32 vector

Each is written through ``Index.write_samples`` into a fresh index + LocalDiskStore, then read
back whole with ``load_dataset(...).ordered(batch_size=256)``, touching every field of every
batch. Prints a markdown table.

    python benches/python/bench_vs_07.py [--ref-python .venv-ref/bin/python]
                                         [--text N] [--emb N] [--repeat R]
"""


import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time

WORKER = "--worker"


def worker(n_text: int, n_emb: int, batch: int, repeat: int) -> dict:
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

    rng = np.random.default_rng(99)
    texts = [
        TextSample(
            text=f"Document number {i} about topic {i % 5}.",
            language="en" if i % 3 != 0 else "es",
            word_count=len(f"Document number {i} about topic {i % 5}.".split()),
        )
        for i in range(n_text)
    ]
    embs = [
        EmbeddingSample(
            vector=rng.standard_normal(128).astype(np.float32),
            label=f"class_{i % 10}",
            source="synthetic",
        )
        for i in range(n_emb)
    ]

    try:
        from importlib.metadata import version

        ver = version("atdata")
    except Exception:  # noqa: BLE001 - informational only
        ver = getattr(atdata, "__version__", "?")
    results: dict = {"version": ver}
    sink = io.StringIO()
    for case, samples, fields in (
        ("text", texts, ("text", "language", "word_count")),
        ("embeddings", embs, ("vector", "label", "source")),
    ):
        best_w = best_r = float("inf")
        count = 0
        for r in range(repeat):
            tmp = tempfile.mkdtemp(prefix="atdata_bench_")
            index = atdata.Index(
                path=os.path.join(tmp, "index.db"),
                data_store=atdata.LocalDiskStore(root=os.path.join(tmp, "data")),
            )
            name = f"{case}-{r}"
            # atdata 0.7 prints a line per shard on stdout; keep the JSON result clean.
            with contextlib.redirect_stdout(sink):
                t0 = time.perf_counter()
                index.write_samples(samples, name=name, maxcount=10_000)
                t1 = time.perf_counter()
                atdata.set_default_index(index)
                ds = atdata.load_dataset(f"@local/{name}", split="train")
                count = 0
                t2 = time.perf_counter()
                for b in ds.ordered(batch_size=batch):
                    cols = [getattr(b, f) for f in fields]
                    count += len(cols[1])
                t3 = time.perf_counter()
                atdata.set_default_index(None)
            best_w = min(best_w, t1 - t0)
            best_r = min(best_r, t3 - t2)
        if count != len(samples):
            raise SystemExit(f"{case}: read {count} samples, wrote {len(samples)}")
        results[case] = {"n": len(samples), "write_s": best_w, "read_s": best_r}
    return results


def run(python: str, args: argparse.Namespace) -> dict:
    cmd = [python, os.path.abspath(__file__), WORKER, str(args.text), str(args.emb),
           str(args.batch), str(args.repeat)]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"benchmark worker {python} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == WORKER:
        n_text, n_emb, batch, repeat = map(int, sys.argv[2:6])
        print(json.dumps(worker(n_text, n_emb, batch, repeat)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-python", default=os.environ.get("ATDATA_REF_PYTHON",
                                                           ".venv-ref/bin/python"))
    ap.add_argument("--text", type=int, default=50_000)
    ap.add_argument("--emb", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs (ours)")
    args = ap.parse_args()

    ours = run(sys.executable, args)
    ref_args = argparse.Namespace(**{**vars(args), "repeat": 1})
    ref = run(args.ref_python, ref_args)

    print(f"atdata (Rust core) {ours['version']} vs atdata {ref['version']} (Python), "
          f"batch size {args.batch}; best of {args.repeat} for ours, 1 run for 0.7\n")
    print("| workload | samples | op | atdata 0.7 | ours | speedup |")
    print("|---|---:|---|---:|---:|---:|")
    for case in ("text", "embeddings"):
        for op in ("write", "read"):
            a = ref[case][f"{op}_s"]
            b = ours[case][f"{op}_s"]
            n = ours[case]["n"]
            print(f"| {case} | {n:,} | {op} | {a:.3f} s ({n / a:,.0f}/s) | "
                  f"{b:.4f} s ({n / b:,.0f}/s) | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
