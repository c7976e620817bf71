"""Fault detection over the cells of one pack (arrays over cells): internal short circuit, voltage-sensor faults
(stuck, offset, noise), abnormal temperature and thermal-runaway precursors, and imbalance with a balancing
recommendation.

Cells in series carry the same current and share the same model errors, so each cell is judged *against the pack's
other cells*: common-mode effects (current-sensor offset, OCV-table error, temperature) cancel in the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SQRT6 = math.sqrt(6.0)


@dataclass(frozen=True)
class FaultConfig:
    # Internal short: the leak current estimated from the drift of each cell's charge against the pack median.
    short_window_s: float = 1800.0       # exponential window of the drift regression
    short_min_leak_a: float = 0.008      # leak current that counts as a short (3.7 V / 0.008 A ~ 460 ohm)
    # and stands out of the pack's spread by this many robust sigmas: at 5, a 100-ohm short (bench strings, 24 seeds)
    # was flagged after 2.01-2.11 h in 3 cases; at 4 within 1.97 h in all, with no false alarm in 9,000 healthy
    # cell-days; at 3.5 healthy strings raise 3-5 false alarms per 1,000 cell-days.
    short_robust_z: float = 4.0
    short_min_span_s: float = 1800.0     # time span needed before judging
    # and weighted evidence in the window, in seconds of relaxed low-current data (each sample counts by its
    # weight): a drive alone (weights ~0.02) never suffices, its voltages tell charge apart from model error badly.
    short_min_evidence_s: float = 150.0
    short_relaxed_v: float = 0.02        # model RC voltage (pack median) at which a sample counts half
    short_persist_s: float = 300.0       # the condition must hold this long
    short_hold_fall: float = 0.85        # without the leak falling under this share of its value when the hold began
    short_rc_prior_ah: float = 0.001     # how firmly the fit believes the model's relaxation (see _internal_short)
    short_error_z: float = 3.0           # and this many of its own standard errors out
    # Without rest in the window only a gross short is judged, fitted without the counted-charge regressor (under a
    # steady load it trades against time): healthy cells then drifted at most 0.013C (simulator packs, bench strings).
    short_gross_leak_c: float = 0.1
    short_gross_persist_s: float = 600.0
    short_gross_rss_ratio: float = 0.99  # a leak in time must fit the drift this much better than a capacity deficit
    short_offset_rss_ratio: float = 1.0  # and, judged on rests, than a voltage-sensor offset
    short_min_slope_v: float = 0.05      # OCV slope (V per unit SoC) below which the offset regressor is capped
    # A voltage offset from the first frame is judged only where the pack's OCV slope varied this much (weighted
    # spread of the offset regressor against its mean) in the window.
    steady_offset_min_slope_change: float = 0.2
    steady_offset_rss_ratio: float = 1.1  # and the offset must fit the drift this much better than a leak
    steady_offset_v: float = 0.03         # and be this large
    # ... or fitted on the OCV secant from the pack's median SoC down by this voltage, this much better
    steady_offset_secant_v: float = 0.05
    steady_offset_secant_rss_ratio: float = 2.5
    # Voltage sensors.
    stuck_samples: int = 6            # fault-check periods (averages) without any change
    offset_v: float = 0.015
    offset_persist_s: float = 60.0
    noise_ratio: float = 5.0          # a cell's noise std against the pack's median, and at least
    noise_min_v: float = 0.003        # this std (V) of the fault-check averages,
    # The raw samples' noise (RawNoise; sensors read 1-3 mV): estimated over hundreds of frames per check, so it
    # scatters little across healthy cells (2.2-2.6 mV on a simulated pack with 2 mV of noise) and a lower ratio holds.
    noise_raw_ratio: float = 3.0
    noise_raw_min_v: float = 0.006
    noise_persist_s: float = 30.0
    # Temperature (degC, K/min, K).
    temp_high_c: float = 60.0
    temp_low_c: float = -30.0
    dtdt_k_per_min: float = 1.0
    dtdt_window_s: float = 60.0       # time constant of the temperature slope fit
    spread_k: float = 15.0
    # Imbalance: recommend balancing above this charge difference (fraction of capacity).
    imbalance_fraction: float = 0.02
    balance_target_fraction: float = 0.005
    balance_period_s: float = 3600.0


class TemperatureSlope:
    """dT/dt per sensor as an exponentially weighted least-squares slope over the last ``window_s`` seconds.

    The difference of consecutive samples divided by the step is dominated by sensor noise (0.1 K of noise at 1 s is
    6 K/min per step, and a 30-s average of it still scatters by ~0.2 K/min, so a 1 K/min alarm fires by chance on a
    fleet). Fitted over a minute, the slope stayed within 0.12 K/min in 1,000 sensor-hours of 0.1 K noise and
    crosses 1 K/min 72 s after a 3 K/min rise starts (137 s for 1.5 K/min). Works for any, also irregular,
    sampling; no slope until ``min_span_s`` of data is in.
    """

    def __init__(self, window_s: float = 60.0, min_span_s: float = 60.0) -> None:
        self.window_s = window_s
        self.min_span_s = min_span_s
        self._t0: float | None = None   # time origin of the sums: the latest sample
        self._first: float | None = None
        self._s0 = 0.0
        self._st = 0.0
        self._stt = 0.0
        self._sy: np.ndarray | None = None
        self._sty: np.ndarray | None = None

    def update(self, t: float, temp: np.ndarray) -> np.ndarray | None:
        """Add a sample; returns the slope in K/min per sensor, or None while the fit has too little data."""
        if self._sy is None or self._sy.shape != temp.shape or self._t0 is None or t <= self._t0:
            if self._sy is not None and self._sy.shape == temp.shape and self._t0 is not None and t == self._t0:
                return None  # a repeated time adds nothing
            self._t0, self._first = t, t
            self._s0, self._st, self._stt = 0.0, 0.0, 0.0
            self._sy, self._sty = np.zeros(temp.shape), np.zeros(temp.shape)
        # Decay the sums and move their time origin to t (times are stored relative to the newest sample).
        d = t - self._t0
        w = math.exp(-d / self.window_s)
        self._stt = w * (self._stt - 2 * d * self._st + d * d * self._s0)
        self._st = w * (self._st - d * self._s0)
        self._s0 *= w
        self._sty = w * (self._sty - d * self._sy)
        self._sy = w * self._sy
        self._t0 = t
        self._s0 += 1.0
        self._sy = self._sy + temp
        assert self._first is not None
        den = self._s0 * self._stt - self._st * self._st
        if t - self._first < self.min_span_s or den <= 1e-12 * max(self._s0 * self._stt, 1e-300):
            return None
        return (self._s0 * self._sty - self._st * self._sy) / den * 60.0


@dataclass
class Alert:
    kind: str                  # internal_short | sensor_stuck | sensor_offset | sensor_noise | over_temperature |
    #                            under_temperature | thermal_runaway_precursor | temperature_spread
    severity: str              # warning | critical
    t: float
    cells: list[int]
    value: float
    message: str
    sensors: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "severity": self.severity, "t": self.t, "cells": self.cells,
                "sensors": self.sensors, "value": self.value, "message": self.message}


@dataclass
class BalancingCommand:
    t: float
    cells: list[int]
    charge_ah: list[float]     # charge to bleed from each listed cell (passive balancing)

    def to_dict(self) -> dict[str, object]:
        """The ``balancing`` command of docs/mqtt.md (cells 1-based), with the charge to bleed from each."""
        return {"id": f"balancing-{self.t:.3f}", "type": "balancing", "t": self.t,
                "cells": [c + 1 for c in self.cells], "charge_ah": [round(x, 6) for x in self.charge_ah]}


class _CellRegression:
    """Exponentially weighted least squares of every cell's series on its regressors, O(cells) per step.

    Most regressors (time, counted charge, current) are common to the cells of a series string; the last one may be
    the cell's own (an (n, k) array): each cell keeps its k x k Gram matrix, and one batched solve serves all.
    """

    def __init__(self, n: int, k: int, window_s: float) -> None:
        self.window_s = window_s
        self.G = np.zeros((n, k, k))
        self.B = np.zeros((n, k))
        # The same sums with squared weights and squared residuals (against the last full fit, before the sample):
        # the middle of the sandwich error, which holds where the residuals' size varies (rest noise against model
        # error under load) and the plain error did not.
        self.S = np.zeros((n, k, k))
        self.Y = np.zeros(n)  # weighted sum of squares of each cell's series, for residual sums
        self._theta: np.ndarray | None = None
        self.span = 0.0

    def add(self, dt: float, x: np.ndarray, y: np.ndarray, weight: float = 1.0) -> None:
        d = math.exp(-dt / self.window_s)
        self.G *= d
        self.B *= d
        self.S *= d * d
        self.Y *= d
        w = weight * dt  # a sample stands for its time step: G[:, 0, 0] is the weighted time in the window
        x = np.broadcast_to(x, self.B.shape)
        xx = x[:, :, None] * x[:, None, :]
        self.G += w * xx
        self.B += w * (y[:, None] * x)
        self.Y += w * (y * y)
        if self._theta is not None:
            r = y - np.einsum("nk,nk->n", x, self._theta)
            self.S += (w * w * r * r)[:, None, None] * xx
        self.span = self.span * d + dt

    @property
    def evidence_s(self) -> float:
        return float(self.G[0, 0, 0])

    def rss(self, prior: np.ndarray, keep: list[int]) -> np.ndarray | None:
        """Each cell's weighted residual sum of squares of the fit on the regressors ``keep``."""
        G, B = self.G[:, keep][:, :, keep], self.B[:, keep]
        sol = self._solve(G, B[:, :, None], prior)
        return None if sol is None else self._rss(sol[:, :, 0], G, B)

    def contrast(self, c: np.ndarray, prior: np.ndarray, keep: list[int] | None = None,
                 main: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Each cell's estimate of ``c . theta``, its standard error and the fit's residual sum of squares, or None
        when the fit cannot be solved.

        ``prior`` adds a precision per coefficient, holding it at 0; ``keep`` fits on those regressors only (the same
        sums, so no second accumulation; ``c`` and ``prior`` are then given over the kept ones). The error is the
        sandwich (heteroscedasticity-consistent) one, residuals taken as independent from sample to sample (those of
        the main fit, also for any other fit; ``main`` marks the fit whose residuals those are).
        """
        G, B, S = self.G, self.B, self.S
        if keep is not None:
            G, B, S = G[:, keep][:, :, keep], B[:, keep], S[:, keep][:, :, keep]
        sol = self._solve(G, np.stack([B, np.broadcast_to(c, B.shape)], axis=2), prior)
        if sol is None:
            return None
        theta, g_inv_c = sol[:, :, 0], sol[:, :, 1]
        if main:
            self._theta = np.zeros(self.B.shape)
            self._theta[:, keep if keep is not None else slice(None)] = theta
        # S holds squared residuals of the main fit: positive semi-definite, but rounding can leave a tiny negative.
        se = np.sqrt(np.maximum(np.einsum("nk,nkl,nl->n", g_inv_c, S, g_inv_c), 0.0))
        return theta @ c, se, self._rss(theta, G, B)

    def _rss(self, theta: np.ndarray, G: np.ndarray, B: np.ndarray) -> np.ndarray:
        return np.maximum(self.Y - 2.0 * np.einsum("nk,nk->n", theta, B)
                          + np.einsum("nk,nkl,nl->n", theta, G, theta), 0.0)

    @staticmethod
    def _solve(G: np.ndarray, rhs: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
        """Solve each cell's (G + ridge + prior) z = rhs, rhs (n, k, m)."""
        # A ridge of 1e-9 of the trace keeps a regressor that never moved (e.g. no current yet) harmless.
        k = G.shape[1]
        ridge = 1e-9 * np.trace(G, axis1=1, axis2=2) + 1e-12
        try:
            return np.linalg.solve(G + ridge[:, None, None] * np.eye(k) + np.diag(prior), rhs)
        except np.linalg.LinAlgError:
            return None


def _since(since: np.ndarray, cond: np.ndarray, t: float) -> np.ndarray:
    """Since when each cell's condition has held, given it held since ``since`` before (NaN: not held)."""
    return np.where(cond, np.where(np.isnan(since), t, since), np.nan)


class _Held:
    """Per cell: since when a short condition holds (NaN: not held) and the leak when the hold began."""

    def __init__(self, n: int) -> None:
        self.since = np.full(n, np.nan)
        self.leak = np.zeros(n)


class RawNoise:
    """Voltage noise of each cell at the frame rate, for the sensor-noise check.

    The fault checks see averages over seconds, which average white noise away (30 mV at 10 Hz reads 3 mV in 10 s
    averages). Here each clean frame adds the second time difference of every cell's deviation from the pack mean
    (the load cancels in the deviation, a drift cancels in the second difference; white noise of std s gives
    6 s^2), at a steady current only. :meth:`take` returns the mean over the frames since the last call, as a
    variance per cell, or None when too few frames were steady.
    """

    def __init__(self, n_cells: int, one_c_a: float, min_frames: int = 10) -> None:
        self.step_a = 0.05 * one_c_a
        self.min_frames = min_frames
        self._d1, self._d2, self._new = np.zeros(n_cells), np.zeros(n_cells), np.zeros(n_cells)
        self._tmp = np.zeros(n_cells)
        self._acc = np.zeros(n_cells)
        self._frames = 0
        self._history = 0
        self._i1 = self._i2 = 0.0

    def add(self, current_a: float, v: np.ndarray) -> None:
        np.subtract(v, v.mean(), out=self._new)
        if (self._history >= 2 and abs(current_a - self._i1) < self.step_a
                and abs(self._i1 - self._i2) < self.step_a):
            np.subtract(self._new, self._d1, out=self._tmp)
            self._tmp -= self._d1
            self._tmp += self._d2
            np.multiply(self._tmp, self._tmp, out=self._tmp)
            self._acc += self._tmp
            self._frames += 1
        self._d2, self._d1, self._new = self._d1, self._new, self._d2
        self._i2, self._i1 = self._i1, current_a
        self._history += 1

    def gap(self) -> None:
        """A frame that could not be used (missing cells, a gap): the differences start again."""
        self._history = 0

    def take(self) -> np.ndarray | None:
        var = self._acc / (6.0 * self._frames) if self._frames >= self.min_frames else None
        self._acc[:] = 0.0
        self._frames = 0
        return var


# Regressors of the leak fit (all but the voltage offset) and of the fit that puts an offset in place of the leak.
LEAK_FIT = [0, 1, 2, 3, 4]
OFFSET_FIT = [0, 2, 3, 4, 5]
OFFSET_COEF = np.array([0.0, 0.0, 0.0, 0.0, 1.0])  # the offset (V) among OFFSET_FIT's coefficients
SECANT_OFFSET_FIT = [0, 2, 3, 4, 6]  # the same on the secant regressor (a low reading near empty)


class FaultDetector:
    def __init__(self, n_cells: int, capacity_ah: np.ndarray | float, config: FaultConfig | None = None) -> None:
        self.cfg = config or FaultConfig()
        self.n = n_cells
        self.capacity_ah = np.asarray(capacity_ah, dtype=float) * np.ones(n_cells)
        # Regressors of the relative charge: 1, time (h), counted charge (Ah), current (A), the cell's own
        # relative charge in the model's RC voltages (Ah) and the charge a volt of offset on its voltage sensor
        # would read as (Ah/V), on the OCV tangent and on the secant below it (only to tell such an offset from a
        # leak and report it, see _internal_short).
        self._drift = _CellRegression(n_cells, 7, self.cfg.short_window_s)
        self._t0: float | None = None
        self._ah = 0.0
        self._i_slow = 0.0
        self._short_held = _Held(n_cells)
        self._steady_offset_held = _Held(n_cells)
        self._steady_offset_flagged = np.zeros(n_cells, dtype=bool)
        self._gross_held = _Held(n_cells)
        self._short_flagged = np.zeros(n_cells, dtype=bool)
        self._prev_v: np.ndarray | None = None
        self._prev_i = 0.0
        self._prev2_i = 0.0
        self._prev_d: np.ndarray | None = None
        self._prev2_d: np.ndarray | None = None
        self._stuck = np.zeros(n_cells, dtype=np.int64)
        self._stuck_flagged = np.zeros(n_cells, dtype=bool)
        self._d_fast = np.zeros(n_cells)
        self._d_slow: np.ndarray | None = None
        self._offset_since = np.full(n_cells, np.nan)
        self._offset_flagged = np.zeros(n_cells, dtype=bool)
        self._jump_t = np.full(n_cells, -np.inf)
        self._quiet_s = 0.0
        self._hf_var = np.zeros(n_cells)
        self._raw_var: np.ndarray | None = None
        self._noise_flagged = np.zeros(n_cells, dtype=bool)
        self._noise_since = np.full(n_cells, np.nan)
        self._dtdt = TemperatureSlope(self.cfg.dtdt_window_s)
        self._temp_flags: set[tuple[str, int]] = set()
        self._last_balance_t = -math.inf
        self.t_start: float | None = None
        self.leak_a = np.zeros(n_cells)
        # The current sensor's offset as learnt at rests (the worker sets it): see _leak.
        self.current_offset_a = 0.0

    # --- internal short -------------------------------------------------------------------------------------------
    def _internal_short(self, t: float, dt: float, current_a: float, soc_v: np.ndarray,
                        polarisation_v: np.ndarray | None, soc_static: np.ndarray | None,
                        ocv_slope: float | None, ocv_secant_slope: float | None = None) -> list[Alert]:
        """A short discharges its cell by V/R behind the current sensor's back: the cell's charge, as its own voltage
        tells it, drifts linearly in time against the pack median. Capacity differences make the relative charge
        follow the counted charge instead, resistance differences follow the current, relaxation differences the
        model's RC voltages: all are regressed out."""
        if self._t0 is None:
            self._t0 = t
        self._ah += current_a * dt / 3600.0
        rel = (soc_v - np.median(soc_v)) * self.capacity_ah
        x = np.empty((self.n, 7))
        x[:, :4] = (1.0, (t - self._t0) / 3600.0, self._ah, current_a)
        # While a rest begins, the model's RC voltages relax with the model's time constants, the cell's with its
        # own; mapped through each cell's slope of the OCV curve, the difference is a decaying drift of the cell's
        # charge against the pack that a line in time would take for a leak (parked near empty, a simulated cell
        # off the pack median by 3 % SoC drifted by 2 mAh in 8 min). The part of the relative charge the model's RC
        # voltages make up is regressed out per cell: the fit decides how far each cell's relaxation is believed.
        if soc_static is None:
            x[:, 4] = 0.0
        else:
            shift = (soc_v - soc_static) * self.capacity_ah
            x[:, 4] = shift - np.median(shift)
        # A voltage sensor reading off by dv from its first frame shows no step (the offset check's cue); it reads
        # as a charge of dv / slope, which changes as the SoC moves along the OCV curve: driven from 40 % SoC, a
        # 50 mV offset drifted like a 6 mA leak. Time and this regressor are both fitted (never together) to tell
        # the two apart. The slope is the pack's (at its median SoC): a cell's own would follow its own leak at
        # rest, where an offset's reading stands still.
        x[:, 5] = 0.0 if ocv_slope is None else self.capacity_ah / max(ocv_slope, self.cfg.short_min_slope_v)
        # A reported offset may also be fitted on the secant below the pack's median SoC: towards empty the OCV
        # curve steepens so fast that a low reading of 50 mV means much less charge than the tangent says (on the
        # tangent alone, 0 of 6 strings driven from 40 % SoC had it reported and one had a false short). Not used
        # to judge leaks: as their competitor it took a 300-ohm short for an offset (seed 12, missed in 9 h).
        secant_slope = ocv_slope if ocv_secant_slope is None else ocv_secant_slope
        x[:, 6] = 0.0 if secant_slope is None else self.capacity_ah / max(secant_slope, self.cfg.short_min_slope_v)
        # The voltage tells a cell's charge best near rest; under load, and while the cells relax after a load
        # (each with its own time constants), the model error dominates.
        one_c = float(np.median(self.capacity_ah))
        self._i_slow += min(dt / 600.0, 1.0) * (abs(current_a) - self._i_slow)
        c_rate = current_a / one_c
        w = 1.0 / (1.0 + (c_rate / 0.1) ** 2 + (self._i_slow / one_c / 0.05) ** 2)
        if polarisation_v is not None:
            # soc_v adds back the model's RC voltages; while they are large (the first minutes of a rest), their
            # error maps to different SoC shifts on each cell's slope of the OCV curve: parked near empty, a 25 mV
            # relaxation of the model moved healthy simulated cells 2 % apart. Such samples count less.
            rc = float(np.median(np.abs(polarisation_v)))
            w /= 1.0 + (rc / self.cfg.short_relaxed_v) ** 2
        self._drift.add(dt, x, rel, weight=w)
        if t - self._t0 < self.cfg.short_min_span_s:
            return []
        # The relaxation term gets a prior at 0 (the model's relaxation is right) worth the window's own evidence at
        # a shift of short_rc_prior_ah: without it, the extra unknown makes every cell's leak noisier (the 100-ohm
        # short was flagged up to 0.15 h later); held 10x harder, relaxation drifts came back as leaks.
        prior = np.zeros(7)
        prior[4] = self._drift.evidence_s * self.cfg.short_rc_prior_ah ** 2
        fit = self._leak(prior)
        if fit is None:
            return []
        self.leak_a = fit[0]
        cfg = self.cfg
        if self._drift.evidence_s >= cfg.short_min_evidence_s:
            # A leak must also fit the cell's drift better than an offset of its voltage sensor would.
            # A cell whose sensor was found off is not judged on its voltage any more (but still as a gross short).
            offset = self._drift.contrast(OFFSET_COEF, prior[OFFSET_FIT], OFFSET_FIT)
            eligible = ~self._steady_offset_flagged
            if offset is not None:
                eligible &= fit[2] < cfg.short_offset_rss_ratio * offset[2]
            alerts = self._judge(t, fit, cfg.short_min_leak_a, self._short_held, cfg.short_persist_s, "", eligible)
            secant = None if offset is None else \
                self._drift.contrast(OFFSET_COEF, prior[SECANT_OFFSET_FIT], SECANT_OFFSET_FIT)
            if offset is not None and secant is not None:
                alerts += self._steady_offset(t, [(offset, cfg.steady_offset_rss_ratio),
                                                  (secant, cfg.steady_offset_secant_rss_ratio)], fit[2])
            return alerts
        # Too little relaxed data in the window: no new judgement of an ordinary leak, the last one stands. A short
        # of a few ohms is judged all the same, fitted on time, current and relaxation only: a capacity difference
        # then reads as a leak of its share of the mean current (3 % of 0.3C is 0.009C), well under the threshold,
        # but a cell 15 % weak at a steady 0.7C read 0.125C. So the leak must also explain the cell's drift better
        # than a capacity deficit would (the same fit with the counted charge in place of time): under a steady
        # load the two fit alike (residual ratio 1.000) and nothing is judged; while driving, a 5-ohm short fitted
        # 2-6 % better in time.
        gross = self._leak(prior, keep=[0, 1, 3, 4])
        rss_capacity = self._drift.rss(prior[[0, 2, 3, 4]], [0, 2, 3, 4])
        if gross is None or rss_capacity is None:
            return []
        alerts = self._judge(t, gross, cfg.short_gross_leak_c * one_c, self._gross_held, cfg.short_gross_persist_s,
                             " under load", gross[2] < cfg.short_gross_rss_ratio * rss_capacity)
        return alerts

    def _leak(self, prior: np.ndarray,
              keep: list[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Each cell's leak against the pack median (A) from the drift fit, its standard error and the fit's
        residual sum of squares, or None when the fit cannot be solved."""
        kept = keep or LEAK_FIT
        c = np.zeros(len(kept))
        c[kept.index(1)] = -1.0  # the leak is minus the time coefficient (Ah per hour = A)
        if 2 in kept:
            # The counted charge carries the sensor offset times the time, so a cell whose capacity is off the pack's
            # by a fraction e (its counted-charge coefficient) shows a drift of e times the offset: a module 20 %
            # stronger than an aged pack read 10 mA of leak through a 0.05 A offset. Counting without the offset is
            # the same fit with the time coefficient moved by e * offset, so the learnt offset corrects it, over
            # the whole window, whenever it was learnt. In a rest the two are one unknown; its error is the sum's.
            c[kept.index(2)] = -self.current_offset_a
        fit = self._drift.contrast(c, prior[kept], kept, main=keep is None)
        if fit is None:
            return None
        leak, se, rss = fit
        return leak - np.median(leak), se, rss

    def _judge(self, t: float, fit: tuple[np.ndarray, ...], min_leak_a: float, held: _Held, persist_s: float,
               how: str, eligible: np.ndarray | bool = True) -> list[Alert]:
        """Flag the ``eligible`` cells whose leak is over ``min_leak_a``, out of the pack's spread and out of its own
        error, held for ``persist_s`` (``held`` is updated); returns the alerts (each cell once)."""
        leak, se = fit[0], fit[1]
        mad = 1.4826 * np.median(np.abs(leak)) + 1e-4
        # The spread of a dozen cells' leaks is itself uncertain: after a single 40 min rest at 85 % SoC (flat OCV)
        # healthy cells' leaks spread by +-8 mA with errors of 4-5 mA each; one stood 5.7 spreads but 2 errors out.
        cond = (leak > min_leak_a) & (leak / mad > self.cfg.short_robust_z) & (leak > self.cfg.short_error_z * se)
        cond &= eligible
        # A leak that fell by more than 15 % while held is still settling, as the rest evidence grows after a drive:
        # it starts its hold anew (healthy simulated cells' fell from 16.6 to 9 mA, and from 22 to 6 mA at about
        # 20 % per five minutes, in the first ten minutes of a park; at 25 % the second was flagged).
        settling = cond & ~np.isnan(held.since) & (leak < self.cfg.short_hold_fall * held.leak)
        start = cond & (np.isnan(held.since) | settling)
        held.since = np.where(start, t, np.where(cond, held.since, np.nan))
        held.leak = np.where(start, leak, held.leak)
        fire = cond & (t - held.since >= persist_s) & ~self._short_flagged
        self._short_flagged |= fire
        return [Alert("internal_short", "critical", t, [int(c)], float(leak[c]),
                      f"cell {int(c)} loses {1000 * leak[c]:.1f} mA against the pack{how}: suspected "
                      f"internal short") for c in np.nonzero(fire)[0]]

    def _steady_offset(self, t: float, fits: list[tuple[tuple[np.ndarray, ...], float]],
                       leak_rss: np.ndarray) -> list[Alert]:
        """A voltage-sensor offset present from the first frame, which the step check cannot see: flagged where an
        offset fit explains the cell's drift clearly better than a leak (the leak fit's residual sum ``leak_rss`` at
        least the fit's ratio times its own) and the fitted offset is large, out of the pack's spread and out of its
        own error, held for the short's persistence. ``fits``: (offset fit, its ratio), the first that holds counts.

        The tangent fit takes a high reading (50 mV: ratios 2.9-6.3 on strings driven from 40 % SoC); the secant
        fit a low one near empty (50 mV low: 3.8, where the tangent's was 1.03). The secant's needs the larger
        ratio: after 0.5-2C discharges from 80 to 20 % SoC, healthy cells reached 1.3-2.1 on it with 34-42 mV
        (7 false offsets in 108 runs at 1.1), and at most 1.09 on the tangent."""
        cfg = self.cfg
        # Only where the pack's OCV slope changed within the window is an offset told from a constant charge
        # difference: in a long rest (weighted spread of the regressor 0.1-1 % of its mean) healthy cells' fitted
        # offsets scattered by 12-180 mV and a few stood 4 spreads and 3 errors out (3 in 1,000 cell-days); after a
        # drive towards empty the spread was 100 %.
        g = self._drift.G[0]
        mean = g[0, 5] / max(g[0, 0], 1e-12)
        spread = math.sqrt(max(g[5, 5] / max(g[0, 0], 1e-12) - mean * mean, 0.0))
        if spread < cfg.steady_offset_min_slope_change * abs(mean):
            self._steady_offset_held.since[:] = np.nan
            return []
        cond = np.zeros(self.n, dtype=bool)
        dv = np.zeros(self.n)
        for fit, min_ratio in fits:
            d = fit[0] - np.median(fit[0])
            mad = 1.4826 * np.median(np.abs(d)) + 1e-4
            size = np.abs(d)
            ok = (leak_rss >= min_ratio * fit[2]) & (size > cfg.steady_offset_v) \
                & (size > cfg.short_error_z * fit[1]) & (size / mad > cfg.short_robust_z) & ~cond
            dv = np.where(ok, d, dv)
            cond |= ok
        cond &= ~self._offset_flagged & ~self._short_flagged
        held = self._steady_offset_held
        held.since = _since(held.since, cond, t)
        fire = cond & (t - held.since >= cfg.short_persist_s)
        self._offset_flagged |= fire
        self._steady_offset_flagged |= fire
        return [Alert("sensor_offset", "warning", t, [int(c)], float(dv[c]),
                      f"cell {int(c)} voltage reads {1000 * dv[c]:+.0f} mV off the pack at every SoC: suspected "
                      f"sensor offset (no step seen)") for c in np.nonzero(fire)[0]]

    # --- voltage sensors ------------------------------------------------------------------------------------------
    def _sensors(self, t: float, dt: float, current_a: float, v: np.ndarray,
                 raw_var: np.ndarray | None = None) -> list[Alert]:
        cfg = self.cfg
        alerts: list[Alert] = []
        d = v - np.median(v)
        one_c = float(np.median(self.capacity_ah))
        if self._prev_v is not None:
            dv = np.abs(v - self._prev_v)
            # Evidence of a frozen reading: the load changed and the other cells answered, this one did not.
            load_step = abs(current_a - self._prev_i) > 0.05 * one_c
            others_moving = load_step and np.median(dv) > 0.002
            self._stuck = np.where((dv == 0) & others_moving, self._stuck + 1, np.where(dv > 0.0015, 0, self._stuck))
            fire = (self._stuck >= cfg.stuck_samples) & ~self._stuck_flagged
            self._stuck_flagged |= fire
            alerts += [Alert("sensor_stuck", "warning", t, [int(c)], float(v[c]),
                             f"cell {int(c)} voltage frozen at {v[c]:.4f} V while the pack moves")
                       for c in np.nonzero(fire)[0]]
        steady = max(abs(current_a - self._prev_i), abs(self._prev_i - self._prev2_i)) < 0.05 * one_c
        judged: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (condition, std, pack typical std)
        if self._prev_d is not None and self._prev2_d is not None and steady:
            # Noise of each cell relative to the pack (d: the pack's load cancels), from the second difference in
            # time: a steady drift of d -- cells converging as a charge starts where the OCV curve is steep, or
            # relaxing at different rates -- cancels, white noise of std s gives 6 s^2. A first difference took such
            # drifts (9 mV per check on healthy simulated packs) for noise. Only at a steady current: a load change
            # moves d by the cell's resistance difference times the change, which is not noise either.
            hf = (d - 2.0 * self._prev_d + self._prev2_d) / SQRT6
            self._hf_var += min(dt / 60.0, 1.0) * (hf * hf - self._hf_var)
            std = np.sqrt(self._hf_var)
            judged.append(((self._hf_var > cfg.noise_ratio ** 2 * np.median(self._hf_var)) & (std > cfg.noise_min_v),
                           std, np.full_like(std, math.sqrt(np.median(self._hf_var)))))
        if raw_var is not None:
            # The same test on the raw samples' noise (RawNoise): white noise the averages hid.
            a = min(dt / 60.0, 1.0)
            self._raw_var = raw_var.copy() if self._raw_var is None else self._raw_var + a * (raw_var - self._raw_var)
            std = np.sqrt(self._raw_var)
            judged.append(((self._raw_var > cfg.noise_raw_ratio ** 2 * np.median(self._raw_var))
                           & (std > cfg.noise_raw_min_v), std, np.full_like(std, math.sqrt(np.median(self._raw_var)))))
        if judged:
            cond = np.logical_or.reduce([c for c, _, _ in judged]) & ~self._stuck_flagged
            # Report the estimate that found the cell noisy (the raw one when both did: it is the sensor's own).
            std, ref = judged[0][1].copy(), judged[0][2].copy()
            for c, s, r in judged[1:]:
                std, ref = np.where(c, s, std), np.where(c, r, ref)
            self._noise_since = _since(self._noise_since, cond, t)
            fire = cond & (t - self._noise_since >= cfg.noise_persist_s) & ~self._noise_flagged
            self._noise_flagged |= fire
            alerts += [Alert("sensor_noise", "warning", t, [int(c)], float(std[c]),
                             f"cell {int(c)} voltage noise {1000 * std[c]:.1f} mV, pack typical "
                             f"{1000 * ref[c]:.1f} mV") for c in np.nonzero(fire)[0]]
        # Offset: a step of the cell's deviation from the pack at low current (load differences excluded).
        low_current = abs(current_a) < 0.05 * one_c
        self._quiet_s = self._quiet_s + dt if low_current else 0.0
        if low_current and self._quiet_s >= 60.0 and self._prev_d is not None:
            # A sensor offset arrives in one sample; cells relaxing at different rates after a drive move their
            # deviations by as much, but over minutes (and the first minute of a rest holds the ohmic and fast
            # relaxation). Only a cell that jumped between two samples of a settled rest qualifies.
            jumped = np.abs(d - self._prev_d) > 0.5 * cfg.offset_v
            self._jump_t = np.where(jumped, t, self._jump_t)
        if low_current:
            if self._d_slow is None or self._quiet_s <= dt:
                # Each rest starts its own reference: the cells' deviations after a charge or drive are not those
                # of the rest before it (kept, the previous rest's reference read as a 25 mV step for minutes).
                self._d_slow = d.copy()
                self._d_fast = d.copy()
            self._d_fast += min(dt / 20.0, 1.0) * (d - self._d_fast)
            # The reference is a running mean at first (no single noisy sample anchors it), then follows within
            # ten minutes: a step, not a drift (a short's slow drift is judged by the short detector).
            self._d_slow += min(dt / min(self._quiet_s, 600.0), 1.0) * (d - self._d_slow)
            step = self._d_fast - self._d_slow
            cond = (np.abs(step) > cfg.offset_v) & (self._quiet_s > 120.0) & ~self._stuck_flagged \
                & ~self._noise_flagged & (t - self._jump_t <= cfg.offset_persist_s + 300.0)
            self._offset_since = _since(self._offset_since, cond, t)
            fire = cond & (t - self._offset_since >= cfg.offset_persist_s) & ~self._offset_flagged
            self._offset_flagged |= fire
            alerts += [Alert("sensor_offset", "warning", t, [int(c)], float(step[c]),
                             f"cell {int(c)} voltage jumped {1000 * step[c]:+.0f} mV against the pack at rest")
                       for c in np.nonzero(fire)[0]]
        self._prev_v = v.copy()
        self._prev2_d = self._prev_d
        self._prev_d = d
        self._prev2_i = self._prev_i
        self._prev_i = current_a
        return alerts

    # --- temperature ----------------------------------------------------------------------------------------------
    def _temperature(self, t: float, dt: float, temp: np.ndarray) -> list[Alert]:
        cfg = self.cfg
        alerts: list[Alert] = []
        if temp.size == 0:
            return alerts
        rate = self._dtdt.update(t, temp)

        def once(kind: str, idx: int, severity: str, value: float, msg: str) -> None:
            if (kind, idx) not in self._temp_flags:
                self._temp_flags.add((kind, idx))
                alerts.append(Alert(kind, severity, t, [], value, msg, sensors=[idx]))

        for j in np.nonzero(temp > cfg.temp_high_c)[0]:
            once("over_temperature", int(j), "critical", float(temp[j]), f"sensor {j} at {temp[j]:.1f} degC")
        for j in np.nonzero(temp < cfg.temp_low_c)[0]:
            once("under_temperature", int(j), "warning", float(temp[j]), f"sensor {j} at {temp[j]:.1f} degC")
        if rate is not None:
            for j in np.nonzero(rate > cfg.dtdt_k_per_min)[0]:
                once("thermal_runaway_precursor", int(j), "critical", float(rate[j]),
                     f"sensor {j} rising {rate[j]:.2f} K/min")
        spread = float(temp.max() - temp.min()) if temp.size > 1 else 0.0
        if spread > cfg.spread_k:
            once("temperature_spread", int(np.argmax(temp)), "warning", spread, f"temperature spread {spread:.1f} K")
        return alerts

    # --- imbalance ------------------------------------------------------------------------------------------------
    def balancing(self, t: float, soc: np.ndarray, capacity_ah: np.ndarray) -> BalancingCommand | None:
        """Passive balancing: bleed every cell down to the SoC of the emptiest one, when the SoC spread exceeds
        ``imbalance_fraction``; at most once per ``balance_period_s``."""
        cfg = self.cfg
        if t - self._last_balance_t < cfg.balance_period_s:
            return None
        s = np.clip(soc, 0.0, 1.0)
        spread = s - np.min(s)
        if np.max(spread) <= cfg.imbalance_fraction:
            return None
        excess = spread * capacity_ah
        cells = np.nonzero(spread > cfg.balance_target_fraction)[0]
        self._last_balance_t = t
        return BalancingCommand(t, [int(c) for c in cells], [float(excess[c]) for c in cells])

    def update(self, t: float, dt: float, current_a: float, voltage_v: np.ndarray, temperature_c: np.ndarray,
               soc_v: np.ndarray, polarisation_v: np.ndarray | None = None,
               raw_noise_var: np.ndarray | None = None, soc_static: np.ndarray | None = None,
               ocv_slope: float | None = None, ocv_secant_slope: float | None = None) -> list[Alert]:
        """One step with clean data (the worker filters bad samples before). ``soc_v`` is the SoC each cell's
        voltage implies under its model (OCV inverse of the voltage plus the overpotentials), ``polarisation_v``
        the model's RC voltages in it, ``raw_noise_var`` the voltage noise of the raw samples (:class:`RawNoise`),
        ``soc_static`` the SoC the voltage implies without the RC voltages (the short check regresses the
        difference out, see :meth:`_internal_short`), ``ocv_slope`` the OCV slope at the median of ``soc_v`` (V per
        unit SoC; tells a voltage-sensor offset from a leak), ``ocv_secant_slope`` the secant from there down by
        ``steady_offset_secant_v`` (the slope a reported steady offset is fitted on)."""
        alerts = self._sensors(t, dt, current_a, voltage_v, raw_noise_var)
        alerts += self._internal_short(t, dt, current_a, soc_v, polarisation_v, soc_static, ocv_slope,
                                       ocv_secant_slope)
        alerts += self._temperature(t, dt, temperature_c)
        return alerts
