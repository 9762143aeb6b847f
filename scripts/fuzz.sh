#!/usr/bin/env bash
# Runs every fuzz target of crates/atdata/fuzz for a bounded time, starting from the seed corpora
# kept in the repository (crates/atdata/fuzz/seeds/<target>/). A crash, a leak or a timeout fails
# the run; its input is left in crates/atdata/fuzz/artifacts/<target>/ to become a named test.
#
#   scripts/fuzz.sh                  # every target, FUZZ_SECS (default 20) seconds each
#   FUZZ_SECS=600 scripts/fuzz.sh read_shard
#
# cargo-fuzz needs nightly-only sanitizer flags; RUSTC_BOOTSTRAP=1 lets the one stable toolchain
# of this project's machines accept them. cargo-fuzz itself is installed on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz="$root/crates/atdata/fuzz"
secs="${FUZZ_SECS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install -q cargo-fuzz --version 0.13.2 --locked
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cd "$fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi

cd "$fuzz"
# The build is shared by every target: once, with the sanitizer, before the clock starts.
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
for t in "${targets[@]}"; do
    seeds="$fuzz/seeds/$t"
    work=$(mktemp -d)
    # The seeds stay as committed; what the run finds goes to a scratch corpus.
    [[ -d "$seeds" ]] && cp -r "$seeds"/. "$work"/
    echo "== fuzz $t for ${secs}s ($(ls "$work" | wc -l) seed(s))"
    status=0
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "$work" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$work.log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY)' "$work.log" || true
    [[ $status -ne 0 ]] && tail -n 40 "$work.log" >&2
    rm -rf "$work" "$work.log"
    if [[ $status -ne 0 ]]; then
        echo "fuzz: $t failed (exit $status): see $fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz: every target ran ${secs}s without a crash"
