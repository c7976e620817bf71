"""Online identification of the two-RC parameters: recursive least squares with forgetting, vectorised over cells.

The RC time constants and the charge-transfer current scale are held at fixed values, which makes the voltage linear
in the resistances:

    V - OCV(SoC) = -R0 * i - Rct * h(i) - R1 * f1(i) - R2 * f2(i)

with ``h(i) = i_ct * asinh(i / i_ct)`` (the Butler-Volmer shape, see ``ECMParams``) and ``f1``/``f2`` the current
passed through first-order lags of ``tau1``/``tau2`` (unit gain), so R1*f1 is exactly the RC branch voltage. R0 and
Rct are told apart by how the drop grows with the current. The regression runs on *increments over a lag* of
``lag_s`` seconds: the change of OCV over the lag comes from coulomb counting (exact to first order), so an error in
the filter's SoC or a local error of the OCV table cancels instead of leaking into the resistances (the
dual-estimation confound). A lag of several seconds rather than one sample keeps the slow branch's signal above the
voltage noise and quantisation.

Forgetting is applied only while the current excites the model; at rest the memory is kept instead of winding up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packtwin.analytics.cellmodel import ECMParams, charge_transfer

N_THETA = 4  # r0, r1, r2, r_ct


@dataclass(frozen=True)
class RLSTuning:
    memory_s: float = 3600.0          # forgetting horizon while excited
    lag_s: float = 60.0               # increment lag
    excitation_c: float = 0.05        # |delta i| over the lag above this fraction of 1C counts as excitation
    p0: float = 1e3                   # initial covariance, in units of (parameter prior)^2: a weak prior
    p_max: float = 1e5
    warmup_excited_s: float = 600.0   # excited time before the parameters are trusted
    increments: bool = True           # regress increments over the lag (True) or levels (False)


class RLSIdentifier:
    def __init__(self, prior: ECMParams, nominal_capacity_ah: np.ndarray, tuning: RLSTuning | None = None,
                 identified: bool = False) -> None:
        """``identified``: the starting values come from an earlier identification, not from the prior."""
        self.tuning = tuning or RLSTuning()
        n = prior.n_cells
        self.n = n
        self.prior = prior
        self.tau1 = prior.tau1.copy()
        self.tau2 = prior.tau2.copy()
        self.one_c = np.asarray(nominal_capacity_ah, dtype=float) * np.ones(n)
        self.i_ct = prior.i_ct
        self.theta = np.stack([prior.r0, prior.r1, prior.r2, prior.r_ct_or_zero], axis=1).astype(float)
        # Covariance scale per parameter: the prior's small-current resistance for the two it splits.
        self._scale2 = self.theta ** 2
        self._scale2[:, [0, 3]] = (prior.r_dc ** 2)[:, None]
        self.P = np.zeros((n, N_THETA, N_THETA))
        idx = np.arange(N_THETA)
        self.P[:, idx, idx] = self.tuning.p0 * self._scale2
        self.f1 = np.zeros(n)
        self.f2 = np.zeros(n)
        self.excited_s = np.full(n, self.tuning.warmup_excited_s if identified else 0.0)
        if identified:
            # Trust the earlier identification: start with a tighter covariance.
            self.P *= 0.25
        self._dt = -1.0
        self._ring: np.ndarray | None = None  # (lag, 5, n): v - ocv, i, f1, f2, h(i)
        self._pos = 0
        self._filled = 0

    @property
    def warmed_up(self) -> np.ndarray:
        return self.excited_s >= self.tuning.warmup_excited_s

    def _coefficients(self, dt: float) -> None:
        self.a1 = np.exp(-dt / self.tau1)
        self.a2 = np.exp(-dt / self.tau2)
        self.lam = float(np.exp(-dt / self.tuning.memory_s))
        lag = max(1, int(round(self.tuning.lag_s / dt)))
        if self._ring is None or self._ring.shape[0] != lag:
            self._ring = np.full((lag, 5, self.n), np.nan)
            self._pos = 0
        self._dt = dt

    def step(self, current_a: np.ndarray, voltage_minus_ocv: np.ndarray, dt: float, resistance_scale: np.ndarray,
             valid: np.ndarray | None = None) -> None:
        """One update. ``current_a`` is the bias-corrected current, ``voltage_minus_ocv`` the terminal voltage minus
        the OCV of the filter's SoC, ``resistance_scale`` the Arrhenius factor of the present temperature (so the
        stored resistances are at the reference temperature)."""
        if abs(dt - self._dt) > 1e-6 * dt:  # epoch timestamps jitter in the last bits
            self._coefficients(dt)
        i = np.broadcast_to(np.asarray(current_a, dtype=float), (self.n,))
        h = charge_transfer(i, self.i_ct / resistance_scale)  # the exchange current follows the Arrhenius law too
        self.f1 = self.a1 * self.f1 + (1.0 - self.a1) * i
        self.f2 = self.a2 * self.f2 + (1.0 - self.a2) * i
        y_now = np.where(valid, voltage_minus_ocv, np.nan) if valid is not None else voltage_minus_ocv
        ring = self._ring
        old = ring[self._pos].copy()
        ring[self._pos, 0] = y_now
        ring[self._pos, 1] = i
        ring[self._pos, 2] = self.f1
        ring[self._pos, 3] = self.f2
        ring[self._pos, 4] = h
        self._pos = (self._pos + 1) % ring.shape[0]
        if self.tuning.increments:
            y = y_now - old[0]
            di = i - old[1]
            d1, d2, dh = self.f1 - old[2], self.f2 - old[3], h - old[4]
        else:
            y, di, d1, d2, dh = y_now, i, self.f1, self.f2, h
        ok = np.isfinite(y) & np.isfinite(di)
        if not ok.any():
            return
        s = resistance_scale
        phi = np.stack([-di * s, -d1 * s, -d2 * s, -dh * s], axis=1)
        phi[~ok] = 0.0
        excited = ok & (np.abs(i - old[1]) > self.tuning.excitation_c * self.one_c)
        lam = np.where(excited, self.lam, 1.0)
        P = self.P
        p_phi = np.einsum("nij,nj->ni", P, phi)
        den = lam + np.einsum("ni,ni->n", phi, p_phi)
        gain = p_phi / den[:, None]
        err = np.where(ok, y - np.einsum("ni,ni->n", phi, self.theta), 0.0)
        self.theta += gain * err[:, None]
        newP = (P - gain[:, :, None] * p_phi[:, None, :]) / lam[:, None, None]
        # Bound the covariance so a long quiet spell cannot wind it up.
        over = (np.einsum("nii->ni", newP) > self.tuning.p_max * self._scale2).any(axis=1)
        if over.any():
            newP[over] *= 0.5
        self.P = np.where(ok[:, None, None], newP, P)
        self.excited_s += np.where(excited, dt, 0.0)

    def params(self, capacity_ah: np.ndarray) -> ECMParams:
        """Identified parameters at the reference temperature; resistances kept non-negative (r_ct: see below)."""
        th = self.theta
        floor = 0.05 * self.prior.r0
        r0 = np.maximum(th[:, 0], floor)
        # r_ct may come out negative (a real cell whose drop grows faster than linearly with the current); it is
        # kept, as an empirical current dependence, down to -0.9 R0, where the drop still rises with the current.
        # Clamping it at zero instead would leave R0 holding the compensation for it: a wrong model.
        return ECMParams(r0=r0, r1=np.maximum(th[:, 1], 0.0), tau1=self.tau1,
                         r2=np.maximum(th[:, 2], 0.0), tau2=self.tau2, capacity_ah=np.asarray(capacity_ah, float),
                         activation_j_per_mol=self.prior.activation_j_per_mol, r_ct=np.maximum(th[:, 3], -0.9 * r0),
                         i_ct=self.i_ct)
