"""The live view of the fleet for the dashboard: latest frame and estimate of every pack, bounded trends, alerts.

Everything here is in memory and bounded (ring buffers), so the overview of a large fleet is computed from arrays
without touching the repository or the time-series store.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from packtwin.connectors.frame import Frame

TREND_POINTS = 240  # estimates kept per pack for the state-of-health trend and RUL
ALERTS_KEPT = 200


@dataclass
class PackLive:
    pack_id: str
    n_cells: int
    t: float = math.nan
    seq: int = -1
    current_a: float = math.nan
    voltage_v: np.ndarray | None = None
    temperature_c: np.ndarray | None = None
    frames: int = 0
    # From the estimator (None until its first estimate).
    estimate_t: float = math.nan
    soc_cells: np.ndarray | None = None
    soh_cells: np.ndarray | None = None
    capacity_ah_cells: np.ndarray | None = None
    pack_soh_pct: float = math.nan
    pack_soc: float = math.nan
    cycles: float = 0.0
    # Trend rows: (t, full-equivalent cycles, soh per cell) for history charts and RUL.
    trend_t: deque = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    trend_cycles: deque = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    trend_soh: deque = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    trend_capacity: deque = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    trend_soc: deque = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    alerts: int = 0


class LiveFleet:
    """Thread-safe: ingest and estimator threads write, HTTP handlers read."""

    def __init__(self, rated_capacity_ah: float, cells_per_module: int) -> None:
        self.rated_capacity_ah = rated_capacity_ah
        self.cells_per_module = cells_per_module
        self.packs: dict[str, PackLive] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=ALERTS_KEPT)
        self.alerts_total = 0
        self.estimates_total = 0
        self.lock = threading.Lock()
        self.started = time.time()

    def add_pack(self, pack_id: str, n_cells: int) -> None:
        with self.lock:
            self.packs.setdefault(pack_id, PackLive(pack_id, n_cells))

    def on_frames(self, frames: list[Frame]) -> None:
        with self.lock:
            for f in frames:
                p = self.packs.get(f.pack_id)
                if p is None or f.seq <= p.seq:
                    continue
                p.t, p.seq, p.current_a = f.t, f.seq, f.current_a
                p.voltage_v = np.asarray(f.cell_voltage_v, dtype=float)
                if len(f.temperature_c):
                    p.temperature_c = np.asarray(f.temperature_c, dtype=float)
                p.frames += 1

    def on_estimate(self, pack_id: str, t: float, soc_cells: np.ndarray, capacity_ah_cells: np.ndarray,
                    cycles: float) -> None:
        soh = 100.0 * capacity_ah_cells / self.rated_capacity_ah
        with self.lock:
            p = self.packs.get(pack_id)
            if p is None:
                return
            p.estimate_t, p.soc_cells, p.capacity_ah_cells, p.soh_cells = t, soc_cells, capacity_ah_cells, soh
            # The pack is as strong as its weakest series element.
            p.pack_soh_pct = float(np.min(soh))
            p.pack_soc = float(np.mean(soc_cells))
            p.cycles = cycles
            p.trend_t.append(t)
            p.trend_cycles.append(cycles)
            p.trend_soh.append(soh.astype(np.float32))
            p.trend_capacity.append(capacity_ah_cells.astype(np.float32))
            p.trend_soc.append(soc_cells.astype(np.float32))
            self.estimates_total += 1

    def on_alert(self, pack_id: str, alert: dict[str, Any]) -> dict[str, Any]:
        doc = {"pack_id": pack_id, **alert, "raised_at": time.time()}
        with self.lock:
            self.alerts.appendleft(doc)
            self.alerts_total += 1
            p = self.packs.get(pack_id)
            if p is not None:
                p.alerts += 1
        return doc

    # -- views -----------------------------------------------------------------------------------------------------
    def cell_serial(self, pack_id: str, index: int) -> str:
        module, cell = divmod(index, self.cells_per_module)
        return f"{pack_id}-M{module + 1:02d}-C{cell + 1:03d}"

    def overview(self) -> dict[str, Any]:
        """Fleet summary: per pack one row, SoH/SoC distributions over all cells, the latest alerts."""
        with self.lock:
            rows = []
            soh_all, soc_all = [], []
            for p in self.packs.values():
                rows.append({
                    "pack_id": p.pack_id, "t": _num(p.t), "current_a": _num(p.current_a),
                    "voltage_v": _num(float(p.voltage_v.sum())) if p.voltage_v is not None else None,
                    "max_temperature_c": _num(float(p.temperature_c.max())) if p.temperature_c is not None
                    else None,
                    "soc_pct": _num(100.0 * p.pack_soc), "soh_pct": _num(p.pack_soh_pct), "alerts": p.alerts,
                    "frames": p.frames,
                })
                if p.soh_cells is not None:
                    soh_all.append(p.soh_cells)
                    soc_all.append(100.0 * p.soc_cells)
            alerts = list(self.alerts)[:50]
            alerts_total, estimates = self.alerts_total, self.estimates_total
        soh_edges = np.arange(60.0, 112.5, 2.5)
        soc_edges = np.arange(0.0, 105.0, 5.0)
        return {
            "packs": rows,
            "soh_histogram": _histogram(soh_all, soh_edges),
            "soc_histogram": _histogram(soc_all, soc_edges),
            "alerts": alerts, "alerts_total": alerts_total, "estimates_total": estimates,
        }

    def pack(self, pack_id: str) -> dict[str, Any] | None:
        with self.lock:
            p = self.packs.get(pack_id)
            if p is None:
                return None
            cells = []
            for i in range(p.n_cells):
                cells.append({
                    "serial": self.cell_serial(pack_id, i), "index": i,
                    "voltage_v": _arr(p.voltage_v, i), "soc_pct": _arr(p.soc_cells, i, 100.0),
                    "soh_pct": _arr(p.soh_cells, i),
                })
            temps = [_num(float(x)) for x in p.temperature_c] if p.temperature_c is not None else []
            return {"pack_id": pack_id, "t": _num(p.t), "current_a": _num(p.current_a), "temperature_c": temps,
                    "soc_pct": _num(100.0 * p.pack_soc), "soh_pct": _num(p.pack_soh_pct), "cells": cells,
                    "cells_per_module": self.cells_per_module,
                    "alerts": [a for a in self.alerts if a["pack_id"] == pack_id][:20]}

    def cell_trend(self, pack_id: str, index: int) -> dict[str, Any] | None:
        with self.lock:
            p = self.packs.get(pack_id)
            if p is None or not 0 <= index < p.n_cells:
                return None
            t = list(p.trend_t)
            cycles = list(p.trend_cycles)
            soh = [float(row[index]) for row in p.trend_soh]
            cap = [float(row[index]) for row in p.trend_capacity]
            soc = _arr(p.soc_cells, index, 100.0)
        return {"t": t, "cycles": cycles, "soh_pct": soh, "capacity_ah": cap, "soc_pct": soc}

    def alert_dicts(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.alerts)


def _num(x: float) -> float | None:
    return round(x, 4) if x is not None and math.isfinite(x) else None


def _arr(a: np.ndarray | None, i: int, scale: float = 1.0) -> float | None:
    return _num(float(a[i]) * scale) if a is not None else None


def _histogram(parts: list[np.ndarray], edges: np.ndarray) -> dict[str, Any]:
    values = np.concatenate(parts) if parts else np.empty(0)
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "n": int(values.size)}
