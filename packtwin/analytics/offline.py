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
# Rest detection for the current-sensor offset: at least this long below this fraction of 1C.
REST_MIN_S = 600.0
REST_MAX_C = 0.02
# SoC anchors: a rest at least this long has relaxed to its OCV; two anchors must span this much SoC.
ANCHOR_REST_S = 1800.0
ANCHOR_MIN_SOC_SPAN = 0.3
# SoC standard deviation held until the identification has seen enough excitation.
SOC_WARMUP_STD = 0.05
# Offline smoothing: how far coulomb counting is trusted across time, as a SoC random walk. A current known to 1 % of
# 1C (the sensor offset the data carries) moves the SoC by up to 1 % per hour: variance (0.01)^2 per 3600 s.
SMOOTHING_SOC_VAR_PER_S = 0.01 ** 2 / 3600.0


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
    params: ECMParams | None = None
    capacity_source: dict = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # Per row: the filter's SoC after the prediction (before the voltage correction) and its variance after the
    # correction; what the smoother needs.
    trace_pred: np.ndarray | None = None
    trace_var: np.ndarray | None = None

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
            "capacity_source": self.capacity_source,
            # The identified model at 25 degC (resistances in ohm, time constants in s, i_ct in A).
            "cell_model": params_summary(self.params) if self.params is not None else None,
        }


def initial_soc(ocv: OCVCurve, voltage_v: float, current_a: float, params: ECMParams, scale: float = 1.0) -> float:
    """SoC from the first voltage, compensating the instant drop of the model (not at rest)."""
    return float(ocv.soc_from_ocv(voltage_v + float(params.instant_drop(current_a, scale)[0])))


def estimate_soc(tm: Telemetry, spec: CellSpec, tuning: FilterTuning | None = None,
                 rls_tuning: RLSTuning | None = None, initial_params: ECMParams | None = None,
                 passes: int = 2, smooth: bool = True) -> SocRun:
    """Run the dual estimator over a single-cell record; one SoC per input row (bad rows hold the estimate).

    With ``passes=2`` (offline default) a first causal pass identifies the cell model and the second pass estimates
    SoC from the same unknown initial state with those parameters -- what a twin does once it has seen the cell
    before. ``passes=1`` is the cold start from the capacity-scaled prior. ``smooth`` (offline default) runs a
    fixed-interval (Rauch-Tung-Striebel) smoother over the last pass, so each row's SoC also uses the voltages that
    came after it: the start, before the filter has converged from the unknown initial state, gains the most.
    """
    ocv = OCVCurve.from_spec(spec)
    offset = rest_offset(tm.current_a, tm.time_s, spec.capacity_ah)
    anchored = anchored_capacity(tm, spec, ocv, offset)
    # The filter counts charge against the capacity the record shows when it can (an aged cell keeps its old
    # nameplate); otherwise against the nameplate.
    cap = anchored[0] if anchored is not None else spec.capacity_ah
    params = initial_params
    run: SocRun | None = None
    for _ in range(max(passes, 1)):
        run = _pass(tm, spec, tuning, rls_tuning, params, capacity_ah=cap)
        params = run.params
        assert params is not None
        params.capacity_ah = np.array([cap])
    assert run is not None
    if smooth:
        run.soc = rts_smooth(run.soc, run.trace_pred, run.trace_var, tm.time_s)
    if anchored is not None:
        run.capacity_ah, run.capacity_source = anchored[0], {"method": "anchors", **anchored[1]}
    else:
        run.capacity_ah = spec.capacity_ah
        run.capacity_source = {"method": "nameplate", "reason": "no two SoC anchors (long rests, voltage limits) "
                               f"{ANCHOR_MIN_SOC_SPAN:.0%} apart in this record", "current_offset_a": offset}
    run.soh_capacity_pct = 100.0 * run.capacity_ah / spec.capacity_ah
    return run


