"""State of health per cell and per pack: remaining capacity, resistance increase, power fade, round-trip efficiency,
full equivalent cycles and energy throughput.

The pack is taken as its cells limit it, not as their average: in a series string the usable charge is what the
weakest cell can deliver plus what the fullest cell can still take, and the string resistance is the sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Throughput:
    """Charge and energy counters per cell (Ah, kWh), split by direction, for FEC and round-trip efficiency."""

    def __init__(self, n_cells: int) -> None:
        self.discharge_ah = np.zeros(n_cells)
        self.charge_ah = np.zeros(n_cells)
        self.discharge_kwh = np.zeros(n_cells)
        self.charge_kwh = np.zeros(n_cells)

    def add(self, current_a: float, voltage_v: np.ndarray, dt_s: float) -> None:
        ah = abs(current_a) * dt_s / 3600.0
        if current_a >= 0:
            self.discharge_ah += ah
            self.discharge_kwh += (ah / 1000.0) * voltage_v
        else:
            self.charge_ah += ah
            self.charge_kwh += (ah / 1000.0) * voltage_v

    @property
    def capacity_throughput_ah(self) -> np.ndarray:
        return self.discharge_ah + self.charge_ah

    @property
    def energy_throughput_kwh(self) -> np.ndarray:
        return self.discharge_kwh + self.charge_kwh

    def full_equivalent_cycles(self, rated_capacity_ah: np.ndarray | float) -> np.ndarray:
        # One full equivalent cycle = the rated capacity discharged once (and charged back).
        return self.discharge_ah / np.asarray(rated_capacity_ah, dtype=float)

    def round_trip_efficiency_pct(self, stored_energy_change_kwh: np.ndarray) -> np.ndarray:
        """Energy out / energy in, with the change of stored energy over the period credited to the side it
        belongs to; NaN until enough energy has gone through for the ratio to mean something."""
        e_out = self.discharge_kwh + np.maximum(stored_energy_change_kwh, 0.0)
        e_in = self.charge_kwh + np.maximum(-stored_energy_change_kwh, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rte = 100.0 * e_out / e_in
        return np.where((e_in > 0) & (self.charge_kwh > 0) & (rte > 0) & (rte <= 100.0), rte, np.nan)


@dataclass
class HealthReport:
    capacity_ah: np.ndarray
    soh_capacity_pct: np.ndarray
    resistance_increase_pct: np.ndarray
    power_fade_pct: np.ndarray
    pack_capacity_ah: float
    pack_soh_capacity_pct: float
    pack_resistance_ohm: float
    pack_resistance_increase_pct: float
    pack_soc: float
    limiting_cell_discharge: int
    limiting_cell_charge: int


def health(soc: np.ndarray, capacity_ah: np.ndarray, rated_capacity_ah: np.ndarray | float,
           r0_ohm_25c: np.ndarray, r0_bol_ohm: np.ndarray | float, power_now_w: np.ndarray | None = None,
           power_bol_w: np.ndarray | float | None = None) -> HealthReport:
    """Cell and series-pack health from the estimator state (all arrays over the cells of one string)."""
    rated = np.asarray(rated_capacity_ah, dtype=float) * np.ones_like(capacity_ah)
    r_bol = np.asarray(r0_bol_ohm, dtype=float) * np.ones_like(r0_ohm_25c)
    s = np.clip(soc, 0.0, 1.0)
    dischargeable = s * capacity_ah
    chargeable = (1.0 - s) * capacity_ah
    lim_d = int(np.argmin(dischargeable))
    lim_c = int(np.argmin(chargeable))
    pack_cap = float(dischargeable[lim_d] + chargeable[lim_c])
    pack_rated = float(np.min(rated))
    if power_now_w is not None and power_bol_w is not None:
        power_fade = 100.0 * (1.0 - power_now_w / np.asarray(power_bol_w, dtype=float))
    else:
        # Without a power measurement at the beginning of life: power scales with 1/R at a fixed voltage window.
        power_fade = 100.0 * (1.0 - r_bol / r0_ohm_25c)
    return HealthReport(
        capacity_ah=capacity_ah,
        soh_capacity_pct=100.0 * capacity_ah / rated,
        resistance_increase_pct=100.0 * (r0_ohm_25c / r_bol - 1.0),
        power_fade_pct=power_fade,
        pack_capacity_ah=pack_cap,
        pack_soh_capacity_pct=100.0 * pack_cap / pack_rated,
        pack_resistance_ohm=float(np.sum(r0_ohm_25c)),
        pack_resistance_increase_pct=100.0 * (float(np.sum(r0_ohm_25c)) / float(np.sum(r_bol)) - 1.0),
        pack_soc=float(dischargeable[lim_d] / pack_cap) if pack_cap > 0 else 0.0,
        limiting_cell_discharge=lim_d,
        limiting_cell_charge=lim_c,
    )


class CapacityTracker:
    """Per-cell capacity learnt online from SoC anchors: at the end of a long rest each cell's voltage is its OCV,
    so two rests far enough apart in SoC give capacity = charge counted between them / SoC difference. The sensor
    offset is learnt from the same rests (a parked pack draws ~0 A) and removed from the count."""

    def __init__(self, n_cells: int, nominal_capacity_ah: float, rest_s: float = 1800.0, rest_c: float = 0.02,
                 min_span: float = 0.15, smoothing: float = 0.5, max_anchors: int = 12) -> None:
        self.capacity_ah = np.full(n_cells, float(nominal_capacity_ah))
        self.updates = np.zeros(n_cells, dtype=np.int64)
        self.offset_a = 0.0
        self._one_c = float(nominal_capacity_ah)
        self._rest_s, self._rest_c, self._min_span = rest_s, rest_c, min_span
        self._smoothing, self._max = smoothing, max_anchors
        self._ah = 0.0
        self._quiet_s = 0.0
        self._quiet_i = 0.0
        self._pending: tuple[float, np.ndarray] | None = None
        self.anchors: list[tuple[float, np.ndarray]] = []

    def update(self, dt: float, current_a: float, soc_ocv: np.ndarray) -> bool:
        """``soc_ocv``: each cell's SoC from its voltage as OCV (meaningful at rest). True when capacities moved."""
        self._ah += (current_a - self.offset_a) * dt / 3600.0
        if abs(current_a) < self._rest_c * self._one_c:
            self._quiet_s += dt
            self._quiet_i += current_a * dt
            if self._quiet_s >= self._rest_s:
                self._pending = (self._ah, soc_ocv.copy())
            return False
        moved = False
        if self._pending is not None:
            # The rest is over: its last relaxed voltages are the anchor; its mean current is the sensor offset.
            self.offset_a = self._quiet_i / self._quiet_s
            moved = self._commit(*self._pending)
            self._pending = None
        self._quiet_s = self._quiet_i = 0.0
        return moved

    def _commit(self, ah: float, soc: np.ndarray) -> bool:
        moved = False
        if self.anchors:
            socs = np.stack([a[1] for a in self.anchors])           # (anchors, cells)
            spans = soc[None, :] - socs
            best = np.argmax(np.abs(spans), axis=0)
            cols = np.arange(len(soc))
            span = spans[best, cols]
            dah = np.array([self.anchors[j][0] for j in best]) - ah  # discharge counts positive
            ok = np.abs(span) >= self._min_span
            with np.errstate(divide="ignore", invalid="ignore"):
                cap = dah / span
            ok &= np.isfinite(cap) & (cap > 0.3 * self._one_c) & (cap < 1.5 * self._one_c)
            if ok.any():
                w = np.where(self.updates == 0, 1.0, self._smoothing)
                self.capacity_ah = np.where(ok, self.capacity_ah + w * (cap - self.capacity_ah), self.capacity_ah)
                self.updates += ok
                moved = True
        self.anchors.append((ah, soc))
        self.anchors = self.anchors[-self._max:]
        return moved
