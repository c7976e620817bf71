"""Fixtures of the ontology tests: a small fleet, a repository, the synced store and a live endpoint."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.requests import Request

from packtwin.aas.repository import Repository
from packtwin.ontology.endpoint import EndpointSettings, create_sparql_app
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync
from packtwin.submodels.access import Role
from tests.ontology.fleet_fixture import build_test_fleet, with_scenarios

ROLE_HEADER = "X-Test-Role"


def header_role(request: Request) -> Role:
    """Test stand-in for the server's request -> Role resolver."""
    try:
        return Role(request.headers.get(ROLE_HEADER, Role.ANONYMOUS.value))
    except ValueError:
        return Role.ANONYMOUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def fleet() -> list:
    return with_scenarios(build_test_fleet(packs=3, modules=2, cells=3, seed=7, with_concept_descriptions=False))


@pytest.fixture(scope="session")
def synced(fleet: list) -> Iterator[tuple[Repository, GraphStore, RdfSync]]:
    repo = Repository()
    repo.add_many(fleet)
    store = GraphStore()
    sync = RdfSync(repo, store).start()
    yield repo, store, sync
    sync.stop()


@pytest.fixture(scope="session")
def live(synced: tuple[Repository, GraphStore, RdfSync]) -> Iterator[LiveServer]:
    _, store, sync = synced
    app = create_sparql_app(store, header_role, EndpointSettings(timeout_s=6.0, max_rows=1_000_000), lock=sync.lock)
    with LiveServer(app) as server:
        yield server
