"""Descriptors for the AAS and Submodel Registry services.

Descriptors of the shells and submodels this server holds are derived from the repository on every read (so they
never go stale) and point at this server's own endpoints. Descriptors of twins held elsewhere are registered with
POST and kept here, in memory or in a JSON file next to the repository so they survive a restart.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter._generic import ASSET_KIND

from packtwin.aas.api.b64 import encode_id
from packtwin.aas.api.codec import to_dict
from packtwin.aas.api.errors import ApiError

SHELL = "shell"
SUBMODEL = "submodel"


class DescriptorStore:
    """Registered (external) descriptors by kind and id, optionally persisted to ``path`` (atomic replace)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, dict]] = {SHELL: {}, SUBMODEL: {}}
        if self.path and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            for kind in (SHELL, SUBMODEL):
                self._items[kind] = dict(data.get(kind, {}))

    def all(self, kind: str) -> list[dict]:
        with self._lock:
            return list(self._items[kind].values())

    def get(self, kind: str, identifier: str) -> dict | None:
        with self._lock:
            return self._items[kind].get(identifier)

    def put(self, kind: str, descriptor: dict) -> None:
        with self._lock:
            self._items[kind][descriptor["id"]] = descriptor
            self._save()

    def delete(self, kind: str, identifier: str) -> bool:
        with self._lock:
            found = self._items[kind].pop(identifier, None) is not None
            if found:
                self._save()
            return found

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._items), encoding="utf-8")
        os.replace(tmp, self.path)


def validate_descriptor(data: Any, kind: str) -> dict:
    """Structural checks of a posted descriptor (IDTA-01002 Part 2, AssetAdministrationShellDescriptor)."""
    if not isinstance(data, dict):
        raise ApiError(400, "a descriptor is a JSON object")
    ident = data.get("id")
    if not isinstance(ident, str) or not ident or len(ident) > 2048:
        raise ApiError(400, "a descriptor needs an 'id' string of 1 to 2048 characters")
    endpoints = data.get("endpoints", [])
    if not isinstance(endpoints, list) or not all(
            isinstance(e, dict) and isinstance(e.get("interface"), str)
            and isinstance(e.get("protocolInformation"), dict)
            and isinstance(e["protocolInformation"].get("href"), str) for e in endpoints):
        raise ApiError(400, "endpoints must be a list of {interface, protocolInformation: {href}}")
    if kind == SUBMODEL and not endpoints:
        raise ApiError(400, "a submodel descriptor needs at least one endpoint")
    if kind == SHELL:
        subs = data.get("submodelDescriptors", [])
        if not isinstance(subs, list):
            raise ApiError(400, "submodelDescriptors must be a list")
        for sub in subs:
            validate_descriptor(sub, SUBMODEL)
    for key in ("idShort", "assetType", "globalAssetId"):
        if key in data and not isinstance(data[key], str):
            raise ApiError(400, f"{key} must be a string")
    if "assetKind" in data and data["assetKind"] not in ("Type", "Instance", "Role", "NotApplicable"):
        raise ApiError(400, "assetKind must be Type, Instance, Role or NotApplicable")
    return data


def _endpoint(interface: str, href: str) -> dict:
    return {"interface": interface,
            "protocolInformation": {"href": href, "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}}


def submodel_descriptor(sm: model.Submodel, base: str, via_shell: str | None = None) -> dict:
    href = (f"{base}/shells/{encode_id(via_shell)}/submodels/{encode_id(sm.id)}" if via_shell
            else f"{base}/submodels/{encode_id(sm.id)}")
    out: dict[str, Any] = {"id": sm.id, "endpoints": [_endpoint("SUBMODEL-3.0", href)]}
    if sm.id_short:
        out["idShort"] = sm.id_short
    if sm.semantic_id is not None:
        out["semanticId"] = to_dict(sm.semantic_id)
    if sm.description:
        out["description"] = to_dict(sm.description)
    if sm.administration is not None:
        out["administration"] = to_dict(sm.administration)
    return out


def shell_descriptor(shell: model.AssetAdministrationShell, submodels: list[model.Submodel], base: str) -> dict:
    info = shell.asset_information
    out: dict[str, Any] = {
        "id": shell.id,
        "assetKind": ASSET_KIND[info.asset_kind],
        "endpoints": [_endpoint("AAS-3.0", f"{base}/shells/{encode_id(shell.id)}")],
        "submodelDescriptors": [submodel_descriptor(sm, base, shell.id) for sm in submodels],
    }
    if shell.id_short:
        out["idShort"] = shell.id_short
    if info.global_asset_id:
        out["globalAssetId"] = info.global_asset_id
    if info.asset_type:
        out["assetType"] = info.asset_type
    if info.specific_asset_id:
        out["specificAssetIds"] = [to_dict(s) for s in info.specific_asset_id]
    if shell.description:
        out["description"] = to_dict(shell.description)
    if shell.display_name:
        out["displayName"] = to_dict(shell.display_name)
    if shell.administration is not None:
        out["administration"] = to_dict(shell.administration)
    return out
