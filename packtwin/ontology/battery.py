"""Battery semantics on top of the AAS graph: BattINFO typing, the BoM as part-of links, lifecycle quantities.

Each battery is one node, its globalAssetId (``{base}/asset/{level}/{serial}``), typed with the BattINFO class of its
level, and carries the lifecycle quantities of its passport as direct triples of the packtwin lifecycle vocabulary
(``resources/packtwin.ttl``, prefix ``pt:``; every property documents its unit, its source element and its Battery
Pass / EMMO counterpart). Queries stay short: ``?cell pt:stateOfHealth ?soh`` instead of a walk through the
submodel, its elements and their values.

Derived triples inherit the access group of the element they come from; list items that become nodes of their own
(materials, recycled content, safety events, documents) are named by their element IRI, so they leave the graph
with their element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from basyx.aas import model
from rdflib import RDF, XSD, Literal, Namespace, URIRef

from packtwin.ontology.aas_rdf import Quad, element_iri, identifiable_iri
from packtwin.submodels.access import AccessGroup, own_access_group

PT = Namespace("https://w3id.org/packtwin/ns#")
BATTINFO = Namespace("https://w3id.org/emmo/domain/battery#")

# BattINFO classes (standards notes: battinfo_echem_key_classes.tsv).
LEVEL_CLASS = {
    "pack": BATTINFO["battery_be3b35a7_75a3_4be0_9265_beb178ea7b00"],  # BatteryPack
    "module": BATTINFO["battery_9acfeea6_ca7f_4b97_9844_c38edf6387ec"],  # BatteryModule
    "cell": BATTINFO["battery_68ed592a_7924_45d0_a108_94d6275d57f0"],  # BatteryCell
}

_ASSET = re.compile(r"^(?P<base>.+)/asset/(?P<level>pack|module|cell)/(?P<serial>[A-Za-z0-9._-]+)$")
_SUBMODEL = re.compile(r"^(?P<base>.+)/sm/(?P<level>pack|module|cell)/(?P<serial>[A-Za-z0-9._-]+)/[^/]+$")


def asset_of_submodel(submodel_id: str) -> tuple[URIRef, str] | None:
    """(battery node, level) of a submodel named after the packtwin identifier scheme, else None."""
    m = _SUBMODEL.match(submodel_id)
    if m is None:
        return None
    return URIRef(f"{m['base']}/asset/{m['level']}/{m['serial']}"), m["level"]


def _generic(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def walk(sm: model.Submodel) -> Iterator[tuple[str, model.SubmodelElement, AccessGroup]]:
    """Every element of ``sm`` with its idShortPath and effective access group."""
    own = own_access_group(sm)
    yield from _walk(sm.submodel_element, "", own if own is not None else AccessGroup.PUBLIC, False)


def _walk(elements: object, path: str, inherited: AccessGroup, in_list: bool
          ) -> Iterator[tuple[str, model.SubmodelElement, AccessGroup]]:
    for i, el in enumerate(elements):  # type: ignore[call-overload]
        own = own_access_group(el)
        g = own if own is not None else inherited
        cpath = f"{path}[{i}]" if in_list else (f"{path}.{el.id_short}" if path else str(el.id_short))
        yield cpath, el, g
        if isinstance(el, model.SubmodelElementCollection):
            yield from _walk(el.value, cpath, g, False)
        elif isinstance(el, model.SubmodelElementList):
            yield from _walk(el.value, cpath, g, True)
        elif isinstance(el, model.Entity):
            yield from _walk(el.statement, cpath, g, False)


def _num(value: object) -> Literal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Literal(float(value), datatype=XSD.double)
    try:
        return Literal(float(str(value)), datatype=XSD.double)
    except ValueError:
        return None


def _text(el: model.SubmodelElement) -> str | None:
    if isinstance(el, model.MultiLanguageProperty):
        if not el.value:
            return None
        return el.value.get("en") or next(iter(el.value.values()))
    value = getattr(el, "value", None)
    return None if value is None or value == "" else str(value)


def _date(value: object) -> Literal | None:
    if value is None:
        return None
    text = model.datatypes.xsd_repr(value) if not isinstance(value, str) else value
    return Literal(text[:10], datatype=XSD.date)


# (submodel idShort, generic idShortPath) -> (pt property, literal kind)
_DIRECT: dict[tuple[str, str], tuple[URIRef, str]] = {
    ("BatteryNameplate", "ManufacturerName"): (PT.manufacturer, "text"),
    ("BatteryNameplate", "ManufacturerIdentifier"): (PT.manufacturerIdentifier, "text"),
    ("BatteryNameplate", "UniqueFacilityIdentifier"): (PT.manufacturingPlant, "text"),
    ("BatteryNameplate", "DateOfManufacture"): (PT.manufacturingDate, "date"),
    ("BatteryNameplate", "DateOfPuttingIntoService"): (PT.puttingIntoServiceDate, "date"),
    ("BatteryNameplate", "LifeCycleStage"): (PT.status, "text"),
    ("TechnicalData", "GeneralInformation.BatteryCategory"): (PT.batteryCategory, "text"),
    ("TechnicalData", "GeneralInformation.BatteryMass"): (PT.batteryMass, "num"),
    ("TechnicalData", "GeneralInformation.WarrantyInformation.WarrantyPeriod"): (PT.warrantyPeriod, "text"),
    ("TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.RatedCapacity"): (PT.ratedCapacity, "num"),
    ("TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.CapacityFade"): (PT.capacityFade, "num"),
    ("TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.CertifiedUsableBatteryEnergy"):
        (PT.certifiedUsableEnergy, "num"),
    ("TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.NominalVoltage"): (PT.nominalVoltage, "num"),
    ("TechnicalData", "TechnicalPropertyAreas.Lifetime.CapacityThresholdExhaustion"):
        (PT.capacityThresholdForExhaustion, "num"),
    ("TechnicalData", "TechnicalPropertyAreas.Lifetime.ExpectedLifetimeInCalendarYears"):
        (PT.expectedLifetime, "num"),
    ("ProductCondition", "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue"): (PT.stateOfHealth, "num"),
    ("ProductCondition", "StateOfCharge.StateOfChargeValue"): (PT.stateOfCharge, "num"),
    ("ProductCondition", "RemainingCapacity.RemainingCapacityValue"): (PT.remainingCapacity, "num"),
    ("ProductCondition", "RemainingEnergy.RemainingEnergyValue"): (PT.remainingEnergy, "num"),
    ("ProductCondition", "NumberOfFullCycles.NumberOfFullCyclesValue"): (PT.fullCycles, "num"),
    ("ProductCondition", "RemainingUsefulLife.RemainingUsefulLifeValue"): (PT.remainingUsefulLife, "num"),
    ("MaterialComposition", "BatteryChemistry.ShortName"): (PT.chemistry, "text"),
    ("Circularity", "RenewableContent"): (PT.renewableContent, "num"),
    ("Circularity", "DismantlingAndRemovalInformation[]"): (PT.dismantlingDocument, "text"),
}

_LEVEL_WORD = {"pack": "Pack", "module": "Module", "cell": "Cell"}

# Keywords of a NegativeEvent text -> event kind (pt:SafetyEventKind individuals).
EVENT_KINDS: list[tuple[re.Pattern[str], URIRef]] = [
    (re.compile(r"internal[\s_-]*short", re.I), PT.InternalShortCircuit),
    (re.compile(r"deep[\s_-]*discharg", re.I), PT.DeepDischarge),
    (re.compile(r"overcharg", re.I), PT.Overcharge),
    (re.compile(r"thermal|temperature|fire", re.I), PT.ThermalEvent),
    (re.compile(r"accident|crash|collision", re.I), PT.Accident),
]


def event_kind(text: str) -> URIRef:
    for pattern, kind in EVENT_KINDS:
        if pattern.search(text):
            return kind
    return PT.OtherEvent


def _literal(el: model.SubmodelElement, kind: str) -> Literal | None:
    if kind == "num":
        return _num(getattr(el, "value", None))
    if kind == "date":
        return _date(getattr(el, "value", None))
    text = _text(el)
    return None if text is None else Literal(text, datatype=XSD.string)


def derive_shell(aas: model.AssetAdministrationShell) -> list[Quad]:
    """Typing, serial number and lot of the battery a shell describes (public)."""
    gid = aas.asset_information.global_asset_id
    m = _ASSET.match(gid or "")
    if m is None:
        return []
    g = AccessGroup.PUBLIC
    node = URIRef(gid)
    quads: list[Quad] = [(node, RDF.type, LEVEL_CLASS[m["level"]], g), (node, RDF.type, PT.Battery, g),
                         (node, PT.level, Literal(m["level"], datatype=XSD.string), g),
                         (node, PT.shell, identifiable_iri(aas.id), g)]
    for s in aas.asset_information.specific_asset_id:
        prop = {"serialNumber": PT.serialNumber, "batchId": PT.batchId,
                "manufacturerPartId": PT.manufacturerPartId}.get(s.name)
        if prop is not None and s.value:
            quads.append((node, prop, Literal(s.value, datatype=XSD.string), g))
    return quads


def derive_submodel(sm: model.Submodel) -> tuple[list[Quad], list[Quad]]:
    """(triples about the battery node, triples about nodes owned by the submodel's elements)."""
    found = asset_of_submodel(sm.id)
    if found is None:
        return [], []
    node, level = found
    name = sm.id_short or ""
    about: list[Quad] = []
    owned: list[Quad] = []
    if name == "HierarchicalStructures":
        return _derive_bom(sm), []
    pcf_total: dict[AccessGroup, float] = {}
    for path, el, g in walk(sm):
        gpath = _generic(path)
        hit = _DIRECT.get((name, gpath))
        if hit is not None:
            lit = _literal(el, hit[1])
            if lit is not None:
                about.append((node, hit[0], lit, g))
            continue
        if name == "TechnicalData" and gpath == ("TechnicalPropertyAreas.Resistance."
                                                 f"InternalResistanceIncreaseOfBattery{_LEVEL_WORD[level]}Level"):
            lit = _num(getattr(el, "value", None))
            if lit is not None:
                about.append((node, PT.internalResistanceIncrease, lit, g))
        elif name == "ProductCondition" and gpath == "NegativeEvents[]" and isinstance(
                el, model.SubmodelElementCollection):
            ev = element_iri(sm.id, path)
            text = _child_text(el, "NegativeEventValue") or ""
            about.append((node, PT.hasSafetyEvent, ev, g))
            owned += [(ev, RDF.type, PT.SafetyEvent, g), (ev, PT.eventKind, event_kind(text), g),
                      (ev, PT.description, Literal(text, datatype=XSD.string), g)]
            when = _child(el, "LastUpdate")
            if when is not None and getattr(when, "value", None) is not None:
                owned.append((ev, PT.time, Literal(model.datatypes.xsd_repr(when.value), datatype=XSD.dateTime), g))
        elif name == "MaterialComposition" and gpath == "BatteryMaterials[]" and isinstance(
                el, model.SubmodelElementCollection):
            mat = element_iri(sm.id, path)
            about.append((node, PT.hasMaterial, mat, g))
            owned.append((mat, RDF.type, PT.MaterialContent, g))
            owned += _child_quads(el, mat, g, (("BatteryMaterialName", PT.material, "text"),
                                               ("BatteryMaterialIdentifier", PT.casNumber, "text"),
                                               ("BatteryMaterialMass", PT.mass, "num")))
            crit = _child(el, "IsCriticalRawMaterial")
            if crit is not None and getattr(crit, "value", None) is not None:
                owned.append((mat, PT.criticalRawMaterial, Literal(bool(crit.value)), g))
        elif name == "Circularity" and gpath == "RecycledContentInformation[]" and isinstance(
                el, model.SubmodelElementCollection):
            rc = element_iri(sm.id, path)
            about.append((node, PT.hasRecycledContent, rc, g))
            owned.append((rc, RDF.type, PT.RecycledContent, g))
            owned += _child_quads(el, rc, g, (("RecycledMaterial", PT.material, "text"),
                                              ("PreConsumerShare", PT.preConsumerShare, "num"),
                                              ("PostConsumerShare", PT.postConsumerShare, "num")))
        elif name == "CarbonFootprint" and gpath == "ProductCarbonFootprints[]" and isinstance(
                el, model.SubmodelElementCollection):
            unit = (_child_text(el, "ReferenceImpactUnitForCalculation") or "").lower()
            value = _num(getattr(_child(el, "PcfCO2eq"), "value", None))
            qty = _num(getattr(_child(el, "QuantityOfMeasureForCalculation"), "value", None)) or Literal(1.0)
            # The regulation's functional unit is one kWh of total energy over the service life.
            if value is not None and "kwh" in unit and float(qty) > 0:
                pcf_total[g] = pcf_total.get(g, 0.0) + float(value) / float(qty)
        elif name == "HandoverDocumentation" and gpath == "Documents[]" and isinstance(
                el, model.SubmodelElementCollection):
            doc = element_iri(sm.id, path)
            about.append((node, PT.hasDocument, doc, g))
            owned.append((doc, RDF.type, PT.Document, g))
            for dpath, d, dg in _walk(el.value, path, g, False):
                gd = _generic(dpath)[len(gpath):]
                if gd == ".DocumentIds[].DocumentIdentifier" and _text(d):
                    owned.append((doc, PT.documentIdentifier, Literal(_text(d), datatype=XSD.string), dg))
                elif gd == ".DocumentVersions[].Title" and _text(d):
                    owned.append((doc, PT.title, Literal(_text(d), datatype=XSD.string), dg))
                elif gd == ".DocumentVersions[].DigitalFiles[]" and _text(d):
                    owned.append((doc, PT.file, Literal(_text(d), datatype=XSD.string), dg))
    for g, total in pcf_total.items():
        about.append((node, PT.carbonFootprintPerKWh, Literal(round(total, 9), datatype=XSD.double), g))
    return about, owned


def _child(el: model.SubmodelElementCollection, id_short: str) -> model.SubmodelElement | None:
    try:
        return el.get_referable(id_short)  # type: ignore[return-value]
    except KeyError:
        return None


def _child_text(el: model.SubmodelElementCollection, id_short: str) -> str | None:
    child = _child(el, id_short)
    return None if child is None else _text(child)


def _child_quads(el: model.SubmodelElementCollection, node: URIRef, inherited: AccessGroup,
                 spec: tuple[tuple[str, URIRef, str], ...]) -> list[Quad]:
    out: list[Quad] = []
    for id_short, prop, kind in spec:
        child = _child(el, id_short)
        if child is None:
            continue
        lit = _literal(child, kind)
        if lit is not None:
            own = own_access_group(child)
            out.append((node, prop, lit, own if own is not None else inherited))
    return out


def _derive_bom(sm: model.Submodel) -> list[Quad]:
    """``pt:partOf`` links from an IDTA 02011 BoM (OneDown: nodes are parts of the entry node; OneUp: the reverse)."""
    arche = None
    entry: model.Entity | None = None
    for el in sm.submodel_element:
        if isinstance(el, model.Property) and el.id_short == "ArcheType":
            arche = el.value
        elif isinstance(el, model.Entity) and el.id_short == "EntryNode":
            entry = el
    if entry is None or not entry.global_asset_id:
        return []
    own = own_access_group(sm)
    g0 = own if own is not None else AccessGroup.PUBLIC
    quads: list[Quad] = []

    def visit(parent: model.Entity, g: AccessGroup) -> None:
        for st in parent.statement:
            if isinstance(st, model.Entity) and st.global_asset_id:
                sg = own_access_group(st) or g
                if arche == "OneUp":
                    quads.append((URIRef(parent.global_asset_id), PT.partOf, URIRef(st.global_asset_id), sg))
                else:
                    quads.append((URIRef(st.global_asset_id), PT.partOf, URIRef(parent.global_asset_id), sg))
                    if arche == "Full":
                        visit(st, sg)

    visit(entry, own_access_group(entry) or g0)
    return quads


def level_of(node: object) -> str | None:
    """``pack``, ``module`` or ``cell`` for a battery node named after the packtwin identifier scheme, else None."""
    m = _ASSET.match(str(node))
    return m["level"] if m else None


def in_pack_of(cell: URIRef, parents: Callable[[URIRef], Iterable[tuple[URIRef, AccessGroup]]]) -> list[Quad]:
    """``pt:inPack`` of one cell: the pack two ``pt:partOf`` steps above it (cell -> module -> pack).

    ``parents(node)`` gives the ``pt:partOf`` objects of ``node`` with their graphs. The shortcut states both links at
    once, so it goes into the more restricted graph of the two; a link stated in several graphs gives one quad per
    combination, and a role sees the shortcut exactly when it sees some pair of links.
    """
    if level_of(cell) != "cell":
        return []
    out: list[Quad] = []
    for module, g1 in parents(cell):
        for pack, g2 in parents(module):
            if level_of(pack) == "pack":
                out.append((cell, PT.inPack, pack, max(g1, g2)))
    return list(dict.fromkeys(out))


def in_pack(part_of: Iterable[Quad]) -> list[Quad]:
    """``pt:inPack`` of every cell, from a set of ``pt:partOf`` quads (all BoMs of a conversion)."""
    up: dict[URIRef, list[tuple[URIRef, AccessGroup]]] = {}
    for s, _, o, g in dict.fromkeys(q for q in part_of if q[1] == PT.partOf):
        up.setdefault(s, []).append((o, g))  # type: ignore[arg-type]
    return [q for cell in up for q in in_pack_of(cell, lambda n: up.get(n, ()))]


def derive(obj: model.Identifiable) -> tuple[list[Quad], list[Quad]]:
    """(battery-node triples, element-owned triples) of one identifiable."""
    if isinstance(obj, model.AssetAdministrationShell):
        return derive_shell(obj), []
    if isinstance(obj, model.Submodel):
        return derive_submodel(obj)
    return [], []
