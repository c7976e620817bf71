"""State of charge: an extended Kalman filter vectorised over cells (structure of arrays).

State per cell: SoC ``s``, current-sensor bias ``b`` (A, the measured current minus the true one) and inverse
capacity ``q`` (1/Ah); the two RC voltages are propagated deterministically from the corrected current, so the
covariance stays 3x3 (six arrays) and one step over 10^4 cells is a few dozen vector operations.

Augmenting with ``b`` makes the filter robust to a current-sensor offset; a large initial SoC variance makes it
robust to an unknown initial SoC. Model error of an equivalent circuit is not white: it persists for minutes, so the
voltage noise is scaled by ``correlation_s / dt`` -- each sample then carries the information of one sample per
correlation time and the filter does not over-trust a biased OCV table during a long rest, whatever the sample rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packtwin.analytics.cellmodel import ECMParams, OCVCurve


@dataclass(frozen=True)
class FilterTuning:
    # Initial standard deviations: SoC unknown (fraction), bias as a fraction of the 1C current, capacity (fraction).
    soc0_std: float = 0.3
    bias0_std_c: float = 0.02
    capacity0_std: float = 0.15
    # Voltage model error (V) and how long it stays correlated (s); sensor noise adds on top.
    model_error_v: float = 0.010
    model_error_per_c_v: float = 0.010
    correlation_s: float = 100.0
    sensor_noise_v: float = 0.002
    # Random walks (per sqrt(s)): SoC (current noise integrates), bias (as a fraction of 1C), inverse capacity.
    soc_walk: float = 1e-6
    bias_walk_c: float = 1e-6
    capacity_walk: float = 1e-7
    estimate_capacity: bool = True


class SocEKF:
    """EKF over ``n`` cells. Call :meth:`step` once per sample with the (series) current and all cell voltages."""

    def __init__(self, params: ECMParams, ocv: OCVCurve, soc0: np.ndarray, tuning: FilterTuning | None = None,
                 nominal_capacity_ah: np.ndarray | float | None = None) -> None:
        self.tuning = tuning or FilterTuning()
        self.params = params
        self.ocv = ocv
        n = params.n_cells
        self.n = n
        tu = self.tuning
        cap = np.asarray(params.capacity_ah, dtype=float) * np.ones(n)
        self.nominal_capacity_ah = (np.asarray(nominal_capacity_ah, dtype=float) * np.ones(n)
                                    if nominal_capacity_ah is not None else cap.copy())
        self.s = np.asarray(soc0, dtype=float) * np.ones(n)
        self.b = np.zeros(n)
        self.q = 1.0 / cap
        self.v1 = np.zeros(n)
        self.v2 = np.zeros(n)
        one_c = self.nominal_capacity_ah
        self.p00 = np.full(n, tu.soc0_std ** 2)
        self.p01 = np.zeros(n)
        self.p02 = np.zeros(n)
        self.p11 = (tu.bias0_std_c * one_c) ** 2
        self.p12 = np.zeros(n)
        self.p22 = (tu.capacity0_std * self.q) ** 2 if tu.estimate_capacity else np.zeros(n)
        self._bias_walk = (tu.bias_walk_c * one_c) ** 2
        self._cap_walk = (tu.capacity_walk * self.q) ** 2 if tu.estimate_capacity else np.zeros(n)
        self.resistance_scale = np.ones(n)
        self._dt = -1.0
        self.last_innovation = np.zeros(n)
        self.set_params(params)

    def set_params(self, params: ECMParams, resistance_scale: np.ndarray | float = 1.0) -> None:
        """Take new (identified) resistances and time constants; ``resistance_scale`` carries temperature."""
        self.params = params
        self.resistance_scale = np.asarray(resistance_scale, dtype=float) * np.ones(self.n)
        self.r0 = params.r0 * self.resistance_scale
        self._r1 = params.r1 * self.resistance_scale
        self._r2 = params.r2 * self.resistance_scale
        self._dt = -1.0  # forces the RC coefficients to be recomputed

    def _coefficients(self, dt: float) -> None:
        p = self.params
        self.a1 = np.exp(-dt / p.tau1)
        self.a2 = np.exp(-dt / p.tau2)
        self.k1 = self._r1 * (1.0 - self.a1)
        self.k2 = self._r2 * (1.0 - self.a2)
        tu = self.tuning
        c = tu.correlation_s / dt if dt < tu.correlation_s else 1.0
        self._r_base = (tu.model_error_v ** 2) * c + tu.sensor_noise_v ** 2
        self._r_load = (tu.model_error_per_c_v ** 2) * c / self.nominal_capacity_ah ** 2
        self._qs = tu.soc_walk ** 2 * dt
        self._qb = self._bias_walk * dt
        self._qq = self._cap_walk * dt
        self._dt = dt

    def step(self, current_a: np.ndarray | float, voltage_v: np.ndarray, dt: float,
             valid: np.ndarray | None = None) -> np.ndarray:
        """Advance by ``dt`` seconds with the measured current and correct with the voltages; returns SoC.

        ``valid`` (bool per cell) skips the correction for cells whose voltage sample was rejected upstream.
        """
        if dt != self._dt:
            self._coefficients(dt)
        i = current_a - self.b  # true current estimate
        # --- predict
        alpha = (dt / 3600.0) * self.q
        beta = (-dt / 3600.0) * i
        p01, p02, p12 = self.p01, self.p02, self.p12
        self.p00 += (2.0 * alpha * p01 + 2.0 * beta * p02 + alpha * alpha * self.p11
                     + 2.0 * alpha * beta * p12 + beta * beta * self.p22 + self._qs)
        p01 += alpha * self.p11 + beta * p12
        p02 += alpha * p12 + beta * self.p22
        self.p11 += self._qb
        self.p22 += self._qq
        self.s -= i * alpha
        self.v1 *= self.a1
        self.v1 += self.k1 * i
        self.v2 *= self.a2
        self.v2 += self.k2 * i
        # --- correct
        ocv, g = self.ocv.ocv_and_slope(self.s)
        innov = voltage_v - (ocv - self.r0 * i - self.v1 - self.v2)
        hb = self.r0
        u0 = self.p00 * g + p01 * hb
        u1 = p01 * g + self.p11 * hb
        u2 = p02 * g + p12 * hb
        r = self._r_base + self._r_load * i * i
        inv_s = 1.0 / (g * u0 + hb * u1 + r)
        if valid is not None:
            inv_s = np.where(valid, inv_s, 0.0)
        e = innov * inv_s
        self.s += u0 * e
        self.b += u1 * e
        self.q += u2 * e
        self.p00 -= u0 * u0 * inv_s
        p01 -= u0 * u1 * inv_s
        p02 -= u0 * u2 * inv_s
        self.p11 -= u1 * u1 * inv_s
        p12 -= u1 * u2 * inv_s
        self.p22 -= u2 * u2 * inv_s
        self.last_innovation = innov
        return self.s

    @property
    def capacity_ah(self) -> np.ndarray:
        return 1.0 / self.q

    @property
    def soc_std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.p00, 0.0))
