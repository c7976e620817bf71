from __future__ import annotations

import json

import pytest

from packtwin.analytics.passport import CellValues, EstimateRecord, passport_values


def _paths(node, prefix=""):
    out = set()
    for el in node.get("submodelElements", node.get("value", [])) or []:
        if not isinstance(el, dict) or "idShort" not in el:
            continue
        path = f"{prefix}{el['idShort']}"
        out.add(path)
        if isinstance(el.get("value"), list):
            out |= _paths(el, path + ".")
    return out


@pytest.fixture(scope="module")
def template_paths(data_dir):
    paths = {}
    for f in (data_dir / "idta").glob("*.json"):
        env = json.loads(f.read_text())
        for sm in env["submodels"]:
            paths[sm["idShort"]] = _paths(sm)
    return paths


def test_every_written_element_exists_in_the_templates(template_paths):
    rec = EstimateRecord(timestamp=1.7e9, soc=0.63, capacity_ah=4.8, rated_capacity_ah=5.15, nominal_voltage_v=355.0,
                         energy_throughput_kwh=1234.5, capacity_throughput_ah=3456.0, full_equivalent_cycles=321.4,
                         resistance_increase_pct=12.5, power_fade_pct=8.0, round_trip_efficiency_pct=93.0,
                         initial_round_trip_efficiency_pct=95.0, power_capability_w=41000.0, measured_temp_c=27.5,
                         level="pack")
    values = passport_values(rec)
    assert values
    for v in values:
        assert v.id_short_path in template_paths[v.submodel], v.id_short_path
    by = {v.id_short_path: v for v in values}
    assert by["StateOfCharge.StateOfChargeValue"].value == "63.0"
    assert by["RemainingCapacity.RemainingCapacityValue"].unit == "Ah"  # the template's kWh is a known defect
    assert by["NumberOfFullCycles.NumberOfFullCyclesValue"].value == "321"
    assert by["StateOfCharge.LastUpdate"].value == "2023-11-14T22:13:20Z"
    assert float(by["TechnicalPropertyAreas.CapacityEnergyVoltage.CapacityFade"].value) == pytest.approx(6.8, abs=0.01)


def test_missing_and_non_finite_values_are_not_written():
    values = passport_values(EstimateRecord(timestamp=1.7e9, soc=float("nan"), capacity_ah=None))
    assert values == []
    with pytest.raises(ValueError):
        passport_values(EstimateRecord(timestamp=float("nan")))


def test_cell_values_from_an_estimate_map_each_cell_to_its_record():
    est = {"soc_cells": [0.5, float("nan")], "capacity_ah_cells": [4.5, 4.4], "power_fade_pct_cells": [3.0, 4.0],
           "energy_throughput_kwh_cells": [1.25, 1.5]}
    cells = CellValues.from_estimate(est, 5.0)
    assert len(cells) == 2 and cells.values["soc"] == [0.5, None]
    assert cells.values["resistance_increase_pct"] == [None, None]  # absent from the estimate: no value
    values = {(v.submodel, v.id_short_path): v.value for v in passport_values(cells.record(0, 1_790_000_000.0))}
    assert values[("ProductCondition", "StateOfCharge.StateOfChargeValue")] == "50.0"
    assert values[("ProductCondition", "EnergyThroughput.EnergyThroughputValue")] == "1.25"
    assert values[("TechnicalData", "TechnicalPropertyAreas.PowerCapability.PowerFade")] == "3.0"
    assert values[("TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.CapacityFade")] == "10.0"
    assert not any("Resistance" in path for _, path in values)
    second = {path for _, path in ((v.submodel, v.id_short_path) for v in passport_values(cells.record(1, 0.0)))}
    assert "StateOfCharge.StateOfChargeValue" not in second  # the NaN is not written
