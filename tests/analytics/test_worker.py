from __future__ import annotations

import math

import numpy as np

from packtwin.analytics.cellmodel import CellSpec
from packtwin.analytics.scenario import drive_profile, pack_record
from packtwin.analytics.worker import AnalyticsWorker, WorkerConfig
from packtwin.connectors.frame import Frame


def _record(data_dir, n=6, hours=0.5):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 1.0, hours / 24)
    return spec, pack_record(spec, n, current, 1.0, seed=9)


def test_estimates_at_the_configured_rate_track_soc(data_dir):
    spec, rec = _record(data_dir)
    est = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=60.0), on_estimate=lambda p, r: est.append(r))
    for f in rec.frames("PT-P000001"):
        w.update(f)
    assert 28 <= len(est) <= 31  # 30 minutes at one per minute
    last = est[-1]
    assert np.mean(np.abs(np.array(last["soc_cells"]) - rec.true_soc[-1])) < 0.03
    paths = {v["id_short_path"] for v in last["passport"]}
    assert "StateOfCharge.StateOfChargeValue" in paths
    assert "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryPackLevel" in paths
    assert last["sop_w"]["discharge_10s"] >= last["sop_w"]["discharge_30s"] > 0


def test_bad_input_is_counted_and_never_propagated(data_dir):
    spec, rec = _record(data_dir, hours=0.2)
    est = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=5.0), on_estimate=lambda p, r: est.append(r))
    frames = list(rec.frames("PT-P000001"))
    for k, f in enumerate(frames):
        if k == 100:
            f.cell_voltage_v = f.cell_voltage_v.copy()
            f.cell_voltage_v[2] = np.nan
        if k == 200:
            f.cell_voltage_v = f.cell_voltage_v.copy()
            f.cell_voltage_v[0] = 42.0
        if k == 300:
            f.current_a = math.nan
        if k >= 500:
            f.t += 600.0  # a 10-minute gap
        w.update(f)
        if k == 400:
            w.update(Frame("PT-P000001", 10_000, f.t - 50.0, 1.0, f.cell_voltage_v, f.temperature_c))  # backwards
            w.update(Frame("PT-P000001", f.seq, f.t + 0.5, 1.0, f.cell_voltage_v, f.temperature_c))  # dup seq
            w.update(Frame("PT-P000001", 20_000, f.t + 0.5, 1.0, f.cell_voltage_v[:3], f.temperature_c))  # shape
    c = w.counters("PT-P000001")
    assert c["nan_voltage"] == 1 and c["voltage_out_of_range"] == 1 and c["nan_current"] == 1
    assert c["time_backwards"] == 1 and c["duplicate_seq"] == 1 and c["shape_mismatch"] == 1 and c["gap"] == 1
    assert c["accepted"] == len(frames) - 1
    for r in est:
        assert np.all(np.isfinite(r["soc_cells"]))
        for v in r["passport"]:
            if v["value_type"] == "xs:float":
                assert math.isfinite(float(v["value"]))


def test_alerts_leave_at_once(data_dir):
    spec, rec = _record(data_dir, hours=0.1)
    alerts = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=1e9), on_alert=lambda p, a: alerts.append((p, a)))
    for k, f in enumerate(rec.frames("PT-P000009")):
        if k >= 120:
            f.temperature_c = np.array([25.0, 75.0])
        w.update(f)
        if alerts:
            break
    assert alerts and alerts[0][0] == "PT-P000009"
    assert alerts[0][1].kind in {"over_temperature", "temperature_spread", "thermal_runaway_precursor"}
    assert k <= 120 + int(WorkerConfig().fault_period_s) + 1


def test_capacity_and_offset_are_learnt_from_rests_and_soc_holds_for_days(data_dir):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 10.0, 2.0)
    rec = pack_record(spec, 8, current, 10.0, seed=3, capacity_spread=0.05)
    est = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=3600.0), on_estimate=lambda p, r: est.append(r))
    for f in rec.frames("PT-P000003"):
        w.update(f)
    last = est[-1]
    assert last["capacity_updates"] >= 1
    assert np.max(np.abs(np.array(last["capacity_ah_cells"]) / rec.params.capacity_ah - 1)) < 0.03
    assert abs(last["current_offset_a"] - 0.01 * spec.capacity_ah) < 0.01  # the simulated sensor offset
    assert np.mean(np.abs(np.array(last["soc_cells"]) - rec.true_soc[-1])) < 0.01
    # Two days of a cell that does not age: capacity estimates, but no fade to extrapolate a remaining life from.
    assert w.packs["PT-P000003"].rul.points
    assert last["rul"]["available"] is False and "needed" in last["rul"]["reason"]
    assert not any(v["id_short_path"].startswith("RemainingUsefulLife") for v in last["passport"])


def test_white_voltage_noise_the_averages_hide_is_flagged(data_dir):
    # 12 mV of white noise at 10 Hz on one cell averages to ~1 mV in the 10 s fault-check averages, under their
    # 3 mV floor; the frame-rate estimate sees it. The other cells carry the record's own 2 mV sensor noise.
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 0.1, 0.3 / 24)
    rec = pack_record(spec, 8, current, 0.1, seed=4)
    rng = np.random.default_rng(5)
    alerts = []
    healthy = AnalyticsWorker(spec, on_alert=lambda p, a: alerts.append((p, a)))
    noisy = AnalyticsWorker(spec, on_alert=lambda p, a: alerts.append((p, a)))
    for f in rec.frames("PT-P000001"):
        healthy.update(f)
        v = f.cell_voltage_v.copy()
        v[5] = round(v[5] + 0.012 * rng.standard_normal(), 3)
        noisy.update(Frame("PT-P000002", f.seq, f.t, f.current_a, v, f.temperature_c))
    noise = [(p, a.cells) for p, a in alerts if a.kind == "sensor_noise"]
    assert noise == [("PT-P000002", [5])]
    assert 8.0 < next(a.value for p, a in alerts if a.kind == "sensor_noise") * 1000 < 16.0
