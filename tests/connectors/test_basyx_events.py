"""BaSyx MQTT events on a real broker: topics and payloads of create, update and delete, with access groups."""

from __future__ import annotations

import base64
import json
import queue
import time

import paho.mqtt.client as mqtt
import pytest
from basyx.aas import model

from packtwin.aas.events import Operation
from packtwin.aas.repository import Repository
from packtwin.connectors import basyx_events
from packtwin.connectors.basyx_events import BasyxEventPublisher, connect, encode_id
from packtwin.submodels.access import AccessGroup, Role, filter_copy, set_access_group

SM_ID = "https://example.org/packtwin/sm/pack/PT-P000001/ProductCondition"
AAS_ID = "https://example.org/packtwin/aas/pack/PT-P000001"


def _prop(id_short: str, value: str, group: AccessGroup | None = None) -> model.Property:
    p = model.Property(id_short, model.datatypes.String, value=value)
    if group is not None:
        set_access_group(p, group)
    return p


def _submodel() -> model.Submodel:
    details = model.SubmodelElementCollection("Details", value=[
        _prop("Note", "n"), _prop("Secret", "s", AccessGroup.LEGITIMATE_INTEREST)])
    return model.Submodel(SM_ID, id_short="ProductCondition", submodel_element=[
        _prop("StateOfHealth", "98.5"),
        _prop("NumberOfDeepDischarges", "3", AccessGroup.LEGITIMATE_INTEREST),
        details,
    ])


def _shell() -> model.AssetAdministrationShell:
    return model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="https://example.org/packtwin/asset/pack/1"),
        AAS_ID, id_short="PT_P000001")


