"""Remaining useful life: a capacity-fade model fitted with uncertainty (Bayesian), end of life as the first cycle from
which the capacity stays below a threshold.

Fade model: ``C(k) = a + A * exp(-k / tau) - beta * k`` -- an early transient (SEI formation, break-in) decaying with
``tau`` plus a steady linear fade. For a given ``tau`` the model is linear in ``(a, A, beta)``, so the posterior is a
conjugate Gaussian / inverse-gamma one; ``tau`` is marginalised over a grid by the model evidence. Predictions are
drawn from the joint posterior (Student-t in the parameters), which gives the 90 % interval.

Real data is dirty. Readings that are not capacities (zero or far below their neighbours) are removed; the recovery
after a rest and other isolated spikes are removed by a Hampel filter against the running median, so they do not
count as the trend.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from os import PathLike

import numpy as np

TAU_GRID = np.geomspace(0.5, 200.0, 48)
TAU_MAX_FRACTION = 5.0
HAMPEL_HALF_WINDOW = 3
HAMPEL_SIGMAS = 3.0
# Readings below this fraction of the running median are not capacities (logger zeros, aborted cycles).
INVALID_FRACTION = 0.5
MAX_HORIZON_FACTOR = 50


@dataclass
class CapacityHistory:
    cycle: np.ndarray
    capacity_ah: np.ndarray


def read_capacity(path: str | PathLike[str]) -> CapacityHistory:
    cycles: list[float] = []
    caps: list[float] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"cycle", "capacity_ah"} <= {f.strip() for f in reader.fieldnames}:
            raise ValueError(f"{path}: expected columns cycle,capacity_ah")
        for row in reader:
            row = {k.strip(): v for k, v in row.items() if k is not None}
            try:
                k = float(row["cycle"])
            except (TypeError, ValueError):
                continue  # a row without a cycle number cannot be placed
            try:
                c = float(row["capacity_ah"])
            except (TypeError, ValueError):
                c = math.nan
            cycles.append(k)
            caps.append(c)
    if not cycles:
        raise ValueError(f"{path}: no data rows")
    order = np.argsort(cycles, kind="stable")
    return CapacityHistory(np.asarray(cycles)[order], np.asarray(caps)[order])


def clean(history: CapacityHistory) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Drop missing, non-capacity and isolated outlier readings; returns kept cycles, capacities and counts."""
    k, c = history.cycle.astype(float), history.capacity_ah.astype(float)
    counts = {"missing": 0, "invalid": 0, "outlier": 0}
    ok = np.isfinite(c) & np.isfinite(k)
    counts["missing"] = int((~ok).sum())
    k, c = k[ok], c[ok]
    # Duplicated cycle numbers: keep the last reading.
    _, last = np.unique(k[::-1], return_index=True)
    keep = np.sort(len(k) - 1 - last)
    k, c = k[keep], c[keep]
    med = _running_median(c, HAMPEL_HALF_WINDOW * 2)
    valid = (c > 0) & (c > INVALID_FRACTION * med)
    counts["invalid"] = int((~valid).sum())
    k, c = k[valid], c[valid]
    if len(c) >= 5:
        med = _neighbour_median(c, HAMPEL_HALF_WINDOW)
        dev = np.abs(c - med)
        mad = 1.4826 * np.median(dev) + 1e-9
        inlier = dev <= HAMPEL_SIGMAS * mad
        counts["outlier"] = int((~inlier).sum())
        k, c = k[inlier], c[inlier]
    return k, c, counts


def _neighbour_median(x: np.ndarray, half: int) -> np.ndarray:
    """Median of the neighbours within ``half`` on each side, the point itself excluded (so an outlier does not
    vote for itself and the spread of normal points is not underestimated)."""
    n = len(x)
    return np.array([np.median(np.r_[x[max(0, i - half):i], x[i + 1:min(n, i + half + 1)]]) for i in range(n)])


def _running_median(x: np.ndarray, half: int) -> np.ndarray:
    n = len(x)
    return np.array([np.median(x[max(0, i - half): min(n, i + half + 1)]) for i in range(n)])


@dataclass
class RulResult:
    eol_capacity_ah: float
    eol_cycle: float
    eol_cycle_lower_90: float
    eol_cycle_upper_90: float
    last_cycle: float
    rul_cycles: float
    capacity_now_ah: float
    already_reached: bool
    model: str
    counts: dict[str, int]
    tau_posterior_mode: float

    def to_dict(self) -> dict[str, object]:
        return {
            "eol_capacity_ah": self.eol_capacity_ah,
            "eol_cycle": self.eol_cycle,
            "eol_cycle_lower_90": self.eol_cycle_lower_90,
            "eol_cycle_upper_90": self.eol_cycle_upper_90,
            "last_cycle": self.last_cycle,
            "rul_cycles": self.rul_cycles,
            "capacity_now_ah": self.capacity_now_ah,
            "already_reached": self.already_reached,
            "model": self.model,
            "tau_posterior_mode_cycles": self.tau_posterior_mode,
            "removed_readings": self.counts,
        }


def _design(k: np.ndarray, tau: float) -> np.ndarray:
    """Columns 1, exp(-k/tau), -k; ``tau = 0`` is the model without a transient (a zero column)."""
    transient = np.exp(-k / tau) if tau > 0 else np.zeros_like(k)
    return np.column_stack([np.ones_like(k), transient, -k])


