"""Remaining useful life: a capacity-fade model fitted with uncertainty (Bayesian), end of life as the first cycle from
which the capacity stays below a threshold.

Fade model: ``C(k) = a + A * exp(-k / tau) - beta * k**z`` -- an early transient (SEI formation, break-in) decaying
with ``tau`` plus a steady fade that is linear (``z = 1``) or slows down (``z < 1``; SEI growth goes as the square root
of time, cells aged in the cold slow down further). For given ``(tau, z)`` the model is linear in ``(a, A, beta)``, so
the posterior is a conjugate Gaussian / inverse-gamma one; ``tau`` and ``z`` are marginalised over a grid by the model
evidence. Predictions are drawn from the joint posterior (Student-t in the parameters), which gives the 90 % interval.

End of life is defined on readings -- the first cycle from which they stay below the threshold -- so it is predicted
on readings: each draw's future is its trend plus reading noise of the draw's own variance, after the clean readings
so far. A trend that touches the threshold while the readings still scatter above it has not reached end of life.

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
# Exponents of the steady fade k**z: 1 is linear; below 1 the fade slows down (SEI growth goes as sqrt(time)).
FADE_EXPONENTS = tuple(np.arange(1, 9) / 8)  # 0.125 ... 1, a uniform grid over (0, 1]
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
    exponent_posterior_mode: float

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
            "exponent_posterior_mode": self.exponent_posterior_mode,
            "removed_readings": self.counts,
        }


def _design(k: np.ndarray, tau: float, z: float) -> np.ndarray:
    """Columns 1, exp(-k/tau), -k**z; ``tau = 0`` is the model without a transient (a zero column)."""
    transient = np.exp(-k / tau) if tau > 0 else np.zeros_like(k)
    return np.column_stack([np.ones_like(k), transient, -(k ** z)])


def _models(span: float) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The (tau, z) grid and its log prior. Half the mass on no transient and half spread over the transients; half
    on the linear fade (z = 1) and half spread over the slowing ones: an extra shape has to earn its place through
    the evidence (Occam's razor). On a short, flat record every shape fits alike, and a uniform prior over z would
    let the flattest extrapolations push the end of life far out."""
    limit = TAU_MAX_FRACTION * span
    grid_t = TAU_GRID[np.less_equal(TAU_GRID, limit)]
    taus = np.r_[0.0, grid_t]
    tau_prior = np.r_[0.5, np.full(len(taus) - 1, 0.5 / max(len(taus) - 1, 1))]
    n_slow = sum(z != 1.0 for z in FADE_EXPONENTS)
    z_prior = np.array([0.5 if z == 1.0 else 0.5 / n_slow for z in FADE_EXPONENTS])
    z_prior /= z_prior.sum()
    models = [(float(t), float(z)) for t in taus for z in FADE_EXPONENTS]
    log_prior = np.log(np.outer(tau_prior, z_prior).ravel())
    return models, log_prior