class _Sink:
    def __init__(self, url: str) -> None:
        self.q: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        subscribed = queue.Queue()
        self.client.on_message = lambda c, u, m: self.q.put((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda *a: subscribed.put(True)
        host, port = url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe([("sm-repository/#", 1), ("aas-repository/#", 1)])
        subscribed.get(timeout=5)

    def take(self, n: int, timeout_s: float = 5.0) -> list[tuple[str, dict]]:
        out, deadline = [], time.monotonic() + timeout_s
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(self.q.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def quiet(self, wait_s: float = 0.3) -> list[tuple[str, dict]]:
        return self.take(1000, wait_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def setup(mqtt_broker):
    repo = Repository()
    client = connect(mqtt_broker.url)
    pub = BasyxEventPublisher(repo, client, repo_id="repo1",
                              groups=(AccessGroup.PUBLIC, AccessGroup.LEGITIMATE_INTEREST)).start()
    sink = _Sink(mqtt_broker.url)
    yield repo, sink
    pub.stop()
    sink.close()
    client.disconnect()
    client.loop_stop()


def test_topics_follow_basyx_topic_factories():
    assert encode_id("https://a/b?c") == base64.urlsafe_b64encode(b"https://a/b?c").decode().rstrip("=")
    assert "=" not in encode_id("x")  # BaSyx encodes without padding
    assert basyx_events.shell_topic("r", Operation.CREATED) == "aas-repository/r/shells/created"
    assert basyx_events.submodel_topic("r", Operation.DELETED) == "sm-repository/r/submodels/deleted"
    assert basyx_events.element_topic("r", "urn:x", "A.B[0]", Operation.UPDATED) == \
        f"sm-repository/r/submodels/{encode_id('urn:x')}/submodelElements/A.B[0]/updated"


def test_create_update_delete_on_real_broker(setup):
    repo, sink = setup
    enc = encode_id(SM_ID)
    li = "repo1.legitimateInterest"

    repo.add(_shell())
    repo.add(_submodel())
    got = dict(sink.take(4))
    assert got["aas-repository/repo1/shells/created"]["id"] == AAS_ID
    assert got[f"aas-repository/{li}/shells/created"]["id"] == AAS_ID
    public_sm = got["sm-repository/repo1/submodels/created"]
    assert public_sm["id"] == SM_ID and public_sm["modelType"] == "Submodel"
    ids = [e["idShort"] for e in public_sm["submodelElements"]]
    assert ids == ["StateOfHealth", "Details"]  # the restricted element is not on the public tree
    assert [e["idShort"] for e in public_sm["submodelElements"][1]["value"]] == ["Note"]
    li_sm = got[f"sm-repository/{li}/submodels/created"]
    assert [e["idShort"] for e in li_sm["submodelElements"]] == ["StateOfHealth", "NumberOfDeepDischarges", "Details"]
    assert sink.quiet() == []

    # update of a public element: both trees, payload = the element's JSON
    sm = repo.get_submodel(SM_ID)
    soh = sm.get_referable("StateOfHealth")
    soh.value = "97.0"
    repo.commit(sm, "StateOfHealth", element=soh)
    got = dict(sink.take(2))
    for rid in ("repo1", li):
        payload = got[f"sm-repository/{rid}/submodels/{enc}/submodelElements/StateOfHealth/updated"]
        assert payload == {"idShort": "StateOfHealth", "modelType": "Property", "valueType": "xs:string",
                           "value": "97.0"}

    # update of a restricted element: only the legitimate-interest tree
    dd = sm.get_referable("NumberOfDeepDischarges")
    dd.value = "4"
    repo.commit(sm, "NumberOfDeepDischarges", element=dd)
    got = sink.take(1) + sink.quiet()
    assert [t for t, _ in got] == [f"sm-repository/{li}/submodels/{enc}/submodelElements/NumberOfDeepDischarges/updated"]
    assert got[0][1]["value"] == "4"

    # creation of a nested element
    details = sm.get_referable("Details")
    details.value.add(_prop("Added", "a"))
    repo.commit(sm, "Details.Added", operation=Operation.CREATED, element=details.get_referable("Added"))
    got = dict(sink.take(2))
    assert got[f"sm-repository/repo1/submodels/{enc}/submodelElements/Details.Added/created"]["value"] == "a"

    # deletions of a restricted and a public nested element, the writer passing no object
    details.value.remove(details.get_referable("Secret"))
    repo.commit(sm, "Details.Secret", operation=Operation.DELETED)
    got = sink.take(1) + sink.quiet()
    assert [t for t, _ in got] == [f"sm-repository/{li}/submodels/{enc}/submodelElements/Details.Secret/deleted"]
    details.value.remove(details.get_referable("Note"))
    repo.commit(sm, "Details.Note", operation=Operation.DELETED)
    got = dict(sink.take(2))
    assert got[f"sm-repository/repo1/submodels/{enc}/submodelElements/Details.Note/deleted"] == {"idShort": "Note"}

    # replace and delete of the submodel, delete of the shell
    repo.replace(_submodel())
    got = dict(sink.take(2))
    assert "sm-repository/repo1/submodels/updated" in got and f"sm-repository/{li}/submodels/updated" in got
    repo.delete(SM_ID)
    repo.delete(AAS_ID)
    got = dict(sink.take(4))
    # as BaSyx: the deleted object's JSON, pruned like every payload of the public tree
    deleted = got["sm-repository/repo1/submodels/deleted"]
    assert (deleted["modelType"], deleted["id"]) == ("Submodel", SM_ID)
    assert "Secret" not in json.dumps(deleted) and "StateOfHealth" in json.dumps(deleted)
    assert "Secret" in json.dumps(got[f"sm-repository/{li}/submodels/deleted"])
    shell = got["aas-repository/repo1/shells/deleted"]
    assert (shell["modelType"], shell["id"]) == ("AssetAdministrationShell", AAS_ID)
    assert sink.quiet() == []


def test_restricted_submodel_never_reaches_public_tree(setup):
    repo, sink = setup
    sm = _submodel()
    set_access_group(sm, AccessGroup.AUTHORITIES)
    repo.add(sm)
    sm.get_referable("StateOfHealth").value = "1"
    repo.commit(sm, "StateOfHealth", element=sm.get_referable("StateOfHealth"))
    repo.delete(SM_ID)
    # neither the public nor the legitimate-interest tree may carry any of it
    assert sink.quiet(0.5) == []


def test_json_pruning_matches_object_filtering():
    from packtwin.connectors import access_json

    sm = _submodel()
    for role in Role:
        expected = access_json.to_dict(filter_copy(sm, role))
        got = access_json.filtered(access_json.to_dict(sm), role.clearance)
        assert got == expected
