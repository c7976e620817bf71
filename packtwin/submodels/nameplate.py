"""IDTA 02035-1 Digital Battery Passport, part 1: Digital Nameplate (``BatteryNameplate``)."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.part import Part

LEGIT = AccessGroup.LEGITIMATE_INTEREST

# IDTA 02002 Contact Information elements used inside the nameplate's AddressInformation.
_ADDRESS = {"Company": "0173-1#02-AAW001#001", "Street": "0173-1#02-AAO128#002", "Zipcode": "0173-1#02-AAO129#002",
            "CityTown": "0173-1#02-AAO132#002", "NationalCode": "0173-1#02-AAO134#002"}


def _address_drop_in(environment: dict[str, Any]) -> None:
    """AddressInformation is an empty drop-in in the template (supplementalSemanticId smt-dropin-use): the user fills
    it with IDTA 02002 Contact Information elements. These are the ones packtwin fills, each optional."""
    address = next(e for e in environment["submodels"][0]["submodelElements"] if e["idShort"] == "AddressInformation")
    address["value"] = [
        {"idShort": name, "modelType": "MultiLanguageProperty",
         "semanticId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": irdi}]},
         "qualifiers": [{"kind": "TemplateQualifier", "type": "SMT/Cardinality", "valueType": "xs:string",
                         "value": "ZeroToOne"}]}
        for name, irdi in _ADDRESS.items()
    ]


PART = Part(
    name="nameplate",
    resource="idta-02035-1-nameplate.json",
    fix=_address_drop_in,
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
        "AddressInformation": {"Company": {"en": m.name}, "Street": {"en": m.street}, "Zipcode": {"en": m.zip},
                               "CityTown": {"en": m.city}, "NationalCode": {"en": m.country}},
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
