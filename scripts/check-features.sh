#!/usr/bin/env bash
# Fails when `cargo build --bin warden` (./scripts/run.sh) would resolve
# other features than `cargo test --all-targets` (./scripts/test.sh) for
# any crate both build. A difference means arrow, parquet and DataFusion
# are compiled twice on a fresh machine; the fix is to ask for the missing
# features in [dependencies] (see the comment there in Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
features() {
  cargo tree --locked -e "$1" --prefix none -f '{p} [{f}]' |
    sed -e 's/ (\*)$//' -e 's/ (proc-macro)//' | sort -u
}
features features,normal,build > "${TMPDIR:-/tmp}/warden-features-bin.txt"
features features,normal,build,dev > "${TMPDIR:-/tmp}/warden-features-all.txt"
# Every crate the binary builds must appear with the same feature list in
# the all-targets build (the dev-dependencies only add crates of their own).
missing=$(comm -23 "${TMPDIR:-/tmp}/warden-features-bin.txt" "${TMPDIR:-/tmp}/warden-features-all.txt" | grep -v '^warden ' || true)
if [ -n "$missing" ]; then
  echo "features differ between --bin warden and --all-targets:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "features: --bin warden resolves as --all-targets does for every shared crate"
