"""The Ditto HTTP client and the live bridge, against a schema-checking stand-in of Ditto's HTTP API and a real
MQTT broker."""

from __future__ import annotations

import json
import queue
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest
from basyx.aas import model

from packtwin.aas.events import Operation
from packtwin.aas.repository import Repository
from packtwin.connectors import access_json
from packtwin.connectors.basyx_events import connect
from packtwin.connectors.ditto import connection, mapping, schemas
from packtwin.connectors.ditto.bridge import DittoBridge
from packtwin.connectors.ditto.export import things_and_messages
from packtwin.connectors.ditto.http import DittoError, DittoHttpClient
from packtwin.connectors.ditto.mqtt import MqttSender
from tests.connectors import idta_fleet
from tests.connectors.ditto_fake import FakeDitto, Server

PACK1 = "org.example.packtwin:PT-P000001"


def _mapper() -> mapping.ThingMapper:
    return mapping.ThingMapper(namespace="org.example.packtwin", base_iri=idta_fleet.BASE)


@pytest.fixture
def ditto():
    fake = FakeDitto()
    with Server(fake.app) as server:
        client = DittoHttpClient(server.url)
        yield fake, client


def test_fleet_over_http(ditto):
    fake, client = ditto
    fleet = idta_fleet.build(2)
    mapper = _mapper()
    assert client.put_policy(connection.policy(mapper.policy)) == 201
    sent = {}
    for thing, messages, _ in things_and_messages(fleet, mapper):
        for msg in messages:
            assert client.send(msg) in (201, 204)
        sent[thing["thingId"]] = thing
    assert set(fake.things) == set(sent)
    for tid, thing in sent.items():
        assert client.get_thing(tid) == thing
    # replaying the same messages is idempotent (modify = upsert)
    for _, messages, _ in things_and_messages(fleet, mapper):
        assert all(client.send(m) == 204 for m in messages)


def test_ditto_rejections_are_reported(ditto):
    fake, client = ditto
    with pytest.raises(DittoError) as err:
        client.put_thing({"thingId": "a.b:x", "policyId": "a.b:none"})
    assert err.value.status == 400 and err.value.body["error"] == "things:policy.notfound"
    client.put_policy(connection.policy("a.b:p"))
    with pytest.raises(DittoError) as err:
        client.put_thing({"thingId": "a.b:x", "policyId": "a.b:p", "features": {"f": {"definition": ["bad"]}}})
    assert err.value.status == 400
    with pytest.raises(DittoError) as err:
        client.put_thing({"thingId": "a.b:x", "policyId": "a.b:p", "attributes": {"blob": "x" * 200_000}})
    assert err.value.status == 413 and err.value.body["error"] == "things:thing.toolarge"
    bad = DittoHttpClient(client.base_url, auth=("ditto", "wrong"))
    with pytest.raises(DittoError) as err:
        bad.get_thing("a.b:x")
    assert err.value.status == 401
    assert fake.things == {}


def _repo_with_fleet() -> Repository:
    repo = Repository()
    repo.add_many(list(idta_fleet.build(1)))
    return repo


def test_bridge_follows_repository_over_http(ditto):
    fake, client = ditto
    repo = _repo_with_fleet()
    mapper = _mapper()
    client.put_policy(connection.policy(mapper.policy))
    sent: list[dict] = []

    def send(msg):
        assert schemas.errors("protocol-envelope", msg) == []
        sent.append(msg)
        client.send(msg)

    bridge = DittoBridge(repo, mapper, send).start(initial_sync=True)
    assert set(fake.things) == {PACK1}
    sm_id = "https://example.org/packtwin/sm/pack/PT-P000001/TechnicalData"
    sm = repo.get_submodel(sm_id)
    # element update -> merge of one property
    general = sm.get_referable("GeneralInformation")
    prop = next(e for e in general.value if isinstance(e, model.Property))
    prop.value = "42"
    repo.commit(sm, f"GeneralInformation.{prop.id_short}", element=prop)
    assert sent[-1]["topic"].endswith("/commands/merge")
    assert sent[-1]["path"] == f"/features/TechnicalData/properties/GeneralInformation/{prop.id_short}"
    stored = fake.things[PACK1]["features"]["TechnicalData"]["properties"]["GeneralInformation"]
    assert stored[prop.id_short] == sent[-1]["value"] == mapping.value_only(access_json.to_dict(prop))
    assert str(sent[-1]["value"]) == "42"
    # element deletion -> delete of the property
    general.value.remove(prop)
    repo.commit(sm, f"GeneralInformation.{prop.id_short}", operation=Operation.DELETED)
    assert prop.id_short not in fake.things[PACK1]["features"]["TechnicalData"]["properties"]["GeneralInformation"]
    # restricted element: nothing goes out
    cond = repo.get_submodel("https://example.org/packtwin/sm/pack/PT-P000001/ProductCondition")
    restricted = next(iter(cond.submodel_element))
    n = len(sent)
    repo.commit(cond, restricted.id_short, element=restricted)
    assert len(sent) == n
    # submodel deleted -> feature deleted; shell deleted -> Thing deleted
    repo.delete(sm_id)
    assert "TechnicalData" not in fake.things[PACK1]["features"]
    repo.delete("https://example.org/packtwin/aas/pack/PT-P000001")
    assert fake.things == {}
    bridge.stop()


