from __future__ import annotations

import numpy as np
import pytest

from packtwin.analytics.prognostics import MIN_FADE_PCT, RulTracker

DAY = 86400.0


def _feed(tracker: RulTracker, cycles: np.ndarray, capacity: np.ndarray, days_per_cycle: float) -> None:
    for k, c in zip(cycles, capacity, strict=True):
        tracker.add(1.7e9 + k * days_per_cycle * DAY, float(k), float(c))


def test_remaining_useful_life_in_cycles_and_days_of_a_linear_fade():
    # 5 Ah pack losing 0.5 mAh per full cycle, read with 0.3 % noise, one full cycle every two days: from 800
    # cycles (4.6 Ah) it reaches 4.0 Ah (80 %) at cycle 2000, i.e. 1200 cycles = 2400 days ahead.
    rng = np.random.default_rng(1)
    cycles = np.arange(0, 801, 40, dtype=float)
    cap = 5.0 - 5e-4 * cycles + 0.015 * rng.standard_normal(len(cycles))
    tracker = RulTracker(5.0)
    _feed(tracker, cycles, cap, 2.0)
    est = tracker.estimate(1.7e9 + 1600 * DAY)
    assert est is not None
    assert est.full_equivalent_cycles == 800.0
    assert est.days_per_cycle == pytest.approx(2.0)
    assert est.rul_cycles == pytest.approx(1200, rel=0.15)
    assert est.rul_days == pytest.approx(2400, rel=0.15)
    assert est.rul_cycles_lower_90 <= 1200 <= est.rul_cycles_upper_90
    assert est.rul_days_lower_90 <= est.rul_days <= est.rul_days_upper_90
    assert est.to_dict()["available"] is True


def test_no_estimate_before_the_history_shows_fade_and_refits_are_rate_limited():
    tracker = RulTracker(5.0, refit_s=3600.0)
    assert tracker.estimate(0.0) is None
    _feed(tracker, np.arange(6.0), np.full(6, 5.0), 1.0)  # flat: nothing to extrapolate
    assert tracker.estimate(1e6) is None and f"{MIN_FADE_PCT} % needed" in tracker.reason
    _feed(tracker, np.arange(6.0, 12.0), 5.0 - 0.02 * np.arange(6.0, 12.0), 1.0)
    assert tracker.estimate(1e6 + 60.0) is None  # within the refit period of the last try
    first = tracker.estimate(1e6 + 3600.0)
    assert first is not None
    tracker.add(1e9, 13.0, 4.7)
    assert tracker.estimate(1e6 + 3700.0) is first  # a new point, but the refit waits for its period


def test_an_estimate_without_cycling_replaces_the_last_point():
    tracker = RulTracker(5.0)
    tracker.add(0.0, 10.0, 4.9)
    tracker.add(60.0, 10.0, 4.8)
    tracker.add(120.0, float("nan"), 4.7)
    assert tracker.points == [(60.0, 10.0, 4.8)]
    with pytest.raises(ValueError):
        RulTracker(5.0, eol_fraction=1.2)
