"""Submodel templates as published by the IDTA: load, instantiate with values, validate instances against them.

A template is the ``*_without_examplevalues.json`` file kept in ``resources/``. Instances are built at the level of
AAS JSON (dicts), then decoded once with basyx's strict decoder: this keeps every idShort, semanticId, valueType and
description exactly as published and is fast enough for fleets.

Values are given as a nested mapping that mirrors the template (see :meth:`SubmodelTemplate.instantiate`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import json_deserialization

from packtwin.submodels.access import EXTENSION_NAME, EXTENSION_SEMANTIC_ID, AccessGroup
from packtwin.submodels.fixes import samm_key

# 02035 templates say "SMT/Cardinality"; 02008 1.1.1 still uses the older "Cardinality".
CARDINALITY_QUALIFIERS = ("SMT/Cardinality", "Cardinality")
MANDATORY = {"One", "OneToMany"}
MANY = {"OneToMany", "ZeroToMany"}
CONTAINERS = {"SubmodelElementCollection", "SubmodelElementList", "Entity"}


class TemplateError(ValueError):
    """Values that do not fit the template (unknown element, missing mandatory element, wrong type)."""


@dataclass
class Node:
    """One element of a template, with what validation needs."""

    id_short: str | None
    model_type: str
    cardinality: str
    semantic_id: str | None
    value_type: str | None
    raw: dict[str, Any]
    children: list[Node] = field(default_factory=list)

    @property
    def mandatory(self) -> bool:
        return self.cardinality in MANDATORY

    def child(self, id_short: str) -> Node | None:
        for c in self.children:
            if c.id_short == id_short:
                return c
        return None


def _semantic_id(raw: Mapping[str, Any]) -> str | None:
    ref = raw.get("semanticId")
    return ref["keys"][0]["value"] if ref and ref.get("keys") else None


def _children_raw(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    if raw.get("modelType") == "Entity":
        return list(raw.get("statements", []))
    if raw.get("modelType") in ("SubmodelElementCollection", "SubmodelElementList"):
        return list(raw.get("value", []) or [])
    return []


def _cardinality(raw: Mapping[str, Any]) -> str:
    for q in raw.get("qualifiers", []):
        if q.get("type") in CARDINALITY_QUALIFIERS:
            return str(q.get("value"))
    return "One"


def _node(raw: dict[str, Any]) -> Node:
    return Node(raw.get("idShort"), raw["modelType"], _cardinality(raw), _semantic_id(raw), raw.get("valueType"),
                raw, [_node(c) for c in _children_raw(raw)])


def _strip_template_only(raw: dict[str, Any], in_list: bool) -> dict[str, Any]:
    """Copy ``raw`` without template qualifiers; list items lose their idShort (AASd-120)."""
    # Instances leave out the template's per-element displayName and description: the ConceptDescriptions exported
    # with every environment carry the same names and definitions once, instead of once per battery.
    out = {k: v for k, v in raw.items() if k not in ("qualifiers", "value", "statements", "displayName", "description")}
    quals = [q for q in raw.get("qualifiers", [])
             if q.get("kind") != "TemplateQualifier" and q.get("type") not in CARDINALITY_QUALIFIERS]
    if quals:
        out["qualifiers"] = quals
    if in_list:
        out.pop("idShort", None)
    return out


def format_value(value: Any, value_type: str | None) -> str:
    """Lexical form of ``value`` for an xs: value type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value_type in ("xs:integer", "xs:int", "xs:long", "xs:unsignedInt", "xs:unsignedLong", "xs:short"):
            return str(round(value))
        return repr(float(value))
    return str(value)


