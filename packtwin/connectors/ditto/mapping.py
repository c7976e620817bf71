"""AAS -> Ditto Thing: thingId ``{namespace}:{asset}``, one feature per submodel, element values as properties.

- thingId: ``{namespace}:{serial}`` for twins in packtwin's identifier scheme, else ``{namespace}:{shell idShort}``.
  The default namespace is derived from the base IRI (``https://example.org/packtwin`` -> ``org.example.packtwin``).
- attributes: the shell's identity (AAS id, globalAssetId, specificAssetIds) and, per feature, the submodel id and
  semanticId it came from, so every property can be traced back to the AAS.
- features: featureId = submodel idShort; definition = the submodel's semanticId as a Ditto definition
  ``namespace:name:version`` (:func:`definition_of`); properties = the submodel's value-only form (AAS Part 2
  ``$value``: a Property is its typed value, a collection an object, a list an array, ...).
- access groups: the submodel is pruned to ``clearance`` (public by default) before mapping; a submodel above the
  clearance is not mapped at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from basyx.aas import model

from packtwin.aas.ids import parse_aas_id
from packtwin.connectors import access_json
from packtwin.submodels.access import AccessGroup

_DEF_CHARS = re.compile(r"[^_a-zA-Z0-9\-.]+")
_NS_SEGMENT = re.compile(r"[^A-Za-z0-9_]+")
_INTEGER_TYPES = {"xs:integer", "xs:int", "xs:long", "xs:short", "xs:byte", "xs:unsignedInt", "xs:unsignedLong",
                  "xs:unsignedShort", "xs:unsignedByte", "xs:positiveInteger", "xs:nonNegativeInteger",
                  "xs:negativeInteger", "xs:nonPositiveInteger"}
_FLOAT_TYPES = {"xs:double", "xs:float", "xs:decimal"}


def namespace_from_base(base_iri: str) -> str:
    """A Ditto namespace (``[a-zA-Z]\\w*`` segments joined by dots) from a base IRI: reversed host, then path."""
    url = urlparse(base_iri)
    parts = list(reversed((url.hostname or "").split("."))) + [p for p in url.path.split("/") if p]
    segments = []
    for part in parts:
        seg = _NS_SEGMENT.sub("_", part).strip("_")
        if seg:
            segments.append(seg if seg[0].isalpha() else f"n{seg}")
    return ".".join(segments) or "packtwin"


def _def_part(text: str) -> str:
    return _DEF_CHARS.sub("_", text).strip("_") or "_"


def definition_of(semantic_id: str) -> str:
    """A semanticId as a Ditto definition ``namespace:name:version``.

    ``https://admin-shell.io/idta/nameplate/3/0/Nameplate`` -> ``io.admin-shell.idta.nameplate:Nameplate:3.0``;
    ``urn:samm:io.admin-shell.idta.batterypass.circularity:1.0.0#Circularity`` ->
    ``io.admin-shell.idta.batterypass.circularity:Circularity:1.0.0``; an IRDI ``0173-1#01-AHF578#003`` ->
    ``0173-1:01-AHF578:003``. Anything else keeps its characters that Ditto allows, with version ``0``. HTTP URLs are
    not used as they are: Ditto would try to load a WoT Thing Model from them.
    """
    sid = semantic_id.strip()
    if sid.startswith("urn:samm:"):
        ns_version, _, name = sid[len("urn:samm:"):].partition("#")
        ns, _, version = ns_version.rpartition(":")
        return f"{_def_part(ns)}:{_def_part(name or ns.rsplit('.', 1)[-1])}:{_def_part(version)}"
    url = urlparse(sid)
    if url.scheme in ("http", "https") and url.hostname:
        segments = [s for s in url.path.split("/") if s]
        version_idx = [i for i, s in enumerate(segments) if s.isdigit()]
        version = ".".join(segments[i] for i in version_idx) or "0"
        words = [s for i, s in enumerate(segments) if i not in version_idx]
        name = words[-1] if words else url.hostname
        ns = ".".join(list(reversed(url.hostname.split("."))) + words[:-1])
        return f"{_def_part(ns)}:{_def_part(name)}:{_def_part(version)}"
    irdi = sid.split("#")
    if len(irdi) == 3 and all(irdi):
        return ":".join(_def_part(p) for p in irdi)
    return f"packtwin.semanticid:{_def_part(sid)}:0"


def _semantic_id(node: dict[str, Any]) -> str | None:
    keys = (node.get("semanticId") or {}).get("keys") or []
    return keys[-1]["value"] if keys else None


# -- value-only form (AAS Part 2 "$value") -------------------------------------------------------------------------------
def _typed(value: Any, value_type: str | None) -> Any:
    if value is None:
        return None
    text = str(value)
    try:
        if value_type in _INTEGER_TYPES:
            return int(text)
        if value_type in _FLOAT_TYPES:
            number = float(text)
            return number if number == number and abs(number) != float("inf") else text  # JSON has no NaN/inf
        if value_type == "xs:boolean":
            return {"true": True, "1": True, "false": False, "0": False}.get(text, text)
    except ValueError:
        return text  # a template placeholder or bad value stays readable rather than being dropped
    return text


def value_only(node: dict[str, Any]) -> Any:
    """The value-only form of one element (AAS JSON dict); None when the element has no value."""
    kind = node.get("modelType")
    if kind == "Property":
        return _typed(node.get("value"), node.get("valueType"))
    if kind == "MultiLanguageProperty":
        values = node.get("value") or []
        return [{v["language"]: v["text"]} for v in values] or None
    if kind == "Range":
        out = {k: _typed(node.get(k), node.get("valueType")) for k in ("min", "max") if node.get(k) is not None}
        return out or None
    if kind in ("File", "Blob"):
        return {"contentType": node.get("contentType"), "value": node.get("value")} if node.get("value") else None
    if kind == "ReferenceElement":
        return node.get("value")
    if kind == "SubmodelElementCollection":
        return _children_values(node.get("value") or [])
    if kind == "SubmodelElementList":
        items = [value_only(child) for child in node.get("value") or []]
        return [v for v in items if v is not None]
    if kind == "Entity":
        out: dict[str, Any] = {"statements": _children_values(node.get("statements") or []),
                               "entityType": node.get("entityType")}
        if node.get("globalAssetId"):
            out["globalAssetId"] = node["globalAssetId"]
        return out
    if kind in ("RelationshipElement", "AnnotatedRelationshipElement"):
        out = {"first": node.get("first"), "second": node.get("second")}
        if kind == "AnnotatedRelationshipElement":
            out["annotations"] = _children_values(node.get("annotations") or [])
        return out
    return None  # Operation, Capability, BasicEventElement carry no value


def _children_values(children: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for child in children:
        value = value_only(child)
        if value is not None:  # Ditto merge patches treat null as "delete": absent values are left out
            out[child["idShort"]] = value
    return out


# -- Things ---------------------------------------------------------------------------------------------------------------
@dataclass
class ThingMapper:
    namespace: str = "org.example.packtwin"
    policy_id: str | None = None  # default "{namespace}:packtwin"
    base_iri: str = "https://example.org/packtwin"
    clearance: AccessGroup = AccessGroup.PUBLIC
    _feature_ids: dict[str, str] = field(default_factory=dict)  # submodel id -> feature id (for change events)

    @property
    def policy(self) -> str:
        return self.policy_id or f"{self.namespace}:packtwin"

    def thing_id(self, shell: model.AssetAdministrationShell) -> str:
        ids = parse_aas_id(shell.id, self.base_iri)
        name = ids.serial if ids is not None else (shell.id_short or shell.id)
        return f"{self.namespace}:{name.replace('/', '_')}"

    def feature(self, submodel: model.Submodel) -> tuple[str, dict[str, Any]] | None:
        """(featureId, feature) for ``submodel`` as seen at the mapper's clearance; None when not visible."""
        body = access_json.filtered(access_json.to_dict(submodel), self.clearance)
        if body is None:
            return None
        feature: dict[str, Any] = {"properties": _children_values(body.get("submodelElements") or [])}
        sid = _semantic_id(body)
        if sid:
            feature["definition"] = [definition_of(sid)]
        fid = self._feature_ids.get(submodel.id) or (submodel.id_short or submodel.id).replace("/", "_")
        return fid, feature

    def thing(self, shell: model.AssetAdministrationShell, submodels: list[model.Submodel]) -> dict[str, Any]:
        shell_body = access_json.to_dict(shell)
        info = shell_body.get("assetInformation", {})
        attributes: dict[str, Any] = {"aasId": shell.id, "idShort": shell.id_short,
                                      "assetKind": info.get("assetKind")}
        if info.get("globalAssetId"):
            attributes["globalAssetId"] = info["globalAssetId"]
        specific = {s["name"]: s["value"] for s in info.get("specificAssetIds", [])}
        if specific:
            attributes["specificAssetIds"] = specific
        features: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        self.assign_feature_ids(submodels)
        for sm in submodels:
            mapped = self.feature(sm)
            if mapped is None:
                continue
            fid, feature = mapped
            features[fid] = feature
            src = {"submodelId": sm.id}
            if sm.semantic_id is not None and sm.semantic_id.key:
                src["semanticId"] = sm.semantic_id.key[-1].value
            sources[fid] = src
        attributes["submodels"] = sources
        thing: dict[str, Any] = {"thingId": self.thing_id(shell), "policyId": self.policy,
                                 "attributes": attributes, "features": features}
        if shell.asset_information.asset_type:
            thing["definition"] = definition_of(shell.asset_information.asset_type)
        return thing

    def assign_feature_ids(self, submodels: list[model.Submodel]) -> None:
        """featureId = submodel idShort; ``_2``, ``_3``... when idShorts repeat within one shell (they may)."""
        taken: set[str] = set()
        for sm in submodels:
            base = fid = (sm.id_short or sm.id).replace("/", "_")
            n = 2
            while fid in taken:
                fid, n = f"{base}_{n}", n + 1
            taken.add(fid)
            self._feature_ids[sm.id] = fid

    def feature_id(self, submodel_id: str) -> str | None:
        return self._feature_ids.get(submodel_id)


def submodels_of(shell: model.AssetAdministrationShell, store: Any) -> list[model.Submodel]:
    """The submodels a shell references that exist in ``store`` (a basyx object store or Repository), by id."""
    out = []
    for ref in sorted(shell.submodel, key=lambda r: r.key[-1].value if r.key else ""):
        sm_id = ref.key[-1].value if ref.key else None
        try:
            obj = store.get_item(sm_id) if hasattr(store, "get_item") else store.get(sm_id)
        except KeyError:
            continue
        if isinstance(obj, model.Submodel):
            out.append(obj)
    return out
