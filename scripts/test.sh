#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, integration, doc tests), then the Python package
# built into a fresh venv and its pytest suite. Interop tests against the real Python
# atdata 0.7 need a Python 3.12 venv, which this script creates (scripts/ref-venv.sh); on a
# machine without Python 3.12 those tests say so and skip, except under CI where that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== services the tests talk to (PostgreSQL, Redis)"
scripts/services.sh

echo "== reference venv (Python atdata 0.7) for interop tests"
if ref_python=$(scripts/ref-venv.sh | tail -n 1) && [ -x "$ref_python" ]; then
  export ATDATA_REF_PYTHON="$ref_python"
  echo "using $ATDATA_REF_PYTHON"
else
  if [ -n "${CI:-}" ]; then
    echo "CI: the reference venv is required but could not be created" >&2
    exit 1
  fi
  echo "no Python 3.12: interop tests will skip"
  # The S3 tests still need a real S3 server: moto's, in a venv of the machine's python3.
  moto_venv="$root/.venv-moto"
  if ! "$moto_venv/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
    python3 -m venv --clear "$moto_venv"
    "$moto_venv/bin/python" -m pip install -q "$(grep -E '^moto==' scripts/ref-constraints.txt | sed 's/^moto/moto[server]/')"
  fi
  export ATDATA_S3_SERVER_PYTHON="$moto_venv/bin/python"
fi

echo "== Rust tests"
cargo test --workspace --locked --no-fail-fast

echo "== server backends: PostgreSQL and Redis indexes, the S3 store (servers from scripts/services.sh; S3 is moto's, started by the tests from the reference venv)"
# One feature set for all, so the core is compiled once more, not once per backend.
features=postgres,redis,s3,conformance
cargo test -p atdata --features $features --locked --lib -- index::postgres index::redis store::
cargo test -p atdata --features $features --locked \
  --test index_postgres --test index_redis --test index_faults --test store_s3 --test store_s3_memory \
  --test store_write

echo "== Python package in a fresh venv"
venv="${ATDATA_TEST_VENV:-$root/.venv-test}"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# pandas, pyarrow: Dataset.to_pandas / to_parquet / Arrow export; webdataset: the 0.7-style
# example writes its shards with webdataset's ShardWriter, as 0.7's own examples do.
"$venv/bin/python" -m pip install -q numpy pytest pandas pyarrow webdataset
"$venv/bin/python" -m pip install -q "$root"

echo "== pytest"
cd "$root/tests/python"
"$venv/bin/python" -m pytest -q -p no:cacheprovider
