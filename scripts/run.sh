#!/usr/bin/env bash
# The main job on an embedded default, no broker needed: `warden demo` starts
# an in-process Kafka-protocol cluster, streams a simulated fleet onto it
# (history first, then its last hours live with attacks injected), runs the
# streaming service on it, shows what is caught as it happens, and ends with
# the injected attacks against what was caught.
#   ./scripts/run.sh [--duration 60s] [--agents 60] [--seed 7] ...
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin warden
bin=./target/release/warden
[ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/warden"
exec "$bin" demo "$@"
