from __future__ import annotations

import numpy as np
import pytest

from packtwin.analytics.rul import CapacityHistory, clean, fit_and_predict, read_capacity


def test_cleaning_drops_zero_readings_and_recovery_spikes(data_dir):
    h = read_capacity(data_dir / "capacity" / "nasa_B0045.csv")
    k, c, counts = clean(h)
    assert 20 not in k and 66 not in k          # the two zero readings
    assert counts["invalid"] == 2
    assert np.all(c > 0.5)
    assert len(k) + sum(counts.values()) == len(h.cycle)


def test_full_record_reports_the_observed_end_of_life(data_dir):
    r = fit_and_predict(read_capacity(data_dir / "capacity" / "nasa_B0045.csv"), 0.70)
    assert r.already_reached and r.eol_cycle == 39


def test_second_life_threshold_is_later_and_interval_ordered(data_dir):
    h = read_capacity(data_dir / "capacity" / "nasa_B0025.csv")
    rated = 1.85
    r80 = fit_and_predict(h, 0.8 * rated)
    r70 = fit_and_predict(h, 0.7 * rated)
    assert r70.eol_cycle > r80.eol_cycle > h.cycle[-1]
    assert r80.eol_cycle_lower_90 <= r80.eol_cycle <= r80.eol_cycle_upper_90


def test_synthetic_linear_fade_is_recovered():
    k = np.arange(1, 61, dtype=float)
    rng = np.random.default_rng(4)
    c = 2.0 - 0.004 * k + 0.003 * rng.standard_normal(60)
    r = fit_and_predict(CapacityHistory(k, c), 1.6)  # truth: 2.0 - 0.004 k < 1.6 from k = 101
    assert abs(r.eol_cycle - 101) <= 8
    assert r.eol_cycle_lower_90 <= 101 <= r.eol_cycle_upper_90


@pytest.mark.parametrize(("first", "threshold", "truth"), [(25, 0.68, 44), (30, 0.68, 44), (25, 0.66, 47),
                                                         (30, 0.66, 47)])
def test_other_prefixes_and_thresholds_of_b0045_fall_in_the_interval(data_dir, first, threshold, truth):
    """Beyond the issue's case (first 20 cycles, 0.70 Ah): the truth is the cycle after the last reading at or above
    the threshold in the full record (zero readings left out)."""
    h = read_capacity(data_dir / "capacity" / "nasa_B0045.csv")
    k, c = h.cycle, h.capacity_ah
    ok = c > 0
    assert k[ok][np.nonzero(c[ok] >= threshold)[0][-1] + 1] == truth
    r = fit_and_predict(CapacityHistory(k[:first], c[:first]), threshold)
    assert r.eol_cycle_lower_90 <= truth <= r.eol_cycle_upper_90
