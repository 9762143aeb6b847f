#!/usr/bin/env bash
# S3 batch-read throughput against the local store, on every loopback server this machine can
# run (BENCHMARKS.md, "S3 store against local disk"). Installs the servers when missing:
# s3s-fs from crates.io, s3rver from npm, into $ATDATA_TOOLS (default ~/.cache/atdata-tools);
# moto comes from the reference venv ($ATDATA_REF_PYTHON, scripts/ref-venv.sh).
#   scripts/bench-s3.sh [SAMPLES [SERVER...]]      SERVER: moto s3s-fs s3rver (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${ATDATA_TOOLS:-$HOME/.cache/atdata-tools}"
mkdir -p "$tools"
if [ -z "${ATDATA_S3S_FS:-}" ]; then
    if [ ! -x "$tools/bin/s3s-fs" ]; then
        # 0.14 is the last s3s-fs that builds on rustc 1.95 (0.15 wants 1.96).
        cargo install --locked s3s-fs@0.14.0 --features binary --root "$tools"
    fi
    export ATDATA_S3S_FS="$tools/bin/s3s-fs"
fi
if [ -z "${ATDATA_S3RVER:-}" ]; then
    if [ ! -x "$tools/s3rver/node_modules/.bin/s3rver" ]; then
        mkdir -p "$tools/s3rver"
        (cd "$tools/s3rver" && npm install --no-audit --no-fund s3rver@3.7.1)
    fi
    export ATDATA_S3RVER="$tools/s3rver/node_modules/.bin/s3rver"
fi
export ATDATA_REF_PYTHON="${ATDATA_REF_PYTHON:-$PWD/.venv-ref/bin/python}"
exec cargo run --release -p atdata --features s3 --example s3_read -- "$@"