def _pass(tm: Telemetry, spec: CellSpec, tuning: FilterTuning | None, rls_tuning: RLSTuning | None,
          initial_params: ECMParams | None, rls_period_s: float = 1.0, params_period_s: float = 10.0,
          capacity_ah: float | None = None) -> SocRun:
    n_rows = len(tm)
    ocv = OCVCurve.from_spec(spec)
    prior = initial_params if initial_params is not None else prior_params(spec.capacity_ah, 1)
    if capacity_ah is not None:
        prior.capacity_ah = np.array([capacity_ah])
    counts = {"nan": 0, "voltage_out_of_range": 0, "time_backwards": 0, "gap": 0}
    v_lo = spec.voltage_min_v - VOLTAGE_MARGIN_V
    v_hi = spec.voltage_max_v + VOLTAGE_MARGIN_V

    def good_voltage(v: float) -> bool:
        return math.isfinite(v) and v_lo <= v <= v_hi

    time_s, current, voltage, temp_c = (x.tolist() for x in (tm.time_s, tm.current_a, tm.voltage_v,
                                                             tm.temperature_c))
    # Start from the first row with a usable voltage and current.
    first = 0
    while first < n_rows and not (good_voltage(voltage[first]) and math.isfinite(current[first])
                                  and math.isfinite(time_s[first])):
        first += 1
    if first == n_rows:
        raise ValueError("no usable row: every voltage/current/time is missing or out of range")
    temp0 = temp_c[first] if math.isfinite(temp_c[first]) else 25.0
    s0 = initial_soc(ocv, voltage[first], current[first], prior, float(prior.resistance_factor(temp0)))
    ekf = SocEKF(prior, ocv, np.array([s0]), tuning, nominal_capacity_ah=spec.capacity_ah).scalar()
    rls = RLSIdentifier(prior, np.array([spec.capacity_ah]), rls_tuning, identified=initial_params is not None)
    socs = [s0] * (first + 1)
    preds = [s0] * (first + 1)
    variances = [SOC_WARMUP_STD ** 2] * (first + 1)
    t_prev = time_s[first]
    i_prev = current[first]
    temp = temp_c[first] if math.isfinite(temp_c[first]) else 25.0
    scale = float(prior.resistance_factor(temp))
    ekf.set_params(prior, scale)
    since_params = 0.0
    acc_t = acc_i = acc_y = 0.0
    for k in range(first + 1, n_rows):
        t, i, v, tc = time_s[k], current[k], voltage[k], temp_c[k]
        if not math.isfinite(t) or t <= t_prev:
            counts["time_backwards" if math.isfinite(t) else "nan"] += 1
            socs.append(ekf.s)
            preds.append(ekf.s)
            variances.append(ekf.p00)
            continue
        dt = t - t_prev
        t_prev = t
        if math.isfinite(tc) and tc != temp:
            temp = tc
            scale = float(prior.resistance_factor(temp))
            since_params = params_period_s  # refresh the temperature scaling now
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
            ekf.step(ekf.b, 0.0, dt, 0.0)
            socs.append(ekf.s)
            preds.append(ekf.s_pred)
            variances.append(ekf.p00)
            acc_t = acc_i = acc_y = 0.0
            continue
        if since_params >= params_period_s:
            ekf.set_params(rls.params(np.array([1.0 / ekf.q])), scale)
            since_params = 0.0
        since_params += dt
        ekf.step(i, v if ok_v else 0.0, dt, 1.0 if ok_v else 0.0)
        if not rls.warmed_up[0] and ekf.p00 < SOC_WARMUP_STD ** 2:
            # Parameters not identified yet: do not let the SoC variance collapse on a wrong model.
            ekf.p00 = SOC_WARMUP_STD ** 2
        if ok_v:
            # The identification sees averages over rls_period_s (cheaper, and averages the voltage noise).
            sc = min(max(ekf.s, 0.0), 1.0)
            acc_t += dt
            acc_i += (i - ekf.b) * dt
            acc_y += (v - ekf.ocv.ocv(sc)) * dt
            if acc_t >= rls_period_s:
                rls.step(np.array([acc_i / acc_t]), np.array([acc_y / acc_t]), acc_t, np.array([scale]))
                acc_t = acc_i = acc_y = 0.0
        socs.append(ekf.s)
        preds.append(ekf.s_pred)
        variances.append(ekf.p00)
    cap = 1.0 / ekf.q
    params = rls.params(np.array([cap]))
    scale_now = float(params.resistance_factor(temp))
    # R0 as a 1C pulse shows it at once: ohmic plus charge transfer.
    r_pulse = float(params.pulse_resistance(spec.capacity_ah)[0])
    return SocRun(soc=np.asarray(socs, dtype=float), capacity_ah=cap, r0_ohm=r_pulse * scale_now,
                  r0_ohm_at_25c=r_pulse, soh_capacity_pct=100.0 * cap / spec.capacity_ah,
                  current_bias_a=float(ekf.b), soc_std=math.sqrt(max(ekf.p00, 0.0)), params=params, counts=counts,
                  trace_pred=np.asarray(preds, dtype=float), trace_var=np.asarray(variances, dtype=float))


def rts_smooth(filtered: np.ndarray, predicted: np.ndarray, variance: np.ndarray, time_s: np.ndarray,
               walk_var_per_s: float = SMOOTHING_SOC_VAR_PER_S) -> np.ndarray:
    """Rauch-Tung-Striebel pass backwards over a scalar SoC filter's output.

    The SoC moves by coulomb counting (``predicted[k] - filtered[k-1]``) plus a random walk of ``walk_var_per_s``;
    each row's estimate is pulled towards the smoothed next one by the gain ``P[k] / (P[k] + walk * dt)``. Rows the
    filter held (time going back) have ``dt = 0`` and follow the next row exactly.
    """
    n = len(filtered)
    out = filtered.astype(float).copy()
    dt = np.diff(time_s, append=time_s[-1])
    dt = np.where(np.isfinite(dt) & (dt > 0), dt, 0.0)
    f, pr, var, d = filtered.tolist(), predicted.tolist(), variance.tolist(), dt.tolist()
    nxt = f[-1]
    for k in range(n - 2, -1, -1):
        p = max(var[k], 0.0)
        p_pred = p + walk_var_per_s * d[k]
        gain = p / p_pred if p_pred > 0 else 1.0
        nxt = f[k] + gain * (nxt - pr[k + 1])
        out[k] = nxt
    return out


