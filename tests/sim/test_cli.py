import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from packtwin.connectors.broker import free_port
from packtwin.connectors.ingest import Ingest
from packtwin.timeseries.sqlite import SQLiteTimeSeries

ROOT = Path(__file__).resolve().parents[2]


def _packtwin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PACKTWIN_DATA_DIR": str(cwd / "data")}
    return subprocess.run([sys.executable, "-m", "packtwin", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_simulate_publishes_every_tick_and_resumes_seq(fresh_mqtt_broker, tmp_path):
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    ingest = Ingest(store, fresh_mqtt_broker.url).start()
    args = ("simulate", "--packs", "2", "--cells", "12", "--ticks", "30", "--speed", "0", "--mqtt",
            fresh_mqtt_broker.url, "--fault", "PT-P000002/3:short:1")
    first = _packtwin(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = _packtwin(*args, cwd=tmp_path)  # a gateway restart: seq continues from the state file
    assert second.returncode == 0, second.stderr
    deadline = time.monotonic() + 60
    while store.count() < 120 and time.monotonic() < deadline:
        time.sleep(0.05)
    ingest.stop()
    for pack in ("PT-P000001", "PT-P000002"):
        assert np.array_equal(store.seqs(pack), np.arange(60))
    assert store.frames("PT-P000001").cell_voltage_v.shape == (60, 12)
    store.close()


def test_simulate_refuses_bad_fault_and_missing_broker(tmp_path):
    url = f"mqtt://127.0.0.1:{free_port()}"
    no_broker = _packtwin("simulate", "--mqtt", url, "--ticks", "1", cwd=tmp_path)
    assert no_broker.returncode == 2 and "no MQTT broker answers" in no_broker.stderr
    with_embedded = _packtwin("simulate", "--mqtt", url, "--ticks", "1", "--embedded-broker", "--fault",
                              "1/1:melt:3", cwd=tmp_path)
    assert with_embedded.returncode == 2 and "unknown fault kind" in with_embedded.stderr
