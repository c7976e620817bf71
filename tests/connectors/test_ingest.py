import json
import threading
import time
import uuid

import numpy as np
import pytest

from packtwin.connectors import codec, topics
from packtwin.connectors.ingest import Ingest
from packtwin.connectors.mqtt import MqttOptions, Publisher, connect_async, make_client
from packtwin.timeseries.sqlite import SQLiteTimeSeries
from tests.connectors.badframes import BAD_KINDS, bad_payload, valid_frame
from tests.fixtures.waiting import wait_until


class DeadletterCounter:
    def __init__(self, url: str) -> None:
        self.reasons: dict[str, int] = {}
        self.lock = threading.Lock()
        self.client = make_client(MqttOptions(url), "deadletter-counter")
        self.client.on_connect = lambda c, *a: c.subscribe(topics.DEADLETTER_ALL, 1)
        self.client.on_message = self._on_message
        connect_async(self.client, MqttOptions(url))

    def _on_message(self, client, userdata, msg) -> None:
        reason = json.loads(msg.payload)["reason"]
        with self.lock:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def total(self) -> int:
        with self.lock:
            return sum(self.reasons.values())


def test_bad_frames_are_deadlettered_and_every_valid_frame_stored(fresh_mqtt_broker, tmp_path):
    n_bad, n_packs, n_cells = 10_000, 4, 24
    packs = [f"PT-P{i:06d}" for i in range(1, n_packs + 1)]
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    letters = DeadletterCounter(fresh_mqtt_broker.url)
    ingest = Ingest(store, fresh_mqtt_broker.url, known_packs=dict.fromkeys(packs, n_cells)).start()
    publisher = Publisher(MqttOptions(fresh_mqtt_broker.url), "gateway").start()
    rng = np.random.default_rng(7)
    kinds = sorted(BAD_KINDS)
    expected_reasons: dict[str, int] = {}
    seq = dict.fromkeys(packs, 0)
    n_valid = 0
    n_total = n_bad + n_bad // 2
    is_bad = np.zeros(n_total, dtype=bool)
    is_bad[rng.choice(n_total, n_bad, replace=False)] = True
    for i in range(n_total):
        pack = packs[i % n_packs]
        if is_bad[i]:
            kind = kinds[int(rng.integers(len(kinds)))]
            target, payload = bad_payload(kind, pack, seq[pack], n_cells, rng)
            expected_reasons[BAD_KINDS[kind]] = expected_reasons.get(BAD_KINDS[kind], 0) + 1
        else:
            frame = valid_frame(pack, seq[pack], n_cells, rng)
            target, payload = pack, codec.encode_binary(frame) if i % 2 else codec.encode_json(frame)
            seq[pack] += 1
            n_valid += 1
        publisher.publish(topics.telemetry(target), payload)
    assert publisher.flush(180)
    assert wait_until(lambda: ingest.stats.received >= n_total, 240), ingest.stats
    assert wait_until(lambda: letters.total() >= sum(expected_reasons.values()), 120)
    ingest.stop()
    publisher.stop()
    letters.client.loop_stop()
    assert sum(expected_reasons.values()) == n_total - n_valid
    assert n_total - n_valid == n_bad
    assert store.count() == n_valid
    for pack in packs:
        assert np.array_equal(store.seqs(pack), np.arange(seq[pack]))
    assert store.deadletter_reasons() == expected_reasons
    assert letters.reasons == expected_reasons
    assert ingest.stats.deadlettered == n_total - n_valid
    assert ingest.stats.gaps == 0 and ingest.stats.duplicates == 0
    store.close()


def test_duplicates_ignored_gaps_reported_callback_sees_new_frames(fresh_mqtt_broker, tmp_path):
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    seen = []
    ingest = Ingest(store, fresh_mqtt_broker.url, on_frame=lambda f: seen.append((f.pack_id, f.seq))).start()
    publisher = Publisher(MqttOptions(fresh_mqtt_broker.url), "gateway").start()
    rng = np.random.default_rng(1)
    sent = list(range(10)) + list(range(15, 20)) + list(range(0, 5))
    for s in sent:
        publisher.publish(topics.telemetry("P1"), codec.encode_binary(valid_frame("P1", s, 8, rng)))
    assert publisher.flush(120)
    assert wait_until(lambda: ingest.stats.received >= len(sent), 120)
    ingest.stop()
    publisher.stop()
    assert ingest.stats.frames == 15 and ingest.stats.duplicates == 5
    assert ingest.stats.gaps == 1 and ingest.stats.missing == 5
    assert [(g.after_seq, g.before_seq) for g in store.gaps("P1")] == [(9, 15)]
    assert seen == [("P1", s) for s in list(range(10)) + list(range(15, 20))]
    assert ingest.stats.cell_samples == 15 * 8
    store.close()


class SlowStore(SQLiteTimeSeries):
    """A store that takes 50 ms per batch: the ingest falls behind a fast gateway."""

    def write_batch(self, rows, deadletters=(), gaps=()):
        time.sleep(0.05)
        return super().write_batch(rows, deadletters, gaps)


def test_back_pressure_keeps_the_queue_bounded_and_loses_nothing(fresh_mqtt_broker, tmp_path):
    store = SlowStore(tmp_path / "ts.sqlite")
    ingest = Ingest(store, fresh_mqtt_broker.url, queue_size=200, batch_max=100).start()
    publisher = Publisher(MqttOptions(fresh_mqtt_broker.url), "gateway").start()
    rng = np.random.default_rng(2)
    n = 3000
    publisher.publish_many([(topics.telemetry(f"P{i % 10}"), codec.encode_binary(valid_frame(f"P{i % 10}", i // 10,
                                                                                              8, rng)))
                            for i in range(n)])
    assert publisher.flush(120)  # the broker took every frame although the ingest is behind
    assert wait_until(lambda: store.count() >= n, 240), store.count()
    ingest.stop()
    publisher.stop()
    assert store.count() == n and ingest.stats.duplicates == 0
    assert ingest.stats.queue_peak <= 201
    assert ingest.stats.batches >= n // 100
    store.close()


def test_ingest_into_postgresql(fresh_mqtt_broker):
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except Exception:
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432 (user postgres)")
    from packtwin.timeseries.postgres import PostgresTimeSeries

    store = PostgresTimeSeries("postgresql://postgres@127.0.0.1:5432/postgres",
                               schema=f"ingest_{uuid.uuid4().hex[:12]}")
    try:
        ingest = Ingest(store, fresh_mqtt_broker.url, known_packs={"P1": 8, "P2": 8}).start()
        publisher = Publisher(MqttOptions(fresh_mqtt_broker.url), "gateway").start()
        rng = np.random.default_rng(5)
        items = [(topics.telemetry(p), codec.encode_binary(valid_frame(p, s, 8, rng)))
                 for s in range(300) for p in ("P1", "P2")]
        items += items[:50]  # redelivered
        items.append((topics.telemetry("P1"), b"\x00garbage"))
        publisher.publish_many(items)
        assert publisher.flush(120)
        assert wait_until(lambda: ingest.stats.received >= len(items), 120)
        ingest.stop()
        publisher.stop()
        assert store.count() == 600 and ingest.stats.duplicates == 50
        assert np.array_equal(store.seqs("P2"), np.arange(300))
        assert [d.reason for d in store.deadletters()] == ["unknown_format"]
    finally:
        store.drop()
        store.close()
