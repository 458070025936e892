"""What the chaos run (scripts/chaos.sh) is judged by, read from the broker
with kafka-python (no librdkafka, no Warden code).

usage:
  chaos_check.py collect BOOTSTRAP GROUP PRODUCED.json OUT.json
      every record of the alerts, revocations and dead-letter topics, and
      the group's committed offsets against the calls topic's end offsets
      as the producer's acknowledgements gave them (PRODUCED.json, from
      kafka_python_client.py produce; tansu 0.6's ListOffsets is short)
  chaos_check.py judge FLEET.jsonl CALM.json CHAOS.json KILLS
      prints the figures and exits 1 when a condition fails: every call
      committed (so scored: Warden commits a call only once its outputs are
      acknowledged), every labelled attack caught, no finding id of the
      calm run missing, no dead letter
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
    """(uids, records by ce_id, agents with a finding)"""
    uids, by_id, agents = set(), collections.Counter(), set()
    for r in run["warden.alerts.v1"]:
        ce_type = r["headers"].get("ce_type", "")
        if "detection_finding" not in ce_type:
            continue
        by_id[r["headers"].get("ce_id")] += 1
        v = json.loads(r["value"])
        uids.add(v["finding_info"]["uid"])
        agents.add(r["key"])
    return uids, by_id, agents


def judge(fleet, calm_path, chaos_path, kills):
    attacked = {}
    calls = 0
    with open(fleet) as f:
        for line in f:
            calls += 1
            e = json.loads(line)
            if e.get("label"):
                attacked.setdefault(e["agent_id"], e["label"])
    calm = json.load(open(calm_path))
    chaos = json.load(open(chaos_path))
    ok = True

    def check(cond, what):
        nonlocal ok
        print(f"{'ok  ' if cond else 'FAIL'} {what}")
        ok &= cond

    c_uids, c_ids, c_agents = findings(calm)
    x_uids, x_ids, x_agents = findings(chaos)
    dup_records = sum(n - 1 for n in x_ids.values())
    dup_calm = sum(n - 1 for n in c_ids.values())
    print(f"calls {calls}; kills {kills}; attacked agents {len(attacked)}")
    print(f"finding records: calm {sum(c_ids.values())}, chaos {sum(x_ids.values())}; "
          f"duplicates (same ce_id again): calm {dup_calm}, chaos {dup_records}")
    print(f"distinct findings: calm {len(c_uids)}, chaos {len(x_uids)}; "
          f"revocation records: calm {len(calm['warden.revocations.v1'])}, "
          f"chaos {len(chaos['warden.revocations.v1'])}")
    uncommitted = sum(chaos["uncommitted"].values())
    check(uncommitted == 0, f"every call committed (calls left uncommitted: {uncommitted}, "
                            f"per partition {chaos['uncommitted']})")
    missed = sorted(a for a in attacked if a not in x_agents)
    check(not missed, f"every attack caught: {len(attacked) - len(missed)}/{len(attacked)}"
                      + (f", missed {missed}" if missed else ""))
    calm_missed = sorted(a for a in attacked if a not in c_agents)
    print(f"     (calm run caught {len(attacked) - len(calm_missed)}/{len(attacked)})")
    lost = sorted(c_uids - x_uids)
    check(not lost, f"no finding id of the calm run lost ({len(lost)} lost)"
                    + (f": {lost[:5]}" if lost else ""))
    extra = len(x_uids - c_uids)
    print(f"     findings in the chaos run only: {extra}")
    dead = len(chaos["warden.calls.dlq.v1"])
    check(dead == 0, f"no dead letters ({dead})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"collect": collect, "judge": judge}[cmd](*args)
