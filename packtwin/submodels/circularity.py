"""IDTA 02035-7 Digital Battery Passport, part 7: Circularity (dismantling, spare parts, recycled content,
safety, end of life; Annex XIII 1(h)–(i), 2(b)–(d))."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.part import Part

LEGIT = AccessGroup.LEGITIMATE_INTEREST

PART = Part(
    name="circularity",
    resource="idta-02035-7-circularity.json",
    levels=frozenset({Level.PACK}),
    access={  # Annex XIII(2)(b)–(d), longlist nos. 36–39
        "DismantlingAndRemovalInformation": LEGIT,
        "SparePartSources": LEGIT,
        "SafetyMeasures.SafetyInstructions": LEGIT,
    },
    ranges={"RecycledContentInformation[].PreConsumerShare": (0.0, 100.0),
            "RecycledContentInformation[].PostConsumerShare": (0.0, 100.0),
            "RenewableContent": (0.0, 100.0)},
)


def values(battery: Battery, spec: PackSpec) -> dict[str, Any]:
    c, m = spec.circularity, spec.manufacturer
    return {
        "DismantlingAndRemovalInformation": [c.dismantling_document],
        "SparePartSources": [{
            "NameOfSupplier": {"en": c.spare_part_supplier},
            "AddressOfSupplier": {"NationalCode": {"en": m.country}, "PostalCode": {"en": m.zip},
                                  "Street": {"en": m.street}},
            "EmailAddressOfSupplier": {"EmailAddress": m.email},
            "SupplierWebAddress": m.web,
            "Components": [{"PartName": "Battery module", "PartNumber": f"{spec.battery.part_number}-MOD"},
                           {"PartName": "Battery management system", "PartNumber": f"{spec.battery.part_number}-BMS"}],
        }],
        "RecycledContentInformation": [
            {"PreConsumerShare": mat.recycled_pre_consumer_pct, "RecycledMaterial": mat.name,
             "PostConsumerShare": mat.recycled_post_consumer_pct}
            for mat in spec.materials if mat.name in ("Nickel", "Cobalt", "Lithium", "Lead")
        ] or [{"RecycledMaterial": spec.materials[0].name}],
        "SafetyMeasures": {"SafetyInstructions": [c.safety_document], "ExtinguishingAgents": list(c.extinguishing_agents)},
        "EndOfLifeInformation": {
            "WastePrevention": ["Extend the life of the battery through repurposing before recycling"],
            "SeparateCollection": ["Return to the manufacturer's take-back scheme; never with household waste"],
            "InformationOnCollection": [m.web],
        },
        "RenewableContent": 0.0,
    }
