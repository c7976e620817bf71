"""The catalogue questions answered from the AAS side (basyx objects, no RDF), to check the SPARQL answers.

Written independently of packtwin.ontology.battery: values are read by idShortPath from the submodels.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from basyx.aas import model


@dataclass
class Bat:
    level: str
    serial: str
    batch: str | None = None
    parent: str | None = None  # serial of the battery this one is part of
    values: dict[str, object] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    materials: list[tuple[str, float | None, bool]] = field(default_factory=list)
    recycled: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    documents: dict[str, tuple[str | None, list[str]]] = field(default_factory=dict)
    dismantling: list[str] = field(default_factory=list)


def _at(sm: model.Submodel, path: str) -> model.SubmodelElement | None:
    node: object = sm
    for part in path.split("."):
        try:
            node = node.get_referable(part)  # type: ignore[attr-defined]
        except (KeyError, AttributeError):
            return None
    return node  # type: ignore[return-value]


def _v(sm: model.Submodel, path: str) -> object:
    el = _at(sm, path)
    if el is None:
        return None
    if isinstance(el, model.MultiLanguageProperty):
        return (el.value or {}).get("en") or next(iter((el.value or {}).values()), None)
    return getattr(el, "value", None)


def _f(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def batteries(objects: list[model.Identifiable]) -> dict[str, Bat]:
    """Serial -> Bat, from shells and submodels following the packtwin identifier scheme."""
    out: dict[str, Bat] = {}
    for o in objects:
        if isinstance(o, model.AssetAdministrationShell):
            m = re.search(r"/asset/(pack|module|cell)/([^/]+)$", o.asset_information.global_asset_id or "")
            if m:
                b = out.setdefault(m[2], Bat(m[1], m[2]))
                b.batch = next((s.value for s in o.asset_information.specific_asset_id if s.name == "batchId"), None)
    for o in objects:
        if not isinstance(o, model.Submodel):
            continue
        m = re.search(r"/sm/(pack|module|cell)/([^/]+)/([^/]+)$", o.id)
        if not m or m[2] not in out:
            continue
        b, sm = out[m[2]], o
        if sm.id_short == "BatteryNameplate":
            b.values.update(manufacturer=_v(sm, "ManufacturerName"), plant=_v(sm, "UniqueFacilityIdentifier"),
                            made=_v(sm, "DateOfManufacture"), status=_v(sm, "LifeCycleStage"))
        elif sm.id_short == "TechnicalData":
            word = {"pack": "Pack", "module": "Module", "cell": "Cell"}[b.level]
            b.values.update(
                threshold=_f(_v(sm, "TechnicalPropertyAreas.Lifetime.CapacityThresholdExhaustion")),
                mass=_f(_v(sm, "GeneralInformation.BatteryMass")),
                resistance=_f(_v(sm, f"TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBattery{word}Level")))
        elif sm.id_short == "ProductCondition":
            b.values.update(soh=_f(_v(sm, "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue")),
                            soc=_f(_v(sm, "StateOfCharge.StateOfChargeValue")),
                            rul=_f(_v(sm, "RemainingUsefulLife.RemainingUsefulLifeValue")))
            events = _at(sm, "NegativeEvents")
            for ev in (events.value if events is not None else []):
                b.events.append(str(ev.get_referable("NegativeEventValue").value))
        elif sm.id_short == "MaterialComposition":
            b.values["chemistry"] = _v(sm, "BatteryChemistry.ShortName")
            for item in _at(sm, "BatteryMaterials").value:
                b.materials.append((str(item.get_referable("BatteryMaterialName").value),
                                    _f(item.get_referable("BatteryMaterialMass").value),
                                    bool(item.get_referable("IsCriticalRawMaterial").value)))
        elif sm.id_short == "Circularity":
            for item in _at(sm, "RecycledContentInformation").value:
                b.recycled[str(item.get_referable("RecycledMaterial").value)] = (
                    _f(item.get_referable("PreConsumerShare").value),
                    _f(item.get_referable("PostConsumerShare").value))
            b.dismantling = [str(x.value) for x in _at(sm, "DismantlingAndRemovalInformation").value
                             if x.value is not None]
        elif sm.id_short == "HandoverDocumentation":
            for doc in _at(sm, "Documents").value:
                ident = list(doc.get_referable("DocumentIds").value)[0].get_referable("DocumentIdentifier").value
                version = list(doc.get_referable("DocumentVersions").value)[0]
                title = (version.get_referable("Title").value or {}).get("en")
                files = [f.value for f in version.get_referable("DigitalFiles").value if f.value]
                b.documents[str(ident)] = (title, files)
        elif sm.id_short == "CarbonFootprint":
            total = 0.0
            for pcf in _at(sm, "ProductCarbonFootprints").value:
                if "kwh" in str(pcf.get_referable("ReferenceImpactUnitForCalculation").value).lower():
                    total += float(pcf.get_referable("PcfCO2eq").value) / float(
                        pcf.get_referable("QuantityOfMeasureForCalculation").value)
            b.values["cf"] = total
        elif sm.id_short == "HierarchicalStructures":
            entry = sm.get_referable("EntryNode")
            for st in entry.statement:
                if isinstance(st, model.Entity):
                    other = st.global_asset_id.rsplit("/", 1)[1]
                    if _v(sm, "ArcheType") == "OneUp":
                        b.parent = other
                    elif other in out:
                        out[other].parent = b.serial
    return out


def pack_of(bats: dict[str, Bat], b: Bat) -> Bat | None:
    node: Bat | None = b
    while node is not None and node.level != "pack":
        node = bats.get(node.parent) if node.parent else None
    return node


def answers(objects: list[model.Identifiable]) -> dict[str, list[tuple]]:
    bats = batteries(objects)
    packs = sorted((b for b in bats.values() if b.level == "pack"), key=lambda b: b.serial)
    cells = sorted((b for b in bats.values() if b.level == "cell"), key=lambda b: b.serial)
    modules = [b for b in bats.values() if b.level == "module"]
    r: dict[str, list[tuple]] = {}

    r["cells-below-80-soh"] = sorted((pack_of(bats, c).serial, c.serial, c.values["soh"]) for c in cells
                                     if c.values["soh"] < 80)

    def parts(p: Bat) -> list[Bat]:
        return [b for b in bats.values() if b is not p and pack_of(bats, b) is p]

    r["second-life-candidates"] = [(p.serial, p.values["soh"]) for p in packs if 70 <= p.values["soh"] <= 80
                                   and not p.events and not any(x.events for x in parts(p))]
    rows = []
    for p in packs:
        for name, mass, crit in p.materials:
            if crit and mass is not None:
                pre, post = p.recycled.get(name, (None, None))
                rows.append((p.serial, name, mass, pre, post))
    r["critical-raw-materials-per-pack"] = sorted(rows, key=lambda t: (t[0], t[1]))
    lots: dict[tuple[str, str], list[float]] = defaultdict(list)
    lot_packs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p in packs:
        for name, mass, crit in p.materials:
            if crit and mass is not None:
                lots[(p.batch, name)].append(mass)
                lot_packs[(p.batch, name)].add(p.serial)
    r["critical-raw-materials-per-lot"] = [(lot, m, sum(v), len(lot_packs[(lot, m)]))
                                           for (lot, m), v in sorted(lots.items())]
    cf: dict[tuple[str, str], list[float]] = defaultdict(list)
    for p in packs:
        cf[(p.values["manufacturer"], p.values["plant"])].append(p.values["cf"])
    r["carbon-footprint-by-manufacturer-plant"] = [(m, pl, sum(v) / len(v), len(v)) for (m, pl), v in sorted(cf.items())]
    r["rul-within-six-months"] = sorted(((p.serial, p.values["rul"]) for p in packs if p.values["rul"] <= 183),
                                        key=lambda t: (t[1], t[0]))
    r["modules-with-internal-short"] = sorted(
        (c.parent, c.serial) for c in cells if any(re.search(r"internal[\s_-]*short", e, re.I) for e in c.events))
    counts: dict[tuple, int] = defaultdict(int)
    for b in bats.values():
        counts[(b.values["chemistry"], b.level, b.values["made"].year)] += 1
    r["batteries-by-chemistry-and-year"] = [(*k, n) for k, n in sorted(counts.items())]
    r["packs-past-warranted-fade"] = [(p.serial, p.values["soh"], p.values["threshold"]) for p in packs
                                      if p.values["soh"] < p.values["threshold"]]
    rows = []
    for p in packs:
        for d in p.dismantling:
            title, files = p.documents.get(d, (None, []))
            for f in files or [None]:
                rows.append((p.serial, d, title, f))
    r["dismantling-documents"] = sorted(rows, key=lambda t: (t[0], t[1]))
    rows = []
    for p in packs:
        socs = [c.values["soc"] for c in cells if pack_of(bats, c) is p]
        rows.append((p.serial, sum(socs) / len(socs), min(socs), max(socs), len(socs)))
    r["state-of-charge-per-pack"] = rows
    r["resistance-increase-over-50"] = sorted(((c.serial, c.values["resistance"]) for c in cells
                                               if c.values["resistance"] > 50), key=lambda t: (-t[1], t[0]))
    kinds: dict[tuple[str, str], int] = defaultdict(int)
    for b in bats.values():
        for e in b.events:
            kinds[(_kind(e), b.level)] += 1
    r["safety-events-by-kind"] = [(*k, n) for k, n in sorted(kinds.items())]
    r["end-of-life-packs"] = [(p.serial, p.values["chemistry"], p.values["mass"]) for p in packs
                              if p.values["status"] == "Waste"]
    assert modules  # the fleet has modules
    return r


def _kind(text: str) -> str:
    ns = "https://w3id.org/packtwin/ns#"
    for pattern, name in ((r"internal[\s_-]*short", "InternalShortCircuit"), (r"deep[\s_-]*discharg", "DeepDischarge"),
                          (r"overcharg", "Overcharge"), (r"thermal|temperature|fire", "ThermalEvent"),
                          (r"accident|crash|collision", "Accident")):
        if re.search(pattern, text, re.I):
            return ns + name
    return ns + "OtherEvent"
