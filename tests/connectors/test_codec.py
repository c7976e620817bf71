import numpy as np
import pytest

from packtwin.connectors import codec, topics
from packtwin.connectors.frame import Frame
from tests.connectors.badframes import BAD_KINDS, bad_payload, valid_frame


def test_binary_and_json_round_trip():
    frame = Frame("PT-P000001", 42, 1.7e9, -12.5, np.linspace(3.5, 3.9, 96, dtype=np.float32),
                  np.array([25.0, 26.5], np.float32), {"gas_ppm": 3.0, "pressure_kpa": 101.5})
    for payload in (codec.encode_binary(frame), codec.encode_json(frame)):
        got = codec.decode(payload, "PT-P000001", expected_cells=96)
        assert (got.seq, got.t, got.current_a) == (42, 1.7e9, -12.5)
        assert np.allclose(got.cell_voltage_v, frame.cell_voltage_v, atol=1e-6)
        assert got.temperature_c.tolist() == [25.0, 26.5]
        assert got.extra == {"gas_ppm": 3.0, "pressure_kpa": 101.5}
    assert len(codec.encode_binary(frame)) == codec.HEADER.size + 4 * 98 + 2 * (1 + 4) + len("gas_ppmpressure_kpa")


@pytest.mark.parametrize("kind", sorted(k for k in BAD_KINDS if k != "unknown_pack"))
def test_each_bad_kind_is_rejected_with_its_reason(kind):
    rng = np.random.default_rng(3)
    pack_id, payload = bad_payload(kind, "PT-P000001", 5, 16, rng)
    with pytest.raises(codec.FrameError) as info:
        codec.decode(payload, pack_id, expected_cells=16)
    assert info.value.reason == BAD_KINDS[kind]


def test_decode_batch_matches_decode():
    rng = np.random.default_rng(4)
    kinds = sorted(k for k in BAD_KINDS if k != "unknown_pack")
    pack_ids, payloads, expect_bad = [], [], {}
    for i in range(400):
        if i % 7 == 3:
            kind = kinds[i % len(kinds)]
            pack_id, payload = bad_payload(kind, "P1", i, 16, rng)
            expect_bad[i] = BAD_KINDS[kind]
        else:
            frame = valid_frame("P1", i, 16, rng)
            pack_id, payload = "P1", codec.encode_binary(frame) if i % 2 else codec.encode_json(frame)
        pack_ids.append(pack_id)
        payloads.append(payload)
    ok, errors = codec.decode_batch(pack_ids, payloads, {"P1": 16})
    assert {i: e.reason for i, e in errors} == expect_bad
    assert [i for i, _ in ok] == [i for i in range(400) if i not in expect_bad]
    for i, row in ok:
        single = codec.decode(payloads[i], "P1", 16)
        assert row[1] == single.seq and row[2] == single.t
        assert np.array_equal(np.frombuffer(row[4], "<f4"), single.cell_voltage_v.astype(np.float32))


def test_topics():
    assert topics.telemetry("PT-P000001") == "packtwin/v1/PT-P000001/telemetry"
    assert topics.parse("packtwin/v1/PT-P000001/command/ack") == ("PT-P000001", "command/ack")
    assert topics.parse("other/v1/x/telemetry") is None
    assert topics.pack_of_telemetry("packtwin/v1/PT-P000001/telemetry") == "PT-P000001"
    assert topics.pack_of_telemetry("packtwin/v1/a/b/telemetry") is None
    assert topics.shared(topics.TELEMETRY_ALL) == "$share/packtwin-ingest/packtwin/v1/+/telemetry"
    with pytest.raises(ValueError):
        topics.telemetry("a/b")


def test_decode_batch_extra_sensors():
    volts = np.full(4, 3.7, np.float32)
    good = codec.encode_binary(Frame("P1", 1, 1.0, 0.0, volts, np.empty(0, np.float32), {"gas_ppm": 2.0}))
    nan = codec.encode_binary(Frame("P1", 2, 1.0, 0.0, volts, np.empty(0, np.float32), {"gas_ppm": float("nan")}))
    cut = good[:-2]
    trailing = good + b"\x00"
    ok, errors = codec.decode_batch(["P1"] * 4, [good, nan, cut, trailing])
    assert [(i, row[6]) for i, row in ok] == [(0, '{"gas_ppm":2.0}')]
    assert {i: e.reason for i, e in errors} == {1: "not_finite", 2: "truncated", 3: "wrong_length"}
