"""IDTA 02011 Hierarchical Structures enabling Bills of Material: the pack → module → cell structure.

Packs and modules carry a ``OneDown`` BoM (entry node = the battery itself, one node per part, ``HasPart`` from the
entry node to each); cells carry a ``OneUp`` BoM (one node for the module, ``IsPartOf`` from the cell to it). Nodes
are self-managed entities whose globalAssetId is the part's, so a client follows them to the child's AAS through
discovery. The template's node idShort ``Node`` is a placeholder; nodes are named after the part's serial.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from basyx.aas import model

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.serialization import from_json
from packtwin.submodels.part import Part, Violation

PART = Part(
    name="bom",
    resource="idta-02011-hierarchical-structures.json",
    levels=frozenset({Level.PACK, Level.MODULE, Level.CELL}),
    is_passport=False,
)

_BASE = "https://admin-shell.io/idta/HierarchicalStructures"
ENTRY_NODE = f"{_BASE}/EntryNode/1/0"
NODE = f"{_BASE}/Node/1/0"
HAS_PART = f"{_BASE}/HasPart/1/0"
IS_PART_OF = f"{_BASE}/IsPartOf/1/0"
ARCHE_TYPE = f"{_BASE}/ArcheType/1/0"
ARCHE_TYPES = ("Full", "OneDown", "OneUp")


def _sem(value: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def _id_short(serial: str) -> str:
    # idShorts must start with a letter and hold only letters, digits and underscores.
    return "N_" + re.sub(r"[^A-Za-z0-9_]", "_", serial)


def _ref(submodel_id: str, *entities: str) -> dict[str, Any]:
    keys = [{"type": "Submodel", "value": submodel_id}] + [{"type": "Entity", "value": e} for e in entities]
    return {"type": "ModelReference", "keys": keys}


def build_json(battery: Battery, submodel_id: str) -> dict[str, Any]:
    """AAS JSON of the battery's BoM submodel."""
    if battery.level is Level.CELL:
        assert battery.parent is not None
        arche, others, relation, name = "OneUp", [battery.parent], IS_PART_OF, "IsPartOf"
    else:
        arche, others, relation, name = "OneDown", battery.children, HAS_PART, "HasPart"
    statements: list[dict[str, Any]] = [
        {"idShort": _id_short(o.serial), "semanticId": _sem(NODE), "entityType": "SelfManagedEntity",
         "globalAssetId": o.ids.global_asset_id, "modelType": "Entity"}
        for o in others
    ]
    statements += [
        {"idShort": f"{name}_{_id_short(o.serial)[2:]}", "semanticId": _sem(relation),
         "first": _ref(submodel_id, "EntryNode"), "second": _ref(submodel_id, "EntryNode", _id_short(o.serial)),
         "modelType": "RelationshipElement"}
        for o in others
    ]
    return {
        "idShort": PART.id_short, "id": submodel_id, "kind": "Instance", "semanticId": _sem(PART.semantic_id),
        "modelType": "Submodel",
        "submodelElements": [
            {"idShort": "EntryNode", "semanticId": _sem(ENTRY_NODE), "statements": statements,
             "entityType": "SelfManagedEntity", "globalAssetId": battery.ids.global_asset_id, "modelType": "Entity"},
            {"idShort": "ArcheType", "semanticId": _sem(ARCHE_TYPE), "valueType": "xs:string", "value": arche,
             "modelType": "Property"},
        ],
    }


def build(battery: Battery, submodel_id: str) -> model.Submodel:
    return from_json(json.dumps(build_json(battery, submodel_id)))


def _sem_of(obj: model.HasSemantics) -> str | None:
    ref = obj.semantic_id
    return ref.key[0].value if ref is not None and ref.key else None


def links(submodel: model.Submodel) -> tuple[str | None, str | None, list[str]]:
    """(archeType, the entry node's globalAssetId, the globalAssetIds of its nodes)."""
    arche = entry_id = None
    parts: list[str] = []
    for e in submodel.submodel_element:
        if isinstance(e, model.Property) and e.id_short == "ArcheType":
            arche = e.value
        if isinstance(e, model.Entity) and _sem_of(e) == ENTRY_NODE:
            entry_id = e.global_asset_id
            parts = [s.global_asset_id for s in e.statement
                     if isinstance(s, model.Entity) and _sem_of(s) == NODE and s.global_asset_id]
    return arche, entry_id, parts


def validate(submodel: model.Submodel) -> list[Violation]:
    where, out = submodel.id, []
    if _sem_of(submodel) != PART.semantic_id:
        out.append(Violation(where, f"semanticId is not {PART.semantic_id}"))
    arche, entry, _ = links(submodel)
    if entry is None:
        out.append(Violation(where, "EntryNode: mandatory entity missing"))
    if arche not in ARCHE_TYPES:
        out.append(Violation(where, f"ArcheType: {arche!r} is not one of {', '.join(ARCHE_TYPES)}"))
    for e in submodel.submodel_element:
        if isinstance(e, model.Entity):
            for s in e.statement:
                if isinstance(s, model.RelationshipElement):
                    for end in (s.first, s.second):
                        if isinstance(end, model.ModelReference):
                            try:
                                end.resolve(_Provider(submodel))
                            except (KeyError, TypeError, ValueError):
                                out.append(Violation(where, f"EntryNode.{s.id_short}: reference {end} does not resolve"))
    return out


class _Provider(model.AbstractObjectProvider):
    def __init__(self, submodel: model.Submodel) -> None:
        self._sm = submodel

    def get_item(self, identifier: str) -> model.Identifiable:
        if identifier == self._sm.id:
            return self._sm
        raise KeyError(identifier)


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Cycles in a has-part graph (asset id -> part asset ids), each as the path that closes it."""
    cycles, state = [], {}
    for start in edges:
        if start in state:
            continue
        stack = [(start, iter(edges.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(edges.get(nxt, ()))))
                path.append(nxt)
    return cycles
