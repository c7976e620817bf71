"""Registry and discovery: from the serial number on a pack's label to its passport; registered descriptors persist."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import requests

from packtwin.aas.api.b64 import encode_id
from tests.aas.api.conftest import AAS_ID, start_server, stop_server
from tests.aas.api.fleet_data import make_fleet, write_fleet


def _asset_id(name: str, value: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"name": name, "value": value}).encode()).decode().rstrip("=")


def test_label_to_passport_and_persistent_registrations(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_fleet(data / "fleet.aasx", make_fleet(2, 1, 1))
    server = start_server(data, tmp_path)
    oper = server.headers("operator")
    try:
        url = server.url
        # 1. Discovery: serial number -> AAS id.
        found = requests.get(f"{url}/lookup/shells", params={"assetIds": _asset_id("serialNumber", "PT-P000001")},
                             timeout=10).json()
        assert found["result"] == [AAS_ID]
        none = requests.get(f"{url}/lookup/shells", params={"assetIds": _asset_id("serialNumber", "nope")},
                            timeout=10).json()
        assert none["result"] == []
        by_link = requests.post(f"{url}/lookup/shellsByAssetLink", timeout=10,
                                json=[{"name": "serialNumber", "value": "PT-P000001"}]).json()
        assert by_link["result"] == [AAS_ID]
        assert requests.get(f"{url}/lookup/shells", params={"assetIds": "%%"}, timeout=10).status_code == 400
        # 2. Registry: the descriptor's endpoint leads to the shell, its submodel descriptors to the passport.
        desc = requests.get(f"{url}/shell-descriptors/{encode_id(AAS_ID)}", timeout=10).json()
        href = desc["endpoints"][0]["protocolInformation"]["href"]
        assert requests.get(href, timeout=10).json()["id"] == AAS_ID
        nameplate = next(d for d in desc["submodelDescriptors"] if d["idShort"] == "BatteryNameplate")
        sm_href = nameplate["endpoints"][0]["protocolInformation"]["href"]
        serial = requests.get(sm_href + "/submodel-elements/SerialNumber/$value", timeout=10).json()
        assert serial == {"SerialNumber": "PT-P000001"}
        # 3. Posting a discovery link changes the shell through the repository (persisted below).
        link = [{"name": "customerPartId", "value": "CX-42"}]
        assert requests.post(f"{url}/lookup/shells/{encode_id(AAS_ID)}", json=link, timeout=10).status_code == 401
        assert requests.post(f"{url}/lookup/shells/{encode_id(AAS_ID)}", json=link, headers=oper,
                             timeout=10).status_code == 201
        # 4. A descriptor of a twin held elsewhere.
        external = {"id": "urn:other:aas:1", "idShort": "Other",
                    "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {"href": "http://127.0.0.2/x"}}]}
        assert requests.post(f"{url}/shell-descriptors", json=external, timeout=10).status_code == 401
        assert requests.post(f"{url}/shell-descriptors", json=external, headers=oper, timeout=10).status_code == 201
        assert requests.post(f"{url}/shell-descriptors", json=external, headers=oper, timeout=10).status_code == 409
        assert requests.post(f"{url}/shell-descriptors", json={"idShort": "no id"}, headers=oper,
                             timeout=10).status_code == 400
        own = {**external, "id": AAS_ID}
        assert requests.post(f"{url}/shell-descriptors", json=own, headers=oper, timeout=10).status_code == 409
    finally:
        stop_server(server)
    # Restart over the same directory: the link and the registration are still there.
    server = start_server(data, tmp_path)
    try:
        found = requests.get(f"{server.url}/lookup/shells", params={"assetIds": _asset_id("customerPartId", "CX-42")},
                             timeout=10).json()
        assert found["result"] == [AAS_ID]
        ids = [d["id"] for d in requests.get(f"{server.url}/shell-descriptors", timeout=10).json()["result"]]
        assert "urn:other:aas:1" in ids and AAS_ID in ids
        assert requests.delete(f"{server.url}/shell-descriptors/{encode_id('urn:other:aas:1')}",
                               headers=server.headers("operator"), timeout=10).status_code == 204
    finally:
        stop_server(server)
    assert (data / "repository.sqlite").is_file()
