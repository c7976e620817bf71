"""Telemetry frame wire formats, version 1: compact binary and JSON (both specified in docs/mqtt.md).

The pack id travels in the topic, not in the payload. Decoding validates everything a gateway can get wrong and raises
:class:`FrameError` with a machine-readable ``reason`` (the dead-letter reason) and a human-readable detail.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping

import numpy as np

from packtwin.connectors.frame import Frame

MAGIC = b"PT"
VERSION = 1
# magic, version, flags, seq, t, current_a, n_cells, n_temps, n_extra, 2 pad bytes -> 32 bytes, so arrays are aligned.
HEADER = struct.Struct("<2sBBQdfHHHxx")
EXTRA_VALUE = struct.Struct("<f")

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_CELLS = 4096
MAX_TEMPS = 1024
MAX_EXTRA = 32
# Plausibility limits: beyond these a value is a broken sensor or a broken encoder, not a measurement.
CELL_VOLTAGE_RANGE_V = (-5.0, 10.0)
TEMPERATURE_RANGE_C = (-100.0, 400.0)
CURRENT_LIMIT_A = 100_000.0
SEQ_MAX = 2**63 - 1

JSON_FIELDS = {"version", "pack_id", "seq", "t", "current_a", "cell_voltage_v", "temperature_c", "extra"}


class FrameError(ValueError):
    """A payload that is not a valid telemetry frame; ``reason`` is one of the dead-letter reasons of docs/mqtt.md."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# -- encoding --------------------------------------------------------------------------------------------------------
def _encode_extra(extra: Mapping[str, float]) -> bytes:
    parts = []
    for name, value in extra.items():
        raw = name.encode()
        if not 0 < len(raw) < 256:
            raise ValueError(f"extra sensor name must be 1..255 bytes: {name!r}")
        parts.append(bytes((len(raw),)) + raw + EXTRA_VALUE.pack(value))
    return b"".join(parts)


def encode_binary_parts(seq: int, t: float, current_a: float, cell_voltage_f32: bytes, temperature_f32: bytes,
                        extra: Mapping[str, float] | None = None) -> bytes:
    """The binary payload from float32 byte strings (the simulator's fast path: no Frame, no array copies)."""
    n_extra = len(extra) if extra else 0
    head = HEADER.pack(MAGIC, VERSION, 0, seq, t, current_a, len(cell_voltage_f32) // 4, len(temperature_f32) // 4,
                       n_extra)
    if n_extra:
        return b"".join((head, cell_voltage_f32, temperature_f32, _encode_extra(extra)))  # type: ignore[arg-type]
    return b"".join((head, cell_voltage_f32, temperature_f32))


def encode_binary(frame: Frame) -> bytes:
    return encode_binary_parts(frame.seq, frame.t, frame.current_a,
                               np.ascontiguousarray(frame.cell_voltage_v, dtype="<f4").tobytes(),
                               np.ascontiguousarray(frame.temperature_c, dtype="<f4").tobytes(), frame.extra)


def encode_json(frame: Frame, include_pack_id: bool = True) -> bytes:
    doc: dict[str, object] = {"version": VERSION}
    if include_pack_id:
        doc["pack_id"] = frame.pack_id
    doc.update(seq=frame.seq, t=frame.t, current_a=frame.current_a,
               cell_voltage_v=[round(float(v), 6) for v in frame.cell_voltage_v],
               temperature_c=[round(float(v), 4) for v in frame.temperature_c])
    if frame.extra:
        doc["extra"] = dict(frame.extra)
    return json.dumps(doc, separators=(",", ":")).encode()


# -- decoding --------------------------------------------------------------------------------------------------------
def decode(payload: bytes, pack_id: str, expected_cells: int | None = None,
           max_bytes: int = MAX_PAYLOAD_BYTES) -> Frame:
    """Decode and validate one payload received on the telemetry topic of ``pack_id``.

    ``expected_cells`` (from the pack's twin, when known) turns a plausible but wrong voltage array length into an
    error. Binary payloads start with ``PT``, JSON payloads with ``{``.
    """
    if len(payload) > max_bytes:
        raise FrameError("oversized", f"{len(payload)} bytes > limit {max_bytes}")
    if payload[:2] == MAGIC:
        frame = _decode_binary(payload, pack_id)
    elif payload[:1] == b"{" or payload.lstrip()[:1] == b"{":
        frame = _decode_json(payload, pack_id)
    elif not payload:
        raise FrameError("truncated", "empty payload")
    else:
        raise FrameError("unknown_format", f"payload starts with {bytes(payload[:4])!r}, neither binary nor JSON")
    _check_values(frame, expected_cells)
    return frame


