#!/usr/bin/env bash
# Creates or updates the development venv for the Python package and installs it with
# `pip install .` (maturin builds the Rust extension).
#
#   scripts/py-env.sh                 -> venv at ${ATDATA_VENV:-.venv}; prints its python path last
#   ATDATA_VENV=/tmp/v scripts/py-env.sh
#   ATDATA_PY_FORCE=1 scripts/py-env.sh   (reinstall even if nothing changed)
#
# Idempotent: a stamp file in the venv records the last install; when no source file
# (crates/, python/, pyproject.toml, Cargo.toml, Cargo.lock) is newer than it and `import atdata`
# works, nothing is rebuilt. Needs Rust (cargo) and Python >= 3.9 with venv support.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ATDATA_VENV:-$REPO/.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.atdata-installed"

log() { echo "py-env: $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv at $VENV"
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian ships venv/ensurepip separately.
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv with apt-get"
            apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$VENV"
            "$PY" -m venv "$VENV"
        else
            log "'$PY -m venv' failed: install python3-venv (Debian) and retry"
            exit 1
        fi
    fi
fi

VPY="$VENV/bin/python"
if ! "$VPY" -c 'import numpy, pytest, pandas, pyarrow, webdataset' >/dev/null 2>&1; then
    log "installing numpy, pytest, pandas, pyarrow, webdataset (the export methods and the 0.7-style example)"
    "$VPY" -m pip install -q --disable-pip-version-check numpy pytest pandas pyarrow webdataset >&2
fi

changed() {
    [[ -f "$STAMP" ]] || return 0
    [[ -n "${ATDATA_PY_FORCE:-}" ]] && return 0
    local newer
    # Only build inputs count (fuzz corpora, caches and build output do not).
    newer=$(cd "$REPO" && find crates python pyproject.toml Cargo.toml Cargo.lock \
        \( -path '*/target' -o -path '*/fuzz' -o -path '*/__pycache__' \) -prune -o \
        -type f \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name '*.toml' \
        -o -name 'Cargo.lock' -o -name 'py.typed' \) -newer "$STAMP" -print -quit 2>/dev/null)
    [[ -n "$newer" ]] && return 0
    "$VPY" -c 'import atdata._core' >/dev/null 2>&1 || return 0
    return 1
}

if changed; then
    log "building and installing atdata (pip install .)"
    touch "$STAMP.new"
    # In-tree build: cargo reuses $REPO/target, so a rebuild after a small change is quick.
    (cd "$REPO" && "$VPY" -m pip install -q --disable-pip-version-check . >&2)
    mv "$STAMP.new" "$STAMP"
else
    log "atdata is up to date in $VENV"
fi
echo "$VPY"
