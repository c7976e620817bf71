"""Synthetic series strings for tests and benchmarks: cells with spread, an optional internal short, a daily
drive / rest / charge pattern, and the sensor imperfections of real telemetry (current offset, voltage noise and
resolution). Uses the package's own two-RC model, so it checks the estimators' logic, not their model fidelity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from packtwin.analytics.cellmodel import CellSpec, ECMParams, OCVCurve, simulate
from packtwin.connectors.frame import Frame


@dataclass
class PackRecord:
    time_s: np.ndarray
    current_a: np.ndarray          # measured (with offset and noise)
    voltage_v: np.ndarray          # (steps, cells), measured (noise, resolution)
    temperature_c: np.ndarray      # (steps, sensors)
    true_soc: np.ndarray           # (steps, cells)
    params: ECMParams

    def frames(self, pack_id: str, t0: float = 1.7e9) -> Iterator[Frame]:
        for k in range(len(self.time_s)):
            yield Frame(pack_id, k, t0 + float(self.time_s[k]), float(self.current_a[k]), self.voltage_v[k],
                        self.temperature_c[k])


def drive_profile(path: str | Path, capacity_ah: float, dt_s: float, days: float, drive_h: float = 2.0,
                  charge_c: float = 0.3, start_soc: float = 0.8) -> np.ndarray:
    """Pack current (A, + = discharge) for ``days`` of: drive ``drive_h`` hours of the drive cycle, rest, charge at
    ``charge_c`` back to the start SoC, rest to the end of the day. The drive-cycle current is scaled to the cell
    (the PyBaMM profiles peak at about 1.6C of a 5 Ah cell)."""
    raw = np.loadtxt(path, delimiter=",", comments="#")
    t_raw, i_raw = raw[:, 0], raw[:, 1] * capacity_ah / 5.0
    t_cycle = np.arange(0.0, t_raw[-1], dt_s)
    cycle = np.interp(t_cycle, t_raw, i_raw)
    day_steps = int(round(86400.0 / dt_s))
    drive_steps = int(round(drive_h * 3600.0 / dt_s))
    reps = int(np.ceil(drive_steps / len(cycle)))
    drive = np.tile(cycle, reps)[:drive_steps]
    ah = float(np.sum(drive)) * dt_s / 3600.0
    charge_steps = int(round(max(ah, 0.0) / (charge_c * capacity_ah) * 3600.0 / dt_s))
    rest1 = int(round(1800.0 / dt_s))
    day = np.zeros(day_steps)
    day[:drive_steps] = drive
    day[drive_steps + rest1: drive_steps + rest1 + charge_steps] = -charge_c * capacity_ah
    return np.tile(day, int(np.ceil(days)))[: int(round(days * day_steps))]


def pack_record(spec: CellSpec, n_cells: int, current_a: np.ndarray, dt_s: float, seed: int = 0,
                short_ohm: dict[int, float] | None = None, short_from_s: float = 0.0, start_soc: float = 0.8,
                capacity_spread: float = 0.015, resistance_spread: float = 0.05, soc_spread: float = 0.005,
                offset_c: float = 0.01, noise_v: float = 0.002, resolution_v: float = 0.001,
                r0_ohm_ah: float = 0.1, temperature_c: float = 25.0,
                capacity_scale: dict[int, float] | None = None) -> PackRecord:
    """Simulate a series string; ``short_ohm`` maps cell index to the resistance of its internal short, which
    appears at ``short_from_s``; ``capacity_scale`` maps cell index to a factor on its capacity (a weak or a
    replacement cell)."""
    rng = np.random.default_rng(seed)
    ocv = OCVCurve.from_spec(spec)
    cap = spec.capacity_ah * (1.0 + capacity_spread * rng.standard_normal(n_cells))
    for cell, factor in (capacity_scale or {}).items():
        cap[cell] *= factor
    r0 = r0_ohm_ah / spec.capacity_ah * (1.0 + resistance_spread * rng.standard_normal(n_cells))
    params = ECMParams(r0=r0, r1=0.4 * r0, tau1=np.full(n_cells, 8.0), r2=0.8 * r0, tau2=np.full(n_cells, 300.0),
                       capacity_ah=cap)
    soc0 = start_soc + soc_spread * rng.standard_normal(n_cells)
    steps = len(current_a)
    split = min(max(int(round(short_from_s / dt_s)), 0), steps)
    shorts = np.full(n_cells, np.inf)
    for cell, ohm in (short_ohm or {}).items():
        shorts[cell] = ohm
    v_a, s_a = simulate(params, ocv, current_a[:split], dt_s, soc0, temperature_c)
    soc_mid = s_a[-1] if split else soc0
    # Continue with the short from the state reached (the RC states restart at zero: a negligible glitch).
    v_b, s_b = simulate(params, ocv, current_a[split:], dt_s, soc_mid, temperature_c, short_ohm=shorts)
    volts = np.concatenate([v_a, v_b]) if split else v_b
    socs = np.concatenate([s_a, s_b]) if split else s_b
    volts = volts + noise_v * rng.standard_normal(volts.shape)
    if resolution_v > 0:
        volts = np.round(volts / resolution_v) * resolution_v
    measured_i = current_a + offset_c * spec.capacity_ah + 0.002 * spec.capacity_ah * rng.standard_normal(steps)
    temps = np.full((steps, 2), temperature_c)
    return PackRecord(np.arange(steps) * dt_s, measured_i, volts, temps, socs, params)
