"""What the chaos run (scripts/chaos.sh) is judged by, read from the broker
with kafka-python (no librdkafka, no Warden code).

usage:
  chaos_check.py collect BOOTSTRAP GROUP PRODUCED.json OUT.json
      every record of the alerts, revocations and dead-letter topics, and
      the group's committed offsets against the calls topic's end offsets
      as the producer's acknowledgements gave them (PRODUCED.json, from
      kafka_python_client.py produce; tansu 0.6's ListOffsets is short)
  chaos_check.py judge FLEET.jsonl CALM.json CALM2.json CHAOS.json KILLS UNREADY [tenant|agent]
      prints the figures and exits 1 when a condition fails: every call
      committed (so scored: Warden commits a call only once its outputs are
      acknowledged), every member ready at the end, no dead letter, every
      attack the calm runs caught caught, no finding of the calm run lost
      (calls keyed by agent: none beyond what a second calm run, another
      assignment, loses), and no episode raised twice
"""
import collections
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition

TOPICS = ["warden.alerts.v1", "warden.revocations.v1", "warden.calls.dlq.v1"]


def read_all(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    end = consumer.end_offsets(parts)
    out = []
    deadline = time.time() + 120
    while any(consumer.position(p) < end[p] for p in parts) and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                out.append({"key": r.key.decode() if r.key else None,
                            "headers": {k: v.decode(errors="replace") for k, v in r.headers},
                            "value": r.value.decode(errors="replace")})
    consumer.close()
    return out


def collect(bootstrap, group, produced_path, path):
    result = {t: read_all(bootstrap, t) for t in TOPICS}
    # The group's committed offsets, read as a member of it would (this
    # works across kafka-python's admin API versions); it never joins.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    parts = [TopicPartition("warden.calls.v1", p)
             for p in consumer.partitions_for_topic("warden.calls.v1")]
    end = {p: int(json.load(open(produced_path))["ends"].get(str(p.partition), 0)) for p in parts}
    result["uncommitted"] = {
        str(p.partition): end[p] - (consumer.committed(p) or 0) for p in parts}
    consumer.close(autocommit=False)
    with open(path, "w") as f:
        json.dump(result, f)


def findings(run):
    """Every finding of a run: {uid: Episode}, and records per ce_id."""
    episodes, by_id = {}, collections.Counter()
    for r in run["warden.alerts.v1"]:
        if "detection_finding" not in r["headers"].get("ce_type", ""):
            continue
        by_id[r["headers"].get("ce_id")] += 1
        v = json.loads(r["value"])
        info = v["finding_info"]
        e = episodes.setdefault(info["uid"], {
            "agent": r["key"], "start": info["first_seen_time"], "end": v["time"],
            "closed": False, "detector": info["analytic"]["uid"], "risk": v["risk_score"]})
        e["end"] = max(e["end"], v["time"])
        e["closed"] |= v["activity_id"] == 3
        e["risk"] = max(e["risk"], v["risk_score"])
    return episodes, by_id


def describe(e):
    return (f"{e['agent']} from {e['start']} to {e['end']} ({e['detector']}, "
            f"risk {e['risk']})")


# An episode lasts until its agent has been quiet this long (Warden's
# default `episode_quiet_minutes`); one still open at the end of a run has
# no Close record to say so.
QUIET_MS = 30 * 60_000


def unmatched(a, b):
    """Findings of run a that run b does not have: neither the same id nor
    a finding of the same agent within the same episode (overlapping it, or
    less than the quiet period apart: first raised at another call)."""
    by_agent = collections.defaultdict(list)
    for e in b.values():
        by_agent[e["agent"]].append(e)
    out = {}
    for uid, e in a.items():
        if uid in b:
            continue
        if any(o["start"] <= e["end"] + QUIET_MS and e["start"] <= o["end"] + QUIET_MS
               for o in by_agent[e["agent"]]):
            continue
        out[uid] = e
    return out


def forks(run):
    """Findings left open while the same agent had a later one: an episode
    raised twice (before a kill, then again by the member that took over)."""
    by_agent = collections.defaultdict(list)
    for uid, e in run.items():
        by_agent[e["agent"]].append((e["start"], uid, e))
    out = []
    for eps in by_agent.values():
        eps.sort()
        out += [e for _, _, e in eps[:-1] if not e["closed"]]
    return out


