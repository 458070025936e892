#!/usr/bin/env bash
# Coverage-guided fuzzing of the record decoders (fuzz/decode.rs) with
# libFuzzer, on stable Rust: no nightly, no cargo-fuzz. The warden crate is
# compiled with SanitizerCoverage through a workspace-only rustc wrapper,
# so the dependencies are reused from the release build. Runs a fixed number
# of inputs (CI: scripts/test.sh runs the default) and fails on any crash,
# leak of a panic, timeout or out-of-memory; libFuzzer writes the input that
# did it to fuzz/artifacts/, to be added to tests/corpus/hostile.
#   scripts/fuzz.sh [RUNS]          default 1,000,000 inputs (about 25 s)
#   scripts/fuzz.sh -1              until stopped
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/sancov-rustc.sh"
cargo build --release --locked --example fuzz_decode
bin="${CARGO_TARGET_DIR:-target}/release/examples/fuzz_decode"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/*.json "$work/"
cp tests/corpus/hostile/*.json "$work/"
mkdir -p fuzz/artifacts
# -seed fixes the mutation sequence, so a CI run is repeatable.
"$bin" -runs="$runs" -seed=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 "$work"
