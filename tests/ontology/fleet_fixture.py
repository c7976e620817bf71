"""A small battery fleet built from the IDTA example-value templates (tests/data/idta/), for the ontology tests.

One AAS per pack, module and cell, with specificAssetIds, the seven Digital Battery Passport parts (IDTA 02035) and a
Hierarchical Structures BoM (IDTA 02011: OneDown for packs and modules, OneUp for cells), lifecycle values drawn from
a seeded generator and the Battery Regulation access groups on the restricted elements. The layout follows
``packtwin.aas.fleet`` (identifier scheme of ``packtwin.aas.ids``), so the tests switch to it once it is on main.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from basyx.aas import model
from basyx.aas.adapter.json import read_aas_json_file

from packtwin.aas.ids import (
    BATCH_ID,
    MANUFACTURER_PART_ID,
    SERIAL_NUMBER,
    Level,
    TwinIds,
    cell_serial,
    module_serial,
    pack_serial,
)
from packtwin.submodels.access import AccessGroup, set_access_group

DATA = Path(__file__).resolve().parent.parent / "data" / "idta"
BASE = "https://example.org/packtwin"
LI = AccessGroup.LEGITIMATE_INTEREST
AUTH = AccessGroup.AUTHORITIES

_FILES = {
    "BatteryNameplate": "IDTA 02035-1_DBP-Part-1_Digital Nameplate.json",
    "HandoverDocumentation": "IDTA 02035-2_DBP-Part-2_HandoverDocumentation.json",
    "CarbonFootprint": "IDTA 02035-3_DBP-Part-3_ProductCarbonFootprint.json",
    "TechnicalData": "IDTA 02035-4_DBP-Part-4_TechnicalData.json",
    "ProductCondition": "IDTA 02035-5_DBP-Part-5_ProductCondition.json",
    "MaterialComposition": "IDTA 02035-6_DBP-Part-6_MaterialComposition.json",
    "Circularity": "IDTA 02035-7_DBP-Part-7_Circularity.json",
}

# Restricted elements (Battery Pass longlist v1.2 access rights, as mapped in the standards notes).
_ACCESS = {
    "BatteryNameplate": {"DateOfPuttingIntoService": LI, "LifeCycleStage": LI,
                         "ResultsOfTestReportsProvingCompliance": AUTH},
    "TechnicalData": {"TechnicalPropertyAreas.CapacityEnergyVoltage.CapacityFade": LI,
                      "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryCellLevel": LI,
                      "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryModuleLevel": LI,
                      "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryPackLevel": LI,
                      "TechnicalPropertyAreas.PowerCapability.PowerFade": LI,
                      "TechnicalPropertyAreas.Lifetime.ExpectedLifetimeInCalendarYears": LI},
    "ProductCondition": {name: LI for name in (
        "EnergyThroughput", "CapacityThroughput", "NumberOfFullCycles", "StateOfCertifiedEnergy", "RemainingEnergy",
        "RemainingCapacity", "NegativeEvents", "InformationOnAccidents", "TemperatureInformation",
        "RemainingPowerCapability", "EvolutionOfSelfDischarge", "CurrentSelfDischargingRate",
        "RemainingRoundTripEnergyEfficiency", "StateOfCharge", "RemainingUsefulLife")},
    "MaterialComposition": {"BatteryMaterials": LI},
    "Circularity": {"DismantlingAndRemovalInformation": LI, "SparePartSources": LI,
                    "SafetyMeasures.SafetyInstructions": LI},
}

MANUFACTURERS = [("Voltaris GmbH", "DE-VOLT-01"), ("Nordcell AB", "SE-NORD-07")]
EVENTS = ["internal short circuit alert", "deep discharge", "overcharged", "thermal event: overtemperature"]


@cache
def _template_text(id_short: str) -> str:
    return (DATA / _FILES[id_short]).read_text(encoding="utf-8")


def _load(id_short: str) -> model.Submodel:
    import io
    store = read_aas_json_file(io.StringIO(_template_text(id_short)), failsafe=False)
    return next(x for x in store if isinstance(x, model.Submodel))


def _template_cds() -> list[model.ConceptDescription]:
    import io
    cds: dict[str, model.ConceptDescription] = {}
    for id_short in _FILES:
        store = read_aas_json_file(io.StringIO(_template_text(id_short)), failsafe=False)
        for x in store:
            if isinstance(x, model.ConceptDescription):
                cds.setdefault(x.id, x)
    return list(cds.values())


def _get(sm: model.Submodel, path: str) -> model.SubmodelElement:
    node: object = sm
    for part in path.split("."):
        name, _, idx = part.partition("[")
        node = node.get_referable(name)  # type: ignore[attr-defined]
        if idx:
            node = list(node.value)[int(idx.rstrip("]"))]  # type: ignore[attr-defined]
    return node  # type: ignore[return-value]


def _set(sm: model.Submodel, path: str, value: object) -> None:
    el = _get(sm, path)
    if isinstance(el, model.MultiLanguageProperty):
        el.value = model.MultiLanguageTextType({"en": str(value)})
    else:
        el.value = value


def _fill_list(lst: model.SubmodelElementList, n: int) -> list[model.SubmodelElement]:
    """Make ``lst`` hold ``n`` copies of its first item; returns them."""
    first = list(lst.value)[0]
    items = [copy.deepcopy(first) for _ in range(n)]
    lst.value.clear()
    for item in items:
        item.parent = None
        item.id_short = None  # AASd-120: list items carry no idShort
        lst.value.add(item)
    return list(lst.value)


def _sem(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


@dataclass
class Battery:
    ids: TwinIds
    parent: Battery | None = None
    children: list[Battery] = field(default_factory=list)
    manufacturer: tuple[str, str] = MANUFACTURERS[0]
    batch: str = ""


def _bom(b: Battery, submodel_id: str) -> model.Submodel:
    hs = "https://admin-shell.io/idta/HierarchicalStructures"
    if b.ids.level is Level.CELL:
        arche, others, rel_sem, rel_name = "OneUp", [b.parent], f"{hs}/IsPartOf/1/0", "IsPartOf"
    else:
        arche, others, rel_sem, rel_name = "OneDown", b.children, f"{hs}/HasPart/1/0", "HasPart"
    statements: list[model.SubmodelElement] = []
    for other in others:
        assert other is not None
        name = "N_" + other.ids.serial.replace("-", "_")
        statements.append(model.Entity(name, model.EntityType.SELF_MANAGED_ENTITY,
                                       global_asset_id=other.ids.global_asset_id, semantic_id=_sem(f"{hs}/Node/1/0")))
        ref = (model.Key(model.KeyTypes.SUBMODEL, submodel_id), model.Key(model.KeyTypes.ENTITY, "EntryNode"))
        statements.append(model.RelationshipElement(
            f"{rel_name}_{name[2:]}", first=model.ModelReference(ref, model.Entity),
            second=model.ModelReference(ref + (model.Key(model.KeyTypes.ENTITY, name),), model.Entity),
            semantic_id=_sem(rel_sem)))
    entry = model.Entity("EntryNode", model.EntityType.SELF_MANAGED_ENTITY, statement=statements,
                         global_asset_id=b.ids.global_asset_id, semantic_id=_sem(f"{hs}/EntryNode/1/0"))
    return model.Submodel(submodel_id, id_short="HierarchicalStructures",
                          semantic_id=_sem(f"{hs}/1/1/Submodel"),
                          submodel_element=[entry, model.Property("ArcheType", model.datatypes.String, arche,
                                                                  semantic_id=_sem(f"{hs}/ArcheType/1/0"))])


def _passport(b: Battery, rng: random.Random) -> list[model.Submodel]:
    level = b.ids.level
    sms = {name: _load(name) for name in _FILES}
    for name, sm in sms.items():
        sm.id = b.ids.submodel_id(name)
        sm.kind = model.ModellingKind.INSTANCE
    maker, plant = b.manufacturer
    made = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
    np_ = sms["BatteryNameplate"]
    _set(np_, "SerialNumber", b.ids.serial)
    _set(np_, "ManufacturerName", maker)
    _set(np_, "UniqueFacilityIdentifier", plant)
    _set(np_, "DateOfManufacture", model.datatypes.Date(made.year, made.month, made.day))
    service = made + dt.timedelta(days=60)
    _set(np_, "DateOfPuttingIntoService", model.datatypes.Date(service.year, service.month, service.day))
    _set(np_, "LifeCycleStage", rng.choice(["Original", "Original", "Repurposed", "Waste"]))

    td = sms["TechnicalData"]
    rated = {Level.PACK: 200.0, Level.MODULE: 200.0, Level.CELL: 50.0}[level]
    energy = {Level.PACK: 80.0, Level.MODULE: 8.0, Level.CELL: 0.18}[level]
    _set(td, "GeneralInformation.ManufacturerName", maker)
    _set(td, "TechnicalPropertyAreas.CapacityEnergyVoltage.RatedCapacity", rated)
    _set(td, "TechnicalPropertyAreas.CapacityEnergyVoltage.CertifiedUsableBatteryEnergy", energy)
    _set(td, "TechnicalPropertyAreas.Lifetime.CapacityThresholdExhaustion", 80.0)
    for lvl in ("Cell", "Module", "Pack"):
        _set(td, f"TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBattery{lvl}Level",
             round(rng.uniform(0, 60), 2))

    pc = sms["ProductCondition"]
    soh = round(rng.uniform(60, 100), 2)
    _set(pc, "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue", soh)
    _set(pc, "StateOfCharge.StateOfChargeValue", round(rng.uniform(5, 95), 1))
    _set(pc, "RemainingCapacity.RemainingCapacityValue", round(rated * soh / 100, 2))
    n_events = rng.choice([0, 0, 0, 1, 2])
    negative = _get(pc, "NegativeEvents")
    if n_events == 0:
        negative.value.clear()
    else:
        for ev in _fill_list(negative, n_events):
            ev.get_referable("NegativeEventValue").value = rng.choice(EVENTS)
    # Remaining useful life: not in IDTA 02035-5; packtwin adds it in the template's Value/LastUpdate pattern.
    pc.submodel_element.add(model.SubmodelElementCollection("RemainingUsefulLife", [
        model.Property("RemainingUsefulLifeValue", model.datatypes.Float, round(rng.uniform(0, 2000), 1),
                       semantic_id=_sem("https://w3id.org/packtwin/ns#remainingUsefulLife")),
        model.Property("LastUpdate", model.datatypes.DateTime, dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)),
    ], semantic_id=_sem("https://w3id.org/packtwin/ns#RemainingUsefulLife")))

    mc = sms["MaterialComposition"]
    mats = [("Cobalt", "7440-48-4", True), ("Lithium", "7439-93-2", True), ("Nickel", "7440-02-0", True),
            ("Graphite", "7782-42-5", True), ("Aluminium", "7429-90-5", False)]
    scale = {Level.PACK: 40.0, Level.MODULE: 4.0, Level.CELL: 0.1}[level]
    for item, (mname, cas, crit) in zip(_fill_list(_get(mc, "BatteryMaterials"), len(mats)), mats, strict=True):
        item.get_referable("BatteryMaterialName").value = mname
        item.get_referable("BatteryMaterialIdentifier").value = cas
        item.get_referable("BatteryMaterialMass").value = round(scale * rng.uniform(0.5, 1.5), 3)
        item.get_referable("IsCriticalRawMaterial").value = crit
    _set(mc, "BatteryChemistry.ShortName", rng.choice(["NMC", "LFP"]))

    ci = sms["Circularity"]
    for item, metal in zip(_fill_list(_get(ci, "RecycledContentInformation"), 3), ["Cobalt", "Lithium", "Nickel"],
                           strict=True):
        item.get_referable("RecycledMaterial").value = metal
        item.get_referable("PreConsumerShare").value = round(rng.uniform(0, 20), 1)
        item.get_referable("PostConsumerShare").value = round(rng.uniform(0, 20), 1)
    _set(ci, "RenewableContent", round(rng.uniform(0, 30), 1))
    dismantling = f"DIS-{b.ids.serial}"
    _set(ci, "DismantlingAndRemovalInformation[0]", dismantling)

    ho = sms["HandoverDocumentation"]
    doc = list(_get(ho, "Documents").value)[0]
    ids_ = list(doc.get_referable("DocumentIds").value)[0]
    ids_.get_referable("DocumentIdentifier").value = dismantling
    ids_.get_referable("DocumentDomainId").value = "packtwin"
    ver = list(doc.get_referable("DocumentVersions").value)[0]
    ver.get_referable("Title").value = model.MultiLanguageTextType({"en": f"Dismantling manual {b.ids.serial}"})

    cf = sms["CarbonFootprint"]
    pcf = list(_get(cf, "ProductCarbonFootprints").value)[0]
    pcf.get_referable("PcfCO2eq").value = model.datatypes.Decimal(str(round(rng.uniform(50, 120), 2)))
    pcf.get_referable("ReferenceImpactUnitForCalculation").value = "kWh"
    pcf.get_referable("QuantityOfMeasureForCalculation").value = 1.0

    for name, paths in _ACCESS.items():
        for path, group in paths.items():
            set_access_group(_get(sms[name], path), group)
    return list(sms.values())


def _shell(b: Battery, submodels: list[model.Submodel]) -> model.AssetAdministrationShell:
    info = model.AssetInformation(
        model.AssetKind.INSTANCE, global_asset_id=b.ids.global_asset_id, specific_asset_id=[
            model.SpecificAssetId(SERIAL_NUMBER, b.ids.serial), model.SpecificAssetId(BATCH_ID, b.batch),
            model.SpecificAssetId(MANUFACTURER_PART_ID, f"PT-{b.ids.level.value.upper()}-1")])
    return model.AssetAdministrationShell(info, b.ids.aas_id, id_short=f"{b.ids.level.value}_{b.ids.serial}".replace(
        "-", "_"), submodel=[model.ModelReference.from_referable(sm) for sm in submodels])


def build_test_fleet(packs: int = 1, modules: int = 2, cells: int = 2, seed: int = 0,
                     with_concept_descriptions: bool = True) -> list[model.Identifiable]:
    rng = random.Random(seed)
    out: list[model.Identifiable] = []
    for p in range(1, packs + 1):
        maker = MANUFACTURERS[(p - 1) % len(MANUFACTURERS)]
        batch = f"LOT-{1 + (p - 1) // 2:03d}"
        pack = Battery(TwinIds(BASE, Level.PACK, pack_serial(p)), manufacturer=maker, batch=batch)
        for m in range(1, modules + 1):
            mod = Battery(TwinIds(BASE, Level.MODULE, module_serial(pack.ids.serial, m)), pack, manufacturer=maker,
                          batch=batch)
            pack.children.append(mod)
            for c in range(1, cells + 1):
                mod.children.append(Battery(TwinIds(BASE, Level.CELL, cell_serial(mod.ids.serial, c)), mod,
                                            manufacturer=maker, batch=batch))
        todo = [pack]
        while todo:
            b = todo.pop(0)
            sms = _passport(b, rng) + [_bom(b, b.ids.submodel_id("HierarchicalStructures"))]
            out.append(_shell(b, sms))
            out.extend(sms)
            todo.extend(b.children)
    if with_concept_descriptions:
        out.extend(_template_cds())
    return out


def submodel(objects: list[model.Identifiable], serial: str, level: Level, id_short: str) -> model.Submodel:
    ident = TwinIds(BASE, level, serial).submodel_id(id_short)
    return next(o for o in objects if isinstance(o, model.Submodel) and o.id == ident)


def with_scenarios(objects: list[model.Identifiable]) -> list[model.Identifiable]:
    """Make every catalogue question have an answer: a second-life pack, a pack near its end of life, an
    internal-short alert in a cell, a pack past its warranted fade (needs >= 3 packs, 2 modules, 2 cells)."""
    p1, p2, p3 = pack_serial(1), pack_serial(2), pack_serial(3)
    _set(submodel(objects, p1, Level.PACK, "ProductCondition"), "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue",
         75.0)
    for o in objects:
        if isinstance(o, model.Submodel) and o.id_short == "ProductCondition" and f"/{p1}" in o.id:
            _get(o, "NegativeEvents").value.clear()
    _set(submodel(objects, p2, Level.PACK, "ProductCondition"), "RemainingUsefulLife.RemainingUsefulLifeValue", 90.0)
    _set(submodel(objects, p2, Level.PACK, "ProductCondition"), "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue",
         64.0)
    cell = cell_serial(module_serial(p3, 2), 1)
    events = _get(submodel(objects, cell, Level.CELL, "ProductCondition"), "NegativeEvents")
    template = _load("ProductCondition")
    item = copy.deepcopy(list(_get(template, "NegativeEvents").value)[0])
    item.parent = None
    item.id_short = None
    item.get_referable("NegativeEventValue").value = "internal short circuit alert (isolation monitor)"
    set_access_group(item, LI)
    events.value.add(item)
    return objects
