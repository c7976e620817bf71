"""The telemetry history behind one interface: batched appends, queries by pack/cell/time with downsampling, retention.

A stored frame is a row ``(pack_id, seq, t, current_a, cell_voltage_v, temperature_c, extra)`` whose arrays are
little-endian float32 blobs (the wire encoding of docs/mqtt.md, so the ingest stores what it received without a copy
through Python floats). ``(pack_id, seq)`` is the key: appending a row twice stores it once (at-least-once delivery).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from packtwin.connectors.frame import Frame

# (pack_id, seq, t, current_a, cell_voltage_v float32 bytes, temperature_c float32 bytes, extra JSON or None)
Row = tuple[str, int, float, float, bytes, bytes, "str | None"]


def frame_to_row(frame: Frame) -> Row:
    return (frame.pack_id, int(frame.seq), float(frame.t), float(frame.current_a),
            np.ascontiguousarray(frame.cell_voltage_v, dtype="<f4").tobytes(),
            np.ascontiguousarray(frame.temperature_c, dtype="<f4").tobytes(),
            json.dumps(frame.extra, separators=(",", ":")) if frame.extra else None)


def row_to_frame(row: Sequence) -> Frame:
    pack_id, seq, t, current, volts, temps, extra = row
    return Frame(pack_id, int(seq), float(t), float(current), np.frombuffer(volts, dtype="<f4"),
                 np.frombuffer(temps or b"", dtype="<f4"), json.loads(extra) if extra else {})


@dataclass(frozen=True)
class DeadLetter:
    received_at: float
    topic: str
    reason: str
    detail: str
    payload: bytes


@dataclass(frozen=True)
class Gap:
    pack_id: str
    # The last seq seen before the gap and the first seq after it: seqs after_seq+1 .. before_seq-1 are missing.
    after_seq: int
    before_seq: int
    detected_at: float

    @property
    def missing(self) -> int:
        return self.before_seq - self.after_seq - 1


@dataclass
class FrameSeries:
    """Frames of one pack over a time range, cells as columns."""

    pack_id: str
    seq: np.ndarray  # (n,) int64
    t: np.ndarray  # (n,) float64
    current_a: np.ndarray  # (n,) float64
    cell_voltage_v: np.ndarray  # (n, n_cells) float32
    # Temperature samples only exist on some ticks (1 Hz vs 10 Hz): their own time axis.
    temperature_t: np.ndarray  # (m,)
    temperature_c: np.ndarray  # (m, n_sensors) float32

    def __len__(self) -> int:
        return int(self.t.shape[0])


def stack_rows(pack_id: str, rows: Sequence[Sequence]) -> FrameSeries:
    """Build a FrameSeries from ``(seq, t, current_a, volts, temps)`` rows sorted by time."""
    n = len(rows)
    seq = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    t = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
    current = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    widths = {len(r[3]) for r in rows}
    if len(widths) > 1:
        raise ValueError(f"pack {pack_id} changed its number of cells inside the range: {sorted(widths)} bytes")
    n_cells = widths.pop() // 4 if widths else 0
    volts = np.frombuffer(b"".join(bytes(r[3]) for r in rows), dtype="<f4").reshape(n, n_cells)
    with_temps = [(r[1], bytes(r[4])) for r in rows if r[4]]
    t_widths = {len(b) for _, b in with_temps}
    if len(t_widths) > 1:
        raise ValueError(f"pack {pack_id} changed its number of temperature sensors inside the range")
    n_sensors = t_widths.pop() // 4 if t_widths else 0
    temps_t = np.array([x for x, _ in with_temps], dtype=np.float64)
    temps = np.frombuffer(b"".join(b for _, b in with_temps), dtype="<f4").reshape(len(with_temps), n_sensors)
    return FrameSeries(pack_id, seq, t, current, volts, temps_t, temps)


def downsample(t: np.ndarray, values: np.ndarray, bucket_s: float, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Aggregate ``values`` (n,) or (n, k) into time buckets of ``bucket_s`` seconds; returns bucket starts, values."""
    if how not in ("mean", "min", "max", "last"):
        raise ValueError(f"unknown aggregation {how!r}")
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    if t.size == 0:
        return t.copy(), values.copy()
    keys = np.floor(t / bucket_s).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    if how == "mean":
        sums = np.add.reduceat(values.astype(np.float64), starts, axis=0)
        counts = np.diff(np.r_[starts, t.size])
        out = sums / (counts[:, None] if values.ndim == 2 else counts)
    elif how == "min":
        out = np.minimum.reduceat(values, starts, axis=0)
    elif how == "max":
        out = np.maximum.reduceat(values, starts, axis=0)
    else:
        out = values[np.r_[starts[1:] - 1, t.size - 1]]
    return keys[starts] * bucket_s, out


