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

from packtwin.analytics.cellmodel import ECMParams, OCVCurve, charge_transfer


@dataclass(frozen=True)
class FilterTuning:
    # Initial standard deviations: SoC unknown (fraction), bias as a fraction of the 1C current, capacity (fraction).
    # The bias and capacity states are off by default: on the reference data (a real cell whose OCV table is off by
    # up to 30 mV between its nodes, and a DFN model the two-RC circuit cannot follow exactly) the voltage errors
    # persist for hours and alias into both states, which then do more harm than the offset they would remove.
    # The voltage feedback alone bounds the drift an offset causes. Turn them on for long records with good OCV data.
    soc0_std: float = 0.3
    bias0_std_c: float = 0.0
    capacity0_std: float = 0.15
    # Voltage model error (V) and how long it stays correlated (s); sensor noise adds on top.
    model_error_v: float = 0.010
    model_error_per_c_v: float = 0.010
    correlation_s: float = 100.0
    sensor_noise_v: float = 0.002
    # Random walks (per sqrt(s)): SoC (current noise integrates), bias (as a fraction of 1C), inverse capacity.
    soc_walk: float = 1e-6
    bias_walk_c: float = 0.0
    capacity_walk: float = 1e-7
    estimate_capacity: bool = False


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
        self._is_scalar = False
        # Without bias and capacity states the covariance stays diagonal-only: the fast path applies.
        self._soc_only = tu.bias0_std_c == 0.0 and tu.bias_walk_c == 0.0 and not tu.estimate_capacity
        self._g = np.zeros(n)
        self._tmp = np.zeros(n)
        self._tmp2 = np.zeros(n)
        self._innov = np.zeros(n)
        self._idx = np.zeros(n, dtype=np.intp)
        self._dt = -1.0
        self.last_innovation = np.zeros(n)
        self.set_params(params)

    def set_params(self, params: ECMParams, resistance_scale: np.ndarray | float = 1.0) -> None:
        """Take new (identified) resistances and time constants; ``resistance_scale`` carries temperature."""
        self.params = params
        scale = np.asarray(resistance_scale, dtype=float) * np.ones(self.n)
        self.r0, self._r1, self._r2 = params.r0 * scale, params.r1 * scale, params.r2 * scale
        self.r_ct = params.r_ct_or_zero * scale
        # One temperature for the string (the worker's case) keeps i_ct a float: the series current is one number,
        # so the charge-transfer term is one asinh per step instead of one per cell.
        self.i_ct = params.i_ct_at(float(scale[0]) if np.all(scale == scale[0]) else scale)
        self._has_ct = params.r_ct is not None and bool(np.any(params.r_ct != 0.0))
        self.resistance_scale = scale
        if self._is_scalar:
            self.r0, self._r1, self._r2 = float(self.r0[0]), float(self._r1[0]), float(self._r2[0])
            self.r_ct = float(self.r_ct[0])
            self.resistance_scale = float(scale[0])
        self._dt = -1.0  # forces the RC coefficients to be recomputed

    def _coefficients(self, dt: float) -> None:
        p = self.params
        self.a1 = np.exp(-dt / p.tau1)
        self.a2 = np.exp(-dt / p.tau2)
        if self._is_scalar:
            self.a1, self.a2 = float(self.a1[0]), float(self.a2[0])
        self.k1 = self._r1 * (1.0 - self.a1)
        self.k2 = self._r2 * (1.0 - self.a2)
        tu = self.tuning
        c = tu.correlation_s / dt if dt < tu.correlation_s else 1.0
        self._r_base = (tu.model_error_v ** 2) * c + tu.sensor_noise_v ** 2
        self._r_load = (tu.model_error_per_c_v ** 2) * c / self.nominal_capacity_ah ** 2
        if self._is_scalar:
            self._r_load = float(np.asarray(self._r_load).reshape(-1)[0])
        self._qs = tu.soc_walk ** 2 * dt
        self._qb = self._bias_walk * dt
        self._qq = self._cap_walk * dt
        self._alpha = (dt / 3600.0) * self.q
        # A known, fixed offset (set from outside, e.g. learnt at rests) is subtracted on the fast path too.
        self._has_offset = bool(np.any(np.asarray(self.b) != 0.0))
        self._dt = dt

    def step(self, current_a, voltage_v, dt: float, valid=None):
        """Advance by ``dt`` seconds with the measured current and correct with the voltages; returns SoC.

        ``valid`` (1.0/0.0 or bool per cell) skips the correction for cells whose voltage sample was rejected
        upstream. The body uses only arithmetic that works both on arrays (in place) and on Python floats, so
        :meth:`scalar` filters (one cell, offline) run the very same code without numpy's per-call overhead.
        """
        if abs(dt - self._dt) > 1e-6 * dt:  # epoch timestamps jitter in the last bits
            self._coefficients(dt)
        if self._soc_only and not self._is_scalar:
            return self._step_soc_only(current_a, voltage_v, valid)
        i = current_a - self.b  # true current estimate
        # --- predict
        alpha = (dt / 3600.0) * self.q
        beta = (-dt / 3600.0) * i
        p01, p02, p12, p11, p22 = self.p01, self.p02, self.p12, self.p11, self.p22
        self.p00 += (2.0 * alpha * p01 + 2.0 * beta * p02 + alpha * alpha * p11
                     + 2.0 * alpha * beta * p12 + beta * beta * p22 + self._qs)
        p01 += alpha * p11 + beta * p12
        p02 += alpha * p12 + beta * p22
        p11 += self._qb
        p22 += self._qq
        self.s -= i * alpha
        self.s_pred = self.s  # kept for fixed-interval smoothing offline (a float on the scalar path)
        self.v1 *= self.a1
        self.v1 += self.k1 * i
        self.v2 *= self.a2
        self.v2 += self.k2 * i
        # --- correct
        ocv, g = self.ocv.ocv_and_slope(self.s)
        innov = voltage_v - (ocv - self.r0 * i - self.v1 - self.v2)
        hb = self.r0
        if self._has_ct:
            x = i / self.i_ct
            innov += self.r_ct * charge_transfer(i, self.i_ct)
            hb = hb + self.r_ct / (1.0 + x * x) ** 0.5  # d eta_ct / di
        u0 = self.p00 * g + p01 * hb
        u1 = p01 * g + p11 * hb
        u2 = p02 * g + p12 * hb
        r = self._r_base + self._r_load * i * i
        inv_s = 1.0 / (g * u0 + hb * u1 + r)
        if valid is not None:
            inv_s = inv_s * valid
        e = innov * inv_s
        self.s += u0 * e
        self.b += u1 * e
        self.q += u2 * e
        self.p00 -= u0 * u0 * inv_s
        p01 -= u0 * u1 * inv_s
        p02 -= u0 * u2 * inv_s
        p11 -= u1 * u1 * inv_s
        p12 -= u1 * u2 * inv_s
        p22 -= u2 * u2 * inv_s
        # Write back: on floats the augmented assignments above rebound the locals only.
        self.p01, self.p02, self.p12, self.p11, self.p22 = p01, p02, p12, p11, p22
        self.last_innovation = innov
        return self.s

    def _step_soc_only(self, current_a, voltage_v: np.ndarray, valid) -> np.ndarray:
        """The same filter when the bias and capacity states are switched off: the covariance is one array, and
        every operation works in place on preallocated buffers (this is the fleet-rate path)."""
        i = current_a - self.b if self._has_offset else current_a
        s, p00, g_buf, tmp = self.s, self.p00, self._g, self._tmp
        p00 += self._qs
        np.multiply(self._alpha, i, out=tmp)
        s -= tmp
        self.v1 *= self.a1
        self.v2 *= self.a2
        np.multiply(self.k1, i, out=tmp)
        self.v1 += tmp
        np.multiply(self.k2, i, out=tmp)
        self.v2 += tmp
        # OCV lookup: segment index, then base + slope * s.
        idx = self._idx
        np.subtract(s, self.ocv.soc_lo, out=tmp)
        tmp *= self.ocv.inv_step
        np.clip(tmp, 0, self.ocv._last, out=tmp)
        idx[...] = tmp
        np.take(self.ocv.slope, idx, out=g_buf)
        innov = self._innov
        np.take(self.ocv._base, idx, out=innov)
        np.multiply(g_buf, s, out=tmp)
        innov += tmp                      # OCV(s)
        np.subtract(voltage_v, innov, out=innov)
        np.multiply(self.r0, i, out=tmp)
        innov += tmp
        innov += self.v1
        innov += self.v2                  # innovation = V - (OCV - R0 i - v1 - v2)
        if self._has_ct:                  # ... + r_ct h(i): one current per string, so h(i) is one number
            np.multiply(self.r_ct, charge_transfer(i, self.i_ct), out=tmp)
            innov += tmp
        # gain = p00 g / (g^2 p00 + r)
        r = self._r_base + self._r_load * (i * i)
        np.multiply(g_buf, g_buf, out=tmp)
        tmp *= p00
        tmp += r
        np.divide(p00, tmp, out=tmp)
        tmp *= g_buf                      # Kalman gain
        if valid is not None:
            tmp *= valid
        np.multiply(tmp, innov, out=self._tmp2)
        s += self._tmp2
        tmp *= g_buf
        np.subtract(1.0, tmp, out=tmp)
        p00 *= tmp
        self.last_innovation = innov
        return s

    def scalar(self) -> SocEKF:
        """This one-cell filter with every state as a Python float (10x faster per step in CPython)."""
        if self.n != 1:
            raise ValueError("scalar() needs a one-cell filter")
        for name in ("s", "b", "q", "v1", "v2", "p00", "p01", "p02", "p11", "p12", "p22", "_bias_walk", "_cap_walk",
                     "r0", "_r1", "_r2", "r_ct", "i_ct", "resistance_scale", "nominal_capacity_ah"):
            setattr(self, name, float(np.asarray(getattr(self, name)).reshape(-1)[0]))
        self.ocv = self.ocv.scalar()
        self._is_scalar = True
        self._dt = -1.0
        return self

    @property
    def capacity_ah(self) -> np.ndarray:
        return 1.0 / self.q

    @property
    def soc_std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.p00, 0.0))