class SubmodelTemplate:
    """One IDTA submodel template from ``packtwin/submodels/resources``."""

    def __init__(self, resource: str, fix: Callable[[dict[str, Any]], None] | None = None) -> None:
        text = resources.files("packtwin.submodels").joinpath("resources", resource).read_text(encoding="utf-8")
        self.environment: dict[str, Any] = json.loads(text)
        if fix is not None:
            fix(self.environment)
        self.raw: dict[str, Any] = self.environment["submodels"][0]
        self.semantic_id: str = _semantic_id(self.raw) or ""
        self.id_short: str = self.raw["idShort"]
        self.root = Node(self.id_short, "Submodel", "One", self.semantic_id, None, self.raw,
                         [_node(e) for e in self.raw.get("submodelElements", [])])
        self.concept_descriptions_raw: list[dict[str, Any]] = self.environment.get("conceptDescriptions", [])
        self._units = {samm_key(cd["id"]): _unit_of(cd) for cd in self.concept_descriptions_raw}

    # -- building ------------------------------------------------------------------------------------------------------
    def instantiate(self, submodel_id: str, values: Mapping[str, Any],
                    access: Mapping[str, AccessGroup] | None = None) -> dict[str, Any]:
        """AAS JSON of an instance of this template.

        ``values`` maps idShorts to: a scalar (Property, Range as ``(min, max)``), ``{lang: text}``
        (MultiLanguageProperty), ``{"contentType": ..., "value": ...}`` (File), a nested mapping (collection,
        entity statements) or a sequence of such (list items). An absent optional element is left out; an absent
        mandatory one raises :class:`TemplateError`.
        ``access`` maps idShortPaths (``A.B``, list items as ``A[]``) to the access group marked on that element.
        """
        head = _strip_template_only(self.raw, False)
        head["id"] = submodel_id
        head["kind"] = "Instance"
        head.pop("administration", None)
        head["administration"] = {k: v for k, v in (self.raw.get("administration") or {}).items()
                                  if k in ("version", "revision")} or None
        if head["administration"] is None:
            head.pop("administration")
        head["submodelElements"] = self._build_children(self.root, values, self.id_short)
        if access:
            _mark_access(head["submodelElements"], access)
        return head

    def build(self, submodel_id: str, values: Mapping[str, Any],
              access: Mapping[str, AccessGroup] | None = None) -> model.Submodel:
        raw = self.instantiate(submodel_id, values, access)
        return json.loads(json.dumps(raw), cls=json_deserialization.StrictAASFromJsonDecoder)

    def _build_children(self, node: Node, values: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        if not isinstance(values, Mapping):
            raise TemplateError(f"{path}: expected a mapping of element values, got {type(values).__name__}")
        known = {c.id_short for c in node.children}
        unknown = set(values) - known
        if unknown:
            raise TemplateError(f"{path}: no element {', '.join(sorted(unknown))} in template {self.id_short}")
        out = []
        for child in node.children:
            if child.id_short not in values or values[child.id_short] is None:
                if child.mandatory:
                    raise TemplateError(f"{path}.{child.id_short}: mandatory element has no value")
                continue
            out.append(self._build(child, values[child.id_short], f"{path}.{child.id_short}", in_list=False))
        return out

    def _build(self, node: Node, value: Any, path: str, in_list: bool) -> dict[str, Any]:
        raw = _strip_template_only(node.raw, in_list)
        kind = node.model_type
        if kind == "Property":
            raw["value"] = format_value(value, node.value_type)
        elif kind == "MultiLanguageProperty":
            if isinstance(value, str):
                value = {"en": value}
            raw["value"] = [{"language": lang, "text": text} for lang, text in value.items()]
        elif kind == "Range":
            lo, hi = value
            raw["min"], raw["max"] = format_value(lo, node.value_type), format_value(hi, node.value_type)
        elif kind in ("File", "Blob"):
            raw["contentType"] = value["contentType"]
            raw["value"] = value["value"]
        elif kind == "ReferenceElement":
            raw["value"] = value
        elif kind == "RelationshipElement":
            raw["first"], raw["second"] = value
        elif kind == "SubmodelElementCollection":
            raw["value"] = self._build_children(node, value, path)
        elif kind == "Entity":
            statements = dict(value)
            raw["entityType"] = statements.pop("entityType", node.raw.get("entityType"))
            gid = statements.pop("globalAssetId", None)
            if gid:
                raw["globalAssetId"] = gid
            raw["statements"] = self._build_children(node, statements, path)
        elif kind == "SubmodelElementList":
            if isinstance(value, Mapping | str | bytes):
                raise TemplateError(f"{path}: a list needs a sequence of item values")
            item = node.children[0] if node.children else None
            if item is None:
                raise TemplateError(f"{path}: the template gives no item prototype")
            if item.mandatory and not value:
                raise TemplateError(f"{path}: needs at least one item")
            raw["value"] = [self._build(item, v, f"{path}[{i}]", in_list=True) for i, v in enumerate(value)]
        else:
            raise TemplateError(f"{path}: element kind {kind} is not supported")
        return raw

    # -- reading -------------------------------------------------------------------------------------------------------
    def unit_of(self, semantic_id: str | None) -> str | None:
        return self._units.get(samm_key(semantic_id))

    def nodes(self) -> Iterator[tuple[str, Node]]:
        """Every template node with its idShortPath (list items as ``List[]``)."""
        def walk(node: Node, path: str) -> Iterator[tuple[str, Node]]:
            for c in node.children:
                p = f"{path}[]" if node.model_type == "SubmodelElementList" else (
                    f"{path}.{c.id_short}" if path else str(c.id_short))
                yield p, c
                yield from walk(c, p)
        yield from walk(self.root, "")


def _unit_of(cd: Mapping[str, Any]) -> str | None:
    for eds in cd.get("embeddedDataSpecifications", []):
        unit = eds.get("dataSpecificationContent", {}).get("unit")
        if unit:
            return str(unit)
    return None


_INDEX = re.compile(r"\[\d*\]")


def _mark_access(elements: list[dict[str, Any]], access: Mapping[str, AccessGroup], path: str = "") -> None:
    for e in elements:
        if "idShort" in e:
            p = f"{path}.{e['idShort']}" if path else e["idShort"]
        else:
            p = f"{path}[]"
        group = access.get(p)
        if group is not None:
            e.setdefault("extensions", []).append({
                "name": EXTENSION_NAME, "valueType": "xs:string", "value": group.token,
                "semanticId": {"type": "ExternalReference",
                               "keys": [{"type": "GlobalReference", "value": EXTENSION_SEMANTIC_ID}]},
            })
        kids = e.get("statements") if e.get("modelType") == "Entity" else (
            e.get("value") if e.get("modelType") in ("SubmodelElementCollection", "SubmodelElementList") else None)
        if kids:
            _mark_access(kids, access, p)


def generic_path(path: str) -> str:
    """``A[3].B`` → ``A[].B``: the template path of an instance idShortPath."""
    return _INDEX.sub("[]", path)


def element_values(elements: Sequence[model.SubmodelElement] | model.Submodel) -> dict[str, Any]:
    """The values of a submodel (or element sequence) as the nested mapping :meth:`instantiate` takes."""
    seq = elements.submodel_element if isinstance(elements, model.Submodel) else elements
    return {e.id_short: _value_of(e) for e in seq}


def _value_of(e: model.SubmodelElement) -> Any:
    if isinstance(e, model.Property):
        return e.value
    if isinstance(e, model.MultiLanguageProperty):
        return dict(e.value or {})
    if isinstance(e, model.Range):
        return (e.min, e.max)
    if isinstance(e, model.File | model.Blob):
        return {"contentType": e.content_type, "value": e.value}
    if isinstance(e, model.SubmodelElementCollection):
        return element_values(list(e.value))
    if isinstance(e, model.SubmodelElementList):
        return [_value_of(x) for x in e.value]
    if isinstance(e, model.Entity):
        return element_values(list(e.statement))
    return None
