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
