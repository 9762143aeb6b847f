#!/usr/bin/env python3
"""Soak test: writers, readers and gc on one index and store, with kill -9 at random instants.

After every kill it checks that every dataset the index lists loads whole (as many samples as
the index records, each one decoded) and that `atdata verify` passes for it. Any failure is
data loss or corruption: the run stops and says which dataset and why.

    scripts/soak.py --minutes 30                  # uses .venv (scripts/py-env.sh) and a release CLI
    scripts/soak.py --minutes 2 --writers 3 --readers 2 --dir /tmp/soak

What runs at once (each a process of its own, restarted after it is killed):
- writers: write datasets from a small pool of names; half the writes repeat content written
  before (the dedup path that re-publishes an existing shard file), half are new; small maxcount
  so that most datasets have several shards.
- readers: load a random listed version by CID and read it whole, checking the sample count.
- gc: `atdata gc --grace 0` in a loop, the most aggressive setting, racing every writer.
- the killer (this process): SIGKILL to a random child every 0.2-2 s, then the checks above
  (after each kill the newest version of every name and 20 other versions at random, in
  process; at the end every version, and the newest of each name through `atdata verify`).

Not in CI (it runs for minutes); RELIABILITY.md records the figures of the last long run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMES = [f"soak-{i}" for i in range(6)]


# ---------------------------------------------------------------- the roles (child processes)


def sample_type():
    import atdata
    from numpy.typing import NDArray

    @atdata.packable
    class SoakSample:
        """One soak sample: text, a label and a small array."""

        text: str
        label: int
        vector: NDArray

    return SoakSample


def role_writer(work: Path, seed: int) -> None:
    import numpy as np

    import atdata

    Sample = sample_type()
    index = atdata.Index(
        path=str(work / "index.db"), data_store=atdata.LocalDiskStore(root=str(work / "data"))
    )
    rng = random.Random(seed)
    while True:
        name = rng.choice(NAMES)
        # Half of the writes repeat one of a few contents: the dedup path races gc.
        content = rng.randrange(4) if rng.random() < 0.5 else rng.randrange(1 << 30)
        crng = np.random.default_rng(content)
        n = int(crng.integers(1, 200))
        samples = [
            Sample(
                text=f"{content}-{i}",
                label=int(i),
                vector=crng.standard_normal(8).astype(np.float32),
            )
            for i in range(n)
        ]
        try:
            index.write(samples, name=name, maxcount=int(crng.integers(10, 80)))
            log_event(work, "write", {"name": name, "samples": n})
        except atdata.ConflictError as e:  # retryable by contract
            log_event(work, "write-conflict", {"error": str(e)})


def role_reader(work: Path, seed: int) -> None:
    import atdata

    rng = random.Random(seed)
    index_path = work / "index.db"
    while not index_path.exists():
        time.sleep(0.1)
    index = atdata.Index(
        path=str(index_path), data_store=atdata.LocalDiskStore(root=str(work / "data"))
    )
    while True:
        entries = index.list_datasets()
        if not entries:
            time.sleep(0.1)
            continue
        e = rng.choice(entries)
        got = count_samples(index, f"@local/{e.name}@{e.cid}")
        if got != e.num_samples:
            fail(work, f"reader: {e.name}@{e.version} ({e.cid}) gave {got} samples, index says {e.num_samples}")
        log_event(work, "read", {"name": e.name, "samples": got})


def role_gc(work: Path, atdata_cli: str) -> None:
    index_path = work / "index.db"
    while not index_path.exists():
        time.sleep(0.1)
    while True:
        r = subprocess.run(
            [atdata_cli, "gc", "--grace", "0", "--json", "--index", str(index_path), "--store", str(work / "data")],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            log_event(work, "gc-error", {"stderr": r.stderr.strip()[-500:]})
            time.sleep(0.5)
            continue
        report = json.loads(r.stdout)
        log_event(work, "gc", {"removed": len(report.get("shards", [])) + len(report.get("staging", []))})
        time.sleep(0.05)


def count_samples(index, ref: str) -> int:
    ds = index.load(ref)
    n = 0
    for batch in ds.ordered(batch_size=64):
        n += len(batch)
    return n


# ---------------------------------------------------------------- bookkeeping


def log_event(work: Path, kind: str, data: dict) -> None:
    line = json.dumps({"t": time.time(), "pid": os.getpid(), "kind": kind, **data})
    with open(work / "events.jsonl", "a") as f:
        f.write(line + "\n")


def fail(work: Path, message: str) -> None:
    with open(work / "FAILED", "a") as f:
        f.write(message + "\n")
    print(f"soak: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- the driver


def spawn(role: str, work: Path, arg: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, "--dir", str(work), "--arg", arg],
        stdout=subprocess.DEVNULL,
        stderr=open(work / f"{role}.stderr", "a"),
    )


def check_everything(work: Path, atdata_cli: str, sample: int | None = None) -> int:
    """Listed datasets load whole and verify; returns how many were checked.

    With `sample`, the newest version of every name plus `sample` other versions at random
    (the index grows by thousands of versions in a long run); without, every version, each
    and the newest of each name also through the CLI's `atdata verify`, as a user would check.
    """
    import atdata

    index_path = work / "index.db"
    if not index_path.exists():
        return 0
    index = atdata.Index(path=str(index_path), data_store=atdata.LocalDiskStore(root=str(work / "data")))
    entries = index.list_datasets()
    newest = {e.name: e for e in entries}
    if sample is not None:
        rest = [e for e in entries if newest[e.name] is not e]
        entries = list(newest.values()) + random.sample(rest, min(sample, len(rest)))
    checked = 0
    for e in entries:
        ref = f"@local/{e.name}@{e.cid}"
        got = count_samples(index, ref)
        if got != e.num_samples:
            fail(work, f"check: {e.name}@{e.version} ({e.cid}) loads {got} samples, index says {e.num_samples}")
        report = index.verify(ref)
        if not report:
            fail(work, f"check: verify {e.name}@{e.version} ({e.cid}) failed: {report.problems}")
        if sample is None and newest[e.name] is e:
            r = subprocess.run(
                [atdata_cli, "verify", ref, "--index", str(index_path), "--store", str(work / "data")],
                capture_output=True,
                text=True,
            )
            if r.returncode != 0:
                fail(work, f"check: atdata verify {e.name}@{e.version} ({e.cid}) failed: {r.stdout}{r.stderr}")
        checked += 1
    return checked


def drive(args: argparse.Namespace) -> None:
    work = Path(args.dir).resolve()
    if work.exists() and any(work.iterdir()):
        sys.exit(f"soak: {work} is not empty; give a new --dir")
    work.mkdir(parents=True, exist_ok=True)
    atdata_cli = args.atdata or str(REPO / "target" / "release" / "atdata")
    if not Path(atdata_cli).is_file():
        sys.exit(f"soak: no atdata binary at {atdata_cli}: cargo build --release -p atdata-cli, or pass --atdata")

    rng = random.Random(args.seed)
    children: dict[str, subprocess.Popen] = {}
    plan = [("writer", str(i)) for i in range(args.writers)] + [("reader", str(100 + i)) for i in range(args.readers)]
    plan.append(("gc", atdata_cli))
    for role, arg in plan:
        children[f"{role}-{arg}"] = spawn(role, work, arg)
    stats = {"kills": {}, "checks": 0, "datasets_checked": 0}
    deadline = time.time() + args.minutes * 60
    started = time.time()
    try:
        while time.time() < deadline:
            time.sleep(rng.uniform(0.2, 2.0))
            if (work / "FAILED").exists():
                break
            key = rng.choice(sorted(children))
            proc = children[key]
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                role = key.split("-")[0]
                stats["kills"][role] = stats["kills"].get(role, 0) + 1
            elif proc.returncode not in (0, -signal.SIGKILL):
                # A reader that failed wrote FAILED; anything else is a crash worth stopping for.
                if not (work / "FAILED").exists():
                    fail(work, f"{key} exited with {proc.returncode}; see {work}/{key.split('-')[0]}.stderr")
                break
            role, arg = key.split("-", 1)
            children[key] = spawn(role, work, arg)
            stats["datasets_checked"] += check_everything(work, atdata_cli, sample=20)
            stats["checks"] += 1
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
    # The final state, with nothing running.
    if not (work / "FAILED").exists():
        stats["datasets_checked"] += check_everything(work, atdata_cli)
        stats["checks"] += 1
    events: dict[str, int] = {}
    removed = 0
    samples_written = 0
    if (work / "events.jsonl").exists():
        for line in open(work / "events.jsonl"):
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by kill -9
            events[ev["kind"]] = events.get(ev["kind"], 0) + 1
            removed += ev.get("removed", 0)
            samples_written += ev.get("samples", 0) if ev["kind"] == "write" else 0
    summary = {
        "minutes": round((time.time() - started) / 60, 1),
        "writers": args.writers,
        "readers": args.readers,
        "kills": stats["kills"],
        "checks_after_kills": stats["checks"],
        "datasets_checked": stats["datasets_checked"],
        "events": events,
        "samples_written": samples_written,
        "files_removed_by_gc": removed,
        "failed": (work / "FAILED").read_text() if (work / "FAILED").exists() else None,
    }
    print(json.dumps(summary, indent=2))
    (work / "summary.json").write_text(json.dumps(summary, indent=2))
    sys.exit(1 if summary["failed"] else 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--writers", type=int, default=3)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--dir", default=None, help="a new, empty working folder (default: a temp dir)")
    p.add_argument("--atdata", default=None, help="the atdata CLI binary (default: target/release/atdata)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--role", default=None, help=argparse.SUPPRESS)
    p.add_argument("--arg", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role is None:
        if args.dir is None:
            import tempfile

            args.dir = tempfile.mkdtemp(prefix="atdata-soak-")
        drive(args)
    elif args.role == "writer":
        role_writer(Path(args.dir), int(args.arg))
    elif args.role == "reader":
        role_reader(Path(args.dir), int(args.arg))
    elif args.role == "gc":
        role_gc(Path(args.dir), args.arg)
    else:
        sys.exit(f"unknown role {args.role}")


if __name__ == "__main__":
    main()
