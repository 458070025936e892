#!/usr/bin/env bash
# Replay's cost against the JSON-lines parse floor, and its speed-up on
# every core, in one run (docs/performance.md):
#   1. `ROUNDS` alternating rounds pinned to one core: the floor
#      (../shared/tools/parsefloor) and `warden replay --threads 1`, CPU-s each;
#   2. unpinned: `--threads 1` against `--threads N` (every core), wall
#      seconds, and the two runs' findings compared byte for byte.
# Usage: scripts/bench-replay.sh [fleet.jsonl]   (default: the 300-agent,
# 3-day fleet of seed 4242, simulated on first use)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-target}
FLOOR_SRC=../shared/tools/parsefloor
WORK=${BENCH_DIR:-${TMPDIR:-/tmp}/warden-bench}
mkdir -p "$WORK"

cargo build --release --locked --bin warden >&2
WARDEN="$TARGET/release/warden"
if [ -d "$FLOOR_SRC" ]; then
  cargo build --release --manifest-path "$FLOOR_SRC/Cargo.toml" --target-dir "$WORK/floor-target" >&2
  FLOOR="$WORK/floor-target/release/parsefloor"
else
  echo "note: $FLOOR_SRC is absent: no floor column" >&2
  FLOOR=
fi

FLEET=${1:-$WORK/fleet-4242.jsonl}
if [ ! -s "$FLEET" ]; then
  "$WARDEN" simulate --agents 300 --duration 3d --seed 4242 --out "$FLEET"
fi
CALLS=$(wc -l <"$FLEET")
CORE=$(( $(nproc) - 1 ))

# CPU seconds (user + sys) of a command; its output is discarded.
cpu() {
  /usr/bin/time -f '%U %S' -o "$WORK/time" "$@" >/dev/null 2>&1
  awk '{ printf "%.2f", $1 + $2 }' "$WORK/time"
}
wall() {
  /usr/bin/time -f '%e' -o "$WORK/time" "$@" >/dev/null 2>&1
  cat "$WORK/time"
}

echo "fleet: $FLEET ($CALLS calls); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| round | floor CPU-s | replay --threads 1 CPU-s | ratio |"
echo "|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  f=-
  [ -n "$FLOOR" ] && f=$(cpu taskset -c "$CORE" "$FLOOR" "$FLEET")
  w=$(cpu taskset -c "$CORE" "$WARDEN" replay --no-progress --threads 1 "$FLEET")
  ratio=-
  [ "$f" != - ] && ratio=$(awk -v w="$w" -v f="$f" 'BEGIN { printf "%.2f", w / f }')
  echo "| $r | $f | $w | $ratio |"
done

N=$(nproc)
echo
echo "| round | --threads 1 wall s | --threads $N wall s | speed-up |"
echo "|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  one=$(wall "$WARDEN" replay --no-progress --threads 1 --alerts-out "$WORK/alerts-1.jsonl" "$FLEET")
  all=$(wall "$WARDEN" replay --no-progress --threads "$N" --alerts-out "$WORK/alerts-n.jsonl" "$FLEET")
  echo "| $r | $one | $all | $(awk -v a="$one" -v b="$all" 'BEGIN { printf "%.2f", a / b }') |"
done
if cmp -s "$WORK/alerts-1.jsonl" "$WORK/alerts-n.jsonl"; then
  echo
  echo "findings byte-identical ($(wc -l <"$WORK/alerts-1.jsonl") lines)"
else
  echo "findings DIFFER between --threads 1 and --threads $N" >&2
  exit 1
fi
