"""Incremental sync behind the live AAS API: 1,000 random writes over HTTP, then the graph equals a fresh conversion."""

from __future__ import annotations

import json
import random

import requests
from basyx.aas import model

from packtwin.aas.api.app import create_app
from packtwin.aas.api.auth import AuthConfig
from packtwin.aas.api.b64 import encode_id
from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.ontology.battery import walk
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync, convert_all
from packtwin.settings import load_settings
from packtwin.submodels.access import EXTENSION_NAME, EXTENSION_SEMANTIC_ID, AccessGroup, Role
from tests.ontology.conftest import LiveServer

KEY = "k-ontology-test-operator"
NUMERIC = {model.datatypes.Float: float, float: float, model.datatypes.Decimal: float, int: int,
           model.datatypes.Int: int, model.datatypes.Long: int, model.datatypes.UnsignedInt: int,
           model.datatypes.UnsignedLong: int, model.datatypes.NonNegativeInteger: int}


def _scalar(prop: model.Property, rng: random.Random) -> object:
    kind = NUMERIC.get(prop.value_type)
    if kind is float:
        return round(rng.uniform(0, 100), 3)
    if kind is int:
        return rng.randrange(0, 1000)
    if prop.value_type is bool:
        return rng.random() < 0.5
    return rng.choice(["Original", "Repurposed", "internal short circuit alert", "deep discharge", "x"])


def test_synced_graph_equals_a_fresh_conversion_after_1000_random_writes_through_the_api():
    repo = Repository()
    repo.add_many(list(build_fleet(1, 2, 2).objects))
    store = GraphStore()
    sync = RdfSync(repo, store).start()
    app = create_app(repo, load_settings(config_file="/nonexistent.toml"), auth=AuthConfig({KEY: Role.OPERATOR}))
    rng = random.Random(5)
    done = dict.fromkeys(("value", "values", "add-event", "remove-event", "access-group", "replace-submodel",
                          "recreate-shell", "recreate-submodel"), 0)
    before = store.all_quads()
    with LiveServer(app) as server, requests.Session() as http:
        http.headers["X-API-Key"] = KEY
        api = server.url + "/api/v3.0"
        for _ in range(1000):
            kind = rng.choices(list(done), weights=[60, 10, 8, 6, 4, 6, 3, 3])[0]
            sm = rng.choice(repo.submodels())
            sm_url = f"{api}/submodels/{encode_id(sm.id)}"
            if kind == "value":
                props = [(p, e) for p, e, _ in walk(sm) if isinstance(e, model.Property)
                         and (e.value_type in NUMERIC or e.value_type in (str, bool))]
                path, prop = rng.choice(props)
                r = http.patch(f"{sm_url}/submodel-elements/{path}/$value", json=_scalar(prop, rng), timeout=30)
            elif kind == "values":  # the submodel's ValueOnly PATCH, naming a few nested Properties
                props = [(p, e) for p, e, _ in walk(sm) if isinstance(e, model.Property) and "[" not in p
                         and (e.value_type in NUMERIC or e.value_type in (str, bool))]
                body: dict = {}
                for path, prop in rng.sample(props, min(len(props), 4)):
                    *parents, leaf = path.split(".")
                    node = body
                    for name in parents:
                        node = node.setdefault(name, {})
                    node[leaf] = _scalar(prop, rng)
                r = http.patch(f"{sm_url}/$value", json=body, timeout=30)
            elif kind in ("add-event", "remove-event"):
                sm = rng.choice([s for s in repo.submodels() if s.id_short == "ProductCondition"])
                sm_url = f"{api}/submodels/{encode_id(sm.id)}"
                n = len(sm.get_referable("NegativeEvents").value)
                if kind == "add-event" or n == 0:
                    kind = "add-event"
                    item = {"modelType": "SubmodelElementCollection", "value": [
                        {"modelType": "Property", "idShort": "NegativeEventValue", "valueType": "xs:string",
                         "value": rng.choice(["deep discharge", "internal short circuit alert"])}]}
                    r = http.post(f"{sm_url}/submodel-elements/NegativeEvents", json=item, timeout=30)
                else:
                    r = http.delete(f"{sm_url}/submodel-elements/NegativeEvents[{rng.randrange(n)}]", timeout=30)
            elif kind == "access-group":
                top = rng.choice(list(sm.submodel_element)).id_short
                raw = http.get(f"{sm_url}/submodel-elements/{top}", timeout=30).json()
                raw["extensions"] = [x for x in raw.get("extensions", []) if x.get("name") != EXTENSION_NAME] + [{
                    "name": EXTENSION_NAME, "valueType": "xs:string", "value": rng.choice(list(AccessGroup)).token,
                    "semanticId": {"type": "ExternalReference", "keys": [
                        {"type": "GlobalReference", "value": EXTENSION_SEMANTIC_ID}]}}]
                r = http.put(f"{sm_url}/submodel-elements/{top}", json=raw, timeout=30)
            elif kind == "replace-submodel":
                raw = http.get(sm_url, timeout=30).json()
                raw["description"] = [{"language": "en", "text": f"revision {rng.randrange(10**6)}"}]
                r = http.put(sm_url, json=raw, timeout=30)
            elif kind == "recreate-shell":
                shell = rng.choice(repo.shells())
                url = f"{api}/shells/{encode_id(shell.id)}"
                raw = http.get(url, timeout=30).json()
                assert http.delete(url, timeout=30).status_code == 204
                r = http.post(f"{api}/shells", json=raw, timeout=30)
            else:
                raw = http.get(sm_url, timeout=30).json()
                assert http.delete(sm_url, timeout=30).status_code == 204
                r = http.post(f"{api}/submodels", data=json.dumps(raw), timeout=30,
                              headers={"Content-Type": "application/json"})
            assert r.status_code < 300, (kind, r.status_code, r.text[:300])
            done[kind] += 1
    sync.stop()
    assert all(done.values()), done
    assert sync.events >= 1000
    fresh = GraphStore()
    convert_all(list(repo), fresh)
    synced, expected = store.all_quads(), fresh.all_quads()
    assert synced != before
    assert synced == expected, (len(synced - expected), len(expected - synced))