def rest_offset(current_a: np.ndarray, time_s: np.ndarray, one_c_a: float, min_rest_s: float = REST_MIN_S) -> float:
    """Current-sensor offset from long rests: stretches of at least ``min_rest_s`` with the reading below 2 % of
    1C and steady (a parked pack draws ~0 A; what the sensor reads then is its offset). 0 when there is none."""
    total = 0.0
    weight = 0.0
    for start, end in _rests(current_a, one_c_a):
        span = float(time_s[end] - time_s[start])
        if span >= min_rest_s:
            x = current_a[start:end + 1]
            half = len(x) // 2
            # Steady: both halves agree (a tapering charge tail or a slow load does not).
            if abs(np.mean(x[:half]) - np.mean(x[half:])) < 0.2 * REST_MAX_C * one_c_a:
                total += float(np.mean(x)) * span
                weight += span
    return total / weight if weight > 0 else 0.0


def _rests(current_a: np.ndarray, one_c_a: float) -> list[tuple[int, int]]:
    """First and last row of each run of rows with the current below ``REST_MAX_C`` of 1C."""
    quiet = np.isfinite(current_a) & (np.abs(current_a) < REST_MAX_C * one_c_a)
    edges = np.diff(np.r_[0, quiet.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


@dataclass
class Anchor:
    index: int
    soc: float
    kind: str  # "rest" (relaxed OCV) or "limit" (voltage limit reached under load)


def soc_anchors(tm: Telemetry, spec: CellSpec, ocv: OCVCurve, min_rest_s: float = ANCHOR_REST_S) -> list[Anchor]:
    """Points where the SoC is known without the filter: the end of a long rest (the voltage has relaxed to the
    OCV) and the moment a discharge reaches the lower voltage limit (SoC 0 by the definition of capacity) or a charge
    the upper one (SoC 1)."""
    one_c = spec.capacity_ah
    i, v, t = tm.current_a, tm.voltage_v, tm.time_s
    anchors: list[Anchor] = []
    for start, end in _rests(i, one_c):
        if t[end] - t[start] >= min_rest_s:
            tail = v[max(start, end - 9): end + 1]
            tail = tail[np.isfinite(tail)]
            if tail.size:
                anchors.append(Anchor(end, float(ocv.soc_from_ocv(float(np.mean(tail)))), "rest"))
    margin = 0.005
    low = np.nonzero(np.isfinite(v) & (v <= spec.voltage_min_v + margin) & (i > 0.05 * one_c))[0]
    if low.size:
        anchors.append(Anchor(int(low[0]), 0.0, "limit"))
    high = np.nonzero(np.isfinite(v) & (v >= spec.voltage_max_v - margin) & (i < -0.05 * one_c))[0]
    if high.size:
        anchors.append(Anchor(int(high[0]), 1.0, "limit"))
    return sorted(anchors, key=lambda a: a.index)


def anchored_capacity(tm: Telemetry, spec: CellSpec, ocv: OCVCurve, offset_a: float) -> tuple[float, dict] | None:
    """Capacity from the charge counted (offset removed) between the two SoC anchors farthest apart in SoC: the
    widest window makes an error of the OCV table at an anchor count least. None when no pair spans enough SoC."""
    anchors = soc_anchors(tm, spec, ocv)
    if len(anchors) < 2:
        return None
    dt = np.diff(tm.time_s, prepend=tm.time_s[0])
    dt = np.where(np.isfinite(dt) & (dt > 0) & (dt <= MAX_GAP_S), dt, 0.0)
    i = np.where(np.isfinite(tm.current_a), tm.current_a - offset_a, 0.0)
    ah = np.cumsum(i * dt) / 3600.0
    best = None
    for a in range(len(anchors)):
        for b in range(a + 1, len(anchors)):
            ds = anchors[a].soc - anchors[b].soc
            if abs(ds) >= ANCHOR_MIN_SOC_SPAN and (best is None or abs(ds) > abs(best[2])):
                best = (anchors[a], anchors[b], ds)
    if best is None:
        return None
    a, b, ds = best
    cap = (ah[b.index] - ah[a.index]) / ds
    if not (cap > 0 and math.isfinite(cap)):
        return None
    return float(cap), {"from": {"row": a.index, "soc": a.soc, "kind": a.kind},
                        "to": {"row": b.index, "soc": b.soc, "kind": b.kind}, "current_offset_a": offset_a}


def params_summary(p: ECMParams) -> dict[str, float]:
    out = {k: float(getattr(p, k)[0]) for k in ("r0", "r1", "tau1", "r2", "tau2", "capacity_ah")}
    return {**out, "r_ct": float(p.r_ct_or_zero[0]), "i_ct": p.i_ct}
