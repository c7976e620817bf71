"""``/sparql`` mounted on the AAS API app: the API's credentials decide what a SPARQL caller sees."""

from __future__ import annotations

import requests

from packtwin.aas.api.app import create_app
from packtwin.aas.api.auth import AuthConfig
from packtwin.aas.api.b64 import encode_id
from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.ontology.service import sparql_service
from packtwin.settings import load_settings
from packtwin.submodels.access import Role
from tests.ontology.conftest import LiveServer

SOC = ("PREFIX pt: <https://w3id.org/packtwin/ns#> SELECT ?soc WHERE { "
       "<https://example.org/packtwin/asset/cell/PT-P000001-M01-C001> pt:stateOfCharge ?soc }")


def test_sparql_beside_the_api_uses_its_roles_and_follows_its_writes():
    repo = Repository()
    repo.add_many(list(build_fleet(1, 1, 2).objects))
    settings = load_settings(config_file="/nonexistent.toml")
    routes, sync = sparql_service(repo, settings)
    app = create_app(repo, settings, extra_routes=routes,
                     auth=AuthConfig({"op": Role.OPERATOR, "li": Role.LEGITIMATE_INTEREST}))
    try:
        with LiveServer(app) as server:
            url = server.url + "/sparql"

            def soc(key: str | None) -> list[float]:
                r = requests.get(url, params={"query": SOC}, headers={"X-API-Key": key} if key else {}, timeout=30)
                assert r.status_code == 200, r.text
                return [float(b["soc"]["value"]) for b in r.json()["results"]["bindings"]]

            assert soc(None) == []  # state of charge is for persons with a legitimate interest
            assert len(soc("li")) == 1
            sm_id = "https://example.org/packtwin/sm/cell/PT-P000001-M01-C001/ProductCondition"
            r = requests.patch(f"{server.url}/api/v3.0/submodels/{encode_id(sm_id)}/submodel-elements/"
                               "StateOfCharge.StateOfChargeValue/$value", json=12.5, headers={"X-API-Key": "op"},
                               timeout=30)
            assert r.status_code == 204, r.text
            assert soc("li") == [12.5]
            assert requests.get(url, params={"query": SOC}, headers={"X-API-Key": "wrong"}, timeout=30
                                ).status_code == 401
    finally:
        sync.stop()


def test_endpoint_limits_come_from_the_settings_file_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "packtwin.toml"
    config.write_text("[packtwin]\nsparql_max_rows = 3\nsparql_max_query_bytes = 400\n")
    monkeypatch.setenv("PACKTWIN_SPARQL_TIMEOUT_S", "7.5")
    settings = load_settings(config_file=config)
    assert (settings.sparql_max_rows, settings.sparql_timeout_s) == (3, 7.5)
    repo = Repository()
    repo.add_many(list(build_fleet(1, 1, 4).objects))
    routes, sync = sparql_service(repo, settings)
    app = create_app(repo, settings, extra_routes=routes, auth=AuthConfig({"op": Role.OPERATOR}))
    try:
        with LiveServer(app) as server:
            url, key = server.url + "/sparql", {"X-API-Key": "op"}
            cells = "PREFIX pt: <https://w3id.org/packtwin/ns#> SELECT ?c WHERE { ?c pt:level \"cell\" }"
            r = requests.get(url, params={"query": cells}, headers=key, timeout=30)
            assert r.status_code == 200, r.text
            assert len(r.json()["results"]["bindings"]) == 3  # four cells, cut at the configured row limit
            assert r.headers["X-SPARQL-Truncated"] == "3"
            long_query = cells + " #" + "x" * 400
            r = requests.get(url, params={"query": long_query}, headers=key, timeout=30)
            assert r.status_code == 413 and "400 bytes" in r.text
    finally:
        sync.stop()


def test_the_demo_staleness_overrides_only_what_it_names():
    from packtwin.ontology.endpoint import EndpointSettings

    settings = load_settings(config_file="/nonexistent.toml", sparql_max_parallel=5, sparql_max_staleness_s=0.5)
    endpoint = EndpointSettings.from_settings(settings, max_staleness_s=2.0)
    assert (endpoint.max_parallel, endpoint.max_staleness_s, endpoint.timeout_s) == (5, 2.0, 10.0)
