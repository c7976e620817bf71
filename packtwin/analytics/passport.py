"""Map an estimate record of a pack or cell onto the Digital Battery Passport: IDTA 02035-5 Product Condition and the
fade values of IDTA 02035-4 Technical Data, as (submodel, idShortPath, value) triples with the template's units.

A pure function: no repository access. The worker produces records, the integration layer writes the values into
the submodels of the twin (``Repository.replace`` / property value updates) and the change events fan out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PRODUCT_CONDITION = "ProductCondition"  # IDTA 02035-5
TECHNICAL_DATA = "TechnicalData"        # IDTA 02035-4


@dataclass(frozen=True)
class EstimateRecord:
    """What the analytics know about one pack or cell at ``timestamp`` (seconds since the Unix epoch, UTC).

    Fields left ``None`` are not written. Percentages are 0..100; ``soc`` is a fraction.
    """

    timestamp: float
    soc: float | None = None
    capacity_ah: float | None = None              # remaining (full-charge) capacity
    rated_capacity_ah: float | None = None
    nominal_voltage_v: float | None = None
    certified_energy_kwh: float | None = None
    remaining_energy_kwh: float | None = None
    energy_throughput_kwh: float | None = None
    capacity_throughput_ah: float | None = None
    full_equivalent_cycles: float | None = None
    resistance_increase_pct: float | None = None
    power_fade_pct: float | None = None
    round_trip_efficiency_pct: float | None = None
    initial_round_trip_efficiency_pct: float | None = None
    power_capability_w: float | None = None       # remaining (discharge) power capability at ``soc``
    measured_temp_c: float | None = None
    time_extreme_high_temp_min: float | None = None
    time_extreme_low_temp_min: float | None = None
    time_extreme_high_temp_charging_min: float | None = None
    time_extreme_low_temp_charging_min: float | None = None
    remaining_useful_life_days: float | None = None  # to the end-of-life capacity, at the pack's pace
    level: str = "cell"                           # "cell", "module" or "pack": picks the Technical Data element


# The per-cell lists an estimate may carry: EstimateRecord fields, named as in the estimate message (docs/mqtt.md);
# the worker's estimate holds each as ``{field}_cells``.
CELL_FIELDS = ("soc", "capacity_ah", "resistance_increase_pct", "power_fade_pct", "full_equivalent_cycles",
               "energy_throughput_kwh", "capacity_throughput_ah")


@dataclass(frozen=True)
class CellValues:
    """The per-cell part of an estimate, in series order; None where a cell has no value."""

    rated_capacity_ah: float | None
    values: dict[str, list[float | None]]  # CELL_FIELDS -> one entry per cell

    @classmethod
    def from_estimate(cls, estimate: dict[str, Any], rated_capacity_ah: float | None) -> CellValues:
        """From a worker's estimate (``soc_cells``, ``capacity_ah_cells``, ...); absent lists count as no value."""
        n = len(estimate["soc_cells"])
        values = {}
        for k in CELL_FIELDS:
            got = estimate.get(f"{k}_cells")
            values[k] = [None] * n if got is None else \
                [float(x) if x is not None and math.isfinite(x) else None for x in got]
        return cls(rated_capacity_ah, values)

    def __len__(self) -> int:
        return len(self.values["soc"])

    def record(self, i: int, t: float) -> EstimateRecord:
        return EstimateRecord(timestamp=t, rated_capacity_ah=self.rated_capacity_ah, level="cell",
                              **{k: v[i] for k, v in self.values.items()})


