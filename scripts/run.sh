#!/usr/bin/env bash
# The main job on an embedded default, no broker needed: simulate a labelled
# fleet (300 agents, 3 days, with attacks), replay it through the detection
# engine, and print the evaluation. Outputs land in ./out/.
#   AGENTS=300 DURATION=3d SEED=1 ./scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS="${AGENTS:-300}"
DURATION="${DURATION:-3d}"
SEED="${SEED:-1}"
mkdir -p out
cargo build --release --locked --bin warden
bin=./target/release/warden
[ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/warden"
"$bin" simulate --agents "$AGENTS" --duration "$DURATION" --seed "$SEED" --out out/fleet.jsonl.gz
"$bin" replay --config warden.toml \
  --alerts-out out/findings.jsonl --revocations-out out/revocations.jsonl \
  --report out/report.json out/fleet.jsonl.gz
echo
echo "findings:    out/findings.jsonl (OCSF 1.8.0 Detection Finding, one per line)"
echo "revocations: out/revocations.jsonl"
echo "report:      out/report.json"