class TimeSeriesStore(ABC):
    """One interface for the embedded SQLite store and PostgreSQL."""

    url: str

    # -- writes ----------------------------------------------------------------------------------------------------
    @abstractmethod
    def append_rows(self, rows: Sequence[Row]) -> int:
        """Store ``rows`` durably in one transaction; returns how many were new (the rest were duplicates)."""

    def append(self, frames: Iterable[Frame]) -> int:
        return self.append_rows([frame_to_row(f) for f in frames])

    def write_batch(self, rows: Sequence[Row], deadletters: Sequence[DeadLetter] = (),
                    gaps: Sequence[Gap] = ()) -> int:
        """Frames, dead letters and gaps of one ingest batch; returns the number of new frames."""
        self.add_deadletters(deadletters)
        self.add_gaps(gaps)
        return self.append_rows(rows)

    @abstractmethod
    def add_deadletters(self, letters: Sequence[DeadLetter]) -> None: ...

    @abstractmethod
    def add_gaps(self, gaps: Sequence[Gap]) -> None: ...

    @abstractmethod
    def delete_before(self, t: float, pack_id: str | None = None) -> int:
        """Retention: drop frames older than ``t`` (epoch seconds); returns how many."""

    # -- reads -----------------------------------------------------------------------------------------------------
    @abstractmethod
    def count(self, pack_id: str | None = None) -> int: ...

    @abstractmethod
    def pack_ids(self) -> list[str]: ...

    @abstractmethod
    def last_seq_by_pack(self) -> dict[str, int]: ...

    @abstractmethod
    def seqs(self, pack_id: str) -> np.ndarray:
        """All stored seqs of a pack, ascending (for audits: zero lost, zero duplicated)."""

    @abstractmethod
    def count_between(self, pack_id: str, after_seq: int, before_seq: int) -> int:
        """How many frames of a pack are stored with after_seq < seq < before_seq (is a gap filled?)."""

    @abstractmethod
    def extent(self, pack_id: str) -> tuple[int, float, float] | None:
        """``(count, t_first, t_last)`` of a pack, None when nothing is stored."""

    @abstractmethod
    def _range_rows(self, pack_id: str, t0: float, t1: float, limit: int | None) -> list[Sequence]:
        """``(seq, t, current_a, volts, temps)`` rows with t0 <= t < t1 ordered by t."""

    @abstractmethod
    def deadletters(self, limit: int | None = None) -> list[DeadLetter]: ...

    @abstractmethod
    def gaps(self, pack_id: str | None = None) -> list[Gap]: ...

    @abstractmethod
    def close(self) -> None: ...

    def frames(self, pack_id: str, t0: float = 0.0, t1: float = float("inf"), limit: int | None = None) -> FrameSeries:
        return stack_rows(pack_id, self._range_rows(pack_id, t0, t1, limit))

    def cell_series(self, pack_id: str, cell: int, t0: float = 0.0, t1: float = float("inf"),
                    bucket_s: float | None = None, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
        """Voltage of one cell (0-based index) over time, optionally downsampled into ``bucket_s`` buckets."""
        series = self.frames(pack_id, t0, t1)
        if len(series) and not 0 <= cell < series.cell_voltage_v.shape[1]:
            raise IndexError(f"cell {cell} outside 0..{series.cell_voltage_v.shape[1] - 1}")
        v = series.cell_voltage_v[:, cell] if len(series) else np.empty(0, np.float32)
        return (series.t, v) if bucket_s is None else downsample(series.t, v, bucket_s, how)

    def __enter__(self) -> TimeSeriesStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
