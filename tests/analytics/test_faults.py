from __future__ import annotations

import math

import numpy as np
import pytest

from packtwin.analytics.cellmodel import CellSpec
from packtwin.analytics.faults import FaultConfig, FaultDetector
from packtwin.analytics.scenario import drive_profile, pack_record
from packtwin.analytics.worker import AnalyticsWorker, WorkerConfig

ONSET_S = 3600.0


def _alerts(spec: CellSpec, rec, config: FaultConfig | None = None) -> list:
    """Every alert a worker raises on the record's frames."""
    alerts = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=3600.0, faults=config or FaultConfig()),
                        on_alert=lambda p, a: alerts.append(a))
    for f in rec.frames("PT-P000001"):
        w.update(f)
    return alerts


def _run(data_dir, hours, short, seed, n=12):
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 10.0, hours / 24)
    rec = pack_record(spec, n, current, 10.0, seed=seed, short_ohm=short, short_from_s=ONSET_S)
    return [a for a in _alerts(spec, rec) if a.kind == "internal_short"], rec


def test_100_ohm_short_flagged_within_2_h(data_dir):
    shorts, _ = _run(data_dir, 3.5, {4: 100.0}, seed=21)
    assert [a.cells for a in shorts] == [[4]]
    delay_h = (shorts[0].t - 1.7e9 - ONSET_S) / 3600.0
    assert delay_h <= 2.0
    assert shorts[0].value == pytest.approx(3.8 / 100.0, rel=0.5)  # the leak current, A


def test_a_short_of_a_few_ohms_is_flagged_while_driving(data_dir):
    # 5 ohm: about 0.15C. The drive goes on for an hour after the onset, with no rest to judge an ordinary leak on.
    shorts, _ = _run(data_dir, 2.0, {7: 5.0}, seed=23)
    assert [a.cells for a in shorts] == [[7]] and "under load" in shorts[0].message
    assert (shorts[0].t - 1.7e9 - ONSET_S) / 3600.0 < 1.0
    assert shorts[0].value == pytest.approx(3.7 / 5.0, rel=0.5)


def test_healthy_pack_raises_no_short_alarm(data_dir):
    shorts, _ = _run(data_dir, 36.0, None, seed=22)
    assert shorts == []


def test_a_drive_alone_is_no_evidence_of_a_short():
    # Under load the voltage-implied charge wanders with the model error (seen on the simulator's packs: healthy cells
    # drifting 1-2 % in half an hour of driving); with no rest in the window there is nothing to judge a leak on.
    rng = np.random.default_rng(5)
    n, period = 24, 10.0
    det = FaultDetector(n, 5.0)
    step = np.full(n, 0.0005)
    step[[3, 11, 17]] = 0.003  # cells the model fits worst
    wander = np.zeros(n)
    shorts = []
    for k in range(int(3 * 3600 / period)):
        current = 5.0 * np.sin(k / 3.0)  # +-1C, never at rest
        wander += step * rng.standard_normal(n)
        soc_v = 0.7 - 1e-4 * k + wander
        shorts += [a for a in det.update(k * period, period, current, np.full(n, 3.7), np.array([25.0]), soc_v)
                   if a.kind == "internal_short"]
    assert shorts == []


def _park(leak_cell: int | None, leak_a: float = 0.03) -> list:
    """Two hours parked after a drive. The model's RC voltages decay with the model's slow time constant while the
    cells have relaxed already, so each cell's voltage-implied SoC carries a decaying shift; near empty a cell off
    the pack median sits on another slope of the OCV curve and its shift is much larger (cell 9 here, as on the
    simulator's packs). ``leak_cell`` also loses ``leak_a`` through a short."""
    rng = np.random.default_rng(8)
    n, period, cap, tau = 16, 10.0, 5.0, 600.0
    det = FaultDetector(n, cap)
    amp = 0.0005 * rng.standard_normal(n)
    amp[9] = 0.02  # 2 % SoC of shift at the start of the rest
    base = 0.15 + 0.003 * rng.standard_normal(n)
    shorts = []
    for k in range(int(2 * 3600 / period)):
        t = k * period
        soc_static = base + 0.0003 * rng.standard_normal(n)
        if leak_cell is not None:
            soc_static[leak_cell] -= leak_a * t / 3600.0 / cap
        soc_v = soc_static + amp * np.exp(-t / tau)
        pol = np.full(n, 0.02 * np.exp(-t / tau))
        shorts += [a for a in det.update(t, period, 0.0, np.full(n, 3.4), np.array([25.0]), soc_v, pol,
                                         soc_static=soc_static) if a.kind == "internal_short"]
    return shorts


