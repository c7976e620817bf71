"""IDTA 02035-3 Digital Battery Passport, part 3: Product Carbon Footprint (Art. 7, Annex II)."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.part import Part

PART = Part(
    name="carbon_footprint",
    resource="idta-02035-3-carbon-footprint.json",
    levels=frozenset({Level.PACK}),
    ranges={"ProductCarbonFootprints[].PcfCO2eq": (0.0, None),
            "ProductCarbonFootprints[].QuantityOfMeasureForCalculation": (0.0, None)},
)

# Life-cycle stages of Annex II of Regulation (EU) 2023/1542, with the spec field giving each one's share.
STAGES = {
    "RawMaterialAcquisitionAndPreProcessing": "raw_material_acquisition_pct",
    "MainProductProduction": "main_production_pct",
    "Distribution": "distribution_pct",
    "EndOfLifeAndRecycling": "end_of_life_pct",
}


def values(battery: Battery, spec: PackSpec) -> dict[str, Any]:
    cf = spec.carbon_footprint
    total = {
        "PcfCalculationMethods": ["Commission Delegated Regulation (EU) supplementing Regulation (EU) 2023/1542"],
        "PcfCO2eq": round(cf.kg_co2e_per_kwh, 3),
        "ReferenceImpactUnitForCalculation": "kg CO2e/kWh",
        "QuantityOfMeasureForCalculation": 1.0,
        "LifeCyclePhases": ["AllStages"],
        "PerformanceClass": cf.performance_class,
        "WebLinkToPublicCarbonFootprintStudy": [cf.study_document],
    }
    stages = [
        dict(total, PcfCO2eq=round(cf.kg_co2e_per_kwh * getattr(cf, field) / 100, 3), LifeCyclePhases=[stage])
        for stage, field in STAGES.items()
    ]
    return {"ProductCarbonFootprints": [total, *stages]}
