#!/usr/bin/env bash
# Fuzzes the ilink crate with cargo-fuzz (libFuzzer + AddressSanitizer) on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz passes.
#
#   crates/ilink/fuzz/run.sh SECONDS [TARGET...]
#
# Installs cargo-fuzz when it is missing, builds every target once, then runs each
# (or the named ones) for SECONDS, starting from the committed seeds/<target>/ and the
# growing corpus/<target>/. Exits non-zero if any target crashes, hangs or leaks; the
# failing input is kept under artifacts/<target>/ and can be replayed with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> artifacts/<target>/<file>
set -euo pipefail

secs=${1:?usage: run.sh SECONDS [TARGET...]}
shift
case $secs in '' | *[!0-9]*) echo "SECONDS must be a whole number" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/weixin-desk
export CARGO_TARGET_DIR=${ILINK_FUZZ_TARGET_DIR:-$cache/fuzz-target}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    CARGO_TARGET_DIR=$cache/cargo-fuzz-install cargo install cargo-fuzz --locked
fi

cd "$here"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${targets[*]}"
for target in "${targets[@]}"; do
    cargo fuzz build "$target"
done

failed=()
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${secs}s"
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    # -timeout: one input taking over 10 s counts as a hang. The outer timeout is a
    # backstop in case libFuzzer itself stops responding.
    if ! timeout --kill-after=10 $((secs + 60)) \
        cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED: ${failed[*]} (inputs under $here/artifacts/)" >&2
    exit 1
fi
echo "== all ${#targets[@]} targets ran ${secs}s without a crash"
