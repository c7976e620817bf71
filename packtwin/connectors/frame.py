"""The decoded telemetry frame: one pack, one tick, cells as arrays (the contract between ingest, store and workers).

The wire formats (JSON and binary) are specified in docs/mqtt.md and implemented in :mod:`packtwin.connectors.codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Frame:
    pack_id: str
    seq: int
    # Seconds since the Unix epoch (UTC) of the sample, as the gateway stamped it.
    t: float
    # Pack current in A, positive = discharge.
    current_a: float
    # One voltage per series cell (V), float32 or float64, shape (n_cells,).
    cell_voltage_v: np.ndarray
    # Temperature sensors (degC), shape (n_sensors,); may be empty on ticks without a temperature sample.
    temperature_c: np.ndarray
    # Optional extra sensors (e.g. "gas_ppm", "pressure_kpa").
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return int(self.cell_voltage_v.shape[0])
