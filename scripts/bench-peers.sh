#!/usr/bin/env bash
# Runs benches/python/bench_peers.py (atdata against Hugging Face datasets, webdataset, Lance and
# Arrow IPC) in a venv of its own, with the peers at pinned versions, so that the figures in
# BENCHMARKS.md can be reproduced. CI does not run it.
#
#   scripts/bench-peers.sh                  -> full run (50k text, 10k embeddings, 2k images)
#   scripts/bench-peers.sh --quick          -> small sizes, a smoke check
#   scripts/bench-peers.sh --help           -> the bench's own options
#
# Environment:
#   ATDATA_PEERS_VENV   venv to create/use (default: <repo>/.venv-peers)
#   PYTHON              interpreter that creates the venv (default: python3; 3.9+)
#   ATDATA_WHEEL        install this atdata wheel instead of building the repo (`pip install .`)
#   ATDATA_BUILD_LOCK   a lock file: the build runs under `flock` on it (shared build machines)
#
# Our package is built from this checkout with scripts/py-env.sh (a release build; skipped when
# nothing changed since the last install into this venv).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ATDATA_PEERS_VENV:-$REPO/.venv-peers}"
PY="${PYTHON:-python3}"

# The peers, pinned: bench_peers.py prints the versions it actually imported.
PEERS=(
    "numpy==2.4.6"
    "pyarrow==26.0.1"
    "datasets==5.2.0"
    "webdataset==1.0.2"
    "pylance==14.0.2"
)

log() { echo "bench-peers: $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv at $VENV"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

log "installing the pinned peers: ${PEERS[*]}"
"$VPY" -m pip install -q --disable-pip-version-check "${PEERS[@]}" >&2

if [[ -n "${ATDATA_WHEEL:-}" ]]; then
    log "installing atdata from $ATDATA_WHEEL"
    "$VPY" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$ATDATA_WHEEL" >&2
else
    build=(env ATDATA_VENV="$VENV" PYTHON="$PY" "$REPO/scripts/py-env.sh")
    if [[ -n "${ATDATA_BUILD_LOCK:-}" ]]; then
        build=(flock "$ATDATA_BUILD_LOCK" "${build[@]}")
    fi
    "${build[@]}" >/dev/null
fi

# Run from outside the checkout so that `import atdata` is the installed package, not python/.
cd "${TMPDIR:-/tmp}"
exec "$VPY" "$REPO/benches/python/bench_peers.py" "$@"
