"""Simulator -> real broker -> ingest -> store: samples stored equal samples published, through restarts."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from packtwin.connectors.ingest import Ingest
from packtwin.sim.model import PackDesign
from packtwin.sim.simulator import Simulator
from packtwin.timeseries.sqlite import SQLiteTimeSeries

DESIGN = PackDesign(n_series=24, n_temp_sensors=4)
ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _assert_complete(store: SQLiteTimeSeries, sim: Simulator) -> None:
    """Every published frame stored exactly once, with the published samples."""
    ticks = sim.stats.ticks
    assert ticks > 0
    for pack in sim.pack_ids:
        assert np.array_equal(store.seqs(pack), np.arange(ticks)), pack
    assert store.count() == ticks * len(sim.pack_ids)
    assert store.gaps() == []


def _run_sim(sim: Simulator, ticks: int) -> threading.Thread:
    sim.publisher.start()
    thread = threading.Thread(target=sim.run, kwargs={"ticks": ticks}, daemon=True)
    thread.start()
    return thread


def test_simulator_to_store(mqtt_broker, tmp_path):
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    published = {}
    ingest = Ingest(store, mqtt_broker.url, known_packs={f"PT-P{i:06d}": 24 for i in range(1, 4)}).start()
    sim = Simulator(3, design=DESIGN, mqtt=mqtt_broker.url, speed=0, seed=3)
    real_sink = sim._sink

    def spy(topic, payload):
        published[(topic.split("/")[2], len(published))] = payload
        real_sink(topic, payload)

    sim._sink = spy
    _run_sim(sim, 300).join(60)
    sim.stop()
    assert _wait(lambda: ingest.stats.received >= 900, 30)
    ingest.stop()
    _assert_complete(store, sim)
    series = store.frames("PT-P000002")
    assert series.cell_voltage_v.shape == (300, 24) and series.temperature_c.shape == (30, 4)
    assert ingest.stats.cell_samples == 900 * 24 and ingest.stats.deadlettered == 0
    store.close()


def test_zero_loss_across_broker_restart(mosquitto_broker, tmp_path):
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    ingest = Ingest(store, mosquitto_broker.url).start()
    sim = Simulator(3, design=DESIGN, mqtt=mosquitto_broker.url, speed=150, seed=4)
    thread = _run_sim(sim, 3000)
    assert _wait(lambda: store.count() > 1500, 30)
    mosquitto_broker.restart(down_s=0.5)
    thread.join(90)
    assert not thread.is_alive()
    sim.stop(flush_timeout=60)
    assert _wait(lambda: store.count() >= 9000, 60), (store.count(), ingest.stats)
    assert ingest.wait_idle(10)
    ingest.stop()
    assert ingest.stats.connects >= 2
    _assert_complete(store, sim)
    store.close()


def test_zero_loss_when_ingest_is_killed(mosquitto_broker, tmp_path):
    db = tmp_path / "ts.sqlite"
    store = SQLiteTimeSeries(db)  # creates the schema; the ingest process writes, this handle reads
    cmd = [sys.executable, "-m", "packtwin", "ingest", "--mqtt", mosquitto_broker.url, "--store", str(db),
           "--client-id", "e2e-ingest"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    proc = spawn()
    try:
        sim = Simulator(3, design=DESIGN, mqtt=mosquitto_broker.url, speed=150, seed=5)
        # The ingest's persistent session must exist before publishing starts: wait for its subscription.
        assert _wait(lambda: "e2e-ingest" in mosquitto_broker.log_text(), 20)
        time.sleep(0.5)
        thread = _run_sim(sim, 3000)
        assert _wait(lambda: store.count() > 1500, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = store.count()
        time.sleep(0.5)
        proc = spawn()
        thread.join(90)
        sim.stop(flush_timeout=60)
        assert _wait(lambda: store.count() >= 9000, 60), store.count()
        assert killed_at < 9000
        _assert_complete(store, sim)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        store.close()
