"""``packtwin serve`` as a user runs it: the AAS API and the SPARQL endpoint on one port, over a fleet file."""

import json
import subprocess
import sys
import time
import urllib.request

import psutil
from SPARQLWrapper import JSON, SPARQLWrapper

from packtwin.aas.fleet import build_fleet
from packtwin.aas.interchange import write_environment
from packtwin.connectors.broker import free_port

SERIALS = "SELECT ?serial WHERE { ?b <https://w3id.org/packtwin/ns#serialNumber> ?serial } ORDER BY ?serial"


def _wait(fn, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = fn()
            if result:
                return result
        except OSError:
            pass
        time.sleep(0.5)
    return None


def test_api_and_sparql_on_one_port(tmp_path):
    fleet = build_fleet(1, 1, 2)
    path = tmp_path / "fleet.json"
    write_environment(path, fleet.objects)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "packtwin", "serve", "--data", str(path), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def shells():
            with urllib.request.urlopen(f"{base}/api/v3.0/shells", timeout=5) as r:
                return json.load(r)["result"]

        listed = _wait(shells, 60)
        assert listed is not None and len(listed) == 4

        def serials():
            client = SPARQLWrapper(f"{base}/sparql")
            client.setQuery(SERIALS)
            client.setReturnFormat(JSON)
            rows = client.query().convert()["results"]["bindings"]
            return [r["serial"]["value"] for r in rows] if len(rows) == 4 else None

        assert _wait(serials, 60) == ["PT-P000001", "PT-P000001-M01", "PT-P000001-M01-C001", "PT-P000001-M01-C002"]
        # Queries run in forked children kept warm between queries; they must not outlive the server. A child is
        # replaced when the store changes (the server may still be converting): query until one stays warm.

        def warm_children():
            serials()
            return psutil.Process(proc.pid).children(recursive=True)

        children = _wait(warm_children, 60)
        assert children, "a SPARQL query leaves a warm query process"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"query processes left behind by the server: {[c.pid for c in alive]}"
