"""IDTA 02035-5 Digital Battery Passport, part 5: Product Condition (state of health, Art. 14 and Annex VII).

The analytics workers write their estimates here; every dynamic value is restricted to persons with a legitimate
interest (longlist nos. 53–93).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.fixes import fix_product_condition
from packtwin.submodels.part import Part

LEGIT = AccessGroup.LEGITIMATE_INTEREST

_RESTRICTED = (
    "EnergyThroughput", "CapacityThroughput", "NumberOfFullCycles", "StateOfCertifiedEnergy", "RemainingEnergy",
    "RemainingCapacity", "NegativeEvents", "InformationOnAccidents", "TemperatureInformation",
    "RemainingPowerCapability", "EvolutionOfSelfDischarge", "CurrentSelfDischargingRate",
    "RemainingRoundTripEnergyEfficiency", "StateOfCharge",
)

PART = Part(
    name="product_condition",
    resource="idta-02035-5-product-condition.json",
    levels=frozenset({Level.PACK, Level.MODULE, Level.CELL}),
    fix=fix_product_condition,
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


def negative_event_item(text: str, last_update: str) -> dict[str, Any]:
    """One NegativeEvents item (AAS JSON) as the template builds it -- semantic ids and access marks included --
    holding ``text`` and ``last_update`` (xs:dateTime lexical form)."""
    import copy
    import json

    global _EVENT_ITEM
    if _EVENT_ITEM is None:
        from packtwin.aas.fleet import plan_fleet

        pack_spec, hierarchy = plan_fleet(1, 1, 1)
        vals = values(hierarchy[0], pack_spec, dt.datetime.now(dt.UTC))
        vals["NegativeEvents"] = [{"NegativeEventValue": "-", "LastUpdate": "2000-01-01T00:00:00Z"}]
        raw = PART.instantiate("urn:packtwin:template", vals)
        item = next(e for e in raw["submodelElements"] if e["idShort"] == "NegativeEvents")["value"][0]
        _EVENT_ITEM = json.loads(json.dumps(item))
    item = copy.deepcopy(_EVENT_ITEM)
    for prop in item["value"]:
        if prop["idShort"] == "NegativeEventValue":
            prop["value"] = text
        elif prop["idShort"] == "LastUpdate":
            prop["value"] = last_update
    return item
