"""packtwin server A syncs to packtwin server B, each a separate process over HTTP (and registers descriptors in a
third server's registry)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def served_fleet(tmp_path: Path, packs: int, modules: int, cells: int) -> Iterator[Server]:
    """A ``packtwin serve`` process over a fleet built by ``packtwin fleet create``, an operator key ``KEY``."""
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[api_keys]\n"{KEY}" = "operator"\n')
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run([sys.executable, "-m", "packtwin", "fleet", "create", "--packs", str(packs), "--modules",
                    str(modules), "--cells", str(cells), "--out", str(data / "fleet.json")], cwd=ROOT, check=True,
                   timeout=120, capture_output=True)
    srv = Server(data, keys, tmp_path / "server.log")
    try:
        srv.wait()
        yield srv
    finally:
        srv.stop()


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
    # pull B into a local file, then a second pull changes nothing
    pulled = tmp_path / "pulled.json"
    env = {**os.environ, "PACKTWIN_SYNC_SOURCE_KEY": KEY, "PACKTWIN_DATA_DIR": str(tmp_path / "client")}
    for expected in (f"{len(before)} created", f"0 created, 0 updated, {len(before)} unchanged"):
        run = subprocess.run([sys.executable, "-m", "packtwin", "sync", "--from", b.url, "--data", str(pulled)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith(expected), run.stdout
    from packtwin.aas.interchange import read_environment

    assert len(read_environment(pulled)[0]) == len(before)


@pytest.fixture
def server_b(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[api_keys]\n"{KEY}" = "operator"\n')
    (tmp_path / "b").mkdir()
    server = Server(tmp_path / "b", keys, tmp_path / "b.log")
    try:
        server.wait()
        yield server
    finally:
        server.stop()


def _numeric_property(repo):
    """(submodel, property, idShortPath) of the first xs:double or xs:float property, at most one level deep."""
    from basyx.aas import model

    for sm in repo.submodels():
        for el in sm.submodel_element:
            children = [(el, el.id_short)]
            if isinstance(el, model.SubmodelElementCollection):
                children += [(c, f"{el.id_short}.{c.id_short}") for c in el.value]
            for node, path in children:
                if isinstance(node, model.Property) and node.value_type in (model.datatypes.Double, model.datatypes.Float):
                    return sm, node, path
    raise AssertionError("the fleet has no xs:double or xs:float property")


def test_estimates_flow_to_a_remote_server_as_they_change(server_b):
    from packtwin.aas.events import Operation
    from packtwin.aas.fleet import build_fleet
    from packtwin.aas.repository import Repository
    from packtwin.aas.serialization import to_jsonable
    from packtwin.connectors.remote.client import SUBMODELS
    from packtwin.connectors.remote.mirror import RemoteMirror
    from packtwin.connectors.remote.sync import LocalEndpoint, RemoteEndpoint, sync
    from packtwin.submodels.access import AccessGroup

    repo = Repository.open(None)
    repo.add_many(list(build_fleet(1, modules=1, cells=1).objects))
    client = AasClient(server_b.url, api_key=KEY)
    sync(LocalEndpoint(repo), RemoteEndpoint(client))
    mirror = RemoteMirror(repo, client, clearance=AccessGroup.AUTHORITIES).start()
    try:
        sm, prop, path = _numeric_property(repo)
        for i in range(20):  # a burst of estimates: coalesced, the last one wins
            prop.value = 90.0 - i
            repo.commit(sm, path, Operation.UPDATED, prop)
        assert mirror.flush(30)
        remote = client.get(SUBMODELS, sm.id)
        node: dict = {"value": remote["submodelElements"]}
        for seg in path.split("."):
            node = next(e for e in node["value"] if e.get("idShort") == seg)
        assert node["value"] == to_jsonable(prop)["value"]
        assert mirror.stats.dropped == 0 and 1 <= mirror.stats.sent <= 20
        # a whole-submodel replacement goes out as a PUT of the submodel
        sm2 = next(s for s in repo.submodels() if s.id_short != "ProductCondition")
        repo.replace(sm2)
        assert mirror.flush(30)
        assert digest(client.get(SUBMODELS, sm2.id)) == digest(to_jsonable(sm2))
    finally:
        mirror.stop()
