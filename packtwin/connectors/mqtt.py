"""paho-mqtt clients configured the packtwin way: MQTT 3.1.1, reconnect with exponential backoff, TLS and
username/password from the broker URL (``mqtts://user:pass@host:8883``) or explicit options."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from packtwin.connectors.broker import parse_url
from packtwin.connectors.fastclient import FastClient
from packtwin.connectors.fastclient import supported as fastclient_supported


@dataclass(frozen=True)
class MqttOptions:
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    # CA bundle for mqtts:// (None: the system trust store); client certificate for mutual TLS.
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    keepalive: int = 30
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0


def make_client(options: MqttOptions, client_id: str, *, clean_session: bool = True,
                manual_ack: bool = False, fast: bool = True) -> mqtt.Client:
    """A paho client; ``fast`` gives the :class:`~packtwin.connectors.fastclient.FastClient` subclass when this paho
    version has the internals it needs."""
    _, _, tls = parse_url(options.url)
    cls = FastClient if fast and fastclient_supported() else mqtt.Client
    client = cls(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    parts = urlsplit(options.url)
    username = options.username or (unquote(parts.username) if parts.username else None)
    password = options.password or (unquote(parts.password) if parts.password else None)
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=options.ca_certs, certfile=options.certfile, keyfile=options.keyfile,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    # paho doubles the delay after each failed attempt up to the maximum (seconds may be fractional).
    client.reconnect_delay_set(min_delay=options.reconnect_min_s, max_delay=options.reconnect_max_s)  # type: ignore[arg-type]
    return client


def connect_async(client: mqtt.Client, options: MqttOptions) -> None:
    """Start connecting in the background; paho's loop thread reconnects with backoff whenever the link drops."""
    host, port, _ = parse_url(options.url)
    client.connect_async(host, port, options.keepalive)
    client.loop_start()


class Publisher:
    """A QoS 1 publisher with a bounded number of unacknowledged messages (the gateway side of the pipeline).

    paho's own in-flight window rescans its whole outgoing queue on every PUBACK (quadratic under burst), so paho
    gets no window (``max_inflight_messages_set(0)``) and this class bounds the outstanding messages instead:
    :meth:`publish` and :meth:`publish_many` wait while ``max_pending`` are unacknowledged. Unacknowledged messages
    survive a broker restart inside paho and are sent again on reconnect.
    """

    def __init__(self, options: MqttOptions, client_id: str, *, max_pending: int = 10_000, qos: int = 1,
                 will: tuple[str, bytes] | None = None, birth: list[tuple[str, bytes]] | None = None,
                 on_connect: Callable[[mqtt.Client], None] | None = None) -> None:
        if not 0 < max_pending < 65_000:
            raise ValueError("max_pending must be within the 16-bit MQTT packet id space")
        self.options, self.qos, self.max_pending = options, qos, max_pending
        self.client = make_client(options, client_id, clean_session=True)
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self._birth = birth or []
        self._on_connect_extra = on_connect
        # sent is only written by the publishing thread, acked only by paho's network thread: no lock needed.
        self.sent = 0
        self.acked = 0
        # Birth messages and command acknowledgements are not counted as telemetry in flight.
        self._untracked: set[int] = set()
        # paho's own (reentrant) lock of its outgoing messages: taking it here keeps one lock order with paho's
        # network thread, which may hold it while calling on_publish.
        self._untracked_lock = self.client._out_message_mutex
        self._connected = threading.Event()
        if isinstance(self.client, FastClient):
            self.client.on_raw_puback = self._on_raw_puback
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self._connected.clear()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                    properties: object) -> None:
        if getattr(reason_code, "is_failure", False):
            return
        for topic, payload in self._birth:
            self.publish_untracked(topic, payload, retain=True)
        if self._on_connect_extra is not None:
            self._on_connect_extra(client)
        self._connected.set()

    def _on_raw_puback(self, mid: int) -> None:
        if self._untracked:
            with self._untracked_lock:
                if mid in self._untracked:
                    self._untracked.discard(mid)
                    return
        self.acked += 1

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason_code: object,
                    properties: object) -> None:
        self._on_raw_puback(mid)

    def publish_untracked(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """A QoS 1 message outside the telemetry accounting (status, command acknowledgements); never blocks."""
        with self._untracked_lock:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            self._untracked.add(info.mid)

    def start(self, wait_connected: float = 10.0) -> Publisher:
        connect_async(self.client, self.options)
        if not self._connected.wait(wait_connected):
            raise TimeoutError(f"no MQTT connection to {self.options.url} within {wait_connected} s")
        return self

    @property
    def pending(self) -> int:
        return self.sent - self.acked

    def _wait_room(self, n: int, timeout: float) -> None:
        if self.sent - self.acked + n <= self.max_pending:
            return
        deadline = time.monotonic() + timeout
        while self.sent - self.acked + n > self.max_pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.pending} messages unacknowledged for {timeout} s")
            time.sleep(0.001)

    def publish(self, topic: str, payload: bytes, timeout: float = 60.0) -> None:
        self._wait_room(1, timeout)
        self.sent += 1
        info = self.client.publish(topic, payload, qos=self.qos)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self.sent -= 1  # refused by paho: not outstanding
            raise RuntimeError(f"publish to {topic} refused: {mqtt.error_string(info.rc)}")

    def publish_many(self, items: list[tuple[str, bytes]], timeout: float = 60.0) -> None:
        """Publish a batch (one tick of a fleet) with one write when the client supports it."""
        if not isinstance(self.client, FastClient) or self.qos != 1:
            for topic, payload in items:
                self.publish(topic, payload, timeout)
            return
        step = max(1, self.max_pending // 2)
        for start in range(0, len(items), step):
            chunk = items[start:start + step]
            self._wait_room(len(chunk), timeout)
            self.sent += len(chunk)
            self.client.publish_many(chunk)

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every QoS 1 message is acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self.sent > self.acked:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def stop(self, graceful: bool = True) -> None:
        if graceful:
            self.client.disconnect()
        self.client.loop_stop()
