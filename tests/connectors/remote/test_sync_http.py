"""packtwin server A syncs to packtwin server B, each a separate process over HTTP (and registers descriptors in a
third server's registry)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packtwin.connectors.remote.client import KINDS, SHELL_DESCRIPTORS, AasClient
from packtwin.connectors.remote.sync import digest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("packtwin.aas.api") is None,
                                reason="needs the AAS HTTP API server (packtwin.aas.api)")

KEY = "k-sync-operator"
ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data: Path, keys: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v3.0"
        env = {**os.environ, "PACKTWIN_API_KEYS_FILE": str(keys), "PACKTWIN_HTTP_HOST": "127.0.0.1"}
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "packtwin", "serve", "--data", str(data),
                                      "--port", str(self.port)], cwd=ROOT, env=env,
                                     stdout=log.open("w"), stderr=subprocess.STDOUT)

    def wait(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server on {self.port} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def servers(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[api_keys]\n"{KEY}" = "operator"\n')
    dirs = {name: tmp_path / name for name in ("a", "b", "registry")}
    for d in dirs.values():
        d.mkdir()
    subprocess.run([sys.executable, "-m", "packtwin", "fleet", "create", "--packs", "1", "--modules", "1",
                    "--cells", "2", "--out", str(dirs["a"] / "fleet.json")], cwd=ROOT, check=True, timeout=120,
                   capture_output=True)
    started = {name: Server(d, keys, tmp_path / f"{name}.log") for name, d in dirs.items()}
    try:
        for s in started.values():
            s.wait()
        yield started
    finally:
        for s in started.values():
            s.stop()


def _sync(a: str, b: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PACKTWIN_SYNC_SOURCE_KEY": KEY, "PACKTWIN_SYNC_TARGET_KEY": KEY,
           "PACKTWIN_SYNC_REGISTRY_KEY": KEY, "PACKTWIN_DATA_DIR": str(tmp_path / "client")}
    return subprocess.run([sys.executable, "-m", "packtwin", "sync", "--from", a, "--to", b, *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def _environment(url: str) -> dict:
    client = AasClient(url, api_key=KEY)
    return {(kind, d["id"]): digest(d) for kind in KINDS for d in client.list(kind)}


def test_server_a_syncs_to_server_b(servers, tmp_path):
    a, b, registry = servers["a"], servers["b"], servers["registry"]
    before = _environment(a.url)
    assert len(before) > 20 and _environment(b.url) == {}
    first = _sync(a.url, b.url, tmp_path, "--registry", registry.url)
    assert first.returncode == 0, first.stderr
    assert f"{len(before)} created, 0 updated" in first.stdout
    assert _environment(b.url) == before
    # a second sync transfers nothing
    second = _sync(a.url, b.url, tmp_path, "--registry", registry.url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"0 created, 0 updated, {len(before)} unchanged, 0 conflicts")
    assert "0 registry descriptors written" in second.stdout
    # the registry knows every shell, served by B
    descriptors = list(AasClient(registry.url, api_key=KEY).list(SHELL_DESCRIPTORS))
    shells = {ident for kind, ident in before if kind == "shells"}
    assert {d["id"] for d in descriptors} >= shells
    for d in descriptors:
        if d["id"] in shells:
            assert d["endpoints"][0]["protocolInformation"]["href"].startswith(b.url)
