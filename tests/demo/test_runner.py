"""The demo's own broker: two demos never share one by default (they would ingest each other's frames)."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from packtwin.connectors import broker as broker_mod
from packtwin.demo.runner import Demo, DemoOptions


def _round_trip(url: str) -> bool:
    """Publish and receive one message on the broker at ``url``."""
    host, port, _ = broker_mod.parse_url(url)
    got = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-own-broker")
    c.on_connect = lambda cl, *a: (cl.subscribe("t/x", qos=1), cl.publish("t/x", b"1", qos=1))
    c.on_message = lambda *a: got.set()
    c.connect(host, port)
    c.loop_start()
    try:
        return got.wait(10)
    finally:
        c.loop_stop()
        c.disconnect()


@pytest.mark.parametrize("with_mosquitto", [True, False])
def test_each_demo_starts_a_broker_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              with_mosquitto: bool) -> None:
    if with_mosquitto and broker_mod.mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    if not with_mosquitto:
        monkeypatch.setattr(broker_mod, "mosquitto_binary", lambda: None)
    demos = [Demo(DemoOptions()), Demo(DemoOptions())]
    try:
        started = [d._own_broker(tmp_path / str(i)) for i, d in enumerate(demos)]
        kinds = {kind for _, kind in started}
        assert kinds == {"mosquitto" if with_mosquitto else "embedded"}
        urls = [url for url, _ in started]
        assert len(set(urls)) == 2 and not any(url.endswith(":1883") for url in urls)
        assert all(_round_trip(url) for url in urls)
    finally:
        for d in demos:
            d.close()
