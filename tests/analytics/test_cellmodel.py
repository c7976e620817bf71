from __future__ import annotations

import json

import numpy as np
import pytest

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params, simulate


def test_ocv_lookup_matches_table_interpolation(data_dir):
    spec = CellSpec.from_json(data_dir / "telemetry" / "nissan_cell.json")
    ocv = OCVCurve.from_spec(spec)
    s = np.linspace(0.0, 1.0, 777)
    u, g = ocv.ocv_and_slope(s)
    assert np.max(np.abs(u - np.interp(s, spec.ocv_soc, spec.ocv_voltage_v))) < 2e-4
    assert np.all(g > 0)
    scalar = ocv.scalar()
    assert scalar.ocv_and_slope(0.4321)[0] == pytest.approx(float(ocv.ocv_and_slope(np.array([0.4321]))[0][0]))
    # Inversion round trip.
    assert np.allclose(ocv.soc_from_ocv(ocv.ocv(s)), s, atol=1e-9)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("capacity_ah"), "capacity_ah"),
    (lambda d: d.update(capacity_ah=-1), "positive"),
    (lambda d: d["ocv"]["voltage_v"].reverse(), "increasing"),
    (lambda d: d.update(voltage_min_v=5.0), "below"),
])
def test_cell_json_errors_are_clear(data_dir, mutate, message):
    data = json.loads((data_dir / "telemetry" / "dfn_cell.json").read_text())
    mutate(data)
    with pytest.raises(ValueError, match=message):
        CellSpec.from_dict(data)


def test_simulated_short_drains_only_its_cell(data_dir):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    ocv = OCVCurve.from_spec(spec)
    p = prior_params(spec.capacity_ah, 3)
    current = np.zeros(3600)
    _, soc = simulate(p, ocv, current, 1.0, np.full(3, 0.6), short_ohm=np.array([np.inf, 100.0, np.inf]))
    drop = 0.6 - soc[-1]
    # ~3.8 V / 100 ohm for one hour on a 5.15 Ah cell: ~0.74 % SoC.
    assert drop[1] == pytest.approx(3.8 / 100 / spec.capacity_ah, rel=0.05)
    assert np.allclose(drop[[0, 2]], 0.0)


def test_resistance_rises_in_the_cold():
    p = prior_params(5.0, 1)
    assert p.resistance_factor(0.0) > 1.5 > 1.0 == pytest.approx(float(p.resistance_factor(25.0)))


def test_in_the_cold_the_exchange_current_falls_with_the_same_law():
    p = prior_params(5.0, 1)
    f = float(p.resistance_factor(0.0))
    # Small currents: every resistance, charge transfer included, is f times its value at 25 degC.
    assert float(p.pulse_resistance(1e-4, f)[0]) == pytest.approx(f * float(p.r_dc[0]), rel=1e-6)
    # Large currents: i_ct falls to i_ct / f, so the drop bends over earlier (Butler-Volmer) and the chord is less
    # than f times the warm one; the Tafel slope r_ct * i_ct (the log term's weight) does not change.
    big = 3.0 * 5.0
    assert float(p.pulse_resistance(big, f)[0]) < f * float(p.pulse_resistance(big)[0])
    assert f * float(p.r_ct[0]) * p.i_ct_at(f) == pytest.approx(float(p.r_ct[0]) * p.i_ct)
