"""Sending Ditto Protocol messages to a Ditto MQTT connection (see :mod:`packtwin.connectors.ditto.connection`)."""

from __future__ import annotations

import json
from typing import Any

from packtwin.connectors.ditto.bridge import thing_id_of_message
from packtwin.connectors.ditto.connection import thing_topic


class MqttSender:
    """A :data:`~packtwin.connectors.ditto.bridge.Sender` publishing each message on its Thing's topic (QoS 1, so
    Ditto sees every change at least once; messages of one Thing keep their order on its single topic)."""

    def __init__(self, client: Any, qos: int = 1) -> None:
        self.client = client
        self.qos = qos

    def __call__(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.client.publish(thing_topic(thing_id_of_message(message)), payload, qos=self.qos)
