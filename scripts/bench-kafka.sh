#!/usr/bin/env bash
# `warden run` through a real Kafka-protocol broker (tansu, in memory) on this
# machine: CPU per call against replay, event→decision and poll→decision
# latency under a steady load, and scale-out over one consumer group. Figures
# go to docs/performance.md. Needs: tansu (cargo install tansu --locked
# --features dynostore) and kafka-python (pip install kafka-python).
#
#   scripts/bench-kafka.sh [AGENTS] [DURATION] [RATE_PER_S]
#
# PHASES picks what runs (default "drain steady scale"); ROUNDS the drain
# rounds (default 3); SCALE the instance counts (default "1 2 4").
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-100}
DURATION=${2:-2d}
RATE=${3:-5000}
PHASES=${PHASES:-drain steady scale}
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1 2 4}
# tansu (like the mock cluster) holds a fetch until this wait expires even
# when data is there; a Kafka broker answers as soon as fetch.min.bytes is in.
FETCH_WAIT=${FETCH_WAIT:-10}
W="${CARGO_TARGET_DIR:-target}/release/warden"
PY=tests/e2e/kafka_python_client.py
TANSU=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
TICK=$(getconf CLK_TCK)
cargo build --release --locked -q
WORK=$(mktemp -d)
# Brokers and instances start in the background of subshells as well as of
# this shell, so `jobs` misses some: each records its pid in $WORK/pids.
stop_pids() {
  [ -f "$WORK/pids" ] || return 0
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done < "$WORK/pids"
  rm -f "$WORK/pids"
}
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run_broker() { # PARTITIONS -> bootstrap address
  local p; p=$(port)
  "$TANSU" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$p" \
    --advertised-listener-url "tcp://127.0.0.1:$p" > "$WORK/tansu-$p.log" 2>&1 &
  echo $! >> "$WORK/pids"
  sleep 1
  python3 "$PY" topics "127.0.0.1:$p" "$1" > /dev/null
  echo "127.0.0.1:$p"
}
# CPU seconds (user + system, every thread) a process has used so far.
cpu() { awk -v t="$TICK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
# The same, split: "MAIN RDKAFKA OTHER". The main thread polls, decodes,
# scores and produces; librdkafka's own threads (rdk:*) fetch, parse record
# batches and send; the rest serve HTTP and delivery reports.
cpu_split() {
  local t main=0 rdk=0 other=0 v
  for t in /proc/"$1"/task/*; do
    v=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null) || continue
    if [ "${t##*/}" = "$1" ]; then main=$((main + v))
    elif [[ "$(cat "$t/comm" 2>/dev/null)" == rdk:* ]]; then rdk=$((rdk + v))
    else other=$((other + v)); fi
  done
  echo "$main $rdk $other"
}
now() { date +%s.%N; }
# config FILE BOOTSTRAP METRICS_PORT GROUP STATE_TOPIC (each group also has
# a fleet topic of its own, warden.fleet.GROUP: `compacted` creates both)
config() {
  printf '[stream]\nmetrics_listen = "127.0.0.1:%s"\ngroup_id = "%s"\nstate_topic = "%s"\nfleet_topic = "warden.fleet.%s"\n[kafka]\n"bootstrap.servers" = "%s"\n"fetch.wait.max.ms" = "%s"\n' \
    "$3" "$4" "$5" "$4" "$2" "$FETCH_WAIT" > "$1"
  # tansu waits out a departed member's session before it rebalances the
  # group (a Kafka broker acts on its LeaveGroup at once): keep it short.
  printf '"session.timeout.ms" = "6000"\n"heartbeat.interval.ms" = "1000"\n' >> "$1"
}
metric() { # PORT NAME -> value (empty while the endpoint is not up)
  curl -s "127.0.0.1:$1/metrics" 2>/dev/null | awk -v m="$2" '$1==m{print $2}' || true
}
scored() { local v; v=$(metric "$1" warden_events_total); v=${v:-0}; echo "${v%.*}"; }
# Waits until the instance at PORT has scored COUNT calls. Each poll renders
# every metric in the instance, on its CPU (50 polls a second were 2-3 % of
# a drain's CPU-s in `perf`), so it polls every 0.1 s until 90 % are in and
# every 0.01 s after: the end is still seen within 10 ms.
wait_scored() { # PORT COUNT
  local s
  while s=$(scored "$1"); [ "$s" -lt "$2" ]; do
    if [ "$s" -lt $(( $2 * 9 / 10 )) ]; then sleep 0.1; else sleep 0.01; fi
  done
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$@"; }
start_instance() { # NAME CONFIG -> pid (stdout: run summary, stderr: log)
  "$W" --log info run --config "$2" > "$WORK/$1.json" 2> "$WORK/$1.log" &
  echo $! >> "$WORK/pids"
  echo $!
}
stop_instance() { kill -TERM "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }

"$W" simulate --agents "$AGENTS" --duration "$DURATION" --seed 1 --out "$WORK/fleet.jsonl" 2>/dev/null
N=$(wc -l < "$WORK/fleet.jsonl")
echo "fleet: $N calls ($AGENTS agents, $DURATION, seed 1); fetch.wait.max.ms = $FETCH_WAIT"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"

if [[ " $PHASES " == *" drain "* ]]; then
  # 1. A backlog drained by one instance, against replay of the same file.
  # Each round: a fresh consumer group and state topic over the same calls.
  B=$(run_broker 4)
  python3 "$PY" produce "$B" warden.calls.v1 "$WORK/fleet.jsonl"
  echo "| round | run: calls/s | run: CPU-s | of which main thread / librdkafka / other | replay --threads 1: CPU-s | run/replay | main thread/replay | findings run / replay |"
  echo "|---|---|---|---|---|---|---|---|"
  for r in $(seq 1 "$ROUNDS"); do
    python3 "$PY" compacted "$B" "warden.state.drain$r" 4
    python3 "$PY" compacted "$B" "warden.fleet.drain$r" 1
    MP=$(port); config "$WORK/drain$r.toml" "$B" "$MP" "drain$r" "warden.state.drain$r"
    PID=$(start_instance "drain$r" "$WORK/drain$r.toml")
    until [ "$(scored "$MP")" -ge 1 ]; do sleep 0.02; done
    c0=$(cpu "$PID"); s0=$(cpu_split "$PID"); t0=$(now)
    wait_scored "$MP" "$N"
    c1=$(cpu "$PID"); s1=$(cpu_split "$PID"); t1=$(now)
    stop_instance "$PID"
    /usr/bin/time -f '%U %S' -o "$WORK/replay.time" "$W" replay --no-progress --threads 1 \
      --alerts-out "$WORK/replay-alerts.jsonl" "$WORK/fleet.jsonl" > /dev/null
    rc=$(awk '{printf "%.2f", $1 + $2}' "$WORK/replay.time")
    rf=$(wc -l < "$WORK/replay-alerts.jsonl")
    python3 - "$N" "$t0" "$t1" "$c0" "$c1" "$rc" "$r" "$(json "$WORK/drain$r.json" findings)" "$rf" \
      "$TICK" "$s0" "$s1" <<'EOF'
import sys
n, t0, t1, c0, c1, rc = (float(x) for x in sys.argv[1:7])
r, fr, ff, tick = sys.argv[7:11]
split = [(b - a) / float(tick) for a, b in zip(map(int, sys.argv[11].split()), map(int, sys.argv[12].split()))]
run = c1 - c0
parts = " / ".join(f"{x:.2f}" for x in split)
print(f"| {r} | {n / (t1 - t0):,.0f} | {run:.2f} | {parts} | {rc:.2f} | {run / rc:.2f} | {split[0] / rc:.2f} | {fr} / {ff} |")
EOF
  done
  stop_pids
fi

if [[ " $PHASES " == *" steady "* ]]; then
  # 2. Latency under a steady load: RATE calls/s produced while it runs.
  B=$(run_broker 4)
  MP=$(port); config "$WORK/steady.toml" "$B" "$MP" warden warden.state.v1
  PID=$(start_instance steady "$WORK/steady.toml")
  until curl -sf "127.0.0.1:$MP/readyz" > /dev/null; do sleep 0.1; done
  python3 "$PY" produce "$B" warden.calls.v1 "$WORK/fleet.jsonl" "$RATE"
  until [ "$(scored "$MP")" -ge "$N" ]; do sleep 0.1; done
  stop_instance "$PID"
  echo "steady load at $RATE calls/s (ms):"
  python3 - "$WORK/steady.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  event->decision p50 {d['latency_p50_ms']:.1f}  p99 {d['latency_p99_ms']:.1f}  p99.9 {d['latency_p999_ms']:.1f}")
print(f"  poll->decision  p50 {d['poll_decision_p50_ms']:.3f}  p99 {d['poll_decision_p99_ms']:.3f}  p99.9 {d['poll_decision_p999_ms']:.3f}")
print(f"  calls {d['events']}, findings {d['findings']}, revocations {d['revocations']}")
EOF
  stop_pids
fi

if [[ " $PHASES " == *" scale "* ]]; then
  # 3. Scale-out: K instances in one consumer group drain the backlog of an
  # 8-partition topic. Then the last to join leaves (SIGTERM: it checkpoints its state and
  # leaves the group) and the others take its partitions over, restoring its
  # agents' state; with K = 1 the instance is restarted instead.
  # A backlog long enough that the members joining later get their share:
  # SCALE_AGENTS agents over SCALE_DURATION. One producer: two producing
  # halves of the fleet drift apart in event time within a partition, and
  # the shared clock that closes quiet episodes then runs ahead of the
  # slower half's agents (more findings than replay, not more work).
  "$W" simulate --agents "${SCALE_AGENTS:-300}" --duration "${SCALE_DURATION:-2d}" --seed 2 \
    --out "$WORK/scale.jsonl" 2>/dev/null
  N=$(wc -l < "$WORK/scale.jsonl")
  "$W" replay --no-progress --alerts-out "$WORK/scale-alerts.jsonl" "$WORK/scale.jsonl" > /dev/null
  echo "scale-out fleet: $N calls (${SCALE_AGENTS:-300} agents, ${SCALE_DURATION:-2d}, seed 2); replay's findings: $(wc -l < "$WORK/scale-alerts.jsonl")"
  B=$(run_broker 8)
  python3 "$PY" produce "$B" warden.calls.v1 "$WORK/scale.jsonl" > /dev/null
  echo "| instances | calls/s | CPU-s per M calls (all) | each instance, CPU-s per M calls it scored | start→ready s | rebalance s (restore included) | partitions moved | agents restored | findings | calls tansu never delivered |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  assigned() { cat "$@" 2>/dev/null | grep -c 'partition assigned' || true; }
  for k in $SCALE; do
    python3 "$PY" compacted "$B" "warden.state.scale$k" 8
    python3 "$PY" compacted "$B" "warden.fleet.scale$k" 1
    pids=(); ports=()
    for i in $(seq 1 "$k"); do
      MP=$(port); ports+=("$MP")
      config "$WORK/scale$k-$i.toml" "$B" "$MP" "scale$k" "warden.state.scale$k"
    done
    total() { local s=0 p; for p in "${ports[@]}"; do s=$(( s + $(scored "$p" | cut -d. -f1) )); done; echo "$s"; }
    # The first member leads the group (it computes the assignment); the
    # others join as it drains, as instances that scale out on lag do.
    # tansu 0.6 strands the group when its leader leaves, so the member
    # that leaves below is the last one to join.
    ts=$(now)
    pids+=("$(start_instance "scale$k-1" "$WORK/scale$k-1.toml")")
    until curl -sf "127.0.0.1:${ports[0]}/readyz" > /dev/null; do sleep 0.01; done
    for i in $(seq 2 "$k"); do pids+=("$(start_instance "scale$k-$i" "$WORK/scale$k-$i.toml")"); done
    until [ "$(total)" -ge 1 ]; do sleep 0.01; done
    t0=$(now); c0=(); for p in "${pids[@]}"; do c0+=("$(cpu "$p")"); done
    # Until every call is scored, or nothing moves for 3 s: tansu 0.6 skips
    # the rest of a batch when a fetch starts inside it (fixed upstream
    # after 0.6.0), which a refetch after a mid-drain rebalance can do.
    last=0; still=$(now); t1=$still
    while :; do
      cur=$(total)
      [ "$cur" -ge "$N" ] && { t1=$(now); break; }
      if [ "$cur" -ne "$last" ]; then last=$cur; still=$(now); t1=$still
      elif python3 -c "import sys; sys.exit(0 if $(now) - $still > 3 else 1)"; then break; fi
      sleep 0.02
    done
    c1=(); for p in "${pids[@]}"; do c1+=("$(cpu "$p")"); done
    lost=$(( N - $(total) ))
    # every member ready (its partitions assigned and restored), from the start
    for p in "${ports[@]}"; do until curl -sf "127.0.0.1:$p/readyz" > /dev/null; do sleep 0.02; done; done
    ready=$(python3 -c "print(f'{$(now) - $ts:.2f}')")
    events=(); for p in "${ports[@]}"; do events+=("$(scored "$p" | cut -d. -f1)"); done
    sleep 1.2 # the gauges are published once a second
    leaving=$(metric "${ports[$((k - 1))]}" warden_assigned_partitions)
    leaving=${leaving%.*}
    # the rebalance, seen in the logs of the members that take the partitions over
    if [ "$k" -gt 1 ]; then
      takers=(); for i in $(seq 1 $((k - 1))); do takers+=("$WORK/scale$k-$i.log"); done
    else
      takers=("$WORK/scale$k-restart.log")
    fi
    before=$(assigned "${takers[@]}")
    tr=$(now)
    stop_instance "${pids[$((k - 1))]}"
    if [ "$k" -eq 1 ]; then pids[0]=$(start_instance "scale$k-restart" "$WORK/scale$k-1.toml"); fi
    until [ "$(assigned "${takers[@]}")" -ge $(( before + leaving )) ]; do sleep 0.01; done
    rebalance=$(python3 -c "print(f'{$(now) - $tr:.2f}')")
    for p in "${pids[@]:0:$(( k > 1 ? k - 1 : 1 ))}"; do stop_instance "$p"; done
    restored=0; findings=0
    for f in "${takers[@]}"; do restored=$(( restored + $(json "${f%.log}.json" agents_restored) )); done
    for i in $(seq 1 "$k"); do findings=$(( findings + $(json "$WORK/scale$k-$i.json" findings) )); done
    per=(); for i in $(seq 0 $((k - 1))); do per+=("$(python3 -c "print(${c1[$i]} - ${c0[$i]})"):${events[$i]}"); done
    python3 - "$k" "$N" "$t0" "$t1" "$ready" "$rebalance" "$leaving" "$restored" "$findings" "$lost" "${per[@]}" <<'EOF'
import sys
k, n, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ready, rebalance, moved, restored, findings, lost = sys.argv[5:11]
# cpu-seconds:calls scored, per instance, from the first scored call to the last
per = [tuple(float(x) for x in c.split(":")) for c in sys.argv[11:]]
scored = sum(e for _, e in per)
all_m = sum(c for c, _ in per) / scored * 1e6
each = ", ".join(f"{c / e * 1e6:.2f}" if e else f"{c:.2f} CPU-s, no calls" for c, e in per)
print(f"| {k} | {scored / (t1 - t0):,.0f} | {all_m:.2f} | {each} | {ready} | {rebalance} | {moved} | {restored} | {findings} | {lost} |")
EOF
  done
  stop_pids
fi