def fit_and_predict(history: CapacityHistory, eol_capacity_ah: float, samples: int = 4000, seed: int = 0,
                    days_per_cycle: float | None = None) -> RulResult:
    """Fit the fade model and predict the end-of-life cycle with a 90 % interval."""
    if not (eol_capacity_ah > 0 and math.isfinite(eol_capacity_ah)):
        raise ValueError("the end-of-life capacity must be a positive number")
    k, c, counts = clean(history)
    if len(c) < 4:
        raise ValueError(f"need at least 4 valid capacity readings, got {len(c)}")
    last = float(k[-1])
    scale = float(np.median(c))
    y = c / scale
    n = len(y)
    span = max(float(k[-1] - k[0]), 1.0)
    models, log_prior = _models(span)
    noise0 = 0.01  # prior guess of the reading noise: ~1 % of capacity
    a0, b0 = 2.0, 2.0 * noise0 ** 2
    m0 = np.array([1.0, 0.0, 0.0])
    posts = []
    log_ev = np.empty(len(models))
    for j, (tau, z) in enumerate(models):
        # Weakly informative prior on (a, A, beta) in units of the median capacity; beta per cycle**z. Normal-
        # inverse-gamma: theta | sigma^2 ~ N(m0, sigma^2 V0), V0 the prior covariance in units of the noise variance.
        s0 = np.array([1.0, 0.2, 1.0 / span ** z])
        prec0 = np.diag((noise0 / s0) ** 2)
        X = _design(k, tau, z)
        prec = prec0 + X.T @ X
        cov = np.linalg.inv(prec)
        mean = cov @ (prec0 @ m0 + X.T @ y)
        an = a0 + n / 2.0
        bn = max(b0 + 0.5 * (y @ y + m0 @ prec0 @ m0 - mean @ prec @ mean), 1e-12)
        _, logdet0 = np.linalg.slogdet(prec0)
        _, logdetn = np.linalg.slogdet(prec)
        log_ev[j] = (0.5 * (logdet0 - logdetn) + a0 * math.log(b0) - an * math.log(bn)
                     + math.lgamma(an) - math.lgamma(a0) - 0.5 * n * math.log(2 * math.pi))
        posts.append((mean, cov, an, bn))
    log_post = log_ev + log_prior
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(models), size=samples, p=w)
    horizon = last + MAX_HORIZON_FACTOR * max(last, 10.0)
    grid = np.arange(math.floor(last) + 1, math.ceil(horizon) + 1, dtype=float)
    thr = eol_capacity_ah / scale
    # End of life is defined on readings ("stays below"), so it is predicted on readings: each posterior draw's
    # future is its trend plus reading noise of the draw's own variance, appended to the clean readings so far.
    cycles = np.r_[k, grid]
    observed_above = y >= thr
    eols = np.full(samples, np.inf)
    for j in np.unique(picks):
        idx = np.nonzero(picks == j)[0]
        mean, cov, an, bn = posts[j]
        tau, z = models[j]
        # Multivariate Student-t draws: Gaussian scaled by an inverse-gamma variance.
        var = bn / rng.gamma(an, 1.0, size=len(idx))
        sd = np.sqrt(var)
        theta = mean + rng.multivariate_normal(np.zeros(3), cov, size=len(idx)) * sd[:, None]
        theta[:, 2] = np.maximum(theta[:, 2], 0.0)  # capacity does not grow back in the long run
        pred = _design(grid, tau, z) @ theta.T + rng.standard_normal((len(grid), len(idx))) * sd
        above = np.vstack([np.repeat(observed_above[:, None], len(idx), axis=1), pred >= thr])
        eols[idx] = _first_stay_below(cycles, above)
    finite = np.where(np.isfinite(eols), eols, horizon)
    eol = float(np.median(finite))
    lo, hi = (float(x) for x in np.quantile(finite, [0.05, 0.95]))
    res = RulResult(eol_capacity_ah=eol_capacity_ah, eol_cycle=eol, eol_cycle_lower_90=lo, eol_cycle_upper_90=hi,
                    last_cycle=last, rul_cycles=max(eol - last, 0.0), capacity_now_ah=float(np.median(c[-5:])),
                    already_reached=eol <= last,
                    model="a + A*exp(-k/tau) - beta*k**z, Bayesian model average over tau (0 = none) and z",
                    counts=counts, tau_posterior_mode=float(models[int(np.argmax(w))][0]),
                    exponent_posterior_mode=float(models[int(np.argmax(w))][1]))
    if days_per_cycle:
        res.__dict__["days_per_cycle"] = days_per_cycle
    return res


def _first_stay_below(cycles: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Per column of ``above`` (cycles x draws): the cycle after the last reading at or above the threshold (the
    first cycle if none is); inf when the last cycle is still above (not within the horizon)."""
    n = len(cycles)
    any_above = above.any(axis=0)
    last_above = n - 1 - np.argmax(above[::-1], axis=0)
    nxt = np.minimum(last_above + 1, n - 1)
    out = np.where(any_above, cycles[nxt], cycles[0]).astype(float)
    out[any_above & (last_above == n - 1)] = np.inf
    return out
