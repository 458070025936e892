#!/usr/bin/env bash
# Detection quality on the fixed matrix of unseen simulator fleets (12
# seeds, every start weekday, 1-7 days of history), pooled per threat
# family; --holdout and --fresh run the same calendars on other seeds
# (--fresh is the one no change has looked into), --dev runs the tuning
# fleets instead, --lofo adds the leave-one-family-out check. See
# scripts/eval_matrix.py and docs/detection.md.
#   ./scripts/eval-matrix.sh            # the table in docs/detection.md
#   ./scripts/eval-matrix.sh --lofo     # and leave-one-family-out
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin warden >&2
bin="${CARGO_TARGET_DIR:-target}/release/warden"
exec python3 scripts/eval_matrix.py --binary "$bin" "$@"
