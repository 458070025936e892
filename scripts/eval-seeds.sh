#!/usr/bin/env bash
# Detection quality on several simulator seeds (300 agents, 3 days each):
# streams `warden simulate` into `warden replay` and prints each evaluation.
#   ./scripts/eval-seeds.sh 4242 9001
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin warden >&2
bin="${CARGO_TARGET_DIR:-target}/release/warden"
mkdir -p out
[ $# -gt 0 ] || set -- 4242 9001
for seed in "$@"; do
  echo "== seed $seed"
  "$bin" simulate --agents 300 --duration 3d --seed "$seed" --out - 2>/dev/null \
    | "$bin" replay --no-progress --report "out/eval-seed-$seed.json" -
done
