"""IDTA 02035-5 Digital Battery Passport, part 5: Product Condition (state of health, Art. 14 and Annex VII).

The analytics workers write their estimates here; every dynamic value is restricted to persons with a legitimate
interest (longlist nos. 53–93).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.fixes import fix_product_condition
from packtwin.submodels.part import Part
from packtwin.submodels.template import TemplateError

LEGIT = AccessGroup.LEGITIMATE_INTEREST

_RESTRICTED = (
    "EnergyThroughput", "CapacityThroughput", "NumberOfFullCycles", "StateOfCertifiedEnergy", "RemainingEnergy",
    "RemainingCapacity", "NegativeEvents", "InformationOnAccidents", "TemperatureInformation",
    "RemainingPowerCapability", "EvolutionOfSelfDischarge", "CurrentSelfDischargingRate",
    "RemainingRoundTripEnergyEfficiency", "StateOfCharge", "RemainingUsefulLife",
)

PT = "https://w3id.org/packtwin/ns#"
# The template's own LastUpdate concept, as every other value collection of Part 5 uses it.
LAST_UPDATE = "urn:samm:io.admin-shell.idta.batterypass.product_condition:1.0.1#lastUpdate"


def _cardinality(value: str) -> list[dict[str, Any]]:
    return [{"semanticId": {"type": "ExternalReference", "keys": [{
        "type": "GlobalReference", "value": "https://admin-shell.io/SubmodelTemplates/Cardinality/1/0"}]},
        "kind": "TemplateQualifier", "type": "SMT/Cardinality", "valueType": "xs:string", "value": value}]


def _sem(iri: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": iri}]}


def add_remaining_useful_life(environment: dict[str, Any]) -> None:
    """A packtwin addition, not a defect fix: IDTA 02035-5 has no remaining useful life, which the analytics estimate
    (days to the end-of-life capacity at the pack's pace). It follows the template's Value/LastUpdate pattern, is
    optional and carries packtwin semantic ids (``pt:RemainingUsefulLife``, ``pt:remainingUsefulLife``; docs/rdf.md)."""
    submodel = environment["submodels"][0]
    if any(e["idShort"] == "RemainingUsefulLife" for e in submodel["submodelElements"]):
        return
    submodel["submodelElements"].append({
        "idShort": "RemainingUsefulLife", "modelType": "SubmodelElementCollection",
        "semanticId": _sem(f"{PT}RemainingUsefulLife"), "qualifiers": _cardinality("ZeroToOne"),
        "value": [
            {"idShort": "RemainingUsefulLifeValue", "modelType": "Property", "valueType": "xs:float",
             "semanticId": _sem(f"{PT}remainingUsefulLife"), "qualifiers": _cardinality("One")},
            {"idShort": "LastUpdate", "modelType": "Property", "valueType": "xs:dateTime",
             "semanticId": _sem(LAST_UPDATE), "qualifiers": _cardinality("One")},
        ]})


def _fix(environment: dict[str, Any]) -> None:
    fix_product_condition(environment)
    add_remaining_useful_life(environment)


PART = Part(
    name="product_condition",
    resource="idta-02035-5-product-condition.json",
    levels=frozenset({Level.PACK, Level.MODULE, Level.CELL}),
    fix=_fix,
    access={name: LEGIT for name in _RESTRICTED},
    ranges={
        "StateOfCharge.StateOfChargeValue": (0.0, 100.0),
        "StateOfCertifiedEnergy.StateOfCertifiedEnergyValue": (0.0, 100.0),
        "RemainingRoundTripEnergyEfficiency.RemainingRoundTripEnergyEfficiencyValue": (0.0, 100.0),
        "RemainingCapacity.RemainingCapacityValue": (0.0, None),
        "RemainingEnergy.RemainingEnergyValue": (0.0, None),
        "EnergyThroughput.EnergyThroughputValue": (0.0, None),
        "CapacityThroughput.CapacityThroughputValue": (0.0, None),
        "NumberOfFullCycles.NumberOfFullCyclesValue": (0.0, None),
        "TemperatureInformation.MeasuredTemp": (-60.0, 150.0),
    },
)


def values(battery: Battery, spec: PackSpec, now: dt.datetime) -> dict[str, Any]:
    """The condition at beginning of life: new, full rated capacity, no events."""
    level = battery.level.value
    return {
        "EnergyThroughput": {"EnergyThroughputValue": 0.0, "LastUpdate": now},
        "CapacityThroughput": {"CapacityThroughputValue": 0.0, "LastUpdate": now},
        "NumberOfFullCycles": {"NumberOfFullCyclesValue": 0, "LastUpdate": now},
        "StateOfCertifiedEnergy": {"StateOfCertifiedEnergyValue": 100.0, "LastUpdate": now},
        "RemainingEnergy": {"RemainingEnergyValue": round(spec.energy_kwh(level), 4), "LastUpdate": now},
        "RemainingCapacity": {"RemainingCapacityValue": spec.rated_capacity_ah(level), "LastUpdate": now},
        "NegativeEvents": [],
        "InformationOnAccidents": [],
        "TemperatureInformation": {"LastUpdate": now},
        "StateOfCharge": {"StateOfChargeValue": 50.0, "LastUpdate": now},
    }


_EVENT_ITEM: dict[str, Any] | None = None


def template_element(id_short: str, value: Any) -> dict[str, Any]:
    """The top-level element ``id_short`` (AAS JSON) as the template builds it from ``value`` -- semantic ids,
    value types and access marks included: what a writer adds to a twin that lacks an optional element."""
    import json

    from packtwin.aas.fleet import plan_fleet

    pack_spec, hierarchy = plan_fleet(1, 1, 1)
    vals = values(hierarchy[0], pack_spec, dt.datetime.now(dt.UTC))
    vals[id_short] = value
    raw = PART.instantiate("urn:packtwin:template", vals)
    return json.loads(json.dumps(next(e for e in raw["submodelElements"] if e["idShort"] == id_short)))


def template_elements(values: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Top-level elements (AAS JSON, by idShort) built from the template holding ``values`` -- (dot-separated
    idShortPath, lexical value) pairs as the analytics write them. A twin built without an optional element (the
    template leaves out what has no value at the beginning of life, e.g. the measured temperature) gets it from here
    rather than losing the value. A collection whose mandatory parts are not all among ``values`` is left out."""
    nested: dict[str, Any] = {}
    for path, lexical in values:
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = lexical
    out = {}
    for id_short, value in nested.items():
        try:
            out[id_short] = template_element(id_short, value)
        except (TemplateError, StopIteration):
            continue
    return out


def negative_event_item(text: str, last_update: str) -> dict[str, Any]:
    """One NegativeEvents item (AAS JSON) as the template builds it -- semantic ids and access marks included --
    holding ``text`` and ``last_update`` (xs:dateTime lexical form)."""
    import copy

    global _EVENT_ITEM
    if _EVENT_ITEM is None:
        _EVENT_ITEM = template_element(
            "NegativeEvents", [{"NegativeEventValue": "-", "LastUpdate": "2000-01-01T00:00:00Z"}])["value"][0]
    item = copy.deepcopy(_EVENT_ITEM)
    for prop in item["value"]:
        if prop["idShort"] == "NegativeEventValue":
            prop["value"] = text
        elif prop["idShort"] == "LastUpdate":
            prop["value"] = last_update
    return item
