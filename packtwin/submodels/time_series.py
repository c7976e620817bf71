"""IDTA 02008 Time Series Data: the pack's operational data (telemetry) as metadata, latest values and a
LinkedSegment that points at the time-series store where the history lives."""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.serialization import from_json
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.part import Part

# Operational data of a pack is not a passport attribute; it is given the state-of-health group (legitimate
# interest) since the history reveals the same information.
PART = Part(
    name="time_series",
    resource="idta-02008-time-series.json",
    levels=frozenset({Level.PACK}),
    access={"Metadata": AccessGroup.LEGITIMATE_INTEREST, "Segments": AccessGroup.LEGITIMATE_INTEREST},
    is_passport=False,
    # The variables of a record are the user's: in the metadata and in every record of an InternalSegment.
    open_containers=frozenset({"Metadata.Record", "Segments.InternalSegment.Records.Record"}),
)

# Semantic ids of packtwin's own telemetry variables (docs/mqtt.md).
VOCAB = "https://packtwin.org/vocab/telemetry/"

# The variables of a pack's telemetry record (docs/mqtt.md); Time is the template's mandatory relative time.
RECORD_VARIABLES = {
    "PackCurrent": ("xs:double", "A"),
    "PackVoltage": ("xs:double", "V"),
    "MinCellVoltage": ("xs:double", "V"),
    "MaxCellVoltage": ("xs:double", "V"),
    "MaxTemperature": ("xs:double", "degC"),
}


def values(battery: Battery, endpoint: str, query: str) -> dict[str, Any]:
    return {
        "Metadata": {
            "Name": {"en": f"Operational data of pack {battery.serial}"},
            "Description": {"en": "Pack current, cell voltages and temperatures as received from the gateway."},
            "Record": {"Time": 0},
        },
        "Segments": {
            "LinkedSegment": {
                "Name": {"en": "Telemetry history"},
                "State": "in progress",
                "Endpoint": endpoint,
                "Query": query,
            },
        },
    }


def build_json(battery: Battery, submodel_id: str, endpoint: str, query: str) -> dict[str, Any]:
    """The template instance plus one Property per record variable (the template's sample variables are examples
    that each user replaces with its own)."""
    sm = PART.instantiate(submodel_id, values(battery, endpoint, query))
    metadata = next(e for e in sm["submodelElements"] if e["idShort"] == "Metadata")
    record = next(e for e in metadata["value"] if e["idShort"] == "Record")
    for name, (value_type, _unit) in RECORD_VARIABLES.items():
        record["value"].append({
            "idShort": name, "valueType": value_type, "modelType": "Property",
            "semanticId": {"type": "ExternalReference", "keys": [
                {"type": "GlobalReference", "value": f"{VOCAB}{name}"}]},
        })
    return sm


def build(battery: Battery, submodel_id: str, endpoint: str, query: str) -> model.Submodel:
    return from_json(json.dumps(build_json(battery, submodel_id, endpoint, query)))
