"""Crash safety and many writers: SIGKILLed writers never leave a listed dataset that fails to
load whole; several processes writing into one index at once lose nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import atdata

WRITER = r"""
import sys
import numpy as np
import atdata
from numpy.typing import NDArray

@atdata.packable
class Row:
    '''A row.'''
    i: int
    text: str
    v: NDArray

root, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
index = atdata.Index(path=root + "/index.db", data_store=atdata.LocalDiskStore(root + "/data"))
for k in range(count):
    rows = [Row(i=j, text=f"{tag}-{k}-{j}", v=np.full(64, j, np.float32)) for j in range(300)]
    index.write(rows, name=f"{tag}-{k % 3}", maxcount=100)
print("done", flush=True)
"""


def _spawn(root, tag, count):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _check_all_load(root):
    index = atdata.Index(path=root / "index.db", data_store=atdata.LocalDiskStore(root / "data"))
    entries = index.list_datasets()
    for e in entries:
        ds = index.load(f"@local/{e.name}@{e.version}")
        n = sum(len(b) for b in ds.ordered(batch_size=128))
        assert n == 300 == len(e), (e, n)
        assert index.verify(f"{e.name}@{e.version}").ok
    return entries


def test_sigkill_never_leaves_a_broken_listed_dataset(tmp_path):
    rng = random.Random(1234)
    for round_ in range(8):
        p = _spawn(tmp_path, f"k{round_}", 1000)
        time.sleep(rng.uniform(0.3, 1.2))
        p.send_signal(signal.SIGKILL)
        p.wait()
    entries = _check_all_load(tmp_path)
    assert entries, "no write finished before the kills; lengthen the sleeps"


def test_concurrent_writers_lose_nothing(tmp_path):
    procs = [_spawn(tmp_path, f"w{n}", 6) for n in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    entries = _check_all_load(tmp_path)
    # 4 writers x 6 writes, each different content: 24 versions over 12 names.
    assert len(entries) == 24
    by_name: dict = {}
    for e in entries:
        by_name.setdefault(e.name, []).append(e.version)
    assert len(by_name) == 12
    assert all(sorted(v) == ["1", "2"] for v in by_name.values())
