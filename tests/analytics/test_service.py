"""The estimator service of the scaled deployment sends alerts the moment they are raised and balancing
recommendations as commands a gateway accepts (docs/mqtt.md)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from packtwin.analytics.cellmodel import CellSpec
from packtwin.analytics.service import EstimatorService
from packtwin.connectors import topics
from packtwin.connectors.frame import Frame
from packtwin.connectors.partition import Assignment
from packtwin.sim.model import PackDesign
from packtwin.sim.simulator import Simulator
from packtwin.timeseries.sqlite import SQLiteTimeSeries

CELL = Path(__file__).resolve().parents[2] / "packtwin" / "sim" / "resources" / "cell_lgm50.json"
PACK = "PT-P000007"


def test_alerts_and_balancing_commands_go_out_on_mqtt(mqtt_broker, tmp_path):
    host, port = mqtt_broker.url.removeprefix("mqtt://").split(":")
    got: dict[str, list[dict]] = {"alert": [], "command": []}
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-gateway")
    sub.on_connect = lambda c, *a: c.subscribe([(topics.alert(PACK), 1), (topics.command(PACK), 1)])
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got["alert" if m.topic.endswith("/alert") else "command"].append(
        json.loads(m.payload))
    sub.connect(host, int(port))
    sub.loop_start()
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    service = EstimatorService(Assignment.parse("0/1"), store, CellSpec.from_json(CELL), mqtt=mqtt_broker.url,
                               state_dir=tmp_path)
    try:
        assert subscribed.wait(10)
        service.start()
        # A parked pack, one cell 100 mV low (~10 % less charge), one temperature sensor far too hot.
        volts = np.array([3.60, 3.70, 3.70, 3.70], np.float32)
        for s in range(120):
            service._offer(Frame(PACK, s, 1000.0 + s, 0.0, volts, np.array([25.0, 72.0], np.float32)))
        deadline = time.monotonic() + 20
        while not (got["alert"] and got["command"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
        sub.disconnect()
        sub.loop_stop()
        store.close()
    kinds = {a["kind"] for a in got["alert"]}
    assert "over_temperature" in kinds, got["alert"]
    hot = next(a for a in got["alert"] if a["kind"] == "over_temperature")
    assert hot["pack_id"] == PACK and hot["sensors"] == [1] and hot["severity"] == "critical"
    cmd = got["command"][0]
    # The gateway's schema: type balancing, 1-based cells; the low cell (1) is the one not bled.
    assert cmd["type"] == "balancing" and cmd["id"]
    assert cmd["cells"] == [2, 3, 4] and all(x > 0 for x in cmd["charge_ah"])
    assert service.stats.alerts == len(got["alert"]) and service.stats.commands == len(got["command"])
    # ... and the simulator's gateway takes it as it is.
    sim = Simulator([PACK], design=PackDesign(n_series=4), sink=lambda topic, payload: None)
    sim.apply_command(PACK, cmd)
    assert sim.model.balancing[0].nonzero()[0].tolist() == [1, 2, 3]
