"""A real MQTT broker per test module: Mosquitto on a free loopback port, or the embedded amqtt broker without it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    kind: str  # "mosquitto" (MQTT 5 and 3.1.1) or "amqtt" (3.1.1 only)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker not listening on 127.0.0.1:{port} after {timeout_s}s")


def _start(tmp: Path) -> tuple[subprocess.Popen, Broker, Path]:
    port = _free_port()
    log = tmp / "broker.log"
    mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if os.environ.get("PACKTWIN_TEST_BROKER") == "amqtt":  # exercise the fallback on a machine with Mosquitto
        mosquitto = None
    if mosquitto:
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 100000\n")
        cmd = [mosquitto, "-c", str(conf)]
        kind = "mosquitto"
    else:
        conf = tmp / "amqtt.yaml"
        conf.write_text(f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n"
                        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n")
        cmd = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]
        kind = "amqtt"
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    _wait_listening(port, proc, log)
    return proc, Broker("127.0.0.1", port, kind), log


@pytest.fixture(scope="module")
def mqtt_broker(tmp_path_factory) -> Iterator[Broker]:
    proc, broker, _ = _start(tmp_path_factory.mktemp("broker"))
    try:
        yield broker
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
