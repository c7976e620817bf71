"""The AAS API over a real socket: reads with modifiers and paging, writes through the repository, error bodies."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from packtwin.aas.api import create_app
from packtwin.aas.api.b64 import encode_id
from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from tests.aas.api.conftest import AAS_ID, SUBMODEL_ID, LiveApp, headers_for, keys_config, live
from tests.aas.api.fleet_data import make_fleet

OPER = headers_for("operator")
SM = encode_id(SUBMODEL_ID)
AAS = encode_id(AAS_ID)


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[LiveApp, Repository, list[ChangeEvent]]]:
    repo = Repository.open(tmp_path / "repository.sqlite")
    repo.add_many(list(make_fleet(2, 1, 1).objects))
    events: list[ChangeEvent] = []
    repo.bus.subscribe(events.append)
    app = live(create_app(repo, Settings(max_body_bytes=64 * 1024), auth=keys_config()))
    yield app, repo, events
    app.stop()
    repo.store.close()


def assert_result(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text[:500]
    body = resp.json()
    message = body["messages"][0]
    assert message["code"] == str(status) and message["messageType"] == "Error" and message["text"]
    return body


def test_shells_paging_walks_every_shell_once(env) -> None:
    app, repo, _ = env
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = requests.get(app.url + "/shells", params=params, timeout=10).json()
        seen += [s["id"] for s in body["result"]]
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            break
    assert sorted(seen) == sorted(s.id for s in repo.shells()) and len(seen) == len(set(seen))
    assert_result(requests.get(app.url + "/shells", params={"limit": 0}, timeout=10), 400)
    assert_result(requests.get(app.url + "/shells", params={"cursor": "bm90LWEtbnVtYmVy"}, timeout=10), 400)


def test_base64url_ids_with_and_without_padding(env) -> None:
    app, _, _ = env
    padded = SM + "=" * (-len(SM) % 4)
    for ident in (SM, padded):
        assert requests.get(f"{app.url}/submodels/{ident}", timeout=10).json()["id"] == SUBMODEL_ID
    assert_result(requests.get(f"{app.url}/submodels/%%%", timeout=10), 400)
    assert_result(requests.get(f"{app.url}/submodels/{encode_id('urn:nope')}", timeout=10), 404)
    assert_result(requests.get(f"{app.url}/no/such/route", timeout=10), 404)


def test_modifiers_of_submodel_and_elements(env) -> None:
    app, _, _ = env
    base = f"{app.url}/shells/{AAS}/submodels/{SM}"
    full = requests.get(base, timeout=10).json()
    assert full["modelType"] == "Submodel" and full["submodelElements"]
    meta = requests.get(base + "/$metadata", timeout=10).json()
    assert "submodelElements" not in meta and meta["id"] == SUBMODEL_ID
    value = requests.get(base + "/$value", timeout=10).json()
    assert value["SerialNumber"] == "PT-P000001"
    ref = requests.get(base + "/$reference", timeout=10).json()
    assert ref == {"type": "ModelReference", "keys": [{"type": "Submodel", "value": SUBMODEL_ID}]}
    paths = requests.get(base + "/$path", timeout=10).json()
    assert "SerialNumber" in paths and any("[0]" in p for p in paths)
    # An element by idShortPath, into a list by index, with each modifier.
    listed = next(p for p in paths if p.endswith("[0]"))
    el = requests.get(f"{base}/submodel-elements/{listed}", timeout=10).json()
    assert "idShort" not in el  # items of a SubmodelElementList carry no idShort
    ref = requests.get(f"{base}/submodel-elements/{listed}/$reference", timeout=10).json()
    assert ref["keys"][0]["value"] == SUBMODEL_ID and ref["keys"][-1]["value"] == "0"
    assert requests.get(f"{base}/submodel-elements/SerialNumber/$value", timeout=10).json() == {
        "SerialNumber": "PT-P000001"}
    prop_meta = requests.get(f"{base}/submodel-elements/SerialNumber/$metadata", timeout=10).json()
    assert prop_meta["valueType"] == "xs:string" and "value" not in prop_meta
    assert_result(requests.get(f"{base}/submodel-elements/SerialNumber/$path", timeout=10), 400)
    # level=core drops the grandchildren; the paged list of elements pages.
    core = requests.get(base, params={"level": "core"}, timeout=10).json()
    lists = [e for e in core["submodelElements"] if e["modelType"] == "SubmodelElementList"]
    assert lists and all("value" not in e for e in lists)
    page = requests.get(base + "/submodel-elements", params={"limit": 3}, timeout=10).json()
    assert len(page["result"]) == 3 and page["paging_metadata"]["cursor"]
    vals = requests.get(base + "/submodel-elements/$value", params={"limit": 2}, timeout=10).json()
    assert len(vals["result"]) == 2 and all(len(v) == 1 for v in vals["result"])
    core_value = requests.get(base + "/$value", params={"level": "core"}, timeout=10).json()
    assert core_value["SerialNumber"] == "PT-P000001" and core_value["Markings"] == []
    markings = requests.get(f"{base}/submodel-elements/Markings/$value", timeout=10).json()["Markings"]
    core_markings = requests.get(f"{base}/submodel-elements/Markings/$value", params={"level": "core"},
                                 timeout=10).json()["Markings"]
    assert len(core_markings) == len(markings) > 0 and all(m == {} for m in core_markings)
    assert all(m for m in markings)
    assert_result(requests.get(base, params={"level": "shallow"}, timeout=10), 400)
    assert_result(requests.get(base, params={"extent": "all"}, timeout=10), 400)
    assert_result(requests.get(f"{base}/submodel-elements/No.Such[3]", timeout=10), 404)
    assert_result(requests.get(f"{base}/submodel-elements/a..b", timeout=10), 400)
    assert_result(requests.get(f"{base}/submodel-elements/" + ".".join(["x"] * 100), timeout=10), 400)


def test_submodel_not_in_shell_is_404(env) -> None:
    app, _, _ = env
    other = encode_id(SUBMODEL_ID.replace("PT-P000001", "PT-P000002"))
    assert_result(requests.get(f"{app.url}/shells/{AAS}/submodels/{other}", timeout=10), 404)


def test_patch_value_persists_and_announces(env, tmp_path: Path) -> None:
    app, repo, events = env
    url = f"{app.url}/submodels/{SM}/submodel-elements/DateOfManufacture/$value"
    assert_result(requests.patch(url, json="2026-11-02", timeout=10), 401)
    assert_result(requests.patch(url, json="2026-11-02", headers=headers_for("authority"), timeout=10), 403)
    assert_result(requests.patch(url, json="not a date", headers=OPER, timeout=10), 400)
    assert_result(requests.patch(url, data=b"{not json", headers=OPER, timeout=10), 400)
    events.clear()
    resp = requests.patch(url, json="2026-11-02", headers=OPER, timeout=10)
    assert resp.status_code == 204, resp.text
    assert requests.get(url, timeout=10).json() == {"DateOfManufacture": "2026-11-02"}
    assert [(e.operation, e.target, e.identifiable_id, e.id_short_path) for e in events] == [
        (Operation.UPDATED, Target.SUBMODEL_ELEMENT, SUBMODEL_ID, "DateOfManufacture")]
    # Persisted: a second repository over the same file sees the new value.
    again = Repository.open(tmp_path / "repository.sqlite")
    el = again.get_submodel(SUBMODEL_ID).submodel_element.get("id_short", "DateOfManufacture")
    assert str(el.value) == "2026-11-02"
    again.store.close()


def test_element_post_put_delete(env) -> None:
    app, repo, events = env
    base = f"{app.url}/submodels/{SM}/submodel-elements"
    prop = {"modelType": "Property", "idShort": "Remark", "valueType": "xs:string", "value": "first"}
    resp = requests.post(base, json=prop, headers=OPER, timeout=10)
    assert resp.status_code == 201 and resp.json()["idShort"] == "Remark"
    assert_result(requests.post(base, json=prop, headers=OPER, timeout=10), 409)
    assert_result(requests.post(base, json={"modelType": "Nonsense"}, headers=OPER, timeout=10), 400)
    assert_result(requests.post(base, json={"modelType": "Submodel", "id": "urn:x"}, headers=OPER, timeout=10), 400)
    resp = requests.put(f"{base}/Remark", json={**prop, "value": "second"}, headers=OPER, timeout=10)
    assert resp.status_code == 204
    assert requests.get(f"{base}/Remark/$value", timeout=10).json() == {"Remark": "second"}
    assert_result(requests.put(f"{base}/Remark", json={**prop, "idShort": "Other"}, headers=OPER, timeout=10), 400)
    assert requests.delete(f"{base}/Remark", headers=OPER, timeout=10).status_code == 204
    assert_result(requests.get(f"{base}/Remark", timeout=10), 404)
    ops = [(e.operation, e.id_short_path) for e in events if e.target is Target.SUBMODEL_ELEMENT]
    assert ops == [(Operation.CREATED, "Remark"), (Operation.UPDATED, "Remark"), (Operation.DELETED, "Remark")]


def test_body_limit_and_identifiable_writes(env) -> None:
    app, repo, _ = env
    huge = {"modelType": "Property", "idShort": "Big", "valueType": "xs:string", "value": "x" * 100_000}
    assert_result(requests.post(f"{app.url}/submodels/{SM}/submodel-elements", json=huge, headers=OPER,
                                timeout=10), 413)
    sm = requests.get(f"{app.url}/submodels/{SM}", headers=OPER, timeout=10).json()
    assert_result(requests.put(f"{app.url}/submodels/{encode_id('urn:other')}", json=sm, headers=OPER,
                               timeout=10), 404)
    assert_result(requests.post(f"{app.url}/submodels", json=sm, headers=OPER, timeout=10), 409)
    new = {**sm, "id": "urn:packtwin:test:new-submodel"}
    assert requests.post(f"{app.url}/submodels", json=new, headers=OPER, timeout=10).status_code == 201
    assert "urn:packtwin:test:new-submodel" in repo
    assert requests.delete(f"{app.url}/submodels/{encode_id(new['id'])}", headers=OPER,
                           timeout=10).status_code == 204
    assert "urn:packtwin:test:new-submodel" not in repo


def test_cors_on_success_error_and_preflight(env) -> None:
    app, _, _ = env
    origin = {"Origin": "http://127.0.0.1:3000"}
    assert requests.get(app.url + "/shells", headers=origin, timeout=10).headers["access-control-allow-origin"]
    err = requests.get(app.url + "/shells/%%%", headers=origin, timeout=10)
    assert err.status_code == 400 and err.headers["access-control-allow-origin"]
    pre = requests.options(f"{app.url}/submodels/{SM}", timeout=10, headers={
        **origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200 and "PUT" in pre.headers["access-control-allow-methods"]


def test_serialization_formats(env) -> None:
    app, _, _ = env
    params = {"aasIds": AAS, "submodelIds": SM}
    js = requests.get(app.url + "/serialization", params=params, timeout=30)
    assert js.headers["content-type"].startswith("application/json")
    assert [s["id"] for s in js.json()["assetAdministrationShells"]] == [AAS_ID]
    # The whole environment, as the operator sees it, passes the official engine's AAS JSON file check.
    from aas_test_engines import file as engine_file
    everything = requests.get(app.url + "/serialization", headers=OPER, timeout=60)
    result = engine_file.check_json_file(io.BytesIO(everything.content))
    assert result.ok(), "\n".join(result.to_lines())[:3000] if hasattr(result, "to_lines") else "engine check failed"
    # ... and the AAS 3.1 metamodel with its constraints (aas-core3.1), as do single submodels and shells.
    import aas_core3_1.jsonization as jsonization
    import aas_core3_1.verification as verification
    environment = jsonization.environment_from_jsonable(everything.json())
    assert not [f"{e.path}: {e.cause}" for e in verification.verify(environment)][:5]
    submodel = jsonization.submodel_from_jsonable(requests.get(f"{app.url}/submodels/{SM}", timeout=10).json())
    shell = jsonization.asset_administration_shell_from_jsonable(
        requests.get(f"{app.url}/shells/{AAS}", timeout=10).json())
    assert not list(verification.verify(submodel)) and not list(verification.verify(shell))
    xml = requests.get(app.url + "/serialization", params=params, headers={"Accept": "application/xml"}, timeout=30)
    assert xml.text.lstrip().startswith("<") and SUBMODEL_ID in xml.text
    aasx = requests.get(app.url + "/serialization", params=params, timeout=30,
                        headers={"Accept": "application/asset-administration-shell-package+xml"})
    assert aasx.content[:2] == b"PK"
    assert_result(requests.get(app.url + "/serialization", headers={"Accept": "image/png"}, timeout=30), 406)


def test_attachments_and_thumbnail_from_the_aasx(tmp_path: Path) -> None:
    """Supplementary files of a served AASX: the pack's thumbnail and a handover document's file."""
    from tests.aas.api.conftest import start_server, stop_server
    from tests.aas.api.fleet_data import write_fleet
    server = start_server(write_fleet(tmp_path / "fleet.aasx", make_fleet(1, 1, 1)), tmp_path)
    try:
        thumb = requests.get(f"{server.url}/shells/{AAS}/asset-information/thumbnail", timeout=10)
        assert thumb.status_code == 200 and thumb.content[:4] == b"\x89PNG"
        handover = encode_id(SUBMODEL_ID.replace("BatteryNameplate", "HandoverDocumentation"))
        path = "Documents[0].DocumentVersions[0].DigitalFiles[0]"
        doc = requests.get(f"{server.url}/submodels/{handover}/submodel-elements/{path}/attachment", timeout=10)
        assert doc.status_code == 200 and doc.content[:5] == b"%PDF-"
        assert_result(requests.get(f"{server.url}/submodels/{SM}/submodel-elements/SerialNumber/attachment",
                                   timeout=10), 400)
    finally:
        stop_server(server)


def test_shell_and_concept_description_writes(env) -> None:
    app, repo, events = env
    shell = requests.get(f"{app.url}/shells/{AAS}", timeout=10).json()
    new = {**shell, "id": "urn:packtwin:test:aas:9", "idShort": "Spare"}
    assert requests.post(f"{app.url}/shells", json=new, headers=OPER, timeout=10).status_code == 201
    assert_result(requests.post(f"{app.url}/shells", json=new, headers=OPER, timeout=10), 409)
    nine = encode_id(new["id"])
    info = {**shell["assetInformation"], "globalAssetId": "urn:packtwin:test:asset:9"}
    assert requests.put(f"{app.url}/shells/{nine}/asset-information", json=info, headers=OPER,
                        timeout=10).status_code == 204
    assert repo.get_shell(new["id"]).asset_information.global_asset_id == "urn:packtwin:test:asset:9"
    refs = requests.get(f"{app.url}/shells/{nine}/submodel-refs", timeout=10).json()["result"]
    assert requests.delete(f"{app.url}/shells/{nine}/submodel-refs/{encode_id(refs[0]['keys'][0]['value'])}",
                           headers=OPER, timeout=10).status_code == 204
    assert len(repo.get_shell(new["id"]).submodel) == len(refs) - 1
    assert_result(requests.post(f"{app.url}/shells/{nine}/submodel-refs", json=refs[1], headers=OPER,
                                timeout=10), 409)
    assert requests.post(f"{app.url}/shells/{nine}/submodel-refs", json=refs[0], headers=OPER,
                         timeout=10).status_code == 201
    # Through the shell: replace a submodel, then delete it together with the shell's reference.
    victim = refs[1]["keys"][0]["value"]
    nested = f"{app.url}/shells/{nine}/submodels/{encode_id(victim)}"
    body = requests.get(nested, headers=OPER, timeout=10).json()
    assert requests.put(nested, json={**body, "idShort": "Replaced"}, headers=OPER, timeout=10).status_code == 204
    assert repo.get_submodel(victim).id_short == "Replaced"
    assert requests.delete(nested, headers=OPER, timeout=10).status_code == 204
    assert victim not in repo and all(r.key[0].value != victim for r in repo.get_shell(new["id"]).submodel)
    assert requests.delete(f"{app.url}/shells/{nine}", headers=OPER, timeout=10).status_code == 204
    assert new["id"] not in repo
    targets = [(e.operation, e.target) for e in events if e.identifiable_id == new["id"]]
    assert targets[0] == (Operation.CREATED, Target.SHELL) and targets[-1] == (Operation.DELETED, Target.SHELL)
    # Concept descriptions.
    cds = requests.get(f"{app.url}/concept-descriptions", params={"limit": 1}, timeout=10).json()["result"]
    cd = {**cds[0], "id": "urn:packtwin:test:cd:1"}
    assert requests.post(f"{app.url}/concept-descriptions", json=cd, headers=OPER, timeout=10).status_code == 201
    one = f"{app.url}/concept-descriptions/{encode_id(cd['id'])}"
    assert requests.get(one, timeout=10).json()["id"] == cd["id"]
    assert requests.put(one, json={**cd, "idShort": "Renamed"}, headers=OPER, timeout=10).status_code == 204
    assert requests.get(one, timeout=10).json()["idShort"] == "Renamed"
    assert requests.delete(one, headers=OPER, timeout=10).status_code == 204
    assert_result(requests.get(one, timeout=10), 404)
