#!/usr/bin/env bash
# The whole test suite, from a fresh machine: checks the toolchain, formats,
# lints, then builds once (release profile, shared by tests and benches) and
# runs every unit, property and integration test, including the detection-
# quality runs on held-out simulator seeds. Tests that use the real audit logs
# in ../shared/data skip with a message when that folder is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
# rustfmt and clippy ship as rustup components; add them if missing.
if need rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

cargo fmt --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked
