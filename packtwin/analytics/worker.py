"""The analytics worker: consumes decoded telemetry frames, keeps per-pack estimator state as arrays over cells, emits
estimates at a configurable rate and alerts at once.

Sinks are plain callables so the same worker feeds the AAS repository (via :mod:`packtwin.analytics.passport`), MQTT
or a test: ``on_estimate(pack_id, record)``, ``on_alert(pack_id, alert)``, ``on_command(pack_id, command)``.

Bad input never reaches an estimate: a frame with a non-finite time or current, a time that does not advance, a
duplicated sequence number or the wrong number of cells is rejected; a NaN or out-of-range cell voltage only removes
that cell's correction for that tick; a gap is bridged as an unobserved rest. Everything is counted per pack.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, charge_transfer, prior_params
from packtwin.analytics.faults import Alert, FaultConfig, FaultDetector, RawNoise
from packtwin.analytics.identification import RLSIdentifier
from packtwin.analytics.passport import EstimateRecord, passport_values
from packtwin.analytics.prognostics import RulTracker
from packtwin.analytics.soc import FilterTuning, SocEKF
from packtwin.analytics.soh import CapacityTracker, Throughput, health
from packtwin.analytics.sop import state_of_power
from packtwin.connectors.frame import Frame

log = logging.getLogger(__name__)

# SoC standard deviation held until the identification has seen enough excitation.
SOC_WARMUP_STD = 0.05
COUNTERS = ("frames", "accepted", "nan_time", "time_backwards", "duplicate_seq", "nan_current", "shape_mismatch",
            "gap", "nan_voltage", "voltage_out_of_range", "alerts", "estimates", "state_reset")


@dataclass(frozen=True)
class WorkerConfig:
    estimate_period_s: float = 5.0     # data time between estimates of one pack
    max_gap_s: float = 60.0            # a longer silence is bridged as an unobserved rest
    voltage_margin_v: float = 0.5      # beyond the cell limits by more than this: a sensor fault, not a state
    rls_period_s: float = 1.0          # identification runs on averages over this period
    fault_period_s: float = 10.0       # fault checks run on averages over this period
    params_period_s: float = 10.0
    # A live pack runs for days: coulomb-counting errors grow without bound, so the SoC keeps a random walk that
    # lets the voltage pull it back (~0.1 % per hour). A single offline record of hours needs far less.
    tuning: FilterTuning = field(default_factory=lambda: FilterTuning(soc_walk=2e-5))
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Remaining useful life: end of life at this fraction of the rated capacity (0.7 for a second life), refitted
    # at most once per rul_refit_s of data time.
    eol_fraction: float = 0.8
    rul_refit_s: float = 3600.0
    nominal_voltage_v: float | None = None


class PackState:
    """Estimator state of one pack: cells as columns."""

    def __init__(self, pack_id: str, n_cells: int, spec: CellSpec, ocv: OCVCurve, cfg: WorkerConfig,
                 frame: Frame) -> None:
        self.pack_id = pack_id
        self.n = n_cells
        self.prior = prior_params(spec.capacity_ah, n_cells)
        v = np.asarray(frame.cell_voltage_v, dtype=float)
        v = np.where(np.isfinite(v), v, np.nanmedian(v) if np.isfinite(v).any() else spec.ocv_voltage_v.mean())
        s0 = np.clip(ocv.soc_from_ocv(v + self.prior.instant_drop(frame.current_a)), 0.0, 1.0)
        self.ekf = SocEKF(self.prior, ocv, s0, cfg.tuning, nominal_capacity_ah=spec.capacity_ah)
        self.rls = RLSIdentifier(self.prior, np.full(n_cells, spec.capacity_ah))
        self.faults = FaultDetector(n_cells, spec.capacity_ah, cfg.faults)
        self.noise = RawNoise(n_cells, spec.capacity_ah)
        self.throughput = Throughput(n_cells)
        self.capacity = CapacityTracker(n_cells, spec.capacity_ah)
        self.rul = RulTracker(spec.capacity_ah, cfg.eol_fraction, cfg.rul_refit_s)
        self.r0_bol: np.ndarray | None = None
        self.last_t = frame.t
        self.last_seq = frame.seq
        self.last_emit_t = -math.inf
        self.temp = 25.0
        self.temps = np.array([25.0])
        self.scale = 1.0
        self.acc_t = 0.0
        self.acc_i = 0.0
        self.acc_v = np.zeros(n_cells)
        self.bad_t = np.zeros(n_cells)
        self.f_t = 0.0
        self.f_i = 0.0
        self.f_v = np.zeros(n_cells)
        self.f_ok = np.zeros(n_cells)
        self.tmp = np.zeros(n_cells)
        self.last_temps = frame.temperature_c
        self.since_params = 0.0
        self.start_soc_energy = None
        self.counters = dict.fromkeys(COUNTERS, 0)


class AnalyticsWorker:
    def __init__(self, spec: CellSpec, config: WorkerConfig | None = None,
                 on_estimate: Callable[[str, dict[str, Any]], None] | None = None,
                 on_alert: Callable[[str, Alert], None] | None = None,
                 on_command: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.spec = spec
        self.cfg = config or WorkerConfig()
        self.ocv = OCVCurve.from_spec(spec)
        self.packs: dict[str, PackState] = {}
        self.on_estimate = on_estimate
        self.on_alert = on_alert
        self.on_command = on_command
        self._v_lo = spec.voltage_min_v - self.cfg.voltage_margin_v
        self._v_hi = spec.voltage_max_v + self.cfg.voltage_margin_v
        self._nominal_v = self.cfg.nominal_voltage_v or float(self.ocv.ocv(0.5))

    def counters(self, pack_id: str) -> dict[str, int]:
        return dict(self.packs[pack_id].counters)

    def update(self, frame: Frame) -> None:
        """Consume one decoded frame."""
        st = self.packs.get(frame.pack_id)
        if st is None:
            if not (math.isfinite(frame.t) and math.isfinite(frame.current_a)) or frame.n_cells == 0:
                log.debug("first frame of %s unusable", frame.pack_id)
                return
            st = PackState(frame.pack_id, frame.n_cells, self.spec, self.ocv, self.cfg, frame)
            self.packs[frame.pack_id] = st
            st.counters["frames"] += 1
            st.counters["accepted"] += 1
            self._temperature(st, frame.temperature_c)
            return
        c = st.counters
        c["frames"] += 1
        if not math.isfinite(frame.t):
            c["nan_time"] += 1
            return
        if frame.t <= st.last_t:
            c["time_backwards"] += 1
            return
        if frame.seq <= st.last_seq:
            c["duplicate_seq"] += 1
            return
        if frame.n_cells != st.n:
            c["shape_mismatch"] += 1
            return
        if not math.isfinite(frame.current_a):
            c["nan_current"] += 1
            return
        dt = frame.t - st.last_t
        st.last_t = frame.t
        st.last_seq = frame.seq
        c["accepted"] += 1
        st.last_temps = frame.temperature_c  # processed once per identification period
        v = np.asarray(frame.cell_voltage_v, dtype=float)
        ekf = st.ekf
        if dt > self.cfg.max_gap_s:
            st.noise.gap()
        # NaN propagates through min/max and fails the comparison, so this one test catches missing values too.
        if v.min() >= self._v_lo and v.max() <= self._v_hi:
            valid = None
            v_clean = v
            st.noise.add(frame.current_a, v)
        else:
            st.noise.gap()
            in_range = (v >= self._v_lo) & (v <= self._v_hi)
            finite = np.isfinite(v)
            c["nan_voltage"] += st.n - int(finite.sum())
            c["voltage_out_of_range"] += int(finite.sum()) - int(in_range.sum())
            valid = in_range.astype(float)
            v_clean = np.where(in_range, v, 0.0)
        if dt > self.cfg.max_gap_s:
            c["gap"] += 1
            ekf.step(0.0, ekf.ocv.ocv(np.clip(ekf.s, 0, 1)), dt, np.zeros(st.n))
            self._reset_periods(st)
            return
        if st.since_params >= self.cfg.params_period_s:
            ekf.set_params(st.rls.params(ekf.capacity_ah), st.scale)
            st.since_params = 0.0
        st.since_params += dt
        i = frame.current_a
        ekf.step(i, v_clean, dt, valid)
        st.throughput.add(i, v_clean, dt)
        # Identification and fault checks run on per-period averages: cheaper, and averaging smooths sensor noise.
        st.acc_t += dt
        st.acc_i += i * dt
        np.multiply(v_clean, dt, out=st.tmp)
        st.acc_v += st.tmp
        if valid is not None:
            st.bad_t += (1.0 - valid) * dt
        if st.acc_t >= self.cfg.rls_period_s:
            self._identify(st, frame.pack_id)
        if st.f_t >= self.cfg.fault_period_s:
            self._faults(st, frame.t, ekf)
        if frame.pack_id in self.packs and frame.t - st.last_emit_t >= self.cfg.estimate_period_s:
            st.last_emit_t = frame.t
            rec = self.estimate(frame.pack_id)
            c["estimates"] += 1
            if self.on_estimate:
                self.on_estimate(frame.pack_id, rec)

    @staticmethod
    def _reset_periods(st: PackState) -> None:
        st.acc_t = st.acc_i = st.f_t = st.f_i = 0.0
        for acc in (st.acc_v, st.bad_t, st.f_v, st.f_ok):
            acc[:] = 0.0

    def _identify(self, st: PackState, pack_id: str) -> None:
        ekf = st.ekf
        self._temperature(st, st.last_temps)
        if not np.all(np.isfinite(ekf.s)):
            # A numerical failure must not reach the passport: drop the state, the next frame restarts it.
            st.counters["state_reset"] += 1
            self.packs.pop(pack_id, None)
            return
        ok_t = st.acc_t - st.bad_t
        ok = ok_t >= 0.5 * st.acc_t
        i_mean = st.acc_i / st.acc_t
        with np.errstate(invalid="ignore", divide="ignore"):
            v_mean = st.acc_v / np.maximum(ok_t, 1e-9)
        ocv_now, _ = self.ocv.ocv_and_slope(np.clip(ekf.s, 0.0, 1.0))
        y = np.where(ok, v_mean - ocv_now, np.nan)
        st.rls.step(i_mean - ekf.b, y, st.acc_t, np.full(st.n, st.scale), ok)
        if not st.rls.warmed_up.all():
            # Parameters not identified yet: do not let the SoC variance collapse on a wrong model.
            np.maximum(ekf.p00, SOC_WARMUP_STD ** 2, out=ekf.p00)
        st.f_t += st.acc_t
        st.f_i += st.acc_i
        st.f_v += np.where(ok, st.acc_v, 0.0)
        st.f_ok += np.where(ok, ok_t, 0.0)
        st.acc_t = st.acc_i = 0.0
        st.acc_v[:] = 0.0
        st.bad_t[:] = 0.0

    def _faults(self, st: PackState, t: float, ekf: SocEKF) -> None:
        ok = st.f_ok >= 0.5 * st.f_t
        i_mean = st.f_i / st.f_t
        with np.errstate(invalid="ignore", divide="ignore"):
            v_mean = np.where(ok, st.f_v / np.maximum(st.f_ok, 1e-9), np.nan)
        fill = np.nanmedian(v_mean) if ok.any() else float(self.ocv.ocv(0.5))
        v_mean = np.where(ok, v_mean, fill)
        # The SoC each cell's own voltage implies: what the short detector compares across the pack.
        v_static = v_mean + ekf.r0 * i_mean + ekf.r_ct * charge_transfer(i_mean, ekf.i_ct)
        soc_v = self.ocv.soc_from_ocv(v_static + ekf.v1 + ekf.v2)
        # The pack's OCV slope at its median SoC: the short check tells a voltage-sensor offset from a leak by it.
        s_med = np.median(soc_v, keepdims=True)
        ocv_med, slope_med = self.ocv.ocv_and_slope(s_med)
        slope = float(slope_med[0])
        # ... and the secant below it, on which a steady sensor offset is fitted (faults.py says why).
        drop = st.faults.cfg.steady_offset_secant_v
        secant = drop / max(float(s_med[0] - self.ocv.soc_from_ocv(ocv_med - drop)[0]), 1e-9)
        soc_static = self.ocv.soc_from_ocv(v_static)
        if st.capacity.update(st.f_t, i_mean, soc_v):
            # Count charge against the capacity each cell has shown (an aged cell keeps its old nameplate), and
            # without the current-sensor offset the rests revealed.
            ekf.q = 1.0 / st.capacity.capacity_ah
            ekf.b = np.full(st.n, st.capacity.offset_a)
            ekf._dt = -1.0
            # The pack's fade as its weakest cell shows it (imbalance is recoverable, a cell's capacity is not).
            efc = float(np.mean(st.throughput.full_equivalent_cycles(self.spec.capacity_ah)))
            st.rul.add(t, efc, float(np.min(st.capacity.capacity_ah)))
        st.faults.current_offset_a = st.capacity.offset_a
        alerts = st.faults.update(t, st.f_t, i_mean, v_mean, st.temps, soc_v, ekf.v1 + ekf.v2, st.noise.take(),
                                  soc_static=soc_static, ocv_slope=slope, ocv_secant_slope=secant)
        st.f_t = st.f_i = 0.0
        st.f_v[:] = 0.0
        st.f_ok[:] = 0.0
        for a in alerts:
            st.counters["alerts"] += 1
            if self.on_alert:
                self.on_alert(st.pack_id, a)
        cmd = st.faults.balancing(t, ekf.s, ekf.capacity_ah)
        if cmd is not None and self.on_command:
            self.on_command(st.pack_id, cmd.to_dict())

    def _temperature(self, st: PackState, temperature_c: np.ndarray) -> None:
        t = np.asarray(temperature_c, dtype=float)
        t = t[np.isfinite(t) & (t > -60.0) & (t < 150.0)]
        if t.size:
            st.temps = t
            new = float(np.max(t))
            if new != st.temp:
                st.temp = new
                st.scale = float(st.prior.resistance_factor(new))

    def estimate(self, pack_id: str) -> dict[str, Any]:
        """The current estimate of one pack: per-cell arrays, pack values and the passport values."""
        st = self.packs[pack_id]
        ekf = st.ekf
        params = st.rls.params(ekf.capacity_ah)
        # Resistance growth is judged on the 1C pulse resistance (ohmic + charge transfer at 1C).
        r_pulse = params.pulse_resistance(ekf.nominal_capacity_ah)
        if st.r0_bol is None and st.rls.warmed_up.all():
            st.r0_bol = r_pulse.copy()
        r_bol = st.r0_bol if st.r0_bol is not None else r_pulse
        sop10 = state_of_power(ekf.s, ekf.v1, ekf.v2, params, self.ocv, self.spec.voltage_min_v,
                               self.spec.voltage_max_v, st.temp, 10.0, nominal_capacity_ah=ekf.nominal_capacity_ah)
        sop30 = state_of_power(ekf.s, ekf.v1, ekf.v2, params, self.ocv, self.spec.voltage_min_v,
                               self.spec.voltage_max_v, st.temp, 30.0, nominal_capacity_ah=ekf.nominal_capacity_ah)
        h = health(ekf.s, st.capacity.capacity_ah, self.spec.capacity_ah, r_pulse, r_bol)
        tp = st.throughput
        rated = self.spec.capacity_ah
        rul = st.rul.estimate(st.last_t)
        rec = EstimateRecord(
            timestamp=st.last_t, soc=h.pack_soc, capacity_ah=h.pack_capacity_ah, rated_capacity_ah=rated,
            nominal_voltage_v=self._nominal_v * st.n,
            energy_throughput_kwh=float(np.sum(tp.energy_throughput_kwh)),
            capacity_throughput_ah=float(np.mean(tp.capacity_throughput_ah)),
            full_equivalent_cycles=float(np.mean(tp.full_equivalent_cycles(rated))),
            resistance_increase_pct=h.pack_resistance_increase_pct,
            power_fade_pct=float(np.max(h.power_fade_pct)), measured_temp_c=st.temp, level="pack",
            power_capability_w=sop10.pack_discharge_power_w,
            remaining_useful_life_days=rul.rul_days if rul is not None else None)
        return {
            "pack_id": pack_id, "t": st.last_t, "soc": h.pack_soc, "soc_cells": ekf.s.tolist(),
            "soc_std_cells": ekf.soc_std.tolist(), "capacity_ah_cells": st.capacity.capacity_ah.tolist(),
            "capacity_updates": int(st.capacity.updates.min()), "current_offset_a": st.capacity.offset_a,
            "pack_capacity_ah": h.pack_capacity_ah, "soh_capacity_pct": h.pack_soh_capacity_pct,
            "rated_capacity_ah": rated,
            "resistance_ohm_cells": r_pulse.tolist(), "pack_resistance_ohm": h.pack_resistance_ohm,
            "resistance_increase_pct_cells": h.resistance_increase_pct.tolist(),
            "power_fade_pct_cells": h.power_fade_pct.tolist(),
            "full_equivalent_cycles_cells": tp.full_equivalent_cycles(rated).tolist(),
            "energy_throughput_kwh_cells": tp.energy_throughput_kwh.tolist(),
            "capacity_throughput_ah_cells": tp.capacity_throughput_ah.tolist(),
            "resistance_increase_pct": h.pack_resistance_increase_pct,
            "sop_w": {"discharge_10s": sop10.pack_discharge_power_w, "charge_10s": sop10.pack_charge_power_w,
                      "discharge_30s": sop30.pack_discharge_power_w, "charge_30s": sop30.pack_charge_power_w},
            "limiting_cells": {"discharge": h.limiting_cell_discharge, "charge": h.limiting_cell_charge},
            "leak_current_a_cells": st.faults.leak_a.tolist(),
            "energy_throughput_kwh": rec.energy_throughput_kwh, "full_equivalent_cycles": rec.full_equivalent_cycles,
            "rul": rul.to_dict() if rul is not None else {"available": False, "reason": st.rul.reason},
            "counters": dict(st.counters),
            "passport": [v.__dict__ for v in passport_values(rec)],
        }
