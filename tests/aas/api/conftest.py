"""Fixtures: a small fleet, served by a real ``packtwin serve`` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.aas.api.fleet_data import BASE, make_fleet, write_fleet

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "/api/v3.0"
# Keys the served app accepts, one per role (written to the keys file the server reads).
KEYS = {"anonymous": None, "legitimate_interest": "k-legit-3f9a", "authority": "k-auth-77c1",
        "operator": "k-oper-0b2e"}
JWT_SECRET = "test-secret-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT/api/v3.0
    proc: subprocess.Popen
    data: Path

    def headers(self, role: str) -> dict[str, str]:
        key = KEYS[role]
        return {"X-API-Key": key} if key else {}


def start_server(data: Path, tmp: Path, *extra: str) -> Server:
    keys = tmp / "keys.toml"
    keys.write_text("[api_keys]\n" + "".join(f'"{k}" = "{r}"\n' for r, k in KEYS.items() if k))
    port = free_port()
    env = {**os.environ, "PACKTWIN_API_KEYS_FILE": str(keys), "PACKTWIN_JWT_SECRET": JWT_SECRET,
           "PACKTWIN_CONFIG": str(tmp / "none.toml")}
    log = (tmp / f"server-{port}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "packtwin", "serve", "--data", str(data), "--port", str(port),
                             *extra], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{PREFIX}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"packtwin serve exited with {proc.returncode}: {(tmp / log.name).read_text()}")
        try:
            requests.get(url + "/description", timeout=1)
            return Server(url, proc, data)
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("packtwin serve did not answer within 60 s")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


@pytest.fixture(scope="session")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fleet(tmp_path_factory.mktemp("fleet") / "fleet.aasx", make_fleet(2, 1, 1))


AAS_ID = f"{BASE}/aas/pack/PT-P000001"
SUBMODEL_ID = f"{BASE}/sm/pack/PT-P000001/BatteryNameplate"


@pytest.fixture(scope="session")
def served(fleet_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A read-mostly server over the fleet file; binds /aas and /submodel to the first pack's twin and serves
    the AAS service also at the API root."""
    server = start_server(fleet_file, tmp_path_factory.mktemp("srv"), "--aas", AAS_ID, "--submodel", SUBMODEL_ID,
                          "--root-service", "aas")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def served_submodel_root(fleet_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Like ``served`` but with the Submodel service at the API root."""
    server = start_server(fleet_file, tmp_path_factory.mktemp("srv"), "--aas", AAS_ID, "--submodel", SUBMODEL_ID,
                          "--root-service", "submodel")
    yield server
    stop_server(server)


class LiveApp:
    """``create_app`` served by uvicorn in a thread on a free loopback port, with the repository at hand."""

    def __init__(self, app, port: int) -> None:
        import threading

        import uvicorn
        self.port = port
        self.url = f"http://127.0.0.1:{port}{PREFIX}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def live(app) -> LiveApp:
    return LiveApp(app, free_port())


def keys_config():
    from packtwin.aas.api.auth import AuthConfig
    from packtwin.submodels.access import Role
    return AuthConfig({k: Role(r) for r, k in KEYS.items() if k}, JWT_SECRET)


def headers_for(role: str) -> dict[str, str]:
    key = KEYS[role]
    return {"X-API-Key": key} if key else {}
