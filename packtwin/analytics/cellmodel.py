"""Cell model: two-RC equivalent circuit over an OCV table, with temperature dependence; parameters are arrays
over cells (structure of arrays), so one call serves every cell of a pack or a fleet.

The twin starts from what the cell JSON states (nameplate capacity, voltage limits, OCV table); resistances and time
constants are identified online (:mod:`packtwin.analytics.identification`). Until then :func:`prior_params` gives
order-of-magnitude values scaled by capacity, which only seed the identification.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from os import PathLike
from typing import Any

import numpy as np

# Gas constant (J/(mol K)) for the Arrhenius law of the resistances.
GAS_CONSTANT = 8.314462618
T_REF_C = 25.0
# Activation energy of the ohmic/charge-transfer resistance; ~20-35 kJ/mol is typical of Li-ion electrolytes.
DEFAULT_ACTIVATION_J_PER_MOL = 25_000.0
OCV_GRID_POINTS = 1001
# Current scale of the charge-transfer (Butler-Volmer) overpotential, as a fraction of 1C: i_ct = 2 * i0 of the
# symmetric Butler-Volmer law. On the DFN reference record the fitted scale is 0.4-1C (best 0.6C).
CHARGE_TRANSFER_CURRENT_C = 0.6


@dataclass(frozen=True)
class CellSpec:
    """What the twin knows about a cell type before it sees data (the cell JSON of the data README)."""

    capacity_ah: float
    voltage_min_v: float
    voltage_max_v: float
    ocv_soc: np.ndarray
    ocv_voltage_v: np.ndarray
    name: str = ""
    # Optional entropic coefficient dOCV/dT (V/K), scalar; 0 when the JSON does not state it.
    docv_dt_v_per_k: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellSpec:
        try:
            ocv = data["ocv"]
            soc = np.asarray(ocv["soc"], dtype=float)
            volt = np.asarray(ocv["voltage_v"], dtype=float)
            spec = cls(capacity_ah=float(data["capacity_ah"]), voltage_min_v=float(data["voltage_min_v"]),
                       voltage_max_v=float(data["voltage_max_v"]), ocv_soc=soc, ocv_voltage_v=volt,
                       name=str(data.get("name", "")), docv_dt_v_per_k=float(data.get("docv_dt_v_per_k", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cell JSON lacks or mistypes a field: {exc}") from exc
        spec.validate()
        return spec

    @classmethod
    def from_json(cls, path: str | PathLike[str]) -> CellSpec:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def validate(self) -> None:
        if not (self.capacity_ah > 0 and math.isfinite(self.capacity_ah)):
            raise ValueError(f"capacity_ah must be positive, got {self.capacity_ah}")
        if not self.voltage_min_v < self.voltage_max_v:
            raise ValueError("voltage_min_v must be below voltage_max_v")
        if self.ocv_soc.shape != self.ocv_voltage_v.shape or self.ocv_soc.size < 2:
            raise ValueError("ocv.soc and ocv.voltage_v must be arrays of the same length >= 2")
        if not (np.all(np.isfinite(self.ocv_soc)) and np.all(np.isfinite(self.ocv_voltage_v))):
            raise ValueError("OCV table holds non-finite values")
        if np.any(np.diff(self.ocv_soc) <= 0):
            raise ValueError("ocv.soc must be strictly increasing")
        if np.any(np.diff(self.ocv_voltage_v) <= 0):
            raise ValueError("ocv.voltage_v must be strictly increasing with soc")

    def with_capacity(self, capacity_ah: float) -> CellSpec:
        return replace(self, capacity_ah=float(capacity_ah))


class OCVCurve:
    """OCV(SoC) resampled on a uniform grid, so a lookup is an index computation and two gathers (no search):
    that keeps the per-step cost flat for 10^4 cells."""

    def __init__(self, soc: np.ndarray, voltage_v: np.ndarray, points: int = OCV_GRID_POINTS) -> None:
        self.soc_lo = float(soc[0])
        self.soc_hi = float(soc[-1])
        grid = np.linspace(self.soc_lo, self.soc_hi, points)
        self.voltage = np.interp(grid, soc, voltage_v)
        self.step = (self.soc_hi - self.soc_lo) / (points - 1)
        self.inv_step = 1.0 / self.step
        # Slope of each segment; the last entry repeats so an index of points-1 stays valid.
        slope = np.diff(self.voltage) * self.inv_step
        self.slope = np.append(slope, slope[-1])
        self._base = self.voltage - self.slope * grid  # OCV = base[k] + slope[k] * soc within segment k
        self._last = points - 2
        self._src_soc = np.asarray(soc, dtype=float)
        self._src_v = np.asarray(voltage_v, dtype=float)

    @classmethod
    def from_spec(cls, spec: CellSpec) -> OCVCurve:
        return cls(spec.ocv_soc, spec.ocv_voltage_v)

    def index(self, soc: np.ndarray) -> np.ndarray:
        k = ((soc - self.soc_lo) * self.inv_step).astype(np.intp)
        np.clip(k, 0, self._last, out=k)
        return k

    def ocv_and_slope(self, soc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """OCV and dOCV/dSoC; outside the table the end segments extrapolate linearly (bounded by the caller)."""
        k = self.index(soc)
        slope = self.slope[k]
        return self._base[k] + slope * soc, slope

    def scalar(self) -> ScalarOCV:
        return ScalarOCV(self)

    def ocv(self, soc: np.ndarray | float) -> np.ndarray:
        return np.interp(soc, self._src_soc, self._src_v)

    def soc_from_ocv(self, voltage_v: np.ndarray | float) -> np.ndarray:
        return np.interp(voltage_v, self._src_v, self._src_soc)


class ScalarOCV:
    """The same lookup for one Python float (no array round trip): the one-cell offline path."""

    def __init__(self, curve: OCVCurve) -> None:
        self._curve = curve
        self._base = curve._base.tolist()
        self._slope = curve.slope.tolist()
        self._lo = curve.soc_lo
        self._inv = curve.inv_step
        self._last = curve._last

    def ocv_and_slope(self, soc: float) -> tuple[float, float]:
        k = int((soc - self._lo) * self._inv)
        k = 0 if k < 0 else (self._last if k > self._last else k)
        g = self._slope[k]
        return self._base[k] + g * soc, g

    def ocv(self, soc: float) -> float:
        return self.ocv_and_slope(soc)[0]

    def soc_from_ocv(self, voltage_v: float) -> float:
        return float(self._curve.soc_from_ocv(voltage_v))


@dataclass
class ECMParams:
    """Two-RC equivalent-circuit parameters at T_REF_C, one entry per cell, plus a charge-transfer overpotential

        eta_ct = r_ct * i_ct * asinh(i / i_ct)

    (symmetric Butler-Volmer with i_ct = 2 * i0): ``r_ct`` is its resistance at small currents, and at large ones it
    grows only logarithmically. A linear R0 alone over-predicts the drop of a 3C peak and under-predicts it at C/5;
    on the DFN reference record the term halves the voltage residual (9 -> 4.4 mV rms, with the true SoC).

    Temperature: every resistance follows one Arrhenius factor f(T) (``resistance_factor``), and so does the exchange
    current, the other way: r_ct = RT/(F i0) up to the transfer coefficients, so i_ct(T) = i_ct / f(T) and the Tafel
    slope r_ct * i_ct stays put. In the cold the drop is then more concave in the current, as a cell's is; with i_ct
    held fixed the identification bent R0 negative to follow it, and the state of charge of a DFN record at 10 degC
    and at 0 degC came out 0.52 % and 1.45 % MAE instead of 0.20 % and 0.51 % (docs/analytics.md)."""

    r0: np.ndarray
    r1: np.ndarray
    tau1: np.ndarray
    r2: np.ndarray
    tau2: np.ndarray
    capacity_ah: np.ndarray
    activation_j_per_mol: float = DEFAULT_ACTIVATION_J_PER_MOL
    r_ct: np.ndarray | None = None    # None: no charge-transfer term (zero)
    i_ct: float = 1.0                 # A, one value per filter: a series string carries one current

    @property
    def r_ct_or_zero(self) -> np.ndarray:
        return self.r_ct if self.r_ct is not None else np.zeros_like(self.r0)

    @property
    def r_dc(self) -> np.ndarray:
        """Resistance at small currents (ohmic + charge transfer)."""
        return self.r0 + self.r_ct_or_zero

    def instant_drop(self, current_a: np.ndarray | float, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Voltage drop at once on a current step from rest (ohmic + charge transfer), at the temperature whose
        Arrhenius factor is ``scale`` (1: T_REF_C)."""
        return scale * (self.r0 * current_a + self.r_ct_or_zero * self.eta_ct(current_a, scale))

    def pulse_resistance(self, current_a: np.ndarray | float, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Instant drop over current (ohm): the resistance a pulse of that size shows (``scale`` as above)."""
        return self.instant_drop(current_a, scale) / current_a

    def eta_ct(self, current_a: np.ndarray | float, scale: np.ndarray | float = 1.0) -> np.ndarray | float:
        """Charge-transfer overpotential per unit r_ct (V/ohm, i.e. an equivalent current), at the temperature whose
        resistance factor is ``scale``."""
        return charge_transfer(current_a, self.i_ct_at(scale))

    def i_ct_at(self, scale: np.ndarray | float) -> np.ndarray | float:
        """The charge-transfer current scale at the temperature whose resistance factor is ``scale``."""
        return self.i_ct / scale

    @property
    def n_cells(self) -> int:
        return int(self.r0.shape[0])

    def resistance_factor(self, temperature_c: np.ndarray | float) -> np.ndarray:
        """Arrhenius factor R(T)/R(T_REF): resistances rise in the cold."""
        t_k = np.asarray(temperature_c, dtype=float) + 273.15
        return np.exp(self.activation_j_per_mol / GAS_CONSTANT * (1.0 / t_k - 1.0 / (T_REF_C + 273.15)))


def charge_transfer(current_a: np.ndarray | float, i_ct: np.ndarray | float) -> np.ndarray | float:
    """``i_ct * asinh(i / i_ct)``: the current-like regressor of the charge-transfer overpotential."""
    if isinstance(current_a, float) and isinstance(i_ct, float):
        return i_ct * math.asinh(current_a / i_ct)
    return i_ct * np.arcsinh(np.asarray(current_a, dtype=float) / i_ct)


def prior_params(capacity_ah: np.ndarray | float, n_cells: int | None = None) -> ECMParams:
    """Seed values before identification: a small-current resistance ~ 50 mOhm*Ah / capacity (typical of EV cells
    from 2 to 100 Ah), split evenly between ohmic and charge transfer, RC branches of similar size with time
    constants of 10 s and 200 s."""
    cap = np.asarray(capacity_ah, dtype=float)
    if n_cells is not None:
        cap = np.broadcast_to(cap, (n_cells,)).copy()
    cap = np.atleast_1d(cap).astype(float)
    r0 = 0.05 / cap
    return ECMParams(r0=0.5 * r0, r1=0.5 * r0, tau1=np.full_like(cap, 10.0), r2=0.5 * r0,
                     tau2=np.full_like(cap, 200.0), capacity_ah=cap.copy(), r_ct=0.5 * r0,
                     i_ct=CHARGE_TRANSFER_CURRENT_C * float(np.median(cap)))


def simulate(params: ECMParams, ocv: OCVCurve, current_a: np.ndarray, dt_s: float, soc0: np.ndarray,
             temperature_c: np.ndarray | float = T_REF_C, short_ohm: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate cells in series carrying ``current_a`` (shape (steps,), positive = discharge).

    ``short_ohm`` (per cell, inf for none) adds an internal short: a parallel resistance drawing V/R from the cell
    itself, invisible to the pack current sensor. Returns terminal voltages and SoC, both shaped (steps, n_cells).
    """
    n = params.n_cells
    steps = current_a.shape[0]
    soc = np.asarray(soc0, dtype=float).copy() * np.ones(n)
    v1 = np.zeros(n)
    v2 = np.zeros(n)
    f = params.resistance_factor(temperature_c)
    r0, r1, r2, r_ct = params.r0 * f, params.r1 * f, params.r2 * f, params.r_ct_or_zero * f
    a1 = np.exp(-dt_s / params.tau1)
    a2 = np.exp(-dt_s / params.tau2)
    g = np.zeros(n) if short_ohm is None else 1.0 / np.asarray(short_ohm, dtype=float)
    volts = np.empty((steps, n))
    socs = np.empty((steps, n))
    v = ocv.ocv(np.clip(soc, 0, 1)) - v1 - v2
    for k in range(steps):
        # The cell's own current = pack current + what the short draws at the present terminal voltage.
        i_cell = current_a[k] + v * g
        v1 = a1 * v1 + r1 * (1 - a1) * i_cell
        v2 = a2 * v2 + r2 * (1 - a2) * i_cell
        soc = soc - i_cell * dt_s / (3600.0 * params.capacity_ah)
        v = ocv.ocv(np.clip(soc, 0, 1)) - r0 * i_cell - r_ct * params.eta_ct(i_cell, f) - v1 - v2
        volts[k] = v
        socs[k] = soc
    return volts, socs
