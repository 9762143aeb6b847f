"""Shared fixtures: sample types, a fresh index per test, the reference atdata 0.7 venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata

REPO = Path(__file__).resolve().parents[2]


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


def text_samples(n: int, start: int = 0) -> list:
    return [
        TextSample(
            text=f"Document number {i} about topic {i % 5}.",
            language="en" if i % 3 != 0 else "es",
            word_count=len(f"Document number {i} about topic {i % 5}.".split()),
        )
        for i in range(start, start + n)
    ]


def embedding_samples(n: int, seed: int = 99) -> list:
    rng = np.random.default_rng(seed)
    return [
        EmbeddingSample(
            vector=rng.standard_normal(128).astype(np.float32),
            label=f"class_{i % 10}",
            source="synthetic",
        )
        for i in range(n)
    ]


@pytest.fixture
def index(tmp_path: Path) -> atdata.Index:
    return atdata.Index(
        path=tmp_path / "index.db", data_store=atdata.LocalDiskStore(root=tmp_path / "data")
    )


@pytest.fixture(autouse=True)
def _no_default_index(tmp_path_factory, monkeypatch):
    # Never touch the user's ~/.atdata from tests.
    monkeypatch.setenv("ATDATA_HOME", str(tmp_path_factory.mktemp("atdata_home")))
    yield
    atdata.set_default_index(None)


def _ref_python() -> Optional[str]:
    candidates = [
        os.environ.get("ATDATA_REF_PYTHON"),
        str(REPO / ".venv-ref" / "bin" / "python"),
    ]
    for c in candidates:
        if c and os.path.exists(c):
            ok = subprocess.run(
                [c, "-c", "import importlib.metadata as m, atdata; assert m.version('atdata').startswith('0.7')"],
                capture_output=True,
            )
            if ok.returncode == 0:
                return c
    return None


@pytest.fixture(scope="session")
def ref_python() -> str:
    py = _ref_python()
    if py is None:
        pytest.skip(
            "no reference venv with Python atdata 0.7 (run scripts/ref-venv.sh or set "
            "ATDATA_REF_PYTHON); interop tests skipped"
        )
    return py


def run_py(code: str, python: str = sys.executable, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(kw.pop("env", {}))
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, **kw)
