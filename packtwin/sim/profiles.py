"""Load profiles that drive the simulated packs: real drive cycles as C-rate series, and charging sessions."""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

DRIVE_CYCLES = ("UDDS", "US06", "WLTC")
# UDDS and US06 are currents of a 5 Ah cell (peak 8.1 A = 1.6 C); WLTC is a vehicle power trace, scaled to a 2 C peak.
_CELL_AH = 5.0
_WLTC_PEAK_C = 2.0


@cache
def drive_cycle(name: str, dt: float = 0.1) -> np.ndarray:
    """The C-rate (positive = discharge) of drive cycle ``name`` resampled to a ``dt`` grid."""
    if name not in DRIVE_CYCLES:
        raise ValueError(f"unknown drive cycle {name!r}; choose from {', '.join(DRIVE_CYCLES)}")
    text = resources.files("packtwin.sim").joinpath(f"resources/drive_cycles/{name}.csv").read_text()
    data = np.loadtxt(text.splitlines(), delimiter=",", comments="#")
    t, x = data[:, 0], data[:, 1]
    c_rate = x / _CELL_AH if name != "WLTC" else x / np.abs(x).max() * _WLTC_PEAK_C
    grid = np.arange(0.0, t[-1], dt)
    return np.interp(grid, t, c_rate).astype(np.float64)


class ChargeSession:
    """CC-CV charging: constant current until the highest cell reaches ``v_max``, then the current tapers.

    State per pack (vectorised): the present charging C-rate, negative (= charge).
    """

    def __init__(self, c_rate: float = 0.7, v_max: float = 4.15, end_c: float = 0.05) -> None:
        self.c_rate, self.v_max, self.end_c = c_rate, v_max, end_c

    def next_c_rate(self, present: np.ndarray, v_cell_max: np.ndarray, limit_c: np.ndarray) -> np.ndarray:
        """Next charging C-rate (<= 0) from the present one, the highest cell voltage and the commanded limit."""
        c = np.where(present < 0, present, -self.c_rate)
        # CV phase: shrink the current while the top cell is above the limit.
        c = np.where(v_cell_max > self.v_max, c * 0.97, c)
        return np.maximum(c, -limit_c)

    def done(self, c: np.ndarray) -> np.ndarray:
        return np.abs(c) < self.end_c
