"""``packtwin demo`` as a user runs it: a subprocess, a real broker, a real HTTP port, the summary line last."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests

from packtwin.connectors.broker import mosquitto_binary
from tests.fixtures.demo_process import ROOT, DemoProcess


def _summary(lines: list[str]) -> dict:
    assert lines, "no output"
    return json.loads(lines[-1])


def test_demo_runs_everything_and_prints_the_summary_last(tmp_path: Path) -> None:
    # No --mqtt: the demo starts a broker of its own (Mosquitto when installed), never the shared one at :1883.
    demo = DemoProcess("--packs", "3", "--duration", "20", "--port", "0", "--data", str(tmp_path))
    try:
        url = demo.wait_for(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", 90).group(1)
        broker = demo.wait_for(r"MQTT broker\s+mqtt://(127\.0\.0\.1):(\d+) \((\w+)\)", 5)
        assert broker.group(3) == ("mosquitto" if mosquitto_binary() else "embedded")
        assert int(broker.group(2)) != 1883
        events: list[tuple[str, dict]] = []
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-basyx-events")
        watcher.on_connect = lambda c, *a: c.subscribe("sm-repository/packtwin/submodels/#", qos=1)
        watcher.on_message = lambda c, u, m: events.append((m.topic, json.loads(m.payload)))
        watcher.connect(broker.group(1), int(broker.group(2)))
        watcher.loop_start()
        key = demo.wait_for(r"operator: X-API-Key (\S+)", 5).group(1)
        op = {"X-API-Key": key}
        # The same port serves the dashboard, the AAS API, SPARQL and the live endpoints.
        assert "<title>packtwin" in requests.get(url + "/", timeout=10).text
        shells = requests.get(url + "/api/v3.0/shells", params={"limit": 5}, timeout=30).json()
        assert len(shells["result"]) == 5
        assert requests.get(url + "/dashboard/api/overview", timeout=10).status_code == 401
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ov = requests.get(url + "/dashboard/api/overview", headers=op, timeout=10).json()
            if all(p["frames"] > 0 for p in ov["packs"]):
                break
            time.sleep(0.5)
        assert [p["pack_id"] for p in ov["packs"]] == ["PT-P000001", "PT-P000002", "PT-P000003"]
        assert all(p["frames"] > 0 for p in ov["packs"])
        r = requests.post(url + "/sparql", data={"query": "ASK { ?s ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert r.status_code == 200 and r.json()["boolean"] is True
        with requests.get(url + "/events", params={"key": key}, stream=True, timeout=10) as stream:
            kinds = set()
            for raw in stream.iter_lines(decode_unicode=True):
                if raw.startswith("event: "):
                    kinds.add(raw[7:])
                if "stats" in kinds:
                    break
        assert "stats" in kinds
        # Repository changes (the estimates written into the passports) go out as BaSyx MQTT events.
        deadline = time.monotonic() + 30
        while not any(t.endswith("/updated") for t, _ in events) and time.monotonic() < deadline:
            time.sleep(0.2)
        watcher.disconnect()
        watcher.loop_stop()
        updated = [(t, b) for t, b in events if t.endswith("/updated")]
        assert updated, [t for t, _ in events][:5]
        assert all(isinstance(b, dict) and b.get("idShort") for _, b in updated)
    finally:
        rc = demo.finish(90)
    assert rc == 0, demo.stderr[-3000:]
    s = _summary(demo.lines)
    assert s["packs"] == 3
    assert s["frames_ingested"] > 3 * 100  # 20 frames/s per pack at the default speed
    assert s["cell_samples_ingested"] == 96 * s["frames_ingested"]
    assert s["frames_deadlettered"] >= 1  # the malformed frame the demo sends on purpose
    assert s["estimates_written"] > 0
    # 20 s are 7 simulated minutes: too early for the injected faults, and nothing else may raise an alert.
    assert s["alerts_raised"] == 0
    # What the demo stored is really there: frames in the time series, estimates in the repository.
    from packtwin.aas.repository import Repository
    from packtwin.timeseries.sqlite import SQLiteTimeSeries

    with SQLiteTimeSeries(tmp_path / "timeseries.sqlite") as ts:
        assert ts.count() == s["frames_ingested"]
        assert len(ts.deadletters()) == s["frames_deadlettered"]
    repo = Repository.open(tmp_path / "repository.sqlite")
    pc = repo.get_submodel("https://example.org/packtwin/sm/pack/PT-P000001/ProductCondition")
    soc = pc.get_referable("StateOfCharge").get_referable("StateOfChargeValue").value
    assert 0 <= float(soc) <= 100 and float(soc) != 50.0  # 50.0 is the fleet builder's initial value
    # The first cells of a pack are written with the pack (the same passport mapping: part 5 and the part 4 fade).
    cell = "https://example.org/packtwin/sm/cell/PT-P000001-M01-C001"
    cell_soc = repo.get_submodel(f"{cell}/ProductCondition").get_referable("StateOfCharge")
    assert float(cell_soc.get_referable("StateOfChargeValue").value) != 50.0
    assert cell_soc.get_referable("LastUpdate").value.year >= 2026
    fade = (repo.get_submodel(f"{cell}/TechnicalData").get_referable("TechnicalPropertyAreas")
            .get_referable("CapacityEnergyVoltage").get_referable("CapacityFade").value)
    assert fade is not None and -50.0 < float(fade) < 100.0


def test_the_demo_finds_its_injected_short_and_records_it_in_the_cell_passport(tmp_path: Path, mqtt_broker) -> None:
    # Simulator -> MQTT -> ingest -> estimator process -> alert -> the cell's Product Condition. At 60x a minute of
    # wall time is an hour of the fleet; the 5-ohm short of pack 2 (cell index 16) is flagged ~40 simulated minutes
    # in. Waited for by simulated time (a loaded machine runs the simulator slower), bounded in wall time.
    demo = DemoProcess("--packs", "2", "--speed", "60", "--port", "0", "--mqtt", mqtt_broker.url,
                       "--data", str(tmp_path))
    try:
        url = demo.wait_for(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", 90).group(1)
        start = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            st = requests.get(url + "/dashboard/api/status", timeout=10).json()
            start = st["sim_time"] if start is None else start
            if st["alerts"] >= 1 or st["sim_time"] - start > 90 * 60:
                break
            time.sleep(1)
        minutes = (st["sim_time"] - start) / 60
        demo.proc.send_signal(signal.SIGINT)
    finally:
        rc = demo.finish(120)
    assert rc == 0, demo.stderr[-3000:]
    s = _summary(demo.lines)
    assert s["alerts_raised"] == 1, (s, minutes)
    from packtwin.aas.repository import Repository

    repo = Repository.open(tmp_path / "repository.sqlite")
    events = repo.get_submodel("https://example.org/packtwin/sm/cell/PT-P000002-M02-C005/ProductCondition"
                               ).get_referable("NegativeEvents")
    texts = [item.get_referable("NegativeEventValue").value for item in events.value]
    assert len(texts) == 1 and texts[0].startswith("internal_short (critical): cell 16 loses"), texts
    healthy = repo.get_submodel("https://example.org/packtwin/sm/cell/PT-P000002-M02-C004/ProductCondition")
    assert len(healthy.get_referable("NegativeEvents").value) == 0


def test_demo_uses_an_existing_broker_and_stops_cleanly_on_ctrl_c(tmp_path: Path, mqtt_broker) -> None:
    demo = DemoProcess("--packs", "2", "--port", "0", "--mqtt", mqtt_broker.url, "--data", str(tmp_path))
    try:
        demo.wait_for(r"stop with Ctrl-C", 90)
        assert any(f"MQTT broker    {mqtt_broker.url} (existing)" in line for line in demo.lines), demo.lines
        time.sleep(4)
        demo.proc.send_signal(signal.SIGINT)
    finally:
        rc = demo.finish(60)
    assert rc == 0, demo.stderr[-3000:]
    assert "Traceback" not in demo.stderr
    s = _summary(demo.lines)
    assert s["packs"] == 2 and s["frames_ingested"] > 0


def test_demo_refuses_a_taken_port_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "packtwin", "demo", "--port", str(port), "--duration", "5",
                            "--data", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"port {port}" in r.stderr and "--port 0" in r.stderr
    assert not (tmp_path / "repository.sqlite").exists()  # nothing was started


def test_without_data_the_demo_works_in_a_temporary_directory_it_removes(tmp_path: Path, mqtt_broker,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    demo = DemoProcess("--packs", "1", "--duration", "6", "--port", "0", "--mqtt", mqtt_broker.url)
    try:
        folder = Path(demo.wait_for(r"cells in (\S+) \(", 90).group(1))
        assert folder.parent == tmp_path and (folder / "repository.sqlite").exists()
    finally:
        rc = demo.finish(60)
    assert rc == 0, demo.stderr[-3000:]
    assert not folder.exists()
    assert _summary(demo.lines)["packs"] == 1
