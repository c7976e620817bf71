"""IDTA 02035-6 Digital Battery Passport, part 6: Material Composition (Annex XIII 1(b)–(c), 2(a))."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.part import Part

PART = Part(
    name="material_composition",
    resource="idta-02035-6-material-composition.json",
    levels=frozenset({Level.PACK}),
    # Annex XIII(2)(a): materials used in cathode, anode and electrolyte (name, identifier, location, mass) are for
    # persons with a legitimate interest and the Commission; the list of critical raw materials stays public
    # (Annex XIII(1)(c)) through IsCriticalRawMaterial.
    access={
        "BatteryMaterials[].BatteryMaterialLocation": AccessGroup.LEGITIMATE_INTEREST,
        "BatteryMaterials[].BatteryMaterialMass": AccessGroup.LEGITIMATE_INTEREST,
    },
    ranges={"BatteryMaterials[].BatteryMaterialMass": (0.0, None),
            "HazardousSubstances[].HazardousSubstanceConcentration": (0.0, 100.0)},
)


def values(battery: Battery, spec: PackSpec) -> dict[str, Any]:
    cells = spec.cells_at(battery.level.value)
    return {
        "BatteryChemistry": {"ShortName": spec.battery.chemistry, "ClearName": spec.battery.chemistry_name},
        "BatteryMaterials": [
            {
                "BatteryMaterialLocation": {"ComponentName": m.location},
                "BatteryMaterialIdentifier": m.cas,
                "BatteryMaterialName": m.name,
                "BatteryMaterialMass": round(m.mass_kg_per_cell * cells, 6),
                "IsCriticalRawMaterial": m.critical,
            }
            for m in spec.materials
        ],
        "HazardousSubstances": [
            {
                "HazardousSubstanceClass": h.class_,
                "HazardousSubstanceName": h.name,
                "HazardousSubstanceConcentration": h.concentration_pct,
                "HazardousSubstanceImpact": list(h.impact),
                "HazardousSubstanceLocation": {"ComponentName": h.location},
                "HazardousSubstanceIdentifier": h.cas,
            }
            for h in spec.hazardous
        ],
    }
