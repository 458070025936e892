#!/usr/bin/env bash
# Throughput and event→decision latency of `warden run` through a real
# Kafka-protocol broker (tansu, in memory) on this machine. Figures go to
# docs/performance.md. Needs: tansu (cargo install tansu --locked --features
# dynostore) and kafka-python (pip install kafka-python).
#
#   scripts/bench-kafka.sh [AGENTS] [DURATION] [RATE_PER_S]
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-100}
DURATION=${2:-2d}
RATE=${3:-3000}
# librdkafka's default; tansu (like the mock cluster) holds a fetch until
# this wait expires even when data is there, which then dominates latency.
FETCH_WAIT=${FETCH_WAIT:-500}
W="${CARGO_TARGET_DIR:-target}/release/warden"
PY=tests/e2e/kafka_python_client.py
TANSU=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
cargo build --release --locked -q
WORK=$(mktemp -d)
# Brokers start inside `$(run_broker)`, a subshell, so this shell's `jobs`
# never lists them: each records its pid in $WORK/brokers for the cleanup.
stop_brokers() {
  [ -f "$WORK/brokers" ] || return 0
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done < "$WORK/brokers"
  rm -f "$WORK/brokers"
}
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  stop_brokers
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_broker() {
  local p; p=$(port)
  "$TANSU" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$p" \
    --advertised-listener-url "tcp://127.0.0.1:$p" > "$WORK/tansu-$p.log" 2>&1 &
  echo $! >> "$WORK/brokers"
  sleep 1
  python3 "$PY" topics "127.0.0.1:$p" 4 > /dev/null
  echo "127.0.0.1:$p"
}
MPORT=$(port)
config() {
  printf '[stream]\nmetrics_listen = "127.0.0.1:%s"\n[kafka]\n"bootstrap.servers" = "%s"\n"fetch.wait.max.ms" = "%s"\n' "$MPORT" "$1" "$FETCH_WAIT" > "$WORK/w.toml"
}
scored() { curl -s "127.0.0.1:$MPORT/metrics" | awk '$1=="warden_events_total"{print $2}'; }
"$W" simulate --agents "$AGENTS" --duration "$DURATION" --seed 1 --out "$WORK/fleet.jsonl" 2>/dev/null
N=$(wc -l < "$WORK/fleet.jsonl")
echo "fleet: $N calls ($AGENTS agents, $DURATION)"

# 1. Throughput: a backlog of N calls, drained by one instance.
B=$(run_broker); config "$B"
python3 "$PY" produce "$B" warden.calls.v1 "$WORK/fleet.jsonl"
"$W" --log warn run --config "$WORK/w.toml" > "$WORK/drain.json" &
PID=$!
until [ "$(scored)" != "" ] && [ "$(scored)" -ge 1 ]; do sleep 0.05; done
start=$(date +%s.%N)
until [ "$(scored)" -ge "$N" ]; do sleep 0.05; done
end=$(date +%s.%N)
kill -TERM $PID; wait $PID
python3 -c "print(f'drain: {$N} calls scored in {$end-$start:.2f} s = {$N/($end-$start):.0f} calls/s (from the first scored call)')"
cat "$WORK/drain.json"
stop_brokers

# 2. Latency under a steady load: RATE calls/s produced while the instance runs.
B=$(run_broker); config "$B"
"$W" --log warn run --config "$WORK/w.toml" > "$WORK/steady.json" &
PID=$!
sleep 3
python3 "$PY" produce "$B" warden.calls.v1 "$WORK/fleet.jsonl" "$RATE"
sleep 3
kill -TERM $PID; wait $PID
echo "steady load at $RATE calls/s:"
cat "$WORK/steady.json"
