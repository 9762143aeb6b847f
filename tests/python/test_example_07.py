"""examples/atdata07_program.py, a pipeline written for atdata 0.7, runs unchanged on this package
and prints what it prints under the real 0.7."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

PROGRAM = REPO / "examples" / "atdata07_program.py"


def run_program(python: str, out_dir, keep_pythonpath: bool) -> dict:
    env = dict(os.environ)
    if not keep_pythonpath:
        env.pop("PYTHONPATH", None)
    p = subprocess.run(
        [python, str(PROGRAM), str(out_dir)], capture_output=True, text=True, env=env, timeout=300
    )
    assert p.returncode == 0, f"{python} {PROGRAM.name} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_program_runs_on_ours(tmp_path):
    ours = run_program(sys.executable, tmp_path / "ours", keep_pythonpath=True)
    assert ours["samples"] == 100 and ours["parquet_rows"] == 100
    assert ours["labels"] == {"topic-0": 34, "topic-1": 33, "topic-2": 33}
    assert ours["lens_type"] == "Labelled" and ours["lens_percent_sum"] == sum(range(100))
    assert ours["pandas_columns"] == ["embedding", "label", "score"]


def test_program_prints_the_same_under_07(tmp_path, ref_python):
    ours = run_program(sys.executable, tmp_path / "ours", keep_pythonpath=True)
    theirs = run_program(ref_python, tmp_path / "theirs", keep_pythonpath=False)
    assert ours == theirs
