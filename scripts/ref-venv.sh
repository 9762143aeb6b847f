#!/usr/bin/env bash
# Creates (idempotently) the reference venv holding the real Python atdata 0.7.0b1, which the
# interop tests use to prove that both implementations read each other's files.
#
#   scripts/ref-venv.sh            -> prints the venv's python path on success (last line of stdout)
#   ATDATA_REF_VENV=/some/dir scripts/ref-venv.sh
#
# Exit codes: 0 ok, 3 no python3.12 on this machine (callers should skip, not fail), other = error.
#
# Why the constraints file: atdata's dependency tree (boto3 / botocore / aiobotocore / s3fs) makes an
# unconstrained pip backtrack through dozens of botocore releases (the first install here took ~7.5
# minutes with pip 23). scripts/ref-constraints.txt pins the exact set that pip resolved, so pip never
# backtracks. Set ATDATA_REF_UNPINNED=1 to install without the pins (e.g. when a pin has been yanked).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ATDATA_REF_VENV:-$REPO/.venv-ref}"
PKG="atdata==0.7.0b1"
CONSTRAINTS="$REPO/scripts/ref-constraints.txt"
MARKER="$VENV/.atdata-ref-ok"

log() { echo "ref-venv: $*" >&2; }

# Several test processes may call this at once: one installs, the others wait for it.
mkdir -p "$(dirname "$VENV")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    flock 9
fi

# The marker records what was installed; a venv whose marker matches is reused as is.
want_marker="$PKG $(sha256sum "$CONSTRAINTS" | cut -c1-16)"
if [[ -x "$VENV/bin/python" && -f "$MARKER" && "$(cat "$MARKER")" == "$want_marker" ]]; then
    if "$VENV/bin/python" -c 'import atdata, moto.server, pyarrow' >/dev/null 2>&1; then
        echo "$VENV/bin/python"
        exit 0
    fi
    log "marker present but 'import atdata' fails: reinstalling"
fi

find_python312() {
    local cand
    if command -v pyenv >/dev/null 2>&1 || [[ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12.1" ]]; then
        cand="$(PYENV_VERSION=3.12.1 command -v python3.12 2>/dev/null || true)"
        if [[ -n "$cand" ]] && PYENV_VERSION=3.12.1 "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
            echo "PYENV_VERSION=3.12.1 $cand"
            return 0
        fi
    fi
    for cand in python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
        if command -v "$cand" >/dev/null 2>&1 \
            && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
            echo "$cand"
            return 0
        fi
    done
    return 1
}

if [[ ! -x "$VENV/bin/python" ]]; then
    if ! py="$(find_python312)"; then
        echo "python3.12 not found: skipping"
        exit 3
    fi
    log "creating $VENV with $py"
    # shellcheck disable=SC2086 # $py may carry a PYENV_VERSION=... prefix on purpose
    env $py -m venv "$VENV"
fi

start=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_args=(--quiet --prefer-binary)
if [[ "${ATDATA_REF_UNPINNED:-0}" != "1" ]]; then
    pip_args+=(-c "$CONSTRAINTS")
fi
log "installing $PKG"
# psycopg: 0.7's PostgresProvider, for the PostgreSQL interop tests. moto[server]: the
# S3-compatible server the S3 store tests start (`python -m moto.server`). pyarrow: 0.7's
# Dataset.to_parquet, which the 0.7-style example (examples/atdata07_program.py) calls.
"$VENV/bin/python" -m pip install "${pip_args[@]}" "$PKG" "psycopg[binary]" "moto[server]" pyarrow >&2
"$VENV/bin/python" -c 'import atdata, importlib.metadata as m; v = m.version("atdata"); assert v == "0.7.0b1", v' >&2
"$VENV/bin/python" -c 'import moto.server' >&2
echo "$want_marker" >"$MARKER"
log "installed in $(($(date +%s) - start)) s"
echo "$VENV/bin/python"
