"""Every Thing, feature and Ditto Protocol message of a generated fleet validates against the Ditto JSON schemas."""

from __future__ import annotations

import json
import re

import pytest
from basyx.aas import model

from packtwin.aas.fleet import build_fleet
from packtwin.connectors.ditto import connection, mapping, schemas
from packtwin.connectors.ditto.export import export, load_environment, things_and_messages
from packtwin.connectors.ditto.mapping import ThingMapper, definition_of, value_only
from packtwin.connectors.ditto.protocol import (
    MESSAGE_LIMIT_BYTES,
    THING_LIMIT_BYTES,
    envelope,
    fit_thing,
    size_of,
    thing_messages,
)
from packtwin.submodels.access import AccessGroup
from tests.connectors import idta_fleet

# Ditto's own, anchored forms (the published schema patterns are unanchored, so we check these too).
DEFINITION = re.compile(r"^[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+$")
THING_ID = re.compile(r"^[a-zA-Z]\w*(\.[a-zA-Z]\w*)*:[^\x00-\x1F\x7F-\xFF/]+$")


@pytest.fixture(scope="module")
def fleet():
    """Three packs built from the IDTA example-value templates, with access marks set by the test helper."""
    return idta_fleet.build(3)


@pytest.fixture(scope="module")
def generated_fleet():
    """A whole fleet from the fleet builder: 2 packs × 2 modules × 3 cells = 18 twins with all their submodels."""
    return build_fleet(2, modules=2, cells=3).objects


def _mapper(clearance: AccessGroup = AccessGroup.PUBLIC) -> ThingMapper:
    return ThingMapper(namespace=mapping.namespace_from_base(idta_fleet.BASE), base_iri=idta_fleet.BASE,
                       clearance=clearance)


