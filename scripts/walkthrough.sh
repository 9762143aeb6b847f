#!/usr/bin/env bash
# Runs the seed's walkthrough (the project's specification, kept as examples/index_workflow.py): first in Rust
# (examples/index_workflow.rs), then the seed's Python code unchanged
# (examples/index_workflow.py) against our Python package, installed into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: cargo run --release --example index_workflow"
cargo run -q --release --locked -p atdata --example index_workflow

echo
echo "== Python: examples/index_workflow.py"
scripts/py-env.sh >&2
"${ATDATA_VENV:-.venv}/bin/python" examples/index_workflow.py
