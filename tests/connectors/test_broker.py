import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from packtwin.connectors import codec, topics
from packtwin.connectors.broker import (
    MOSQUITTO_SETTINGS,
    EmbeddedBroker,
    MosquittoProcess,
    broker_answers,
    ensure_broker,
    free_port,
    mosquitto_binary,
    parse_url,
)
from packtwin.connectors.frame import Frame
from packtwin.connectors.ingest import Ingest
from packtwin.connectors.mqtt import MqttOptions, Publisher
from packtwin.timeseries.sqlite import SQLiteTimeSeries

ROOT = Path(__file__).resolve().parents[2]


def test_compose_config_carries_the_settings():
    lines = (ROOT / "compose" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    conf = dict(line.split(" ", 1) for line in lines if line and not line.startswith("#"))
    for key, value in MOSQUITTO_SETTINGS.items():
        assert conf.get(key) == value, key


def test_parse_url():
    assert parse_url("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884, False)
    assert parse_url("mqtts://u:p@127.0.0.1") == ("127.0.0.1", 8883, True)
    with pytest.raises(ValueError):
        parse_url("http://127.0.0.1")


def test_embedded_broker_started_only_when_none_answers():
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    assert not broker_answers(url)
    broker = ensure_broker(url)
    try:
        assert isinstance(broker, EmbeddedBroker) and broker_answers(url)
        assert ensure_broker(url) is None  # one answers now: nothing started
    finally:
        broker.stop()
    with pytest.raises(ValueError):
        EmbeddedBroker("0.0.0.0", port)


def _make_tls(tmp: Path) -> tuple[Path, Path, Path]:
    ca_key, ca, key, csr, cert = (tmp / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=packtwin test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


@pytest.mark.skipif(mosquitto_binary() is None or shutil.which("mosquitto_passwd") is None
                    or shutil.which("openssl") is None,
                    reason="needs mosquitto, mosquitto_passwd and openssl (Debian: mosquitto, openssl)")
def test_tls_and_password(tmp_path):
    ca, cert, key = _make_tls(tmp_path)
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "gateway", "s3cret"], check=True,
                   capture_output=True)
    broker = MosquittoProcess(tmp_path / "broker", allow_anonymous="false", password_file=str(passwords),
                              cafile=str(ca), certfile=str(cert), keyfile=str(key)).start()
    url = f"mqtts://gateway:s3cret@127.0.0.1:{broker.port}"
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    try:
        wrong = Ingest(store, MqttOptions(url.replace("s3cret", "wrong"), ca_certs=str(ca)),
                       client_id="intruder").start(wait_connected=2)
        assert not wrong.connected
        wrong.stop()
        ingest = Ingest(store, MqttOptions(url, ca_certs=str(ca))).start()
        assert ingest.connected
        publisher = Publisher(MqttOptions(f"mqtts://127.0.0.1:{broker.port}", username="gateway",
                                          password="s3cret", ca_certs=str(ca)), "gw").start()
        frames = [Frame("P1", i, 1.8e9 + i, 1.0, np.full(8, 3.7, np.float32), np.empty(0, np.float32))
                  for i in range(50)]
        publisher.publish_many([(topics.telemetry("P1"), codec.encode_binary(f)) for f in frames])
        assert publisher.flush(60)
        deadline = time.monotonic() + 60
        while store.count() < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        publisher.stop()
        ingest.stop()
        assert store.count() == 50
    finally:
        store.close()
        broker.stop()
