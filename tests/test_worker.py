"""Scale-out on real Mosquitto: 2 ingest and 2 estimator processes (``packtwin worker``), 50 simulated packs.

Zero frames lost, every pack's frames applied in order, every pack's estimates from exactly one estimator, and an
estimator killed with SIGKILL and restarted loses nothing.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from packtwin.analytics.cellmodel import CellSpec
from packtwin.analytics.service import EstimatorService
from packtwin.connectors import topics
from packtwin.connectors.partition import Assignment, partition_of
from packtwin.sim.model import PackDesign
from packtwin.sim.simulator import Simulator
from packtwin.timeseries.sqlite import SQLiteTimeSeries
from tests.fixtures.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
PACKS, TICKS = 50, 400
DESIGN = PackDesign(n_series=12, n_temp_sensors=2)
CELL = ROOT / "packtwin" / "sim" / "resources" / "cell_lgm50.json"



class Workers:
    def __init__(self, url: str, store: Path, state: Path) -> None:
        self.url, self.store, self.state = url, store, state
        self.procs: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, *args: str) -> None:
        cmd = [sys.executable, "-m", "packtwin", "worker", "--mqtt", self.url, "--store", str(self.store),
               "--name", name, "--state-dir", str(self.state), *args]
        log = open(self.state.parent / f"{name}.log", "a")  # noqa: SIM115 - the process writes it until it ends
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                            stdout=subprocess.DEVNULL, stderr=log)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_ingest_two_estimators_fifty_packs(mosquitto_broker, tmp_path):
    url = mosquitto_broker.url
    db = tmp_path / "ts.sqlite"
    SQLiteTimeSeries(db).close()  # one schema for all workers
    workers = Workers(url, db, tmp_path / "state")
    estimates: dict[str, set[str]] = defaultdict(set)
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="estimate-watcher")
    lock = threading.Lock()

    def on_message(_c, _u, msg):
        body = json.loads(msg.payload)
        with lock:
            estimates[body["pack_id"]].add(body["worker"])

    watcher.on_message = on_message
    host, port = url.removeprefix("mqtt://").split(":")
    watcher.connect(host, int(port))
    watcher.subscribe(f"{topics.PREFIX}/+/{topics.ESTIMATE}", qos=1)
    watcher.loop_start()
    try:
        # Persistent sessions first, so the broker keeps frames for every worker from now on.
        for name in ("ingest-a", "ingest-b"):
            workers.spawn(name, "--role", "ingest", "--partitions", "2")
        for k in (0, 1):
            workers.spawn(f"estimator-{k}", "--role", "estimator", "--partition", f"{k}/2", "--estimate-period", "20")
        time.sleep(4)
        sim = Simulator(PACKS, design=DESIGN, mqtt=url, speed=0, seed=11)
        sim.publisher.start()
        thread = threading.Thread(target=sim.run, kwargs={"ticks": TICKS}, daemon=True)
        thread.start()
        store = SQLiteTimeSeries(db)
        assert wait_until(lambda: store.count() > PACKS * TICKS // 3, 300), store.count()
        workers.kill("estimator-1")  # mid-run: its state is checkpointed, its frames wait at the broker
        time.sleep(1)
        workers.spawn("estimator-1", "--role", "estimator", "--partition", "1/2", "--estimate-period", "20")
        thread.join(300)
        sim.stop(flush_timeout=120)
        assert wait_until(lambda: store.count() >= PACKS * TICKS, 300), store.count()
        for pack in sim.pack_ids:  # zero lost, zero duplicated
            assert np.array_equal(store.seqs(pack), np.arange(TICKS)), pack
        # every pack's estimates come from exactly the estimator that owns its partition
        assert wait_until(lambda: len(estimates) == PACKS, 120), len(estimates)
        with lock:
            for pack, names in estimates.items():
                assert names == {f"estimator-{partition_of(pack, 2)}"}, (pack, names)
        # The checkpoints (written every few seconds) reach every pack's last frame, packs split between the owners.
        def restored() -> dict[str, int]:
            seen: dict[str, int] = {}
            for k in (0, 1):
                service = EstimatorService(Assignment.parse(f"{k}/2"), store, CellSpec.from_json(CELL),
                                           name=f"estimator-{k}", state_dir=tmp_path / "state")
                service._restore()
                assert all(partition_of(p, 2) == k for p in service.next_seq)
                seen.update(service.next_seq)
            return seen

        assert wait_until(lambda: restored() == dict.fromkeys(sim.pack_ids, TICKS), 300), restored()
        workers.stop_all()
        assert restored() == dict.fromkeys(sim.pack_ids, TICKS)
        store.close()
    finally:
        workers.stop_all()
        watcher.loop_stop()
        watcher.disconnect()


def test_estimator_applies_each_pack_in_order_and_fills_holes_from_the_store(tmp_path):
    """Frames forwarded out of order (two ingest workers) are applied in seq order; a hole is filled from the store."""
    from packtwin.connectors.frame import Frame

    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    frames = [Frame("PT-P000001", s, 1000.0 + s, 5.0, np.full(4, 3.7, np.float32), np.full(1, 25.0, np.float32))
              for s in range(20)]
    store.append(frames)
    service = EstimatorService(Assignment.parse("0/1"), store, CellSpec.from_json(CELL), state_dir=tmp_path,
                               hole_wait_s=0.0, record_order=True)
    order = [0, 2, 1, 3, 3, 6, 5, 4, 9, 7, 8]  # shuffled, a duplicate; 10..18 never forwarded; 19 last
    for s in order:
        service._offer(frames[s])
    service._offer(frames[19])
    service._fill_holes()
    assert service.stats.applied["PT-P000001"] == list(range(20))
    assert service.stats.duplicates == 1 and service.stats.backfilled == 9
    store.close()


def test_estimator_takes_a_tail_that_was_stored_but_never_forwarded(tmp_path):
    """An ingest worker killed between storing and forwarding leaves the pack's last frames only in the store; the
    estimator finds them when the pack has been quiet for a poll interval."""
    from packtwin.connectors.frame import Frame

    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    frames = [Frame("PT-P000002", s, 1000.0 + s, 5.0, np.full(4, 3.7, np.float32), np.full(1, 25.0, np.float32))
              for s in range(10)]
    store.append(frames)
    service = EstimatorService(Assignment.parse("0/1"), store, CellSpec.from_json(CELL), state_dir=tmp_path,
                               record_order=True, store_poll_s=0.2)
    for f in frames[:8]:  # 8 and 9 were stored, never forwarded
        service._offer(f)
    service._poll_store(force=True)
    assert service.stats.applied["PT-P000002"] == list(range(8))  # not quiet long enough yet
    time.sleep(0.3)
    service._poll_store(force=True)
    assert service.stats.applied["PT-P000002"] == list(range(10))
    assert service.stats.backfilled == 2
    store.close()