def test_bridge_over_mqtt(mqtt_broker):
    repo = _repo_with_fleet()
    got: queue.Queue = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    subscribed: queue.Queue = queue.Queue()
    sub.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    sub.on_subscribe = lambda *a: subscribed.put(True)
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.loop_start()
    sub.subscribe(f"{connection.TOPIC_ROOT}/#", qos=1)
    subscribed.get(timeout=5)
    pub = connect(mqtt_broker.url)
    try:
        bridge = DittoBridge(repo, _mapper(), MqttSender(pub)).start(initial_sync=True)
        topic, msg = got.get(timeout=5)
        assert topic == "packtwin/v1/ditto/org.example.packtwin/PT-P000001"
        assert msg["topic"] == "org.example.packtwin/PT-P000001/things/twin/commands/modify" and msg["path"] == "/"
        assert schemas.errors("thing_v2", msg["value"]) == []
        repo.delete("https://example.org/packtwin/aas/pack/PT-P000001")
        topic, msg = got.get(timeout=5)
        assert msg["topic"].endswith("/commands/delete") and msg["path"] == "/"
        bridge.stop()
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()


def test_cli_connection_and_export(tmp_path):
    out = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "connection", "--mqtt-url",
                          "mqtt://mosquitto:1883"], capture_output=True, text=True, timeout=60, check=True)
    doc = json.loads(out.stdout)
    assert doc["uri"] == "tcp://mosquitto:1883" and schemas.errors("connection", doc) == []
    data = idta_fleet.write_json(idta_fleet.build(2), tmp_path / "fleet.json")
    run = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "export", "--data", str(data), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 Things, 12 features, 2 messages" in run.stdout
    assert len(list((tmp_path / "out" / "things").rglob("*.json"))) == 2
    bad = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "export", "--data", str(tmp_path / "nope.json"),
                          "--out", str(tmp_path / "o2")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_cli_push_over_http(ditto, tmp_path):
    fake, client = ditto
    data = idta_fleet.write_json(idta_fleet.build(2), tmp_path / "fleet.json")
    run = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "push", "--data", str(data), "--url",
                          client.base_url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 Things written" in run.stdout
    assert set(fake.things) == {PACK1, "org.example.packtwin:PT-P000002"}
    assert set(fake.policies) == {"org.example.packtwin:packtwin"}
    bad = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "push", "--data", str(data), "--url",
                          client.base_url, "--password", "wrong"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "401" in bad.stderr
    gone = subprocess.run([sys.executable, "-m", "packtwin", "ditto", "push", "--data", str(data), "--url",
                           "http://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert gone.returncode == 1 and "no answer" in gone.stderr


def test_list_items_send_the_whole_list(ditto):
    """Ditto addresses no array items: a change inside a SubmodelElementList re-sends the list."""
    fake, client = ditto
    repo = Repository()
    items = [model.Property(None, model.datatypes.Double, value=float(v)) for v in (1, 2, 3)]
    sm = model.Submodel("https://example.org/packtwin/sm/pack/L1/Readings", id_short="Readings", submodel_element=[
        model.SubmodelElementList("Voltages", model.Property, value=items, value_type_list_element=model.datatypes.Double)])
    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="https://example.org/packtwin/asset/pack/L1"),
        "https://example.org/packtwin/aas/pack/L1", id_short="L1", submodel={model.ModelReference.from_referable(sm)})
    repo.add_many([sm, shell])
    mapper = _mapper()
    client.put_policy(connection.policy(mapper.policy))
    sent: list[dict] = []
    bridge = DittoBridge(repo, mapper, lambda m: (sent.append(m), client.send(m))).start(initial_sync=True)
    assert fake.things["org.example.packtwin:L1"]["features"]["Readings"]["properties"] == {"Voltages": [1.0, 2.0, 3.0]}
    voltages = sm.get_referable("Voltages")
    second = list(voltages.value)[1]
    second.value = 2.5
    repo.commit(sm, "Voltages[1]", element=second)
    assert sent[-1]["path"] == "/features/Readings/properties/Voltages" and sent[-1]["value"] == [1.0, 2.5, 3.0]
    assert fake.things["org.example.packtwin:L1"]["features"]["Readings"]["properties"]["Voltages"] == [1.0, 2.5, 3.0]
    bridge.stop()