def _decode_binary(payload: bytes, pack_id: str) -> Frame:
    if len(payload) < HEADER.size:
        raise FrameError("truncated", f"{len(payload)} bytes < header size {HEADER.size}")
    _, version, _flags, seq, t, current, n_cells, n_temps, n_extra = HEADER.unpack_from(payload)
    if version != VERSION:
        raise FrameError("unknown_schema_version", f"binary version {version}, this ingest reads {VERSION}")
    if n_cells == 0 or n_cells > MAX_CELLS:
        raise FrameError("wrong_length", f"n_cells {n_cells} outside 1..{MAX_CELLS}")
    if n_temps > MAX_TEMPS or n_extra > MAX_EXTRA:
        raise FrameError("wrong_length", f"n_temps {n_temps} or n_extra {n_extra} above limits")
    end_cells = HEADER.size + 4 * n_cells
    end_temps = end_cells + 4 * n_temps
    if len(payload) < end_temps:
        raise FrameError("truncated", f"{len(payload)} bytes, header announces {end_temps} for the arrays")
    volts = np.frombuffer(payload, dtype="<f4", count=n_cells, offset=HEADER.size)
    temps = np.frombuffer(payload, dtype="<f4", count=n_temps, offset=end_cells)
    extra = _parse_extra(payload, end_temps, n_extra) if n_extra else {}
    return Frame(pack_id, seq, t, current, volts, temps, extra)


def _parse_extra(payload: bytes, pos: int, n_extra: int) -> dict[str, float]:
    """The extra sensors from ``pos`` to the end of the payload (which they must fill exactly)."""
    extra: dict[str, float] = {}
    for _ in range(n_extra):
        if pos >= len(payload):
            raise FrameError("truncated", "extra sensors announced but missing")
        n = payload[pos]
        name_end = pos + 1 + n
        if n == 0 or name_end + 4 > len(payload):
            raise FrameError("truncated", "extra sensor entry cut short")
        try:
            name = bytes(payload[pos + 1:name_end]).decode()
        except UnicodeDecodeError as exc:
            raise FrameError("wrong_type", "extra sensor name is not UTF-8") from exc
        extra[name] = EXTRA_VALUE.unpack_from(payload, name_end)[0]
        pos = name_end + 4
    if pos != len(payload):
        raise FrameError("wrong_length", f"{len(payload) - pos} trailing bytes after the frame")
    return extra


def _is_number(x: object) -> bool:
    return type(x) in (int, float)


def _number_list(doc: Mapping[str, object], key: str, required: bool) -> np.ndarray:
    raw = doc.get(key)
    if raw is None:
        if required:
            raise FrameError("missing_field", f"{key} is required")
        return np.empty(0, dtype=np.float32)
    if not isinstance(raw, list) or not all(_is_number(x) for x in raw):
        raise FrameError("wrong_type", f"{key} must be an array of numbers")
    return np.asarray(raw, dtype=np.float64).astype(np.float32)