@dataclass(frozen=True)
class PassportValue:
    submodel: str          # idShort of the submodel
    id_short_path: str     # dot-separated, as the AAS API expects
    value: str             # lexical form for the element's valueType
    value_type: str        # xs type of the template element
    unit: str              # unit of the template (or of the regulation where the template is wrong)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(x: float, digits: int = 4) -> str:
    return repr(round(float(x), digits))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def passport_values(rec: EstimateRecord) -> list[PassportValue]:
    """The values to write for ``rec``; each value collection gets its LastUpdate beside it."""
    if not math.isfinite(rec.timestamp):
        raise ValueError("an estimate record needs a finite timestamp")
    ts = _iso(rec.timestamp)
    out: list[PassportValue] = []

    def pc(collection: str, element: str, value: float | None, xs: str, unit: str, digits: int = 4) -> None:
        if not _finite(value):
            return
        lexical = str(max(0, int(round(value)))) if xs == "xs:unsignedInt" else _f(value, digits)
        out.append(PassportValue(PRODUCT_CONDITION, f"{collection}.{element}", lexical, xs, unit))
        out.append(PassportValue(PRODUCT_CONDITION, f"{collection}.LastUpdate", ts, "xs:dateTime", ""))

    if _finite(rec.soc):
        pc("StateOfCharge", "StateOfChargeValue", 100.0 * min(max(rec.soc, 0.0), 1.0), "xs:float", "%", 2)
    # Template defect: IDTA 02035-5 v1.0 tags RemainingCapacityValue with kilowattHour, while the Battery Regulation
    # (EU) 2023/1542 Annex VII part A defines remaining capacity in ampere-hours. We write Ah and say so.
    pc("RemainingCapacity", "RemainingCapacityValue", rec.capacity_ah, "xs:float", "Ah")
    remaining_energy = rec.remaining_energy_kwh
    if remaining_energy is None and _finite(rec.capacity_ah) and _finite(rec.nominal_voltage_v) and _finite(rec.soc):
        remaining_energy = rec.capacity_ah * rec.nominal_voltage_v * min(max(rec.soc, 0.0), 1.0) / 1000.0
    pc("RemainingEnergy", "RemainingEnergyValue", remaining_energy, "xs:float", "kWh")
    pc("EnergyThroughput", "EnergyThroughputValue", rec.energy_throughput_kwh, "xs:float", "kWh")
    pc("CapacityThroughput", "CapacityThroughputValue", rec.capacity_throughput_ah, "xs:float", "Ah")
    pc("NumberOfFullCycles", "NumberOfFullCyclesValue", rec.full_equivalent_cycles, "xs:unsignedInt", "cycle")
    soce = None
    if _finite(rec.capacity_ah) and _finite(rec.nominal_voltage_v) and _finite(rec.certified_energy_kwh) \
            and rec.certified_energy_kwh > 0:
        soce = 100.0 * rec.capacity_ah * rec.nominal_voltage_v / 1000.0 / rec.certified_energy_kwh
    elif _finite(rec.capacity_ah) and _finite(rec.rated_capacity_ah) and rec.rated_capacity_ah > 0:
        soce = 100.0 * rec.capacity_ah / rec.rated_capacity_ah
    pc("StateOfCertifiedEnergy", "StateOfCertifiedEnergyValue", soce, "xs:float", "%", 2)
    pc("RemainingRoundTripEnergyEfficiency", "RemainingRoundTripEnergyEfficiencyValue",
       rec.round_trip_efficiency_pct, "xs:float", "%", 2)
    if _finite(rec.power_capability_w) and _finite(rec.soc):
        base = "RemainingPowerCapability.RemainingPowerCapabilityDynamicAt"
        out.append(PassportValue(PRODUCT_CONDITION, f"{base}.AtSoC", _f(100.0 * rec.soc, 2), "xs:float", "%"))
        # Template defect: IDTA 02035-5 v1.0.1 tags PowerCapabilityAt with % while the regulation's "remaining power
        # capability" is a power; we write watts.
        out.append(PassportValue(PRODUCT_CONDITION, f"{base}.PowerCapabilityAt", _f(rec.power_capability_w, 1),
                                 "xs:float", "W"))
        out.append(PassportValue(PRODUCT_CONDITION, f"{base}.RPCLastUpdated", ts, "xs:dateTime", ""))
        out.append(PassportValue(PRODUCT_CONDITION, "RemainingPowerCapability.LastUpdate", ts, "xs:dateTime", ""))
    # A packtwin addition to Part 5 (the template has no remaining useful life): product_condition.py.
    pc("RemainingUsefulLife", "RemainingUsefulLifeValue", rec.remaining_useful_life_days, "xs:float", "day", 1)
    temps = [("MeasuredTemp", rec.measured_temp_c, "degC"),
             ("TimeExtremeHighTemp", rec.time_extreme_high_temp_min, "min"),
             ("TimeExtremeLowTemp", rec.time_extreme_low_temp_min, "min"),
             ("TimeExtremeHighTempCharging", rec.time_extreme_high_temp_charging_min, "min"),
             ("TimeExtremeLowTempCharging", rec.time_extreme_low_temp_charging_min, "min")]
    wrote_temp = False
    for element, value, unit in temps:
        if _finite(value):
            out.append(PassportValue(PRODUCT_CONDITION, f"TemperatureInformation.{element}", _f(value, 2),
                                     "xs:float", unit))
            wrote_temp = True
    if wrote_temp:
        out.append(PassportValue(PRODUCT_CONDITION, "TemperatureInformation.LastUpdate", ts, "xs:dateTime", ""))

    # Technical Data (part 4): the fade values, against the beginning of life.
    tp = "TechnicalPropertyAreas"
    if _finite(rec.capacity_ah) and _finite(rec.rated_capacity_ah) and rec.rated_capacity_ah > 0:
        fade = 100.0 * (1.0 - rec.capacity_ah / rec.rated_capacity_ah)
        out.append(PassportValue(TECHNICAL_DATA, f"{tp}.CapacityEnergyVoltage.CapacityFade", _f(fade, 2),
                                 "xs:float", "%"))
    if _finite(rec.resistance_increase_pct):
        level = {"pack": "Pack", "module": "Module"}.get(rec.level, "Cell")
        out.append(PassportValue(TECHNICAL_DATA, f"{tp}.Resistance.InternalResistanceIncreaseOfBattery{level}Level",
                                 _f(rec.resistance_increase_pct, 2), "xs:float", "%"))
    if _finite(rec.power_fade_pct):
        out.append(PassportValue(TECHNICAL_DATA, f"{tp}.PowerCapability.PowerFade", _f(rec.power_fade_pct, 2),
                                 "xs:float", "%"))
    if _finite(rec.round_trip_efficiency_pct) and _finite(rec.initial_round_trip_efficiency_pct):
        rte_fade = rec.initial_round_trip_efficiency_pct - rec.round_trip_efficiency_pct
        out.append(PassportValue(TECHNICAL_DATA, f"{tp}.RoundTripEnergyEfficiency.EnergyRoundTripEfficiencyFade",
                                 _f(rte_fade, 2), "xs:float", "%"))
    return out
