from __future__ import annotations

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params, simulate
from packtwin.analytics.identification import RLSIdentifier


def _identify(data_dir, truth_of, seed: int, max_current_a: float, soc_error: float = 0.0):
    """Simulate two cells (``truth_of(prior)`` sets their parameters) under a random 20 s step drive for 4 h and run
    the identification on it, with 2 mV of voltage noise and the OCV taken at a SoC ``soc_error`` off."""
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    ocv = OCVCurve.from_spec(spec)
    truth = truth_of(prior_params(spec.capacity_ah, 2))
    rng = np.random.default_rng(seed)
    steps = 4 * 3600
    current = np.repeat(rng.uniform(-5, max_current_a, steps // 20), 20)
    volts, soc = simulate(truth, ocv, current, 1.0, np.full(2, 0.8))
    rls = RLSIdentifier(prior_params(spec.capacity_ah, 2), np.full(2, spec.capacity_ah))
    for k in range(steps):
        y = volts[k] + 0.002 * rng.standard_normal(2) - ocv.ocv(soc[k] + soc_error)
        rls.step(current[k], y, 1.0, np.ones(2))
    return spec, truth, rls, rls.params(np.full(2, spec.capacity_ah))


def test_rls_recovers_resistances_despite_a_soc_error(data_dir):
    def truth_of(p):
        p.r0, p.r1, p.r2 = np.array([0.020, 0.030]), np.array([0.006, 0.010]), np.array([0.015, 0.020])
        return p

    # The identification sees the OCV of a SoC that is 3 % off: increments make that harmless.
    _, truth, rls, est = _identify(data_dir, truth_of, seed=3, max_current_a=8, soc_error=0.03)
    assert np.allclose(est.r0, truth.r0, rtol=0.05)
    assert np.allclose(est.r1 + est.r2, truth.r1 + truth.r2, rtol=0.15)
    assert rls.warmed_up.all()


def test_rls_separates_ohmic_and_charge_transfer_resistance(data_dir):
    # Cell 0 has a strong Butler-Volmer term, cell 1 none: R0 and r_ct differ only in how the drop grows with the
    # current, which a drive of 0-2C currents shows.
    def truth_of(p):
        p.r0, p.r_ct = np.array([0.008, 0.025]), np.array([0.022, 0.0])
        p.r1, p.r2 = np.array([0.006, 0.006]), np.array([0.015, 0.015])
        return p

    spec, truth, _, est = _identify(data_dir, truth_of, seed=5, max_current_a=10)
    assert np.allclose(est.r0, truth.r0, atol=0.002)
    assert np.allclose(est.r_ct, truth.r_ct, atol=0.003)
    # The drop a 1C pulse shows is what the health figures use: within 3 %.
    one_c = spec.capacity_ah
    assert np.allclose(est.pulse_resistance(one_c), truth.pulse_resistance(one_c), rtol=0.03)
