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
