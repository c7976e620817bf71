"""Online identification of the two-RC parameters: recursive least squares with forgetting, vectorised over cells.

The RC time constants are held at fixed values per cell, which makes the voltage linear in the resistances:

    V - OCV(SoC) = -R0 * i - R1 * f1(i) - R2 * f2(i) + c

with ``f1``/``f2`` the current passed through first-order lags of ``tau1``/``tau2`` (unit gain), so R1*f1 is exactly
the RC branch voltage. The constant ``c`` soaks up the SoC error of the filter that supplies the OCV, so an SoC error
does not leak into the resistances (the dual-estimation confound). Forgetting is applied only while the current
excites the model; at rest the memory is kept instead of winding up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packtwin.analytics.cellmodel import ECMParams

N_THETA = 4


@dataclass(frozen=True)
class RLSTuning:
    memory_s: float = 1800.0          # forgetting horizon while excited
    excitation_c: float = 0.05        # |i - f2| above this fraction of 1C counts as excitation
    p0: float = 1.0                   # initial covariance, in units of (parameter prior)^2
    p_max: float = 1e3


class RLSIdentifier:
    def __init__(self, prior: ECMParams, nominal_capacity_ah: np.ndarray, tuning: RLSTuning | None = None) -> None:
        self.tuning = tuning or RLSTuning()
        n = prior.n_cells
        self.n = n
        self.prior = prior
        self.tau1 = prior.tau1.copy()
        self.tau2 = prior.tau2.copy()
        self.one_c = np.asarray(nominal_capacity_ah, dtype=float) * np.ones(n)
        self.theta = np.zeros((n, N_THETA))
        self.theta[:, 0] = prior.r0
        self.theta[:, 1] = prior.r1
        self.theta[:, 2] = prior.r2
        # Scale the covariance per parameter: resistances by their prior size, the offset by 50 mV.
        scale = np.stack([prior.r0, prior.r1, prior.r2, np.full(n, 0.05)], axis=1)
        self._scale2 = scale ** 2
        self.P = np.zeros((n, N_THETA, N_THETA))
        idx = np.arange(N_THETA)
        self.P[:, idx, idx] = self.tuning.p0 * self._scale2
        self.f1 = np.zeros(n)
        self.f2 = np.zeros(n)
        self.updates = np.zeros(n, dtype=np.int64)
        self._dt = -1.0

    def _coefficients(self, dt: float) -> None:
        self.a1 = np.exp(-dt / self.tau1)
        self.a2 = np.exp(-dt / self.tau2)
        self.lam = float(np.exp(-dt / self.tuning.memory_s))
        self._dt = dt

    def step(self, current_a: np.ndarray, voltage_minus_ocv: np.ndarray, dt: float, resistance_scale: np.ndarray,
             valid: np.ndarray | None = None) -> None:
        """One RLS update. ``current_a`` is the bias-corrected current, ``resistance_scale`` the Arrhenius factor
        of the present temperature (so the stored resistances are at the reference temperature)."""
        if dt != self._dt:
            self._coefficients(dt)
        i = np.broadcast_to(current_a, (self.n,))
        self.f1 = self.a1 * self.f1 + (1.0 - self.a1) * i
        self.f2 = self.a2 * self.f2 + (1.0 - self.a2) * i
        phi = np.stack([-i * resistance_scale, -self.f1 * resistance_scale, -self.f2 * resistance_scale,
                        np.ones(self.n)], axis=1)
        excited = np.abs(i - self.f2) > self.tuning.excitation_c * self.one_c
        lam = np.where(excited, self.lam, 1.0)
        ok = np.isfinite(voltage_minus_ocv)
        if valid is not None:
            ok &= valid
        P = self.P
        p_phi = np.einsum("nij,nj->ni", P, phi)
        den = lam + np.einsum("ni,ni->n", phi, p_phi)
        gain = p_phi / den[:, None]
        err = np.where(ok, voltage_minus_ocv - np.einsum("ni,ni->n", phi, self.theta), 0.0)
        gain[~ok] = 0.0
        self.theta += gain * err[:, None]
        newP = (P - gain[:, :, None] * p_phi[:, None, :]) / lam[:, None, None]
        # Bound the covariance so a long quiet spell cannot wind it up.
        diag = np.einsum("nii->ni", newP)
        over = diag > self.tuning.p_max * self._scale2
        if over.any():
            newP[over.any(axis=1)] *= 0.5
        self.P = np.where(ok[:, None, None], newP, P)
        self.updates += ok & excited

    def params(self, capacity_ah: np.ndarray) -> ECMParams:
        """Identified parameters at the reference temperature; resistances kept non-negative."""
        th = self.theta
        floor = 0.05 * self.prior.r0
        return ECMParams(r0=np.maximum(th[:, 0], floor), r1=np.maximum(th[:, 1], 0.0), tau1=self.tau1,
                         r2=np.maximum(th[:, 2], 0.0), tau2=self.tau2, capacity_ah=np.asarray(capacity_ah, float),
                         activation_j_per_mol=self.prior.activation_j_per_mol)
