"""An independent Kafka client (kafka-python, pure Python) for the real-broker
end-to-end test: it creates Warden's topics, produces the calls and reads
the findings back, so no part of the round trip goes through librdkafka
except Warden itself.

usage:
  kafka_python_client.py topics BOOTSTRAP PARTITIONS
  kafka_python_client.py compacted BOOTSTRAP TOPIC PARTITIONS
  kafka_python_client.py produce BOOTSTRAP TOPIC FILE [RATE_PER_S [agent|tenant]]
  kafka_python_client.py consume BOOTSTRAP TOPIC EXPECTED TIMEOUT_S
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic


def topics(bootstrap, partitions):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    n = int(partitions)
    admin.create_topics([
        NewTopic("warden.calls.v1", n, 1),
        NewTopic("warden.alerts.v1", n, 1),
        NewTopic("warden.revocations.v1", n, 1),
        NewTopic("warden.revocations.shadow.v1", 1, 1),
        NewTopic("warden.calls.dlq.v1", 1, 1),
        NewTopic("warden.state.v1", n, 1, topic_configs={"cleanup.policy": "compact"}),
        NewTopic("warden.inventory.v1", n, 1, topic_configs={"cleanup.policy": "compact"}),
        NewTopic("warden.audit.v1", n, 1),
        NewTopic("warden.fleet.v1", 1, 1, topic_configs={"cleanup.policy": "compact"}),
    ])
    print(json.dumps(sorted(admin.list_topics())))


def compacted(bootstrap, topic, partitions):
    """One more compacted topic: a state or fleet topic for another consumer
    group."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, int(partitions), 1,
                                  topic_configs={"cleanup.policy": "compact"})])


def produce(bootstrap, topic, path, rate=None, key_by="agent"):
    """Produces each line of `path`, keyed by its agent id or (`key_by`
    "tenant") by its agent's own tenant, which keeps each cohort in one
    partition. An agent's own tenant is the one of its first call: a call
    may name another tenant (cross-tenant access), and keyed by that, it
    would land away from its agent's baseline."""
    assert key_by in ("agent", "tenant"), key_by
    home = {}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    rate = float(rate) if rate else None
    n = 0
    # Each partition's end as the broker acknowledged it (the offset after
    # the last record): tansu 0.6 answers ListOffsets short of it.
    ends = {}

    def acked(md):
        ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)

    start = time.time()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            call = json.loads(line)
            agent = call["agent_id"]
            if key_by == "tenant":
                key = home.setdefault(agent, call.get("tenant") or "-").encode()
            else:
                key = agent.encode()
            producer.send(topic, key=key, value=line.encode()).add_callback(acked)
            n += 1
            if rate and n % 100 == 0:
                ahead = start + n / rate - time.time()
                if ahead > 0:
                    time.sleep(ahead)
    producer.flush()
    elapsed = time.time() - start
    print(json.dumps({"produced": n, "seconds": round(elapsed, 2), "per_s": round(n / elapsed),
                      "ends": {str(p): o for p, o in sorted(ends.items())}}))


def consume(bootstrap, topic, expected, timeout_s):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    got = []
    deadline = time.time() + float(timeout_s)
    while len(got) < int(expected) and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for r in records:
                got.append({
                    "key": r.key.decode() if r.key else None,
                    "headers": {k: v.decode() for k, v in r.headers},
                    "value": json.loads(r.value),
                })
    print(json.dumps(got))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"topics": topics, "compacted": compacted, "produce": produce, "consume": consume}[cmd](*args)
