import json
import threading
import time

from packtwin.connectors import topics
from packtwin.connectors.mqtt import MqttOptions, connect_async, make_client
from packtwin.sim.model import PackDesign
from packtwin.sim.simulator import Simulator


def test_commands_are_applied_and_acknowledged(fresh_mqtt_broker):
    acks: list[dict] = []
    statuses: dict[str, dict] = {}
    got = threading.Event()
    twin = make_client(MqttOptions(fresh_mqtt_broker.url), "twin")

    def on_message(client, userdata, msg):
        if msg.topic.endswith("/command/ack"):
            acks.append(json.loads(msg.payload))
            if len(acks) >= 3:
                got.set()
        elif msg.topic.endswith("/status"):
            statuses[msg.topic] = json.loads(msg.payload)

    twin.on_message = on_message
    twin.on_connect = lambda c, *a: (c.subscribe(f"{topics.PREFIX}/+/{topics.COMMAND_ACK}", 1),
                                     c.subscribe(topics.STATUS_ALL, 1))
    connect_async(twin, MqttOptions(fresh_mqtt_broker.url))
    sim = Simulator(2, design=PackDesign(n_series=12, n_temp_sensors=3), mqtt=fresh_mqtt_broker.url, speed=20)
    sim.start()
    try:
        time.sleep(0.5)
        twin.publish(topics.command("PT-P000002"), json.dumps({"id": "a", "type": "balancing", "cells": [2, 7]}),
                     qos=1)
        twin.publish(topics.command("PT-P000001"), json.dumps({"id": "b", "type": "charge_power_limit", "kw": 1}),
                     qos=1)
        twin.publish(topics.command("PT-P000001"), json.dumps({"id": "c", "type": "self_destruct"}), qos=1)
        assert got.wait(60), acks
    finally:
        sim.stop()
        twin.loop_stop()
    by_id = {a["id"]: a for a in acks}
    assert by_id["a"]["status"] == "accepted" and by_id["b"]["status"] == "accepted"
    assert by_id["c"]["status"] == "rejected" and "unknown command type" in by_id["c"]["reason"]
    assert sim.model.balancing[1].nonzero()[0].tolist() == [1, 6]
    assert statuses[topics.status("PT-P000001")]["state"] == "online"
    assert statuses[topics.status("PT-P000002")]["n_cells"] == 12
