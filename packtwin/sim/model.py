"""The physical model of a fleet of packs, vectorised as arrays of shape (packs, cells).

Each series element (``n_parallel`` cells in parallel) is a first-order equivalent circuit: OCV(SoC) from the LG M50
table, a series resistance R0 and one RC pair; a lumped thermal node per element exchanges heat with the coolant and
its neighbours. Elements differ in capacity, resistance and self-discharge; they age by calendar (square-root of time)
and cycling (charge throughput), both Arrhenius-accelerated. Faults act on the physics (shorts, self-discharge,
cooling) or on the sensors (offset, stuck, noise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from packtwin.sim.faults import Fault

_KELVIN = 273.15
_T_REF = 298.15


def load_cell() -> dict:
    return json.loads(resources.files("packtwin.sim").joinpath("resources/cell_lgm50.json").read_text())


@dataclass(frozen=True)
class PackDesign:
    n_series: int = 96
    n_parallel: int = 1
    n_temp_sensors: int = 16
    cell_capacity_ah: float = 5.0
    r0_ohm: float = 0.015  # per cell at 25 degC
    r1_ohm: float = 0.010
    tau1_s: float = 30.0
    heat_capacity_j_per_k: float = 70.0  # per cell
    cooling_w_per_k: float = 0.10  # per cell to the coolant
    neighbour_w_per_k: float = 0.20
    coolant_c: float = 25.0
    # Cell-to-cell spread (relative standard deviations) and self-discharge (fraction of capacity per month).
    capacity_spread: float = 0.01
    resistance_spread: float = 0.05
    self_discharge_per_month: float = 0.02
    # Ageing: capacity lost after one year at 25 degC, and per equivalent full cycle.
    calendar_fade_per_year: float = 0.02
    cycle_fade_per_efc: float = 2e-4
    voltage_noise_v: float = 0.001
    voltage_resolution_v: float = 0.001
    temperature_noise_c: float = 0.1

    def __post_init__(self) -> None:
        if self.n_series < 1 or self.n_parallel < 1:
            raise ValueError("a pack needs at least one series element of at least one cell")
        if self.n_temp_sensors < 1:
            raise ValueError("a pack needs at least one temperature sensor")
        if self.n_temp_sensors > self.n_series:
            # A sensor averages a group of elements: small packs get one sensor per element.
            object.__setattr__(self, "n_temp_sensors", self.n_series)


class FleetModel:
    def __init__(self, n_packs: int, design: PackDesign | None = None, seed: int = 0,
                 soc0: tuple[float, float] = (0.6, 0.95), ageing_factor: float = 1.0) -> None:
        self.design = d = design or PackDesign()
        self.rng = rng = np.random.default_rng(seed)
        shape = (n_packs, d.n_series)
        cell = load_cell()
        self._ocv_soc = np.asarray(cell["ocv"]["soc"], dtype=np.float64)
        self._ocv_v = np.asarray(cell["ocv"]["voltage_v"], dtype=np.float64)
        self.v_min, self.v_max = float(cell["voltage_min_v"]), float(cell["voltage_max_v"])
        npar = d.n_parallel
        self.capacity_nominal_ah = d.cell_capacity_ah * npar
        self.capacity0_ah = self.capacity_nominal_ah * (1 + d.capacity_spread * rng.standard_normal(shape))
        self.r0_25 = d.r0_ohm / npar * (1 + d.resistance_spread * rng.standard_normal(shape)).clip(0.5)
        self.r1 = d.r1_ohm / npar * np.ones(shape)
        self.heat_capacity = d.heat_capacity_j_per_k * npar
        self.leak_a = (d.self_discharge_per_month * self.capacity0_ah / (30 * 24)
                       * rng.lognormal(0.0, 0.3, shape))
        pack_soc = rng.uniform(*soc0, size=(n_packs, 1))
        self.soc = (pack_soc + 0.005 * rng.standard_normal(shape)).clip(0.0, 1.0)
        self.v1 = np.zeros(shape)
        self.temp_c = np.full(shape, d.coolant_c) + 0.2 * rng.standard_normal(shape)
        self.fade = np.zeros(shape)  # fraction of capacity lost
        self.age_s = 0.0
        self.ageing_factor = ageing_factor
        # Faults: physics
        self.short_ohm = np.full(shape, np.inf)
        self.extra_leak_a = np.zeros(shape)
        self.cooling_factor = np.ones((n_packs, 1))
        # Faults: sensors
        self.v_offset = np.zeros(shape)
        self.v_noise = np.full(shape, d.voltage_noise_v)
        self.v_stuck = np.full(shape, np.nan)
        self.t_offset = np.zeros((n_packs, d.n_temp_sensors))
        self.balancing = np.zeros(shape, dtype=bool)
        self.balancing_current_a = 0.05 * npar
        self.last_measured_v = self.ocv(self.soc)
        # Temperature sensors: each averages a contiguous group of elements.
        self._sensor_of = np.minimum(np.arange(d.n_series) * d.n_temp_sensors // d.n_series, d.n_temp_sensors - 1)

    @property
    def n_packs(self) -> int:
        return self.soc.shape[0]

    @property
    def capacity_ah(self) -> np.ndarray:
        return self.capacity0_ah * (1 - self.fade)

    @property
    def r0(self) -> np.ndarray:
        # Resistance rises with fade (twice as fast) and at low temperature (Arrhenius, ~25 kJ/mol).
        arrhenius = np.exp(3000.0 * (1 / (self.temp_c + _KELVIN) - 1 / _T_REF))
        return self.r0_25 * (1 + 2 * self.fade) * arrhenius

    def ocv(self, soc: np.ndarray) -> np.ndarray:
        return np.interp(soc, self._ocv_soc, self._ocv_v)

    # -- faults ----------------------------------------------------------------------------------------------------------
    def apply_fault(self, fault: Fault, pack_index: int) -> None:
        p, c, v = pack_index, fault.cell, fault.value
        if fault.kind == "cooling":
            self.cooling_factor[p, 0] = v
            return
        if c is None or not 0 <= c < self.soc.shape[1]:
            raise ValueError(f"cell {None if c is None else c + 1} outside 1..{self.soc.shape[1]}")
        if fault.kind == "short":
            if v <= 0:
                raise ValueError("short resistance must be positive")
            self.short_ohm[p, c] = v
        elif fault.kind == "selfdischarge":
            self.extra_leak_a[p, c] = v
        elif fault.kind == "offset":
            self.v_offset[p, c] = v
        elif fault.kind == "noise":
            self.v_noise[p, c] = v
        elif fault.kind == "stuck":
            self.v_stuck[p, c] = np.nan if v == 0 and not np.isnan(self.v_stuck[p, c]) else \
                self.last_measured_v[p, c]
        elif fault.kind == "temp_offset":
            if c >= self.t_offset.shape[1]:
                raise ValueError(f"temperature sensor {c + 1} outside 1..{self.t_offset.shape[1]}")
            self.t_offset[p, c] = v

    # -- dynamics --------------------------------------------------------------------------------------------------------
    def step(self, dt: float, c_rate: np.ndarray) -> np.ndarray:
        """Advance by ``dt`` seconds with pack C-rates ``c_rate`` (packs,), positive = discharge; returns pack current."""
        d = self.design
        current = c_rate * self.capacity_nominal_ah  # (packs,) A through every series element
        i = current[:, None]
        v_ocv = self.ocv(self.soc)
        r0 = self.r0
        short_a = np.where(np.isfinite(self.short_ohm), v_ocv / self.short_ohm, 0.0)
        bleed = np.where(self.balancing, self.balancing_current_a, 0.0)
        leak = self.leak_a + self.extra_leak_a + short_a + bleed
        cap = self.capacity_ah
        self.soc = np.clip(self.soc - (i + leak) * dt / (3600.0 * cap), 0.0, 1.0)
        decay = np.exp(-dt / d.tau1_s)
        self.v1 = self.v1 * decay + self.r1 * (1 - decay) * i
        # Heat: Joule losses, the short, balancing resistors sit on the board (not in the cell).
        heat = i * i * r0 + i * self.v1 + short_a * v_ocv
        cooling = d.cooling_w_per_k * d.n_parallel * self.cooling_factor * (self.temp_c - d.coolant_c)
        padded = np.pad(self.temp_c, ((0, 0), (1, 1)), mode="edge")
        conduction = d.neighbour_w_per_k * (padded[:, :-2] + padded[:, 2:] - 2 * self.temp_c)
        self.temp_c = self.temp_c + dt * (heat - cooling + conduction) / self.heat_capacity
        self._age(dt, i, cap)
        return current

    def _age(self, dt: float, i: np.ndarray, cap: np.ndarray) -> None:
        d = self.design
        k = self.ageing_factor
        if k <= 0:
            return
        arrhenius = np.exp(4000.0 * (1 / _T_REF - 1 / (self.temp_c + _KELVIN)))  # x2 per ~10 K
        year = 365.25 * 86400.0
        t_prev, self.age_s = self.age_s, self.age_s + dt * k
        calendar = d.calendar_fade_per_year * (np.sqrt(self.age_s / year) - np.sqrt(t_prev / year))
        cycle = d.cycle_fade_per_efc * np.abs(i) * dt * k / (3600.0 * 2 * cap)
        self.fade = np.minimum(self.fade + (calendar + cycle) * arrhenius, 0.9)

    def terminal_voltage(self, current: np.ndarray) -> np.ndarray:
        return self.ocv(self.soc) - current[:, None] * self.r0 - self.v1

    # -- sensors ---------------------------------------------------------------------------------------------------------
    def measure_voltage(self, current: np.ndarray) -> np.ndarray:
        d = self.design
        v = self.terminal_voltage(current) + self.v_offset + self.v_noise * self.rng.standard_normal(self.soc.shape)
        v = np.round(v / d.voltage_resolution_v) * d.voltage_resolution_v
        v = np.where(np.isnan(self.v_stuck), v, self.v_stuck)
        self.last_measured_v = v
        return v

    def measure_temperature(self) -> np.ndarray:
        d = self.design
        sums = np.zeros((self.n_packs, d.n_temp_sensors))
        np.add.at(sums, (slice(None), self._sensor_of), self.temp_c)
        counts = np.bincount(self._sensor_of, minlength=d.n_temp_sensors)
        temps = sums / counts + self.t_offset
        return temps + d.temperature_noise_c * self.rng.standard_normal(temps.shape)

    def gas_ppm(self) -> np.ndarray:
        """Electrolyte vapour near the cells: background, rising steeply once a cell passes ~80 degC (venting)."""
        hottest = self.temp_c.max(axis=1)
        return 0.5 + np.where(hottest > 80.0, (hottest - 80.0) ** 2, 0.0)
