"""Generators of invalid telemetry payloads, one kind per dead-letter reason (shared by tests and benchmarks)."""

from __future__ import annotations

import json
import struct

import numpy as np

from packtwin.connectors import codec
from packtwin.connectors.frame import Frame

# kind -> the dead-letter reason the ingest must give
BAD_KINDS: dict[str, str] = {
    "json_seq_string": "wrong_type",
    "json_volts_strings": "wrong_type",
    "json_nan": "not_finite",
    "json_inf_current": "not_finite",
    "json_wrong_length": "wrong_length",
    "json_unknown_version": "unknown_schema_version",
    "json_garbage": "bad_json",
    "json_bool_seq": "wrong_type",
    "binary_nan": "not_finite",
    "binary_inf_temp": "not_finite",
    "binary_truncated": "truncated",
    "binary_short_header": "truncated",
    "binary_wrong_length": "wrong_length",
    "binary_unknown_version": "unknown_schema_version",
    "binary_out_of_range": "out_of_range",
    "oversized": "oversized",
    "unknown_pack": "unknown_pack",
    "empty": "truncated",
}


def valid_frame(pack_id: str, seq: int, n_cells: int, rng: np.random.Generator) -> Frame:
    temps = rng.normal(25, 1, 4).astype(np.float32) if seq % 10 == 0 else np.empty(0, np.float32)
    return Frame(pack_id, seq, 1.7e9 + seq * 0.1, float(rng.normal(10, 5)),
                 rng.normal(3.7, 0.01, n_cells).astype(np.float32), temps)


def bad_payload(kind: str, pack_id: str, seq: int, n_cells: int, rng: np.random.Generator) -> tuple[str, bytes]:
    """``(pack_id to publish under, payload)`` of one invalid frame of ``kind``."""
    frame = valid_frame(pack_id, seq, n_cells, rng)
    doc = json.loads(codec.encode_json(frame))
    binary = bytearray(codec.encode_binary(frame))
    if kind == "json_seq_string":
        doc["seq"] = str(seq)
    elif kind == "json_volts_strings":
        doc["cell_voltage_v"] = ["3.7"] * n_cells
    elif kind == "json_nan":
        doc["cell_voltage_v"][3] = float("nan")
    elif kind == "json_inf_current":
        doc["current_a"] = float("inf")
    elif kind == "json_wrong_length":
        doc["cell_voltage_v"] = doc["cell_voltage_v"][:-1]
    elif kind == "json_unknown_version":
        doc["version"] = 99
    elif kind == "json_garbage":
        return pack_id, b'{"version": 1, "seq": '
    elif kind == "json_bool_seq":
        doc["seq"] = True
    elif kind == "binary_nan":
        struct.pack_into("<f", binary, codec.HEADER.size + 4 * int(rng.integers(n_cells)), float("nan"))
        return pack_id, bytes(binary)
    elif kind == "binary_inf_temp":
        frame.temperature_c = np.array([25.0, float("inf")], dtype=np.float32)
        return pack_id, codec.encode_binary(frame)
    elif kind == "binary_truncated":
        return pack_id, bytes(binary[: len(binary) - 1 - int(rng.integers(4 * n_cells - 1))])
    elif kind == "binary_short_header":
        return pack_id, bytes(binary[:10])
    elif kind == "binary_wrong_length":
        frame.cell_voltage_v = frame.cell_voltage_v[:-2]
        return pack_id, codec.encode_binary(frame)
    elif kind == "binary_unknown_version":
        binary[2] = 7
        return pack_id, bytes(binary)
    elif kind == "binary_out_of_range":
        struct.pack_into("<f", binary, codec.HEADER.size, 250.0)
        return pack_id, bytes(binary)
    elif kind == "oversized":
        return pack_id, b"PT" + bytes(codec.MAX_PAYLOAD_BYTES)
    elif kind == "unknown_pack":
        return "PT-UNKNOWN", bytes(binary)
    elif kind == "empty":
        return pack_id, b""
    else:
        raise ValueError(kind)
    return pack_id, json.dumps(doc).encode()
