"""Ditto -> AAS: value changes made in Ditto are written into the twins; packtwin's own changes are not re-applied."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from basyx.aas import model

from packtwin.aas.repository import Repository
from packtwin.connectors.basyx_events import connect
from packtwin.connectors.ditto import schemas
from packtwin.connectors.ditto.inbound import EVENTS_ROOT, DittoInbound, DittoInboundMqtt
from packtwin.connectors.ditto.mapping import ThingMapper
from packtwin.submodels.access import AccessGroup, set_access_group

THING = "org.example.packtwin:PT-P000009"


def _repo() -> Repository:
    secret = model.Property("Secret", model.datatypes.String, value="s")
    set_access_group(secret, AccessGroup.LEGITIMATE_INTEREST)
    sm = model.Submodel("https://example.org/packtwin/sm/pack/PT-P000009/ProductCondition", id_short="ProductCondition",
                        submodel_element=[
                            model.Property("StateOfHealth", model.datatypes.Double, value=97.0),
                            model.SubmodelElementCollection("Flags", value=[
                                model.Property("Balanced", model.datatypes.Boolean, value=False)]),
                            model.SubmodelElementList("Temps", model.Property, value_type_list_element=model.datatypes.Int,
                                                      value=[model.Property(None, model.datatypes.Int, value=v)
                                                             for v in (20, 21)]),
                            secret,
                        ])
    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE,
                               global_asset_id="https://example.org/packtwin/asset/pack/PT-P000009"),
        "https://example.org/packtwin/aas/pack/PT-P000009", id_short="P9",
        submodel={model.ModelReference.from_referable(sm)})
    repo = Repository()
    repo.add_many([sm, shell])
    return repo


def _event(action: str, path: str, value=None, originator: str = "nginx:ditto") -> dict:
    msg = {"topic": f"org.example.packtwin/PT-P000009/things/twin/events/{action}",
           "headers": {"correlation-id": "c-1", "ditto-originator": originator}, "path": path, "revision": 7}
    if value is not None:
        msg["value"] = value
    assert schemas.errors("protocol-envelope", msg) == []
    return msg


@pytest.fixture
def setup():
    repo = _repo()
    events = []
    repo.bus.subscribe(events.append)
    inbound = DittoInbound(repo, ThingMapper(namespace="org.example.packtwin"))
    return repo, inbound, events, repo.get_submodel("https://example.org/packtwin/sm/pack/PT-P000009/ProductCondition")


def test_values_from_ditto_are_applied(setup):
    repo, inbound, events, sm = setup
    result = inbound.apply(_event("modified", "/features/ProductCondition/properties/StateOfHealth", 95.5))
    assert result.applied == [(sm.id, "StateOfHealth")] and not result.rejected
    assert sm.get_referable("StateOfHealth").value == 95.5
    assert events[-1].id_short_path == "StateOfHealth"
    result = inbound.apply(_event("merged", "/features/ProductCondition/properties",
                                  {"Flags": {"Balanced": True}, "Temps": [22, 23]}))
    assert sorted(p for _, p in result.applied) == ["Flags.Balanced", "Temps[0]", "Temps[1]"]
    assert sm.get_referable("Flags").get_referable("Balanced").value is True
    assert [p.value for p in sm.get_referable("Temps").value] == [22, 23]
    # a whole Thing, as Ditto's "created" event carries it
    thing = {"thingId": THING, "policyId": "org.example.packtwin:packtwin",
             "features": {"ProductCondition": {"properties": {"StateOfHealth": 90}}}}
    assert inbound.apply(_event("created", "/", thing)).applied == [(sm.id, "StateOfHealth")]
    assert sm.get_referable("StateOfHealth").value == 90.0
    # an unchanged value writes nothing
    n = len(events)
    assert inbound.apply(_event("modified", "/features/ProductCondition/properties/StateOfHealth", 90)).applied == []
    assert len(events) == n


def test_what_is_not_applied(setup):
    repo, inbound, events, sm = setup
    own = inbound.apply(_event("modified", "/features/ProductCondition/properties/StateOfHealth", 1,
                               originator="integration:packtwin"))
    assert own.skipped and sm.get_referable("StateOfHealth").value == 97.0
    cases = {
        "/features/ProductCondition/properties/Secret": "x",          # above the clearance given to Ditto
        "/features/ProductCondition/properties/Nope": 1,              # no such element
        "/features/ProductCondition/properties/StateOfHealth": "hot",  # not a double
        "/features/Other/properties/X": 1,                            # no such submodel
        "/attributes/aasId": "x",                                     # not a feature
    }
    for path, value in cases.items():
        result = inbound.apply(_event("modified", path, value))
        assert result.rejected and not result.applied, path
    assert inbound.apply(_event("deleted", "/features/ProductCondition")).skipped  # the AAS structure stays
    assert inbound.apply({**_event("modified", "/", {}), "topic": "org.example.packtwin/X/things/twin/events/modified"}
                         ).skipped
    assert sm.get_referable("Secret").value == "s" and events == []


def test_inbound_over_mqtt(mqtt_broker, setup):
    repo, inbound, events, sm = setup
    client = connect(mqtt_broker.url)
    consumer = DittoInboundMqtt(inbound, client).start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    try:
        deadline = time.monotonic() + 10
        value = 80.0
        while sm.get_referable("StateOfHealth").value != value and time.monotonic() < deadline:
            # re-sent until the consumer's subscription is in place (QoS 1, idempotent)
            pub.publish(f"{EVENTS_ROOT}/org.example.packtwin/PT-P000009",
                        json.dumps(_event("modified", "/features/ProductCondition/properties/StateOfHealth", value)),
                        qos=1).wait_for_publish(5)
            time.sleep(0.2)
        assert sm.get_referable("StateOfHealth").value == value
        assert events and events[-1].id_short_path == "StateOfHealth"
    finally:
        consumer.stop()
        for c in (client, pub):
            c.disconnect()
            c.loop_stop()