def test_a_cell_relaxing_unlike_its_model_is_no_short_and_a_real_leak_still_is():
    assert _park(None) == []
    shorts = _park(4)
    assert [a.cells for a in shorts] == [[4]]
    assert shorts[0].value == pytest.approx(0.03, rel=0.3)


def test_stuck_offset_and_noisy_voltage_sensors_are_told_apart():
    rng = np.random.default_rng(0)
    n, steps = 8, 600
    # A load that changes every 3 s for 200 s (driving), then a rest.
    current = np.where(np.arange(steps) < 200, np.repeat(rng.uniform(-5.0, 10.0, steps // 3 + 1), 3)[:steps], 0.0)
    volts = 3.7 - 0.02 * current[:, None] + 0.002 * rng.standard_normal((steps, n))
    volts[20:, 1] = volts[20, 1]                       # stuck while the load changes
    volts[300:, 2] += 0.05                             # offset step during the rest
    volts[:, 3] += 0.03 * rng.standard_normal(steps)   # noisy
    det = FaultDetector(n, 5.0)
    kinds = {}
    for k in range(steps):
        for a in det.update(float(k), 1.0, float(current[k]), volts[k], np.array([25.0]), np.full(n, 0.5)):
            kinds.setdefault(a.kind, set()).update(a.cells)
    assert kinds.get("sensor_stuck") == {1}
    assert kinds.get("sensor_offset") == {2}
    assert kinds.get("sensor_noise") == {3}


def test_cells_converging_as_a_charge_starts_are_not_noise_but_a_noisy_cell_is():
    # Seen on the simulator's healthy packs: parked near empty, where the OCV curve is steep, cells a few per cent of
    # charge apart read up to 120 mV apart; once a charge starts they converge by ~1 mV/s -- a drift, not noise.
    rng = np.random.default_rng(3)
    n, period = 12, 10.0
    spread = 0.005 * rng.standard_normal(n)
    spread[[2, 5, 9]] = [0.10, 0.126, 0.108]
    det = FaultDetector(n, 5.0)
    kinds: dict[str, set[int]] = {}
    for k in range(300):
        charging = k >= 60
        current = -3.5 if charging else 0.0
        converge = np.exp(-max(0, k - 60) * period / 120.0)
        v = 3.34 + (0.25 if charging else 0.0) + spread * converge + 0.0005 * rng.standard_normal(n)
        if k >= 200:
            v[7] += 0.012 * rng.standard_normal()  # a loose sense wire during the charge
        for a in det.update(k * period, period, current, v, np.array([25.0]), np.full(n, 0.5)):
            kinds.setdefault(a.kind, set()).update(a.cells)
    assert kinds == {"sensor_noise": {7}}


def test_temperature_alerts():
    det = FaultDetector(4, 5.0)
    v = np.full(4, 3.7)
    got = []
    temps = [np.array([25.0, 25.0, 25.0])] * 10
    temps += [np.array([25.0 + 3.0 * k, 25.0, 25.0]) for k in range(1, 15)]  # 3 K/min on sensor 0 -> 67 degC
    for k, t in enumerate(temps):
        got += det.update(60.0 * k, 60.0, 0.0, v, t, np.full(4, 0.5))
    kinds = {a.kind for a in got}
    assert {"thermal_runaway_precursor", "over_temperature", "temperature_spread"} <= kinds
    assert all(a.sensors == [0] for a in got if a.kind != "temperature_spread")


def test_balancing_recommends_which_cells_and_how_much():
    det = FaultDetector(4, 5.0)
    soc = np.array([0.50, 0.53, 0.51, 0.50])
    cmd = det.balancing(0.0, soc, np.full(4, 5.0))
    assert cmd is not None
    assert cmd.cells == [1, 2]
    assert cmd.charge_ah == pytest.approx([0.15, 0.05])
    doc = cmd.to_dict()  # the documented command: 1-based cells, what the gateway accepts
    assert doc["type"] == "balancing" and doc["cells"] == [2, 3] and doc["charge_ah"] == pytest.approx([0.15, 0.05])
    assert det.balancing(10.0, soc, np.full(4, 5.0)) is None  # rate-limited
    assert FaultDetector(4, 5.0).balancing(0.0, np.full(4, 0.5), np.full(4, 5.0)) is None


def test_temperature_noise_raises_no_runaway_alarm_and_a_real_rise_does():
    rng = np.random.default_rng(7)
    det = FaultDetector(4, 5.0)
    v = np.full(4, 3.7)
    sensors = 50
    for k in range(3600):  # 50 sensors x 1 h at 1 s with 0.1 K of noise
        got = det.update(float(k), 1.0, 0.0, v, 25.0 + 0.1 * rng.standard_normal(sensors), np.full(4, 0.5))
        assert not got, got
    rise_from = 3600
    flagged = None
    for k in range(rise_from, rise_from + 600):
        temps = 25.0 + 0.1 * rng.standard_normal(sensors)
        temps[3] += 2.0 * (k - rise_from) / 60.0  # 2 K/min on sensor 3
        got = det.update(float(k), 1.0, 0.0, v, temps, np.full(4, 0.5))
        if any(a.kind == "thermal_runaway_precursor" for a in got):
            flagged = k - rise_from
            assert [a.sensors for a in got if a.kind == "thermal_runaway_precursor"] == [[3]]
            break
    assert flagged is not None and flagged <= 180


def test_cells_relaxing_at_different_rates_after_a_drive_are_not_offsets():
    """After a drive each cell relaxes towards its OCV at its own rate: deviations from the pack move by tens of mV
    over minutes. A sensor offset jumps in one sample; only that is flagged."""
    rng = np.random.default_rng(11)
    n = 8
    det = FaultDetector(n, 5.0)
    relax = np.linspace(-0.03, 0.03, n)  # each cell's relaxation amplitude against the pack
    got = []
    for k in range(1800):
        t = float(k)
        if k < 300:  # driving, with idle seconds in between
            current = float(rng.choice([0.0, 0.0, 5.0, 10.0, -3.0]))
            v = 3.7 - 0.02 * current + relax * 0.5 + 0.001 * rng.standard_normal(n)
        else:  # parked: the relaxation fades over a few minutes
            current = 0.0
            v = 3.7 + relax * np.exp(-(t - 300.0) / 120.0) + 0.001 * rng.standard_normal(n)
            if k >= 1200:
                v[5] += 0.05  # a real offset step on cell 5, in the settled rest
        got += [a for a in det.update(t, 1.0, current, v, np.array([25.0]), np.full(n, 0.5))
                if a.kind == "sensor_offset"]
    assert [a.cells for a in got] == [[5]]


def _steady(data_dir, c_rate: float, capacity_scale: dict[int, float] | None = None,
            offset_v: tuple[int, float] | None = None) -> list:
    """40 min parked, a steady charge at ``c_rate`` over 60 % of the capacity, an hour parked; 10 s frames with 2 mV
    of noise. ``offset_v`` = (cell, volts): that cell's sensor reads off by so much from 20 min into the last rest."""
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    dt = 10.0
    charge = int(0.6 / c_rate * 3600 / dt)
    current = np.concatenate([np.zeros(240), np.full(charge, -c_rate * spec.capacity_ah), np.zeros(360)])
    rec = pack_record(spec, 12, current, dt, seed=3, start_soc=0.1, capacity_scale=capacity_scale)
    if offset_v is not None:
        rec.voltage_v[240 + charge + 120:, offset_v[0]] += offset_v[1]
    return _alerts(spec, rec)


@pytest.mark.parametrize("c_rate", [1.0, 2.0])
def test_cells_relaxing_after_a_fast_charge_are_no_sensor_offsets_and_a_real_one_still_is(data_dir, c_rate):
    # Each cell's relaxation after a 1-2C charge differs from the pack's by 15-30 mV over minutes (resistance spread),
    # and at 10 s frames with 2 mV of noise some sample-to-sample move passes half the offset threshold by chance:
    # the previous check flagged 2-3 healthy cells after such a charge.
    assert [a for a in _steady(data_dir, c_rate) if a.kind == "sensor_offset"] == []
    got = [a for a in _steady(data_dir, c_rate, offset_v=(4, 0.03)) if a.kind == "sensor_offset"]
    assert [a.cells for a in got] == [[4]]


def test_a_module_stronger_than_its_pack_is_no_short_while_charging(data_dir):
    # A replacement module in an aged pack: its cells' SoC rises slower under charge, which the counted-charge
    # regressor takes, but that count also carries the current sensor's offset (0.05 A here) over time, read as
    # 10 mA of leak on a cell 20 % stronger until the offset learnt at rests corrected it.
    alerts = _steady(data_dir, 1.0, capacity_scale={5: 1.2, 6: 1.2})
    assert [a for a in alerts if a.kind == "internal_short"] == []


def test_a_weak_cell_under_a_steady_load_is_no_short(data_dir):
    # Without rest in the window only a gross leak is judged, fitted without the counted charge; a cell 20 % weaker
    # than its pack then drifts like a 0.13C leak at a steady 0.7C. Under a steady load time and counted charge
    # explain that drift alike, so no short is claimed; without that comparison it was flagged after 40 min.
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    dt = 10.0
    current = np.concatenate([np.full(int(0.85 / 0.7 * 3600 / dt), 0.7 * spec.capacity_ah), np.zeros(360)])
    rec = pack_record(spec, 12, current, dt, seed=3, start_soc=0.95, capacity_scale={5: 0.8})

    def shorts(config: FaultConfig) -> list:
        return [a for a in _alerts(spec, rec, config) if a.kind == "internal_short"]

    assert shorts(FaultConfig()) == []
    assert [a.cells for a in shorts(FaultConfig(short_gross_rss_ratio=math.inf))] == [[5]]


def test_a_leak_estimate_still_falling_is_not_yet_a_short():
    # Seen on the simulator's healthy packs (seed 5): parked after a drive, a cell's leak estimate fell from 16.6 to
    # 9 mA within the five minutes of persistence as rest evidence accumulated, and was flagged just over 8 mA.
    rng = np.random.default_rng(2)
    spread = 0.0005 * rng.standard_normal(12)

    def alerts(leak_ma, config: FaultConfig | None = None) -> list:
        det = FaultDetector(12, 5.0, config)
        got = []
        for k, ma in enumerate(leak_ma):
            leak = spread.copy()
            leak[3] = ma / 1000.0
            got += det._judge(60.0 * k, (leak, np.full(12, 0.001)), 0.008, det._short_held, 300.0, "")
        return got

    falling = np.linspace(16.6, 7.0, 12)
    assert alerts(falling) == []
    assert [a.cells for a in alerts(falling, FaultConfig(short_hold_fall=0.0))] == [[3]]  # without the rule
    steady = alerts(np.full(12, 12.0))
    assert [(a.cells, a.t) for a in steady] == [([3], 300.0)]


def test_a_voltage_sensor_off_from_its_first_frame_is_an_offset_not_a_short(data_dir):
    # A sensor reading 50 mV high from the first frame shows no step for the offset check. Driven from 40 % SoC
    # towards empty, where the OCV curve steepens, its reading means less and less extra charge: the drift of a
    # 5-10 mA leak, flagged as a short (before the offset regressor, in 6 of 6 seeded strings). A leak must now fit
    # the cell's drift better than such an offset does, and the offset that fits it is reported.
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 10.0, 3.5 / 24,
                            start_soc=0.4)
    rec = pack_record(spec, 12, current, 10.0, seed=2, start_soc=0.4)
    rec.voltage_v[:, 3] += 0.05

    def shorts(config: FaultConfig) -> list:
        return [a for a in _alerts(spec, rec, config) if a.kind == "internal_short"]

    alerts = _alerts(spec, rec)
    assert [a for a in alerts if a.kind == "internal_short"] == []
    offsets = [a for a in alerts if a.kind == "sensor_offset"]
    assert [a.cells for a in offsets] == [[3]] and "no step" in offsets[0].message
    assert offsets[0].value == pytest.approx(0.05, abs=0.015)
    unchecked = FaultConfig(short_offset_rss_ratio=math.inf, steady_offset_v=math.inf)
    assert [a.cells for a in shorts(unchecked)] == [[3]]


def test_a_voltage_sensor_reading_low_from_its_first_frame_is_an_offset_not_a_short(data_dir):
    # The same from the other side: 50 mV low. Driven towards empty, the OCV curve steepens so fast that the tangent
    # at the pack's SoC overstates how much charge the low reading means; fitted on it, the offset was not reported
    # and this string (seed 2) raised a false short. The reported offset is now fitted on the secant below.
    spec = CellSpec.from_json(data_dir / "telemetry" / "dfn_cell.json")
    current = drive_profile(data_dir / "drive_cycles" / "UDDS.csv", spec.capacity_ah, 10.0, 3.5 / 24,
                            start_soc=0.4)
    rec = pack_record(spec, 12, current, 10.0, seed=2, start_soc=0.4)
    rec.voltage_v[:, 3] -= 0.05
    alerts = _alerts(spec, rec)
    assert [a for a in alerts if a.kind == "internal_short"] == []
    offsets = [a for a in alerts if a.kind == "sensor_offset"]
    assert [a.cells for a in offsets] == [[3]] and "no step" in offsets[0].message
    assert offsets[0].value == pytest.approx(-0.05, abs=0.015)
