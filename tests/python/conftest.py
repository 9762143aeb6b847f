"""Shared fixtures: sample types, a fresh index per test, the reference atdata 0.7 venv, a
PostgreSQL database and a Redis key prefix of each test's own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata

REPO = Path(__file__).resolve().parents[2]
# The test servers (see CONTRIBUTING.md): PostgreSQL user postgres by trust, Redis db 0.
PG = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"


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


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def pg_dsn():
    """The DSN of a PostgreSQL database made for this test, dropped after it."""
    name = f"atdata_py_test_{uuid.uuid4().hex[:16]}"
    _psql(f"CREATE DATABASE {name}")
    try:
        yield f"{PG}/{name}"
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_provider():
    """A Redis provider under a key prefix of this test's own, whose keys are deleted after."""
    p = atdata.RedisProvider(REDIS, prefix=f"atdata-py-test-{uuid.uuid4().hex}:")
    try:
        yield p
    finally:
        p.delete_all_keys()
