"""Remaining useful life of a live pack: its capacity estimates as they arrive, against its full equivalent cycles,
fitted with the fade model of :mod:`packtwin.analytics.rul` and given in cycles and in days.

Days come from the pack's own pace: the time per full equivalent cycle over the history seen so far. That assumes
the pack keeps being used as it has been (a fleet vehicle on its duty cycle); calendar ageing while parked is in
the capacities it has shown, not modelled apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from packtwin.analytics.rul import CapacityHistory, fit_and_predict

# Capacity change over the history before a fit means anything: a fit through a flat line extrapolates only its
# prior, so no remaining useful life is given until the pack has faded this much (percent of rated).
MIN_FADE_PCT = 0.5
MIN_POINTS = 4


@dataclass(frozen=True)
class RulEstimate:
    t: float                      # data time of the fit (s since the epoch)
    eol_capacity_ah: float
    full_equivalent_cycles: float
    rul_cycles: float
    rul_cycles_lower_90: float
    rul_cycles_upper_90: float
    days_per_cycle: float | None  # None until the history spans some time and some cycles
    rul_days: float | None
    rul_days_lower_90: float | None
    rul_days_upper_90: float | None

    def to_dict(self) -> dict[str, object]:
        doc = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in self.__dict__.items()}
        return {"available": True, **doc}


class RulTracker:
    """Collects ``(t, full equivalent cycles, capacity)`` of one pack and refits at most once per ``refit_s``."""

    def __init__(self, rated_capacity_ah: float, eol_fraction: float = 0.8, refit_s: float = 3600.0,
                 max_points: int = 256, samples: int = 1000) -> None:
        if not 0.0 < eol_fraction < 1.0:
            raise ValueError("the end-of-life fraction of rated capacity is between 0 and 1")
        self.rated_capacity_ah = float(rated_capacity_ah)
        self.eol_capacity_ah = eol_fraction * self.rated_capacity_ah
        self.refit_s, self.max_points, self.samples = refit_s, max_points, samples
        self.points: list[tuple[float, float, float]] = []
        self.last: RulEstimate | None = None
        self.reason = "no capacity estimate yet"
        self._fit_t = -math.inf
        self._fitted_points = 0

    def add(self, t: float, full_equivalent_cycles: float, capacity_ah: float) -> None:
        if not (math.isfinite(t) and math.isfinite(full_equivalent_cycles) and math.isfinite(capacity_ah)):
            return
        if self.points and full_equivalent_cycles <= self.points[-1][1]:
            # No cycling since the last estimate: it replaces that one (the cycle axis must increase).
            self.points[-1] = (t, self.points[-1][1], capacity_ah)
        else:
            self.points.append((t, full_equivalent_cycles, capacity_ah))
        del self.points[:-self.max_points]

    def estimate(self, t: float) -> RulEstimate | None:
        """The latest fit, refitted when there are new points and ``refit_s`` has passed; None (with
        :attr:`reason`) until the history supports one."""
        if len(self.points) == self._fitted_points or t - self._fit_t < self.refit_s:
            return self.last
        self._fit_t, self._fitted_points = t, len(self.points)
        ts, efc, cap = (np.array(x, dtype=float) for x in zip(*self.points, strict=True))
        fade_pct = 100.0 * (cap.max() - cap.min()) / self.rated_capacity_ah
        if len(cap) < MIN_POINTS:
            self.reason = f"{len(cap)} capacity estimates so far, {MIN_POINTS} needed"
            return self.last
        if fade_pct < MIN_FADE_PCT:
            self.reason = f"no measurable capacity fade yet ({fade_pct:.2f} % so far, {MIN_FADE_PCT} % needed)"
            return self.last
        res = fit_and_predict(CapacityHistory(efc, cap), self.eol_capacity_ah, samples=self.samples)
        now = float(efc[-1])
        cycles = (max(res.eol_cycle - now, 0.0), max(res.eol_cycle_lower_90 - now, 0.0),
                  max(res.eol_cycle_upper_90 - now, 0.0))
        span_efc, span_days = now - float(efc[0]), (float(ts[-1]) - float(ts[0])) / 86400.0
        dpc = span_days / span_efc if span_efc > 0 and span_days > 0 else None
        days = tuple(c * dpc for c in cycles) if dpc is not None else (None, None, None)
        self.last = RulEstimate(t, self.eol_capacity_ah, now, *cycles, dpc, *days)
        self.reason = ""
        return self.last