def _count_properties(node) -> int:
    if isinstance(node, dict):
        return sum(1 + _count_properties(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count_properties(v) for v in node)
    return 0


@pytest.mark.parametrize("clearance", list(AccessGroup))
def test_whole_generated_fleet_validates(generated_fleet, clearance):
    mapper = _mapper(clearance)
    results = list(things_and_messages(generated_fleet, mapper))
    shells = [x for x in generated_fleet if isinstance(x, model.AssetAdministrationShell)]
    assert len(results) == len(shells) == 18
    n_features = n_messages = 0
    for thing, messages, omissions in results:
        assert schemas.errors("thing_v2", thing) == []
        assert THING_ID.match(thing["thingId"])
        assert size_of(thing) <= THING_LIMIT_BYTES and omissions == []
        for fid, feature in thing["features"].items():
            assert schemas.errors("feature_v2", feature) == [], fid
            assert all(DEFINITION.match(d) for d in feature["definition"])
            n_features += 1
        for msg in messages:
            assert schemas.errors("protocol-envelope", msg) == []
            assert size_of(msg) <= MESSAGE_LIMIT_BYTES
            n_messages += 1
    assert n_messages == 18 and n_features >= 18
    assert schemas.errors("policy", connection.policy(mapper.policy)) == []
    assert schemas.errors("connection", connection.mqtt_connection("mqtt://127.0.0.1:1883")) == []


def test_generated_fleet_public_things_hold_less_than_restricted(generated_fleet):
    """The fleet builder marks passport elements with access groups: public Things must carry fewer values."""
    sizes = {}
    for clearance in AccessGroup:
        sizes[clearance] = sum(_count_properties(t["features"])
                               for t, _, _ in things_and_messages(generated_fleet, _mapper(clearance)))
    assert sizes[AccessGroup.PUBLIC] < sizes[AccessGroup.LEGITIMATE_INTEREST] <= sizes[AccessGroup.AUTHORITIES]


def test_whole_idta_fleet_validates(fleet):
    mapper = _mapper()
    results = list(things_and_messages(fleet, mapper))
    assert len(results) == 3
    n_features = 0
    for thing, messages, _ in results:
        assert schemas.errors("thing_v2", thing) == []
        n_features += len(thing["features"])
        for fid, feature in thing["features"].items():
            assert schemas.errors("feature_v2", feature) == [], fid
        assert all(schemas.errors("protocol-envelope", m) == [] for m in messages)
    # 7 passport submodels per pack, MaterialComposition (authorities) left out of the public Things
    assert n_features == 3 * 6


def test_thing_content(fleet):
    shell = next(x for x in fleet if isinstance(x, model.AssetAdministrationShell) and x.id.endswith("PT-P000001"))
    thing = _mapper().thing(shell, mapping.submodels_of(shell, fleet))
    assert thing["thingId"] == "org.example.packtwin:PT-P000001"
    assert thing["attributes"]["globalAssetId"] == "https://example.org/packtwin/asset/pack/PT-P000001"
    assert thing["attributes"]["specificAssetIds"] == {"serialNumber": "PT-P000001"}
    cond = thing["features"]["ProductCondition"]
    assert cond["definition"] == ["io.admin-shell.idta.batterypass.product_condition:ProductCondition:1.0.0"]
    src = thing["attributes"]["submodels"]["ProductCondition"]
    assert src["submodelId"] == "https://example.org/packtwin/sm/pack/PT-P000001/ProductCondition"
    # values: the features carry the example values of the template, typed
    sm = fleet.get_item(src["submodelId"])
    restricted = next(iter(sm.submodel_element)).id_short
    assert restricted not in cond["properties"]  # legitimateInterest element, public Thing
    li = _mapper(AccessGroup.LEGITIMATE_INTEREST).thing(shell, mapping.submodels_of(shell, fleet))
    assert restricted in li["features"]["ProductCondition"]["properties"]
    assert "MaterialComposition" not in li["features"]
    assert "MaterialComposition" in _mapper(AccessGroup.AUTHORITIES).thing(
        shell, mapping.submodels_of(shell, fleet))["features"]


def test_value_only_forms():
    assert value_only({"modelType": "Property", "valueType": "xs:double", "value": "3.5"}) == 3.5
    assert value_only({"modelType": "Property", "valueType": "xs:int", "value": "7"}) == 7
    assert value_only({"modelType": "Property", "valueType": "xs:boolean", "value": "true"}) is True
    assert value_only({"modelType": "Property", "valueType": "xs:double", "value": "n/a"}) == "n/a"
    assert value_only({"modelType": "Property", "valueType": "xs:string"}) is None
    assert value_only({"modelType": "MultiLanguageProperty",
                       "value": [{"language": "en", "text": "cell"}]}) == [{"en": "cell"}]
    smc = {"modelType": "SubmodelElementCollection", "value": [
        {"idShort": "A", "modelType": "Property", "valueType": "xs:int", "value": "1"},
        {"idShort": "B", "modelType": "Property", "valueType": "xs:string"},
        {"idShort": "L", "modelType": "SubmodelElementList", "value": [
            {"modelType": "Property", "valueType": "xs:int", "value": "2"}]}]}
    assert value_only(smc) == {"A": 1, "L": [2]}


def test_definitions_from_semantic_ids():
    assert definition_of("https://admin-shell.io/idta/nameplate/3/0/Nameplate") == \
        "io.admin-shell.idta.nameplate:Nameplate:3.0"
    assert definition_of("urn:samm:io.admin-shell.idta.batterypass.circularity:1.0.0#Circularity") == \
        "io.admin-shell.idta.batterypass.circularity:Circularity:1.0.0"
    assert definition_of("0173-1#01-AHF578#003") == "0173-1:01-AHF578:003"
    for odd in ("x", "urn:iridi:foo bar", "https://h/", "ümlaut:ä"):
        assert DEFINITION.match(definition_of(odd)), odd


def _big_thing(n_props: int, prop_bytes: int) -> dict:
    return {"thingId": "a.b:big", "policyId": "a.b:p", "attributes": {"submodels": {}},
            "features": {"F": {"definition": ["a:b:1"],
                               "properties": {f"P{i}": "x" * prop_bytes for i in range(n_props)}},
                         "G": {"properties": {"small": 1}}}}


def test_too_large_thing_leaves_out_largest_properties():
    thing = _big_thing(12, 10_000)  # ~120 kB > 100 kB
    fitted, omissions = fit_thing(thing)
    assert size_of(fitted) <= THING_LIMIT_BYTES
    assert omissions and all(o.feature_id == "F" for o in omissions)
    left_out = fitted["attributes"]["submodels"]["F"]["omittedProperties"]
    assert sorted(left_out) == sorted(o.property for o in omissions)
    assert fitted["features"]["G"] == {"properties": {"small": 1}}
    assert schemas.errors("thing_v2", fitted) == []


def test_split_into_per_feature_and_per_property_messages():
    # An operator raised the Thing limit above the message limit: the Thing goes out in pieces.
    thing = _big_thing(4, 40_000)
    thing["features"]["H"] = {"properties": {"huge": "y" * 90_000, "ok": 1}}
    messages, fitted, omissions = thing_messages(thing, thing_limit=1_000_000, message_limit=60_000)
    assert all(size_of(m) <= 60_000 for m in messages)
    assert all(schemas.errors("protocol-envelope", m) == [] for m in messages)
    paths = [m["path"] for m in messages]
    assert paths[0] == "/" and "/features/G" in paths
    assert [p for p in paths if p.startswith("/features/F/properties/")] == [f"/features/F/properties/P{i}"
                                                                           for i in range(4)]
    assert [(o.feature_id, o.property) for o in omissions] == [("H", "huge")]
    assert "/features/H/properties/ok" in paths and paths[-1] == "/attributes/submodels"
    assert "huge" not in fitted["features"]["H"]["properties"]


def test_envelopes():
    msg = envelope("org.example:x-1", "merge", "/features/F/properties/a", 3, correlation_id="c1")
    assert msg["topic"] == "org.example/x-1/things/twin/commands/merge"
    assert msg["headers"]["content-type"] == "application/merge-patch+json"
    assert "value" not in envelope("org.example:x-1", "delete", "/")
    with pytest.raises(ValueError):
        envelope("no-namespace", "modify", "/", {})
    with pytest.raises(ValueError):
        envelope("a:b", "retrieve", "/")


def test_export_writes_valid_files(fleet, tmp_path):
    data = idta_fleet.write_json(fleet, tmp_path / "fleet.json")
    store = load_environment(data)
    result = export(store, tmp_path / "out", _mapper())
    assert (result.things, result.features, result.messages) == (3, 18, 3)
    out = tmp_path / "out"
    things = sorted((out / "things").rglob("*.json"))
    assert len(things) == 3
    for path in things:
        assert schemas.errors("thing_v2", json.loads(path.read_text())) == []
    lines = [line for p in (out / "messages").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert len(lines) == 3 and all(schemas.errors("protocol-envelope", json.loads(x)) == [] for x in lines)
    assert schemas.errors("connection", json.loads((out / "connection.json").read_text())) == []
    assert schemas.errors("policy", json.loads((out / "policy.json").read_text())) == []
    assert json.loads((out / "omissions.json").read_text()) == []


def test_load_environment_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_environment(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_environment(tmp_path / "bad.json")
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(ValueError, match="unknown format"):
        load_environment(tmp_path / "x.csv")
