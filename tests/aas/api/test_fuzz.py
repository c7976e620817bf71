"""Property-based fuzzing of the live API: whatever the path, query, body or credentials, never a 5xx, and every
error is the API's Result body with the status as its code."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packtwin.aas.api import create_app
from packtwin.aas.api.b64 import encode_id
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from tests.aas.api.conftest import AAS_ID, SUBMODEL_ID, LiveApp, headers_for, keys_config, live
from tests.aas.api.fleet_data import make_fleet

TEMPLATES = [
    "/shells", "/shells/$reference", "/shells/{aas}", "/shells/{aas}/$reference", "/shells/{aas}/asset-information",
    "/shells/{aas}/asset-information/thumbnail", "/shells/{aas}/submodel-refs", "/shells/{aas}/submodel-refs/{sm}",
    "/shells/{aas}/submodels/{sm}", "/shells/{aas}/submodels/{sm}/submodel-elements/{path}",
    "/submodels", "/submodels/$value", "/submodels/$path", "/submodels/{sm}", "/submodels/{sm}/$value",
    "/submodels/{sm}/$metadata", "/submodels/{sm}/$path", "/submodels/{sm}/submodel-elements",
    "/submodels/{sm}/submodel-elements/$value", "/submodels/{sm}/submodel-elements/{path}",
    "/submodels/{sm}/submodel-elements/{path}/$value", "/submodels/{sm}/submodel-elements/{path}/$metadata",
    "/submodels/{sm}/submodel-elements/{path}/$path", "/submodels/{sm}/submodel-elements/{path}/$reference",
    "/submodels/{sm}/submodel-elements/{path}/attachment", "/concept-descriptions", "/concept-descriptions/{sm}",
    "/serialization", "/shell-descriptors", "/shell-descriptors/{aas}", "/shell-descriptors/{aas}/submodel-descriptors",
    "/submodel-descriptors", "/submodel-descriptors/{sm}", "/lookup/shells", "/lookup/shells/{aas}",
    "/lookup/shellsByAssetLink", "/description", "/{path}",
]
VALID_PATHS = ["SerialNumber", "Markings", "Markings[0]", "Markings[0].MarkingName", "AddressInformation.Street",
               "ManufacturerName", "DateOfManufacture"]
PARAMS = ["limit", "cursor", "level", "extent", "idShort", "assetIds", "semanticId", "includeConceptDescriptions",
          "aasIds", "submodelIds"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
identifiers = st.one_of(
    st.sampled_from([encode_id(AAS_ID), encode_id(SUBMODEL_ID)]),
    st.text(max_size=40).map(lambda t: encode_id(t) if t else "x"),
    st.text(alphabet="ABCxyz019-_=%.", min_size=1, max_size=30),
)
id_short_paths = st.one_of(st.sampled_from(VALID_PATHS),
                           st.text(alphabet="abAB09_.[]-", min_size=1, max_size=40),
                           st.lists(st.sampled_from(["a", "[0]", "[99]", "x"]), min_size=60, max_size=80).map(".".join))


def _element_mutation(data: st.DataObject) -> object:
    base = {"modelType": data.draw(st.sampled_from(["Property", "Range", "SubmodelElementCollection", "Blob", "File",
                                                    "MultiLanguageProperty", "Entity", "Submodel", "Nope"])),
            "idShort": data.draw(st.sampled_from(["SerialNumber", "Fuzz1", "", "1bad", "Markings"])),
            "valueType": data.draw(st.sampled_from(["xs:string", "xs:int", "xs:nope", None]))}
    base["value"] = data.draw(json_values)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def app() -> Iterator[LiveApp]:
    repo = Repository.open(None)
    repo.add_many(list(make_fleet(1, 1, 1).objects))
    server = live(create_app(repo, Settings(max_body_bytes=32 * 1024), auth=keys_config()))
    yield server
    server.stop()


# PACKTWIN_FUZZ_EXAMPLES raises the count for a longer campaign than the default run's.
@settings(max_examples=int(os.environ.get("PACKTWIN_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_5xx(app: LiveApp, data: st.DataObject) -> None:
    template = data.draw(st.sampled_from(TEMPLATES))
    path = template.format(aas=data.draw(identifiers), sm=data.draw(identifiers), path=data.draw(id_short_paths))
    method = data.draw(st.sampled_from(["GET", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    params = {name: data.draw(st.one_of(st.text(max_size=20), identifiers, st.integers(-5, 10).map(str)))
              for name in data.draw(st.lists(st.sampled_from(PARAMS), max_size=3, unique=True))}
    headers = dict(headers_for(data.draw(st.sampled_from(["operator", "operator", "anonymous", "authority"]))))
    headers["Accept"] = data.draw(st.sampled_from(["application/json", "application/xml", "*/*", "text/plain"]))
    body: bytes | None = None
    if method in ("POST", "PUT", "PATCH"):
        kind = data.draw(st.sampled_from(["json", "element", "bytes", "big", "none"]))
        if kind == "json":
            body = json.dumps(data.draw(json_values)).encode()
        elif kind == "element":
            body = json.dumps(_element_mutation(data)).encode()
        elif kind == "bytes":
            body = data.draw(st.binary(max_size=200))
        elif kind == "big":
            body = b'"' + base64.b64encode(b"\0" * 40_000) + b'"'
    resp = requests.request(method, app.url + path, params=params, data=body, headers=headers, timeout=30)
    assert resp.status_code < 500, f"{method} {path} {params} -> {resp.status_code}: {resp.text[:300]}"
    if resp.status_code >= 400 and method != "OPTIONS":
        message = resp.json()["messages"][0]
        assert message["code"] == str(resp.status_code) and message["text"]
