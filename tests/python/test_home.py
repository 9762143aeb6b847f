"""The default index and store: one rule, the core's (``atdata::home::default_paths``).

``$ATDATA_HOME/index.db`` and ``$ATDATA_HOME/data``, with ``~/.atdata`` for an unset or empty
``$ATDATA_HOME``; ``get_default_index()`` opens them and ``load_dataset("@local/x")`` with no
index reads that index (read-only, never created).
"""

from __future__ import annotations

from pathlib import Path

import atdata
from atdata import _core

from conftest import text_samples


def test_default_paths_follow_atdata_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ATDATA_HOME", str(tmp_path / "at"))
    index, store = _core.default_paths()
    assert Path(index) == tmp_path / "at" / "index.db"
    assert Path(store) == tmp_path / "at" / "data"


def test_default_paths_without_atdata_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv("ATDATA_HOME")
        else:
            monkeypatch.setenv("ATDATA_HOME", value)
        index, store = _core.default_paths()
        assert Path(index) == tmp_path / ".atdata" / "index.db"
        assert Path(store) == tmp_path / ".atdata" / "data"


def test_get_default_index_is_the_home_index_load_dataset_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("ATDATA_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    atdata.set_default_index(None)
    home = tmp_path / ".atdata"
    ix = atdata.get_default_index()
    ix.write(text_samples(4), name="docs")
    assert (home / "index.db").is_file()
    assert (home / "data" / "docs").is_dir()
    atdata.set_default_index(None)  # load_dataset must find it without a default set
    assert len(list(atdata.load_dataset("@local/docs", split="train"))) == 4
