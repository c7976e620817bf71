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
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
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


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"broker did not open {host}:{port} within {timeout} s")


class MosquittoProcess:
    """A Mosquitto process on a loopback port with :func:`mosquitto_conf` settings, its files in ``workdir``."""

    kind = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, **overrides: str) -> None:
        self.binary = mosquitto_binary()
        if self.binary is None:
            raise RuntimeError("mosquitto is not installed")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        if os.geteuid() == 0:
            # Mosquitto started as root drops to the ``mosquitto`` user, which cannot write into tmp_path.
            overrides.setdefault("user", "root")
        self.conf.write_text(mosquitto_conf(self.port, self.workdir, log_file=self.log, **overrides))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> MosquittoProcess:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            _wait_port(self.host, self.port, 10.0)
        except TimeoutError:
            self.proc.kill()
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise RuntimeError(f"mosquitto failed to start: {err}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM lets Mosquitto write its persistence file (sessions and queued messages) before exiting."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""



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
    """Start the embedded broker at ``url`` when nothing answers there (``simulate --embedded-broker``, the
    telemetry stack); None if one answers."""
    if broker_answers(url):
        return None
    host, port, tls = parse_url(url)
    if tls:
        raise RuntimeError(f"no broker answers at {url}, and the embedded broker does not speak TLS")
    return EmbeddedBroker(host, port).start()