def _decode_json(payload: bytes, pack_id: str) -> Frame:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError("bad_json", str(exc)[:200]) from exc
    if not isinstance(doc, dict):
        raise FrameError("wrong_type", "the JSON frame must be an object")
    version = doc.get("version")
    if version != VERSION or not _is_number(version):
        raise FrameError("unknown_schema_version", f"version {version!r}, this ingest reads {VERSION}")
    unknown = set(doc) - JSON_FIELDS
    if unknown:
        raise FrameError("unknown_field", ", ".join(sorted(unknown))[:200])
    if "pack_id" in doc and doc["pack_id"] != pack_id:
        raise FrameError("pack_mismatch", f"payload pack_id {doc['pack_id']!r} on the topic of {pack_id!r}")
    for key in ("seq", "t", "current_a"):
        if key not in doc:
            raise FrameError("missing_field", f"{key} is required")
    seq, t, current = doc["seq"], doc["t"], doc["current_a"]
    if type(seq) is not int:
        raise FrameError("wrong_type", f"seq must be an integer, got {type(seq).__name__}")
    if not (_is_number(t) and _is_number(current)):
        raise FrameError("wrong_type", "t and current_a must be numbers")
    volts = _number_list(doc, "cell_voltage_v", required=True)
    temps = _number_list(doc, "temperature_c", required=False)
    extra_raw = doc.get("extra") or {}
    if not isinstance(extra_raw, dict) or not all(_is_number(v) for v in extra_raw.values()):
        raise FrameError("wrong_type", "extra must be an object of numbers")
    if len(volts) == 0 or len(volts) > MAX_CELLS or len(temps) > MAX_TEMPS or len(extra_raw) > MAX_EXTRA:
        raise FrameError("wrong_length", f"{len(volts)} cells, {len(temps)} temperatures, {len(extra_raw)} extras")
    return Frame(pack_id, seq, float(t), float(current), volts, temps, {str(k): float(v) for k, v in extra_raw.items()})


def _check_values(frame: Frame, expected_cells: int | None) -> None:
    if not 0 <= frame.seq <= SEQ_MAX:
        raise FrameError("out_of_range", f"seq {frame.seq} outside 0..2^63-1")
    if not (math.isfinite(frame.t) and frame.t >= 0):
        raise FrameError("not_finite", f"timestamp {frame.t!r}")
    if not math.isfinite(frame.current_a):
        raise FrameError("not_finite", f"current_a {frame.current_a!r}")
    if abs(frame.current_a) > CURRENT_LIMIT_A:
        raise FrameError("out_of_range", f"current_a {frame.current_a} A")
    if expected_cells is not None and frame.n_cells != expected_cells:
        raise FrameError("wrong_length", f"{frame.n_cells} cell voltages, the pack has {expected_cells} cells")
    v = frame.cell_voltage_v
    lo, hi = CELL_VOLTAGE_RANGE_V
    # One min/max pass each; NaN makes both comparisons false, so isfinite is only run on the rare failing frame.
    vmin, vmax = v.min(), v.max()
    if not (lo <= vmin and vmax <= hi):
        if not np.isfinite(v).all():
            raise FrameError("not_finite", "cell_voltage_v contains NaN or inf")
        raise FrameError("out_of_range", f"cell voltage outside {lo}..{hi} V ({vmin:.3f}..{vmax:.3f})")
    temps = frame.temperature_c
    if temps.size:
        lo, hi = TEMPERATURE_RANGE_C
        tmin, tmax = temps.min(), temps.max()
        if not (lo <= tmin and tmax <= hi):
            if not np.isfinite(temps).all():
                raise FrameError("not_finite", "temperature_c contains NaN or inf")
            raise FrameError("out_of_range", f"temperature outside {lo}..{hi} degC")
    for name, value in frame.extra.items():
        if not math.isfinite(value):
            raise FrameError("not_finite", f"extra {name!r} = {value!r}")


# -- batch decoding (the ingest's fast path) ----------------------------------------------------------------------------
# (pack_id, seq, t, current_a, cell_voltage_v float32 bytes, temperature_c float32 bytes, extra JSON or None): the row
# of packtwin.timeseries.base.Row, built straight from the payload bytes.
BatchRow = tuple[str, int, float, float, bytes, bytes, "str | None"]


