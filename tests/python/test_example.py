"""The seed walkthrough (examples/index_workflow.py) prints the seed's lines, nothing else."""

from __future__ import annotations

import re
import sys

from conftest import REPO, run_py

EXPECTED = [
    r"Index DB   : /\S+/atdata_index_\w+/index\.db",
    r"Data root  : /\S+/atdata_index_\w+/data",
    r"Text dataset CID  : bafyrei[a-z2-7]{9}\.\.\.",
    r"Text dataset shards: 2",
    r"Embedding CID     : bafyrei[a-z2-7]{9}\.\.\.",
    r"Embedding shards  : 2",
    r"Datasets in index:",
    r"  docs-v1               shards=2  cid=bafyrei[a-z2-7]{5}\.\.\.",
    r"  embeddings-v1         shards=2  cid=bafyrei[a-z2-7]{5}\.\.\.",
    re.escape(
        "Texts     : ['Document number 0 about topic 0.', 'Document number 1 about topic 1.']..."
    ),
    re.escape("Languages : ['es', 'en', 'en', 'es', 'en']..."),
    re.escape("Counts    : [6, 6, 6, 6, 6]..."),
    re.escape("Vector shape : (8, 128)"),
    re.escape(
        "Labels       : ['class_0', 'class_1', 'class_2', 'class_3', 'class_4', 'class_5', "
        "'class_6', 'class_7']"
    ),
    re.escape("  TextSample            fields=['text', 'language', 'word_count']"),
    re.escape("  EmbeddingSample       fields=['vector', 'label', 'source']"),
    re.escape("  local       provider=SqliteProvider  data_store=yes"),
]


def test_seed_walkthrough_output():
    p = run_py(
        f"import runpy; runpy.run_path({str(REPO / 'examples' / 'index_workflow.py')!r})",
        python=sys.executable,
        env={"PYTHONWARNINGS": "error"},
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == len(EXPECTED), p.stdout
    for got, want in zip(lines, EXPECTED):
        assert re.fullmatch(want, got), (got, want)
    # No warnings; no progress bars either (stderr is not a terminal here).
    assert p.stderr == ""
