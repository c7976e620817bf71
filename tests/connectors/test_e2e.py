"""Simulator -> real broker -> ingest -> store: samples stored equal samples published, through restarts."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.connectors.ingest import Ingest
from packtwin.sim.model import PackDesign
from packtwin.sim.simulator import Simulator
from packtwin.submodels.template import element_values
from packtwin.timeseries.aas_sync import TimeSeriesSync, discover
from packtwin.timeseries.sqlite import SQLiteTimeSeries
from tests.fixtures.waiting import wait_until

DESIGN = PackDesign(n_series=24, n_temp_sensors=4)
ROOT = Path(__file__).resolve().parents[2]



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


def test_simulator_to_store_to_aas(fresh_mqtt_broker, tmp_path):
    """The whole path: simulator -> broker -> ingest -> store, and the packs' Time Series submodels follow."""
    repo = Repository(build_fleet(3, 1, 2, base="https://batteries.example.com/twins",
                                  now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).objects)
    submodels = discover(repo)
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    sync = TimeSeriesSync(repo, store, submodels, period_s=0.2).start()
    ingest = Ingest(store, fresh_mqtt_broker.url, known_packs=dict.fromkeys(submodels, 24),
                    on_batch=sync.on_batch).start()
    sim = Simulator(3, design=DESIGN, mqtt=fresh_mqtt_broker.url, speed=0, seed=3)
    assert sim.pack_ids == sorted(submodels)
    _run_sim(sim, 300).join(120)
    sim.stop()
    assert wait_until(lambda: ingest.stats.received >= 900, 120)
    ingest.stop()
    sync.stop()
    _assert_complete(store, sim)
    series = store.frames("PT-P000002")
    assert series.cell_voltage_v.shape == (300, 24) and series.temperature_c.shape == (30, 4)
    assert ingest.stats.cell_samples == 900 * 24 and ingest.stats.deadlettered == 0
    segments = element_values(repo.get_submodel(submodels["PT-P000002"]))["Segments"]
    assert segments["LinkedSegment"]["RecordCount"] == 300
    internal = next(v for k, v in segments.items() if k.startswith("InternalSegment"))
    record = next(iter(next(v for k, v in internal.items() if k.startswith("Records")).values()))
    assert record["MaxCellVoltage"] == pytest.approx(float(series.cell_voltage_v[-1].max()), abs=1e-6)
    assert record["PackCurrent"] == pytest.approx(float(series.current_a[-1]), rel=1e-6)
    assert record["MaxTemperature"] == pytest.approx(float(series.temperature_c[-1].max()), abs=1e-4)
    store.close()


def test_zero_loss_across_broker_restart(mosquitto_broker, tmp_path):
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    ingest = Ingest(store, mosquitto_broker.url).start()
    sim = Simulator(3, design=DESIGN, mqtt=mosquitto_broker.url, speed=150, seed=4)
    thread = _run_sim(sim, 3000)
    assert wait_until(lambda: store.count() > 1500, 120)
    mosquitto_broker.restart(down_s=0.5)
    thread.join(240)
    assert not thread.is_alive()
    sim.stop(flush_timeout=180)
    assert wait_until(lambda: store.count() >= 9000, 180), (store.count(), ingest.stats)
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

    # Create the ingest's persistent session (and its subscription) first: the broker keeps frames for it from then
    # on, however long the ingest process takes to start.
    Ingest(store, mosquitto_broker.url, client_id="e2e-ingest").start().stop()
    proc = spawn()
    try:
        sim = Simulator(3, design=DESIGN, mqtt=mosquitto_broker.url, speed=150, seed=5)
        thread = _run_sim(sim, 3000)
        assert wait_until(lambda: store.count() > 1500, 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = store.count()
        time.sleep(0.5)
        proc = spawn()
        thread.join(240)
        sim.stop(flush_timeout=180)
        assert wait_until(lambda: store.count() >= 9000, 180), store.count()
        assert killed_at < 9000
        _assert_complete(store, sim)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        store.close()