def judge(fleet, calm_path, calm2_path, chaos_path, kills, unready, key_by="tenant"):
    """calm and calm2 are two runs without kills, whose assignments of
    partitions to members differ. On a topic keyed by tenant every cohort
    moves whole with its partition, so the chaos run must lose no finding of
    the calm run at all; what calm2 lacks is printed, as what the
    assignment alone moves. Keyed by agent (KEY_BY=agent), members score
    against their own samples of each cohort, and the chaos run is only
    held to losing nothing beyond what calm2 loses."""
    attacked = {}
    calls = 0
    with open(fleet) as f:
        for line in f:
            calls += 1
            e = json.loads(line)
            if e.get("label"):
                attacked.setdefault(e["agent_id"], e["label"])
    runs = {n: json.load(open(p)) for n, p in
            (("calm", calm_path), ("calm2", calm2_path), ("chaos", chaos_path))}
    found = {n: findings(r) for n, r in runs.items()}
    ok = True

    def check(cond, what):
        nonlocal ok
        print(f"{'ok  ' if cond else 'FAIL'} {what}")
        ok &= cond

    print(f"calls {calls}; kills {kills}; attacked agents {len(attacked)}")
    for n, (eps, ids) in found.items():
        print(f"{n:6} finding records {sum(ids.values())}, distinct findings {len(eps)}, "
              f"sent again with the same ce_id {sum(k - 1 for k in ids.values())}, "
              f"revocation records {len(runs[n]['warden.revocations.v1'])}")
    chaos = runs["chaos"]
    uncommitted = sum(chaos["uncommitted"].values())
    check(uncommitted == 0, f"every call committed, so scored (left: {uncommitted}, "
                            f"per partition {chaos['uncommitted']})")
    check(int(unready) == 0, f"every member ready with no lag at the end ({unready} not)")
    dead = len(chaos["warden.calls.dlq.v1"])
    check(dead == 0, f"no dead letters ({dead})")

    caught = {n: {e["agent"] for e in eps.values()} for n, (eps, _) in found.items()}
    both = {a for a in attacked if a in caught["calm"] and a in caught["calm2"]}
    missed = sorted(a for a in both if a not in caught["chaos"])
    check(not missed, f"every attack the calm runs caught is caught: "
                      f"{len(both) - len(missed)}/{len(both)}" + (f", missed {missed}" if missed else ""))
    for n in found:
        gaps = sorted(f"{a} ({attacked[a]})" for a in attacked if a not in caught[n])
        print(f"     {n}: {len(attacked) - len(gaps)}/{len(attacked)} attacks caught"
              + (f"; not caught: {', '.join(gaps)}" if gaps else ""))

    c, c2, x = found["calm"][0], found["calm2"][0], found["chaos"][0]
    same = len(c.keys() & x.keys())
    lost_assign = unmatched(c, c2)
    lost = unmatched(c, x)
    beyond = {u: e for u, e in lost.items() if u not in lost_assign}
    print(f"     calm findings in the chaos run: {same}/{len(c)} with the same id, "
          f"{len(c) - same - len(lost)} as the same episode raised at another call")
    for u, e in lost.items():
        print(f"     not in chaos: {describe(e)}"
              + ("  (calm2 lacks it too)" if u in lost_assign else ""))
    for u, e in lost_assign.items():
        print(f"     not in calm2: {describe(e)}")
    if key_by == "tenant":
        check(not lost, f"no finding of the calm run lost ({len(lost)} not in chaos; "
                        f"{len(lost_assign)} not in calm2)")
    else:
        check(not beyond, f"no finding of the calm run lost beyond what another assignment "
                          f"loses ({len(lost)} not in chaos, {len(lost_assign)} not in calm2)")
    for n in ("chaos", "calm2"):
        extra = unmatched(found[n][0], c)
        print(f"     {n} findings the calm run lacks: {len(extra)}")
        for e in extra.values():
            print(f"       {describe(e)}")
    forked = forks(x)
    check(not forked, f"no episode raised twice (left open while its agent had a later "
                      f"finding): {len(forked)}")
    for e in forked:
        print(f"     forked: {describe(e)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"collect": collect, "judge": judge}[cmd](*args)
