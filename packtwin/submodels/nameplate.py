"""IDTA 02035-1 Digital Battery Passport, part 1: Digital Nameplate (``BatteryNameplate``)."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.part import Part

LEGIT = AccessGroup.LEGITIMATE_INTEREST

PART = Part(
    name="nameplate",
    resource="idta-02035-1-nameplate.json",
    levels=frozenset({Level.PACK, Level.MODULE, Level.CELL}),
    access={
        "DateOfPuttingIntoService": LEGIT,  # longlist no. 7
        "LifeCycleStage": LEGIT,  # battery status, longlist no. 11
        # Annex XIII(3): test reports only for notified bodies, market surveillance authorities and the Commission.
        "ResultsOfTestReportsProvingCompliance": AccessGroup.AUTHORITIES,
    },
)

# Values of LifeCycleStage, after the Battery Pass "battery status" enumeration.
LIFE_CYCLE_STAGES = ("Original", "Repurposed", "Reused", "Remanufactured", "Waste")


def values(battery: Battery, spec: PackSpec, uri: str) -> dict[str, Any]:
    m = spec.manufacturer
    out: dict[str, Any] = {
        "URIOfTheProduct": uri,
        "ManufacturerName": {"en": m.name},
        "AddressInformation": {},
        "SerialNumber": battery.serial,
        "DateOfManufacture": spec.dates.manufactured,
        "UniqueFacilityIdentifier": spec.plant.facility_id,
        "LifeCycleStage": "Original",
        "ManufacturerIdentifier": m.identifier,
        "Markings": [
            {"MarkingName": "CE"},
            {"MarkingName": "SeparateCollection"},
        ],
        "EUDeclarationOfConformity": [f"DOC-{spec.battery.part_number}"],
        "ResultsOfTestReportsProvingCompliance": [f"TEST-{spec.battery.part_number}"],
    }
    if spec.dates.put_into_service is not None and battery.level is Level.PACK:
        out["DateOfPuttingIntoService"] = spec.dates.put_into_service
    return out
