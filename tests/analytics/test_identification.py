from __future__ import annotations

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params, simulate
from packtwin.analytics.identification import RLSIdentifier


def test_rls_recovers_resistances_despite_a_soc_error(data_dir):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    ocv = OCVCurve.from_spec(spec)
    truth = prior_params(spec.capacity_ah, 2)
    truth.r0 = np.array([0.020, 0.030])
    truth.r1 = np.array([0.006, 0.010])
    truth.r2 = np.array([0.015, 0.020])
    rng = np.random.default_rng(3)
    steps = 4 * 3600
    current = np.repeat(rng.uniform(-5, 8, steps // 20), 20)
    volts, soc = simulate(truth, ocv, current, 1.0, np.full(2, 0.8))
    rls = RLSIdentifier(prior_params(spec.capacity_ah, 2), np.full(2, spec.capacity_ah))
    # The identification sees the OCV of a SoC that is 3 % off: increments make that harmless.
    for k in range(steps):
        y = volts[k] + 0.002 * rng.standard_normal(2) - ocv.ocv(soc[k] + 0.03)
        rls.step(current[k], y, 1.0, np.ones(2))
    est = rls.params(np.full(2, spec.capacity_ah))
    assert np.allclose(est.r0, truth.r0, rtol=0.05)
    assert np.allclose(est.r1 + est.r2, truth.r1 + truth.r2, rtol=0.15)
    assert rls.warmed_up.all()


def test_rls_separates_ohmic_and_charge_transfer_resistance(data_dir):
    # Cell 0 has a strong Butler-Volmer term, cell 1 none: R0 and r_ct differ only in how the drop grows with the
    # current, which a drive of 0-2C currents shows.
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    ocv = OCVCurve.from_spec(spec)
    truth = prior_params(spec.capacity_ah, 2)
    truth.r0 = np.array([0.008, 0.025])
    truth.r_ct = np.array([0.022, 0.0])
    truth.r1 = np.array([0.006, 0.006])
    truth.r2 = np.array([0.015, 0.015])
    rng = np.random.default_rng(5)
    steps = 4 * 3600
    current = np.repeat(rng.uniform(-5, 10, steps // 20), 20)
    volts, soc = simulate(truth, ocv, current, 1.0, np.full(2, 0.8))
    rls = RLSIdentifier(prior_params(spec.capacity_ah, 2), np.full(2, spec.capacity_ah))
    for k in range(steps):
        rls.step(current[k], volts[k] + 0.002 * rng.standard_normal(2) - ocv.ocv(soc[k]), 1.0, np.ones(2))
    est = rls.params(np.full(2, spec.capacity_ah))
    assert np.allclose(est.r0, truth.r0, atol=0.002)
    assert np.allclose(est.r_ct, truth.r_ct, atol=0.003)
    # The drop a 1C pulse shows is what the health figures use: within 3 %.
    one_c = spec.capacity_ah
    assert np.allclose(est.pulse_resistance(one_c), truth.pulse_resistance(one_c), rtol=0.03)