def decode_batch(pack_ids: list[str], payloads: list[bytes], expected_cells: Mapping[str, int | None] | None = None,
                 max_bytes: int = MAX_PAYLOAD_BYTES) -> tuple[list[tuple[int, BatchRow]], list[tuple[int, FrameError]]]:
    """Decode and validate many payloads at once; returns ``[(index, row)]`` and ``[(index, error)]``.

    Plain binary frames (no extra sensors) are checked with one vectorised pass per batch instead of per frame;
    anything else, and every frame that fails a vectorised check, goes through :func:`decode` for the exact reason.
    The rows come out in input order.
    """
    ok: list[tuple[int, BatchRow]] = []
    errors: list[tuple[int, FrameError]] = []
    fast: dict[tuple[int, int], list[int]] = {}
    heads: dict[int, tuple] = {}
    extras: dict[int, str] = {}
    size, unpack = HEADER.size, HEADER.unpack_from
    for i, payload in enumerate(payloads):
        n = len(payload)
        if payload[:2] == MAGIC and size <= n <= max_bytes:
            head = unpack(payload)
            n_cells, n_temps, n_extra = head[6], head[7], head[8]
            end = size + 4 * (n_cells + n_temps)
            want = expected_cells.get(pack_ids[i]) if expected_cells else None
            if (head[1] == VERSION and 0 < n_cells <= MAX_CELLS and n_temps <= MAX_TEMPS and n_extra <= MAX_EXTRA
                    and (n == end if n_extra == 0 else n > end) and (want is None or want == n_cells)):
                if n_extra:
                    try:
                        extra = _parse_extra(payload, end, n_extra)
                    except FrameError as exc:
                        errors.append((i, exc))
                        continue
                    if not all(math.isfinite(v) for v in extra.values()):
                        _slow(i, pack_ids[i], payload, expected_cells, max_bytes, ok, errors)
                        continue
                    extras[i] = json.dumps(extra, separators=(",", ":"))
                heads[i] = head
                fast.setdefault((n_cells, n_temps), []).append(i)
                continue
        _slow(i, pack_ids[i], payload, expected_cells, max_bytes, ok, errors)
    v_lo, v_hi = CELL_VOLTAGE_RANGE_V
    t_lo, t_hi = TEMPERATURE_RANGE_C
    for (n_cells, n_temps), idx in fast.items():
        end = size + 4 * n_cells
        end_temps = end + 4 * n_temps
        volt_bytes = [payloads[i][size:end] for i in idx]
        volts = np.frombuffer(b"".join(volt_bytes), dtype="<f4").reshape(len(idx), n_cells)
        good = (volts.min(axis=1) >= v_lo) & (volts.max(axis=1) <= v_hi)  # NaN fails both
        seq = np.fromiter((heads[i][3] for i in idx), dtype=np.uint64, count=len(idx))
        t = np.fromiter((heads[i][4] for i in idx), dtype=np.float64, count=len(idx))
        cur = np.fromiter((heads[i][5] for i in idx), dtype=np.float64, count=len(idx))
        good &= (t >= 0) & np.isfinite(t) & (np.abs(cur) <= CURRENT_LIMIT_A) & (seq <= np.uint64(SEQ_MAX))
        temp_bytes = [payloads[i][end:end_temps] for i in idx] if n_temps else None
        if n_temps:
            temps = np.frombuffer(b"".join(temp_bytes), dtype="<f4").reshape(len(idx), n_temps)  # type: ignore[arg-type]
            good &= (temps.min(axis=1) >= t_lo) & (temps.max(axis=1) <= t_hi)
        for k, i in enumerate(idx):
            if good[k]:
                h = heads[i]
                ok.append((i, (pack_ids[i], h[3], h[4], h[5], volt_bytes[k], temp_bytes[k] if temp_bytes else b"",
                               extras.get(i))))
            else:
                _slow(i, pack_ids[i], payloads[i], expected_cells, max_bytes, ok, errors)
    ok.sort(key=lambda item: item[0])
    return ok, errors


def _slow(i: int, pack_id: str, payload: bytes, expected_cells: Mapping[str, int | None] | None, max_bytes: int,
          ok: list, errors: list) -> None:
    try:
        frame = decode(payload, pack_id, expected_cells.get(pack_id) if expected_cells else None, max_bytes)
    except FrameError as exc:
        errors.append((i, exc))
        return
    ok.append((i, (pack_id, frame.seq, frame.t, frame.current_a,
                   np.ascontiguousarray(frame.cell_voltage_v, dtype="<f4").tobytes(),
                   np.ascontiguousarray(frame.temperature_c, dtype="<f4").tobytes(),
                   json.dumps(frame.extra, separators=(",", ":")) if frame.extra else None)))
