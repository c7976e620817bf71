"""One call starts the BaSyx events and the Ditto bridge of a process; both reach a real broker."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as mqtt
from basyx.aas import model

from packtwin.aas.repository import Repository
from packtwin.connectors.outlets import start_outlets


def test_outlets_publish_basyx_events_and_ditto_messages(mqtt_broker):
    got: queue.Queue = queue.Queue()
    ready: queue.Queue = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    sub.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    sub.on_subscribe = lambda *a: ready.put(True)
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.loop_start()
    sub.subscribe([("aas-repository/#", 1), ("packtwin/v1/ditto/#", 1)])
    ready.get(timeout=5)
    repo = Repository()
    outlets = start_outlets(repo, mqtt_url=mqtt_broker.url, ditto_namespace="org.example.packtwin",
                            ditto_inbound=True)
    try:
        shell = model.AssetAdministrationShell(
            model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="https://example.org/packtwin/asset/pack/X1"),
            "https://example.org/packtwin/aas/pack/X1", id_short="X1")
        repo.add(shell)
        topics = {}
        for _ in range(2):
            topic, payload = got.get(timeout=5)
            topics[topic] = payload
        assert topics["aas-repository/packtwin/shells/created"]["id"] == shell.id
        ditto = topics["packtwin/v1/ditto/org.example.packtwin/X1"]
        assert ditto["value"]["thingId"] == "org.example.packtwin:X1"
    finally:
        outlets.stop()
        sub.disconnect()
        sub.loop_stop()
    assert outlets.stoppables == [] and outlets.clients == []


def test_no_outlets_without_configuration():
    outlets = start_outlets(Repository(), mqtt_url=None, mirror_url=None)
    assert outlets.stoppables == [] and outlets.clients == []