def fit_and_predict(history: CapacityHistory, eol_capacity_ah: float, samples: int = 4000, seed: int = 0,
                    days_per_cycle: float | None = None) -> RulResult:
    """Fit the fade model and predict the end-of-life cycle with a 90 % interval."""
    if not (eol_capacity_ah > 0 and math.isfinite(eol_capacity_ah)):
        raise ValueError("the end-of-life capacity must be a positive number")
    k, c, counts = clean(history)
    if len(c) < 4:
        raise ValueError(f"need at least 4 valid capacity readings, got {len(c)}")
    last = float(k[-1])
    reached = _observed_eol(k, c, eol_capacity_ah)
    scale = float(np.median(c))
    y = c / scale
    n = len(y)
    # Weakly informative prior on (a, A, beta) in units of the median capacity; beta per cycle.
    span = max(float(k[-1] - k[0]), 1.0)
    m0 = np.array([1.0, 0.0, 0.0])
    s0 = np.array([1.0, 0.2, 1.0 / span])
    noise0 = 0.01  # prior guess of the reading noise: ~1 % of capacity
    # Normal-inverse-gamma prior: theta | sigma^2 ~ N(m0, sigma^2 V0), so V0 is the prior covariance in units of
    # the noise variance.
    prec0 = np.diag((noise0 / s0) ** 2)
    a0, b0 = 2.0, 2.0 * noise0 ** 2
    posts = []
    # The transient must die out within the record: a time constant as long as the record would pass a linear fade
    # off as a transient and then extrapolate it as if it stopped.
    # Model averaging: half the prior mass on a plain linear fade (tau = 0), half spread over the transients, so a
    # transient has to earn its extra parameter (Occam's razor through the evidence).
    tau_max = TAU_MAX_FRACTION * span
    grid_t = TAU_GRID
    taus = np.r_[0.0, grid_t[grid_t <= tau_max]]
    log_prior = np.r_[math.log(0.5), np.full(len(taus) - 1, math.log(0.5 / max(len(taus) - 1, 1)))]
    log_ev = np.empty(len(taus))
    for j, tau in enumerate(taus):
        X = _design(k, tau)
        prec = prec0 + X.T @ X
        cov = np.linalg.inv(prec)
        mean = cov @ (prec0 @ m0 + X.T @ y)
        an = a0 + n / 2.0
        bn = b0 + 0.5 * (y @ y + m0 @ prec0 @ m0 - mean @ prec @ mean)
        bn = max(bn, 1e-12)
        _, logdet0 = np.linalg.slogdet(prec0)
        _, logdetn = np.linalg.slogdet(prec)
        log_ev[j] = (0.5 * (logdet0 - logdetn) + a0 * math.log(b0) - an * math.log(bn)
                     + math.lgamma(an) - math.lgamma(a0) - 0.5 * n * math.log(2 * math.pi))
        posts.append((mean, cov, an, bn))
    log_post = log_ev + log_prior
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(taus), size=samples, p=w)
    horizon = last + MAX_HORIZON_FACTOR * max(last, 10.0)
    grid = np.arange(math.floor(last) + 1, math.ceil(horizon) + 1, dtype=float)
    eols = np.full(samples, np.inf)
    thr = eol_capacity_ah / scale
    for j in np.unique(picks):
        idx = np.nonzero(picks == j)[0]
        mean, cov, an, bn = posts[j]
        # Multivariate Student-t draws: Gaussian scaled by an inverse-gamma variance.
        var = bn / rng.gamma(an, 1.0, size=len(idx))
        z = rng.multivariate_normal(np.zeros(3), cov, size=len(idx)) * np.sqrt(var)[:, None]
        theta = mean + z
        theta[:, 2] = np.maximum(theta[:, 2], 0.0)  # capacity does not grow back in the long run
        pred = _design(grid, taus[j]) @ theta.T  # (len(grid), m)
        eols[idx] = _first_stay_below(grid, pred, thr)
    if reached is not None:
        eol, lo, hi = reached, reached, reached
    else:
        finite = np.where(np.isfinite(eols), eols, horizon)
        eol = float(np.median(finite))
        lo, hi = (float(x) for x in np.quantile(finite, [0.05, 0.95]))
    res = RulResult(eol_capacity_ah=eol_capacity_ah, eol_cycle=eol, eol_cycle_lower_90=lo, eol_cycle_upper_90=hi,
                    last_cycle=last, rul_cycles=max(eol - last, 0.0), capacity_now_ah=float(np.median(c[-5:])),
                    already_reached=reached is not None, model="a + A*exp(-k/tau) - beta*k, Bayesian model average over tau (0 = linear)",
                    counts=counts, tau_posterior_mode=float(taus[int(np.argmax(w))]))
    if days_per_cycle:
        res.__dict__["days_per_cycle"] = days_per_cycle
    return res


def _first_stay_below(grid: np.ndarray, pred: np.ndarray, thr: float) -> np.ndarray:
    """First grid cycle from which each column of ``pred`` stays below ``thr``; inf when never within the grid."""
    above = pred >= thr
    # Index of the last cycle still at or above the threshold; EOL is the one after it.
    rev = above[::-1]
    any_above = above.any(axis=0)
    last_above = len(grid) - 1 - np.argmax(rev, axis=0)
    out = np.where(any_above, np.minimum(last_above + 1, len(grid) - 1), 0)
    res = grid[out].astype(float)
    res[any_above & (last_above == len(grid) - 1)] = np.inf
    return res


def _observed_eol(k: np.ndarray, c: np.ndarray, thr: float, confirm: int = 5) -> float | None:
    """The end of life already in the data: the first cycle from which at least ``confirm`` clean readings
    (all that follow) are below the threshold."""
    below = c < thr
    if below.sum() < confirm or not below[-1]:
        return None
    i = len(c)
    while i > 0 and below[i - 1]:
        i -= 1
    return float(k[i]) if len(c) - i >= confirm else None
