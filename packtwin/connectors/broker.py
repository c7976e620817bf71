"""Broker helpers: the Mosquitto settings packtwin needs, probing a broker URL, and the embedded amqtt broker.

Mosquitto's defaults lose telemetry under burst: ``max_queued_messages 1000`` drops what is queued for a subscriber
that falls behind, and ``max_inflight_messages 20`` caps an ingest that acknowledges only after its batch is durable
to batches of 20. :data:`MOSQUITTO_SETTINGS` raises both; ``compose/mosquitto/mosquitto.conf`` carries the same values
(a test keeps the two in step) and the test fixtures generate their configuration from :func:`mosquitto_conf`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MOSQUITTO_SETTINGS: dict[str, str] = {
    # Messages a broker may hold for one client (offline persistent session or a subscriber falling behind):
    # a million frames is ~100 s of a 1,000-pack fleet at 10 Hz, ~0.5 GB of 500-byte binary frames.
    "max_queued_messages": "1000000",
    "max_queued_bytes": "0",
    # Unacknowledged QoS 1 deliveries per client in flight: the ingest acknowledges after each durable batch.
    "max_inflight_messages": "5000",
    "max_inflight_bytes": "0",
    # Frames are < 64 KiB (docs/mqtt.md); a bigger packet is refused by the broker before it costs memory.
    "max_packet_size": "1048576",
    # Persistent sessions and their queued messages survive a broker restart.
    "persistence": "true",
    "autosave_interval": "30",
    "persistent_client_expiration": "7d",
    "set_tcp_nodelay": "true",
    "allow_anonymous": "true",
}


def mosquitto_conf(port: int, persistence_dir: str | Path, host: str = "127.0.0.1",
                   log_file: str | Path | None = None, **overrides: str) -> str:
    """A complete mosquitto.conf for one listener with :data:`MOSQUITTO_SETTINGS` (plus ``overrides``)."""
    settings = {**MOSQUITTO_SETTINGS, **overrides}
    lines = [f"listener {port} {host}", f"persistence_location {Path(persistence_dir).as_posix().rstrip('/')}/"]
    lines += [f"{k} {v}" for k, v in settings.items()]
    if log_file is not None:
        lines += [f"log_dest file {log_file}", "log_type error", "log_type warning", "log_type notice"]
    else:
        lines += ["log_dest none"]
    return "\n".join(lines) + "\n"


def parse_url(url: str) -> tuple[str, int, bool]:
    """``(host, port, tls)`` of ``mqtt://host:port`` or ``mqtts://host:port``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"unsupported MQTT URL scheme in {url!r} (use mqtt:// or mqtts://)")
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


def broker_answers(url: str, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at the broker URL."""
    host, port, _ = parse_url(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """An amqtt MQTT 3.1.1 broker on a loopback port, run by its own event loop in a daemon thread.

    It keeps persistent sessions in memory only; for burst loads and restarts use Mosquitto.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        if not host.startswith("127.") and host != "localhost":
            raise ValueError("the embedded broker only listens on loopback")
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: object | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        from amqtt.broker import Broker

        ready = threading.Event()
        error: list[BaseException] = []
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(config, loop=loop)
                loop.run_until_complete(self._broker.start())  # type: ignore[attr-defined]
            except BaseException as exc:  # reported to the starting thread
                error.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=run, name="packtwin-embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("embedded broker did not start")
        if error:
            raise RuntimeError(f"embedded broker failed to start on {self.url}: {error[0]}") from error[0]
        logger.info("embedded MQTT broker (amqtt) listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            fut.result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._loop = self._broker = self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_broker(url: str) -> EmbeddedBroker | None:
    """Start the embedded broker at ``url`` when nothing answers there (the demo's default); None if one answers."""
    if broker_answers(url):
        return None
    host, port, tls = parse_url(url)
    if tls:
        raise RuntimeError(f"no broker answers at {url}, and the embedded broker does not speak TLS")
    return EmbeddedBroker(host, port).start()
