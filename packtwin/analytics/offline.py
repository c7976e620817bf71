"""Offline estimation over one recorded time series: the dual estimator (RLS identification + SoC EKF) run causally
row by row, exactly as a worker would run it live. Used by ``packtwin estimate soc`` and the benchmark."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from os import PathLike

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, ECMParams, OCVCurve, prior_params
from packtwin.analytics.identification import RLSIdentifier, RLSTuning
from packtwin.analytics.soc import FilterTuning, SocEKF

TELEMETRY_COLUMNS = ("time_s", "current_a", "voltage_v", "temperature_c")
# A gap longer than this is treated as an unobserved rest: the filter predicts with zero current.
MAX_GAP_S = 60.0
# Voltages outside the cell's limits by more than this margin are sensor faults, not cell states.
VOLTAGE_MARGIN_V = 0.5


@dataclass
class Telemetry:
    time_s: np.ndarray
    current_a: np.ndarray
    voltage_v: np.ndarray
    temperature_c: np.ndarray

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


def read_telemetry(path: str | PathLike[str]) -> Telemetry:
    """Read ``time_s,current_a,voltage_v,temperature_c``; unparsable cells become NaN (handled as bad samples)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file")
        names = [h.strip() for h in header]
        missing = [c for c in TELEMETRY_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(TELEMETRY_COLUMNS)}")
        idx = [names.index(c) for c in TELEMETRY_COLUMNS]
        rows: list[list[float]] = []
        for row in reader:
            if not row or all(not x.strip() for x in row):
                continue
            vals = []
            for j in idx:
                try:
                    vals.append(float(row[j]))
                except (IndexError, ValueError):
                    vals.append(math.nan)
            rows.append(vals)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    a = np.asarray(rows, dtype=float)
    return Telemetry(a[:, 0], a[:, 1], a[:, 2], a[:, 3])


@dataclass
class SocRun:
    soc: np.ndarray
    capacity_ah: float
    r0_ohm: float
    r0_ohm_at_25c: float
    soh_capacity_pct: float
    current_bias_a: float
    soc_std: float
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self, nominal_capacity_ah: float) -> dict[str, object]:
        return {
            "capacity_ah": round(self.capacity_ah, 6),
            "r0_ohm": round(self.r0_ohm, 8),
            "r0_ohm_at_25c": round(self.r0_ohm_at_25c, 8),
            "soh_capacity_pct": round(self.soh_capacity_pct, 4),
            "nominal_capacity_ah": nominal_capacity_ah,
            "current_bias_a": round(self.current_bias_a, 6),
            "final_soc": round(float(self.soc[-1]), 6),
            "final_soc_std": round(self.soc_std, 6),
            "bad_samples": self.counts,
        }


def initial_soc(ocv: OCVCurve, voltage_v: float, current_a: float, r0: float) -> float:
    """SoC from the first voltage, compensating the ohmic drop with the prior resistance (not at rest)."""
    return float(ocv.soc_from_ocv(voltage_v + r0 * current_a))


def estimate_soc(tm: Telemetry, spec: CellSpec, tuning: FilterTuning | None = None,
                 rls_tuning: RLSTuning | None = None, params_period_s: float = 10.0) -> SocRun:
    """Run the dual estimator over a single-cell record; one SoC per input row (bad rows hold the estimate)."""
    n_rows = len(tm)
    ocv = OCVCurve.from_spec(spec)
    prior = prior_params(spec.capacity_ah, 1)
    counts = {"nan": 0, "voltage_out_of_range": 0, "time_backwards": 0, "gap": 0}
    v_lo = spec.voltage_min_v - VOLTAGE_MARGIN_V
    v_hi = spec.voltage_max_v + VOLTAGE_MARGIN_V

    def good_voltage(v: float) -> bool:
        return math.isfinite(v) and v_lo <= v <= v_hi

    # Start from the first row with a usable voltage and current.
    first = 0
    while first < n_rows and not (good_voltage(tm.voltage_v[first]) and math.isfinite(tm.current_a[first])
                                  and math.isfinite(tm.time_s[first])):
        first += 1
    if first == n_rows:
        raise ValueError("no usable row: every voltage/current/time is missing or out of range")
    s0 = initial_soc(ocv, tm.voltage_v[first], tm.current_a[first], float(prior.r0[0]))
    ekf = SocEKF(prior, ocv, np.array([s0]), tuning, nominal_capacity_ah=spec.capacity_ah)
    rls = RLSIdentifier(prior, np.array([spec.capacity_ah]), rls_tuning)
    out = np.empty(n_rows)
    out[: first + 1] = s0
    t_prev = tm.time_s[first]
    i_prev = tm.current_a[first]
    temp = tm.temperature_c[first] if math.isfinite(tm.temperature_c[first]) else 25.0
    since_params = 0.0
    v_arr = np.empty(1)
    valid_true = np.array([True])
    valid_false = np.array([False])
    for k in range(first + 1, n_rows):
        t, i, v, tc = tm.time_s[k], tm.current_a[k], tm.voltage_v[k], tm.temperature_c[k]
        if not math.isfinite(t) or t <= t_prev:
            counts["time_backwards" if math.isfinite(t) else "nan"] += 1
            out[k] = ekf.s[0]
            continue
        dt = t - t_prev
        t_prev = t
        if math.isfinite(tc):
            temp = tc
        if not math.isfinite(i):
            counts["nan"] += 1
            i = i_prev
        i_prev = i
        ok_v = good_voltage(v)
        if not ok_v:
            counts["nan" if not math.isfinite(v) else "voltage_out_of_range"] += 1
        if dt > MAX_GAP_S:
            counts["gap"] += 1
            # Nothing is known about the load during the gap: predict as a rest, then resume.
            ekf.step(ekf.b[0], v_arr, dt, valid_false)
            out[k] = ekf.s[0]
            continue
        scale = ekf.params.resistance_factor(temp)
        if since_params >= params_period_s:
            ekf.set_params(rls.params(ekf.capacity_ah), scale)
            since_params = 0.0
        since_params += dt
        v_arr[0] = v if ok_v else 0.0
        ekf.step(i, v_arr, dt, valid_true if ok_v else valid_false)
        if ok_v:
            ocv_now = ocv.ocv(min(max(ekf.s[0], 0.0), 1.0))
            rls.step(np.array([i - ekf.b[0]]), np.array([v - ocv_now]), dt, np.atleast_1d(scale))
        out[k] = ekf.s[0]
    params = rls.params(ekf.capacity_ah)
    cap = float(ekf.capacity_ah[0])
    scale_now = float(params.resistance_factor(temp))
    return SocRun(soc=out, capacity_ah=cap, r0_ohm=float(params.r0[0] * scale_now), r0_ohm_at_25c=float(params.r0[0]),
                  soh_capacity_pct=100.0 * cap / spec.capacity_ah, current_bias_a=float(ekf.b[0]),
                  soc_std=float(ekf.soc_std[0]), counts=counts)


def params_summary(p: ECMParams) -> dict[str, float]:
    return {k: float(getattr(p, k)[0]) for k in ("r0", "r1", "tau1", "r2", "tau2", "capacity_ah")}
