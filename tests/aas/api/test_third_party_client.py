"""A third-party client from PyPI (basyx-client) lists shells, reads a submodel and writes a value, with a JWT."""

from __future__ import annotations

import time

import pytest
from basyx.aas import model

from packtwin.aas.api import create_app
from packtwin.aas.api.auth import make_jwt
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from tests.aas.api.conftest import JWT_SECRET, SUBMODEL_ID, keys_config, live
from tests.aas.api.fleet_data import make_fleet

basyx_client = pytest.importorskip("basyx_client", reason="the test extra installs basyx-client")
basyx_auth = pytest.importorskip("basyx_client.auth")


def test_basyx_client_lists_reads_writes() -> None:
    repo = Repository.open(None)
    repo.add_many(list(make_fleet(2, 1, 1).objects))
    app = live(create_app(repo, Settings(), auth=keys_config()))
    try:
        token = make_jwt({"sub": "plant-7", "role": "operator", "exp": int(time.time()) + 600}, JWT_SECRET)
        with basyx_client.AASClient(app.url, auth=basyx_auth.BearerAuth(token)) as client:
            page = client.shells.list(limit=2)
            assert len(page.items) == 2 and all(isinstance(s, model.AssetAdministrationShell) for s in page.items)
            assert page.cursor
            rest = client.shells.list(limit=100, cursor=page.cursor)
            assert len(page.items) + len(rest.items) == len(repo.shells())

            sm = client.submodels.get(SUBMODEL_ID)
            assert isinstance(sm, model.Submodel) and sm.id == SUBMODEL_ID
            assert sm.submodel_element.get("id_short", "SerialNumber").value == "PT-P000001"

            client.submodels.elements.set_value(SUBMODEL_ID, "UniqueFacilityIdentifier", "urn:facility:DE-HH-2")
            stored = repo.get_submodel(SUBMODEL_ID).submodel_element.get("id_short", "UniqueFacilityIdentifier")
            assert stored.value == "urn:facility:DE-HH-2"
            assert client.submodels.elements.get_value(SUBMODEL_ID, "UniqueFacilityIdentifier") == {
                "UniqueFacilityIdentifier": "urn:facility:DE-HH-2"}

        # Without the token the same client may read but not write.
        with basyx_client.AASClient(app.url) as anonymous, pytest.raises(basyx_client.UnauthorizedError):
            anonymous.submodels.elements.set_value(SUBMODEL_ID, "UniqueFacilityIdentifier", "x")
    finally:
        app.stop()
