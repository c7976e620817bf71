"""IDTA 02035-4 Digital Battery Passport, part 4: Technical Data (performance and durability, Annex IV)."""

from __future__ import annotations

from typing import Any

from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level
from packtwin.aas.spec import PackSpec
from packtwin.submodels.access import AccessGroup
from packtwin.submodels.fixes import fix_technical_data
from packtwin.submodels.part import Part

LEGIT = AccessGroup.LEGITIMATE_INTEREST
AREAS = "TechnicalPropertyAreas"

PART = Part(
    name="technical_data",
    resource="idta-02035-4-technical-data.json",
    levels=frozenset({Level.PACK, Level.MODULE, Level.CELL}),
    fix=fix_technical_data,
    access={  # longlist nos. 54, 64, 70, 71, 75, 76
        f"{AREAS}.CapacityEnergyVoltage.CapacityFade": LEGIT,
        f"{AREAS}.PowerCapability.PowerFade": LEGIT,
        f"{AREAS}.RoundTripEnergyEfficiency.EnergyRoundTripEfficiencyFade": LEGIT,
        f"{AREAS}.RoundTripEnergyEfficiency.InitialSelfDischargingRate": LEGIT,
        f"{AREAS}.Resistance.InternalResistanceIncreaseOfBatteryCellLevel": LEGIT,
        f"{AREAS}.Resistance.InternalResistanceIncreaseOfBatteryModuleLevel": LEGIT,
        f"{AREAS}.Resistance.InternalResistanceIncreaseOfBatteryPackLevel": LEGIT,
        f"{AREAS}.Lifetime.ExpectedLifetimeInCalendarYears": LEGIT,
    },
    ranges={
        f"{AREAS}.CapacityEnergyVoltage.CapacityFade": (0.0, 100.0),
        f"{AREAS}.PowerCapability.PowerFade": (0.0, 100.0),
        f"{AREAS}.RoundTripEnergyEfficiency.InitialRoundTripEnergyEfficiency": (0.0, 100.0),
        f"{AREAS}.RoundTripEnergyEfficiency.RoundTripEnergyEfficiencyAt50PercentOfCycleLife": (0.0, 100.0),
        f"{AREAS}.RoundTripEnergyEfficiency.EnergyRoundTripEfficiencyFade": (0.0, 100.0),
        f"{AREAS}.CapacityEnergyVoltage.RatedCapacity": (0.0, None),
        f"{AREAS}.CapacityEnergyVoltage.NominalVoltage": (0.0, None),
        f"{AREAS}.Lifetime.CapacityThresholdExhaustion": (0.0, 100.0),
        "GeneralInformation.BatteryMass": (0.0, None),
    },
)


def values(battery: Battery, spec: PackSpec) -> dict[str, Any]:
    b, level = spec.battery, battery.level.value
    nominal, vmin, vmax = spec.voltages_v(level)
    cells = spec.cells_at(level)
    r_cell = b.cell_internal_resistance_ohm
    # Series resistance of the level: cells in series add, parallel groups divide.
    r_series = r_cell * spec.voltages_v(level)[0] / b.cell_nominal_voltage_v / (1 if level == "cell" else b.cells_in_parallel)
    p_max = b.max_permitted_power_w_per_cell * cells
    resistance = {
        "InitialInternalResistanceOnBatteryCellLevel": r_cell,
        "InitialInternalResistanceOnBatteryPackLevel": r_cell * spec.series_cells / b.cells_in_parallel,
        "InternalResistanceIncreaseOfBatteryPackLevel": 0.0,
    }
    if level != "pack":
        resistance["InitialInternalResistanceOnBatteryModuleLevel"] = r_series if level == "module" else (
            r_cell * b.cells_per_module / b.cells_in_parallel / b.cells_in_parallel)
        resistance["InternalResistanceIncreaseOfBatteryCellLevel"] = 0.0
    return {
        "GeneralInformation": {
            "ManufacturerName": spec.manufacturer.name,
            "ManufacturerIdentifier": spec.manufacturer.identifier,
            "BatteryCategory": b.category,
            "BatteryMass": round(spec.mass_kg(level), 4),
            "WarrantyInformation": {"WarrantyPeriod": str(b.warranty_months)},
        },
        AREAS: {
            "CapacityEnergyVoltage": {
                "NominalVoltage": round(nominal, 4), "MinVoltage": round(vmin, 4), "MaxVoltage": round(vmax, 4),
                "RatedCapacity": spec.rated_capacity_ah(level), "CapacityFade": 0.0,
                "CertifiedUsableBatteryEnergy": round(spec.energy_kwh(level), 4),
            },
            "RoundTripEnergyEfficiency": {
                "InitialRoundTripEnergyEfficiency": b.initial_round_trip_efficiency_pct,
                "RoundTripEnergyEfficiencyAt50PercentOfCycleLife": b.round_trip_efficiency_at_50pct_cycle_life_pct,
                "EnergyRoundTripEfficiencyFade": 0.0,
                "InitialSelfDischargingRate": b.initial_self_discharge_pct_per_month,
            },
            "Resistance": resistance,
            "PowerCapability": {
                "MaximumPermittedBatteryPower": p_max,
                "PowerFade": 0.0,
                "OriginalPowerCapability": [
                    {"atSoc": soc, "powerCapabilityAt": round(p_max * factor, 1)}
                    for soc, factor in ((80, 1.0), (20, 0.7))
                ],
            },
            "Temperature": {
                "TemperatureRangeIdleState_LowerBoundary": b.idle_temperature_min_c,
                "TemperatureRangeIdleState_UpperBoundary": b.idle_temperature_max_c,
            },
            "Lifetime": {
                "ExpectedLifetimeInCalendarYears": b.expected_lifetime_years,
                "ExpectedNumberOfCycles": b.expected_cycles,
                "CapacityThresholdExhaustion": b.capacity_threshold_exhaustion_pct,
                "CRateOfRelevantCycleLifeTest": b.c_rate_life_cycle_test,
                "CycleLifeReferenceTest": b.cycle_life_reference_test,
            },
        },
    }
