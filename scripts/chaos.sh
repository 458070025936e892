#!/usr/bin/env bash
# Chaos run: three `warden run` instances in one consumer group on tansu (a
# real Kafka-protocol broker, in memory, on loopback), 8 partitions, a
# producer streaming a labelled simulated fleet at a steady rate, and a
# driver that SIGKILLs a random instance every 10-20 s and restarts it,
# for as long as the producer runs. Then it waits for the group to commit
# everything and every instance to be ready, and judges the run against two
# calm runs of the same fleet through the same setup without kills
# (tests/e2e/chaos_check.py): every call committed, every attack the calm
# runs caught caught, no finding of the calm run lost, no episode raised
# twice, duplicates counted. CHAOS_KEEP=DIR keeps the records and logs.
# The calls are keyed by their agent's own tenant, so each cohort lives in
# one partition and its statistics move with it (docs/streaming.md,
# "Keying the calls topic"). KEY_BY=agent keys them by agent instead: then
# members score against their own samples of each cohort, and the chaos
# run is held only to losing nothing beyond what the second calm run (the
# same calls, another assignment) loses.
#
#   scripts/chaos.sh [AGENTS] [DURATION] [RATE_PER_S]   (default 100 2d 1000)
#
# Needs tansu (cargo install tansu --locked --features dynostore) and
# kafka-python, as scripts/test.sh installs them. SEED picks the fleet and
# the kills (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-100}
DURATION=${2:-2d}
RATE=${3:-1000}
SEED=${SEED:-5}
KEY_BY=${KEY_BY:-tenant}
W="${CARGO_TARGET_DIR:-target}/release/warden"
PY=tests/e2e/kafka_python_client.py
CHECK=tests/e2e/chaos_check.py
TANSU=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
cargo build --release --locked -q --bin warden
WORK=$(mktemp -d)
stop_pids() {
  [ -f "$WORK/pids" ] || return 0
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$WORK/pids"
  rm -f "$WORK/pids"
}
trap 'stop_pids; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RANDOM=$SEED

"$W" simulate --agents "$AGENTS" --duration "$DURATION" --seed "$SEED" --attack-share 0.3 \
  --out "$WORK/fleet.jsonl" 2>/dev/null
N=$(wc -l < "$WORK/fleet.jsonl")
echo "fleet: $N calls ($AGENTS agents, $DURATION, seed $SEED), produced at $RATE calls/s, keyed by $KEY_BY"

# one_run NAME KILL(0|1): a fresh broker, three members, the producer, and
# with KILL=1 the killer; then the broker's view is collected to NAME.json.
one_run() {
  local name=$1 kill=$2 bp
  bp=$(port)
  "$TANSU" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$bp" \
    --advertised-listener-url "tcp://127.0.0.1:$bp" > "$WORK/$name-tansu.log" 2>&1 &
  echo $! >> "$WORK/pids"
  local B="127.0.0.1:$bp"
  sleep 1
  python3 "$PY" topics "$B" 8 > /dev/null
  local ports=() pids=() i
  for i in 0 1 2; do
    ports+=("$(port)")
    printf '[stream]\nmetrics_listen = "127.0.0.1:%s"\n[kafka]\n"bootstrap.servers" = "%s"\n"fetch.wait.max.ms" = "10"\n"session.timeout.ms" = "6000"\n"heartbeat.interval.ms" = "1000"\n' \
      "${ports[$i]}" "$B" > "$WORK/$name-$i.toml"
  done
  start() { # INDEX
    "$W" --log info run --config "$WORK/$name-$1.toml" >> "$WORK/$name-$1.json" 2>> "$WORK/$name-$1.log" &
    pids[$1]=$!
    echo $! >> "$WORK/pids"
  }
  for i in 0 1 2; do start "$i"; done
  for p in "${ports[@]}"; do until curl -sf "127.0.0.1:$p/readyz" > /dev/null; do sleep 0.1; done; done
  python3 "$PY" produce "$B" warden.calls.v1 "$WORK/fleet.jsonl" "$RATE" "$KEY_BY" > "$WORK/$name-produce.json" &
  local producer=$! kills=0
  echo "$producer" >> "$WORK/pids"
  while kill -0 "$producer" 2>/dev/null; do
    if [ "$kill" = 1 ]; then
      sleep $(( 10 + RANDOM % 11 ))
      kill -0 "$producer" 2>/dev/null || break
      i=$(( RANDOM % 3 ))
      kill -9 "${pids[$i]}" 2>/dev/null || true
      wait "${pids[$i]}" 2>/dev/null || true
      kills=$(( kills + 1 ))
      echo "  $(date +%T) killed member $i (kill $kills), restarting it"
      start "$i"
    else
      sleep 1
    fi
  done
  echo "$kills" > "$WORK/$name-kills"
  # Drained: the group's lag (librdkafka's, per member) is 0 everywhere and
  # every member is ready, or 300 s have passed.
  local deadline=$(( $(date +%s) + 300 )) settled
  while [ "$(date +%s)" -lt "$deadline" ]; do
    settled=1
    for p in "${ports[@]}"; do
      curl -sf "127.0.0.1:$p/readyz" > /dev/null || settled=0
      [ "$(curl -s "127.0.0.1:$p/metrics" | awk '$1=="warden_consumer_lag"{print $2}')" = "0" ] || settled=0
    done
    [ "$settled" = 1 ] && break
    sleep 1
  done
  [ "$settled" = 1 ] || echo "  $name: not settled after 300 s (a member unready or lagging)"
  echo $(( 1 - settled )) > "$WORK/$name-unready"
  # Past a periodic checkpoint and commit, then a clean stop of each.
  sleep 35
  for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
  for i in 0 1 2; do wait "${pids[$i]}" || echo "  $name: member $i exited with $?"; done
  python3 "$CHECK" collect "$B" warden "$WORK/$name-produce.json" "$WORK/$name.json"
  echo "  $name: $(cat "$WORK/$name-produce.json"); kills $kills; members unready at the end: $(( 1 - settled ))"
}

one_run calm 0
one_run calm2 0
one_run chaos 1
[ -z "${CHAOS_KEEP:-}" ] || { mkdir -p "$CHAOS_KEEP"; cp "$WORK"/*.json "$WORK"/*.log "$CHAOS_KEEP"/; }
python3 "$CHECK" judge "$WORK/fleet.jsonl" "$WORK/calm.json" "$WORK/calm2.json" "$WORK/chaos.json" \
  "$(cat "$WORK/chaos-kills")" "$(cat "$WORK/chaos-unready")" "$KEY_BY"
