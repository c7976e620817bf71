from __future__ import annotations

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params, simulate
from packtwin.analytics.soc import FilterTuning, SocEKF


def _setup(data_dir, n):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    return spec, OCVCurve.from_spec(spec), prior_params(spec.capacity_ah, n)


def test_fast_path_equals_general_filter(data_dir):
    spec, ocv, p = _setup(data_dir, 50)
    rng = np.random.default_rng(1)
    fast = SocEKF(p, ocv, np.full(50, 0.5))
    general = SocEKF(p, ocv, np.full(50, 0.5))
    general._soc_only = False
    assert fast._soc_only
    for k in range(400):
        v = 3.75 + 0.01 * rng.standard_normal(50)
        i = 5 * np.sin(k / 20)
        a = fast.step(i, v, 0.5).copy()
        b = general.step(i, v, 0.5)
    assert np.max(np.abs(a - b)) < 1e-12
    assert np.max(np.abs(fast.p00 - general.p00)) < 1e-15


def test_scalar_filter_equals_vector_filter(data_dir):
    spec, ocv, p = _setup(data_dir, 1)
    tuning = FilterTuning(bias0_std_c=0.01, bias_walk_c=1e-6, estimate_capacity=True)
    vec = SocEKF(p, ocv, np.array([0.7]), tuning)
    sca = SocEKF(p, ocv, np.array([0.7]), tuning).scalar()
    rng = np.random.default_rng(2)
    for k in range(500):
        v = 3.9 + 0.01 * rng.standard_normal()
        vec.step(3.0 * np.cos(k / 30), np.array([v]), 1.0)
        sca.step(3.0 * np.cos(k / 30), v, 1.0)
    assert abs(vec.s[0] - sca.s) < 1e-12
    assert abs(vec.b[0] - sca.b) < 1e-12


def test_converges_from_wrong_initial_soc_on_every_cell(data_dir):
    spec, ocv, p = _setup(data_dir, 8)
    current = np.tile(np.r_[np.full(60, 5.0), np.zeros(60), np.full(30, -3.0)], 20)
    volts, truth = simulate(p, ocv, current, 1.0, np.linspace(0.3, 0.9, 8))
    ekf = SocEKF(p, ocv, np.full(8, 0.5))  # everybody starts at 50 %
    for k in range(len(current)):
        ekf.step(current[k], volts[k], 1.0)
    assert np.max(np.abs(ekf.s - truth[-1])) < 0.01


def test_invalid_samples_skip_the_correction(data_dir):
    spec, ocv, p = _setup(data_dir, 2)
    ekf = SocEKF(p, ocv, np.array([0.5, 0.5]))
    ekf.step(0.0, np.array([0.0, 3.75]), 1.0, np.array([0.0, 1.0]))
    assert ekf.s[0] == 0.5  # garbage voltage ignored
    assert ekf.s[1] != 0.5
