#!/usr/bin/env bash
# Runs the fuzz targets (all, or those named) for FUZZ_SECONDS each (default 20) on the stable
# toolchain. `cargo fuzz run` needs nightly; this builds with the flags it passes (libFuzzer's
# coverage instrumentation, AddressSanitizer, debug assertions, overflow checks), unlocked on
# stable by RUSTC_BOOTSTRAP=1, so no nightly toolchain or cargo-fuzz install is needed.
# The corpus grows in fuzz/corpus/<target> (seeded from fuzz/seeds/<target> where present); a
# crash stops the run and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

seconds=${FUZZ_SECONDS:-20}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^ferromq-fuzz$')
fi

host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1
# An explicit --target keeps build scripts and proc macros uninstrumented, as cargo-fuzz does.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
cargo build --release --target "${host}" --bins

for t in "${targets[@]}"; do
    mkdir -p "corpus/${t}" "artifacts/${t}"
    seeds=()
    [ -d "seeds/${t}" ] && seeds=("seeds/${t}")
    echo "==> fuzz ${t} for ${seconds} s"
    # -timeout: one input taking 10 s is a hang worth reporting; -rss_limit_mb keeps it in bounds.
    "target/${host}/release/${t}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/${t}/" "corpus/${t}" "${seeds[@]}" 2>&1 \
        | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|Done)|panicked|ERROR' \
        || true
    # libFuzzer exits non-zero on a crash; the pipe above hides that, the artifact does not.
    if compgen -G "artifacts/${t}/*" >/dev/null; then
        echo "==> fuzz ${t}: crash, input kept in fuzz/artifacts/${t}/" >&2
        exit 1
    fi
done
