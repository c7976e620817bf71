"""Validation of a whole AAS environment, as ``packtwin validate`` runs it:

1. the metamodel constraints of AAS 3.1, by the official aas-core3.1 verification;
2. conformance of every submodel to its IDTA template (mandatory elements, types, semanticIds, value ranges) and to
   the access groups the Battery Regulation prescribes (a submodel with an unknown semanticId is a violation);
3. units: the environment's ConceptDescriptions of template concepts carry the template's (fixed) units;
4. references: every submodel a shell names exists; the BoM links only to assets that have a shell and has no cycle.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import aas_core3_1.jsonization as core_json
import aas_core3_1.verification as core_verification
from basyx.aas import model

from packtwin.aas.serialization import environment_json
from packtwin.submodels import PARTS, bom, part_for
from packtwin.submodels.fixes import samm_key
from packtwin.submodels.part import Violation


def validate_environment(objects: Iterable[model.Identifiable], metamodel: bool = True) -> list[Violation]:
    objects = list(objects)
    out: list[Violation] = []
    if metamodel:
        out += verify_metamodel(objects)
    out += _templates(objects)
    out += _units(objects)
    out += _references(objects)
    return out


def verify_metamodel(objects: Iterable[model.Identifiable]) -> list[Violation]:
    """aas-core3.1's verification of the environment as AAS 3.1 JSON."""
    store = model.DictIdentifiableStore(objects)
    jsonable = json.loads(environment_json(store))
    try:
        env = core_json.environment_from_jsonable(jsonable)
    except core_json.DeserializationException as exc:
        return [Violation(f"environment{exc.path}", f"not AAS 3.1 JSON: {exc.cause}")]
    return [Violation(f"environment{err.path}", err.cause) for err in core_verification.verify(env)]


def _templates(objects: list[model.Identifiable]) -> list[Violation]:
    out: list[Violation] = []
    for obj in objects:
        if not isinstance(obj, model.Submodel):
            continue
        sem = obj.semantic_id.key[0].value if obj.semantic_id and obj.semantic_id.key else None
        part = part_for(sem)
        if part is None:
            out.append(Violation(obj.id, f"unknown semanticId {sem!r}: no IDTA template packtwin knows has it"))
        elif part is bom.PART:
            out += bom.validate(obj)
        else:
            out += part.validate(obj)
    return out


def _units(objects: list[model.Identifiable]) -> list[Violation]:
    expected: dict[str, str | None] = {}
    for part in PARTS:
        for cd in part.template.concept_descriptions_raw:
            expected[samm_key(cd["id"]) or ""] = part.template.unit_of(cd["id"])
    out = []
    for obj in objects:
        if isinstance(obj, model.ConceptDescription) and samm_key(obj.id) in expected:
            unit = None
            for eds in obj.embedded_data_specifications:
                unit = getattr(eds.data_specification_content, "unit", None) or unit
            want = expected[samm_key(obj.id) or ""]
            if unit != want:
                out.append(Violation(obj.id, f"unit {unit!r} is not the template's {want!r}"))
    return out


def _references(objects: list[model.Identifiable]) -> list[Violation]:
    ids = {o.id for o in objects}
    assets = {o.asset_information.global_asset_id for o in objects if isinstance(o, model.AssetAdministrationShell)}
    out = []
    for obj in objects:
        if isinstance(obj, model.AssetAdministrationShell):
            for ref in obj.submodel:
                if ref.key[-1].value not in ids:
                    out.append(Violation(obj.id, f"submodel {ref.key[-1].value} is not in the environment"))
    edges: dict[str, list[str]] = defaultdict(list)
    for obj in objects:
        if isinstance(obj, model.Submodel) and obj.semantic_id and obj.semantic_id.key[0].value == bom.PART.semantic_id:
            arche, entry, parts = bom.links(obj)
            for p in parts:
                if p not in assets:
                    out.append(Violation(obj.id, f"EntryNode: node asset {p} has no shell in the environment"))
            if entry is not None and arche in ("OneDown", "Full"):
                edges[entry].extend(parts)
    for cycle in bom.find_cycles(edges):
        out.append(Violation("BoM", "cycle in the pack hierarchy: " + " -> ".join(cycle)))
    return out
