"""Stable hash partitions of pack ids and MQTT 5 shared-subscription helpers (the latter on a real broker)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from scipy.stats import chisquare

from packtwin.aas.ids import pack_serial
from packtwin.connectors import partition, topics
from packtwin.connectors.partition import Assignment, murmur2, partition_of

PACKS = [pack_serial(i) for i in range(1, 10_001)]


def test_murmur2_is_kafkas():
    # the test vectors of Kafka's UtilsTest.testMurmur2
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def test_stable_across_processes_and_hash_seeds():
    code = ("import json,sys; from packtwin.connectors.partition import partition_of; "
            "print(json.dumps([partition_of(p, 7) for p in json.load(sys.stdin)]))")
    here = [partition_of(p, 7) for p in PACKS[:2000]]
    for seed in ("0", "1", "4242"):
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(PACKS[:2000]), capture_output=True,
                             text=True, timeout=60, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(out.stdout) == here


@pytest.mark.parametrize("partitions", [2, 4, 8, 16, 50])
def test_even_spread(partitions):
    counts = Counter(partition_of(p, partitions) for p in PACKS)
    observed = [counts[k] for k in range(partitions)]
    assert min(observed) > 0
    # uniform within chance: a chi-square test that a 1-in-1000 fluke would fail
    assert chisquare(observed).pvalue > 0.001, observed
    assert max(observed) / min(observed) < 1.35, observed


def test_each_pack_owned_by_exactly_one_worker():
    workers = [Assignment.parse(f"{k}/5") for k in range(5)]
    for pack in PACKS[:3000]:
        assert sum(w.owns(pack) for w in workers) == 1
    # a worker owning several partitions owns their union
    both = Assignment.parse("0,3/5")
    assert all(both.owns(p) == (workers[0].owns(p) or workers[3].owns(p)) for p in PACKS[:3000])
    assert Assignment.parse("1-3/8").owned == frozenset({1, 2, 3})
    assert str(Assignment.parse("3,1/8")) == "1,3/8"


@pytest.mark.parametrize("spec", ["", "1", "4/4", "a/4", "1/0", "3-1/4", "1/x", "-1/4", "1,,2/4"])
def test_bad_assignments_are_rejected(spec):
    with pytest.raises(ValueError):
        Assignment.parse(spec)


def test_topics():
    assert partition.ingest_subscription() == "$share/packtwin-ingest/packtwin/v1/+/telemetry"
    k = partition_of("PT-P000001", 4)
    assert partition.partition_topic("PT-P000001", 4) == f"packtwin/v1/partition/4/{k}/telemetry"
    assert Assignment.parse(f"{k}/4").topic_filters() == [f"packtwin/v1/partition/4/{k}/telemetry"]
    assert topics.pack_of_telemetry(partition.partition_topic("PT-P000001", 4)) is None
    for bad in ("a/b", "a+b", "#", ""):
        with pytest.raises(ValueError):
            partition.ingest_subscription(bad)


def _mqtt5_client(broker, name: str, sink: queue.Queue) -> tuple[mqtt.Client, queue.Queue]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    ready: queue.Queue = queue.Queue()
    client.on_message = lambda c, u, m: sink.put((name, m.topic, m.payload))
    client.on_subscribe = lambda *a: ready.put(True)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client, ready


def test_shared_subscription_spreads_each_frame_to_one_ingest_worker(mqtt_broker):
    if mqtt_broker.kind != "mosquitto":
        pytest.skip("shared subscriptions need MQTT 5; the amqtt fallback broker speaks 3.1.1 only")
    got: queue.Queue = queue.Queue()
    workers = []
    for name in ("ingest-a", "ingest-b"):
        client, ready = _mqtt5_client(mqtt_broker, name, got)
        client.subscribe(partition.ingest_subscription(), qos=1)
        ready.get(timeout=5)
        workers.append(client)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    try:
        sent = set()
        for i in range(200):
            pack = PACKS[i % 50]
            payload = f"{pack}:{i}".encode()
            pub.publish(topics.telemetry(pack), payload, qos=1, properties=Properties(PacketTypes.PUBLISH))
            sent.add(payload)
        received, deadline = [], time.monotonic() + 10
        while len(received) < len(sent) and time.monotonic() < deadline:
            try:
                received.append(got.get(timeout=0.5))
            except queue.Empty:
                continue
        time.sleep(0.2)
        while not got.empty():
            received.append(got.get())
        payloads = [p for _, _, p in received]
        assert sorted(payloads) == sorted(sent)  # every frame once, none twice
        per_worker = Counter(name for name, _, _ in received)
        assert set(per_worker) == {"ingest-a", "ingest-b"}, per_worker
    finally:
        for c in [*workers, pub]:
            c.disconnect()
            c.loop_stop()
