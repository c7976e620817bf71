import numpy as np
import pytest

from packtwin.connectors import codec
from packtwin.sim.faults import Fault
from packtwin.sim.model import FleetModel, PackDesign
from packtwin.sim.profiles import DRIVE_CYCLES, drive_cycle
from packtwin.sim.simulator import Simulator

SMALL = PackDesign(n_series=12, n_temp_sensors=3)


def test_fault_parsing():
    assert Fault.parse("PT-P000001/17:short:5") == Fault("PT-P000001", 16, "short", 5.0)
    assert Fault.parse("2/*:cooling:0") == Fault("2", None, "cooling", 0.0)
    for bad in ("P1/3:melt:1", "P1:short:1", "P1/0:offset:0.1", "/3:short:1", "P1/x:short:1"):
        with pytest.raises(ValueError):
            Fault.parse(bad)
    assert Fault.parse("2/1:noise:0.01").pack_index(["A", "B"]) == 1
    with pytest.raises(ValueError):
        Fault.parse("C/1:noise:0.01").pack_index(["A", "B"])


def test_drive_cycles_are_c_rates():
    for name in DRIVE_CYCLES:
        c = drive_cycle(name)
        assert 0.5 < np.abs(c).max() <= 2.0 + 1e-9 and len(c) > 1000


def _run(model: FleetModel, seconds: float, c_rate: float = 0.5) -> None:
    for _ in range(int(seconds / 0.1)):
        model.step(0.1, np.full(model.n_packs, c_rate))


def test_discharge_lowers_soc_and_voltage_by_coulomb_count():
    m = FleetModel(2, SMALL, seed=1, ageing_factor=0)
    soc0 = m.soc.copy()
    v0 = m.measure_voltage(np.zeros(2))
    _run(m, 600, c_rate=1.0)
    # 1 C for 10 min = 1/6 of the nominal capacity, give or take the spread and self-discharge.
    assert np.allclose(soc0 - m.soc, 1 / 6, rtol=0.05)
    assert (m.measure_voltage(np.full(2, 5.0)) < v0).all()


def test_internal_short_drains_and_heats_its_cell():
    m = FleetModel(1, SMALL, seed=2, ageing_factor=0)
    m.apply_fault(Fault.parse("1/4:short:2"), 0)
    soc0 = m.soc.copy()
    _run(m, 300, c_rate=0.0)
    drop = soc0 - m.soc
    assert drop[0, 3] > 20 * np.delete(drop[0], 3).max()
    assert m.temp_c[0, 3] > np.delete(m.temp_c[0], 3).max() + 1.0


def test_cooling_failure_heats_the_pack():
    m = FleetModel(2, SMALL, seed=3, ageing_factor=0)
    m.apply_fault(Fault.parse("2/*:cooling:0"), 1)
    _run(m, 600, c_rate=2.0)
    assert m.temp_c[1].mean() > m.temp_c[0].mean() + 3.0


def test_sensor_faults():
    m = FleetModel(1, SMALL, seed=4, ageing_factor=0)
    m.v_noise[:] = 0.0
    clean = m.measure_voltage(np.zeros(1))
    m.apply_fault(Fault.parse("1/2:offset:0.05"), 0)
    m.apply_fault(Fault.parse("1/3:stuck:1"), 0)
    stuck_at = m.last_measured_v[0, 2]
    _run(m, 60, c_rate=1.0)
    v = m.measure_voltage(np.full(1, 5.0))
    true = m.terminal_voltage(np.full(1, 5.0))
    assert v[0, 1] == pytest.approx(true[0, 1] + 0.05, abs=0.0011)
    assert v[0, 2] == stuck_at and abs(true[0, 2] - stuck_at) > 0.01
    assert clean.shape == (1, 12)
    m.apply_fault(Fault.parse("1/5:noise:0.05"), 0)
    samples = np.array([m.measure_voltage(np.zeros(1))[0, 4] for _ in range(200)])
    assert samples.std() > 0.03


def test_ageing_fades_capacity_and_raises_resistance():
    m = FleetModel(1, SMALL, seed=5, ageing_factor=365 * 24 * 36)  # one year per 100 s of simulated time
    r0 = m.r0.copy()
    _run(m, 100, c_rate=0.0)
    assert 0.015 < m.fade.mean() < 0.04  # ~2 %/year calendar fade at 25 degC
    assert (m.r0 > r0).all()


def test_simulator_frames_decode_and_commands_apply():
    out = []
    sim = Simulator(3, design=SMALL, sink=lambda topic, payload: out.append((topic, payload)), speed=0, seed=1)
    sim.run(ticks=20)
    assert len(out) == 60
    frames = [codec.decode(p, t.split("/")[2], expected_cells=12) for t, p in out]
    assert [f.seq for f in frames[:3]] == [0, 0, 0] and frames[-1].seq == 19
    assert frames[0].temperature_c.shape == (3,) and frames[3].temperature_c.shape == (0,)
    assert set(frames[0].extra) == {"gas_ppm", "pressure_kpa"}
    assert frames[-1].t == pytest.approx(sim.t0 + 2.0)
    sim.apply_command("PT-P000002", {"type": "balancing", "cells": [1, 5]})
    assert sim.model.balancing[1].nonzero()[0].tolist() == [0, 4]
    with pytest.raises(ValueError):
        sim.apply_command("PT-P000002", {"type": "balancing", "cells": [99]})
    sim.apply_command("PT-P000001", {"type": "charge_power_limit", "kw": 0.5})
    assert sim._charge_limit_c[0] < 3.0


def test_simulator_json_encoding_and_seq_persistence(tmp_path):
    out = []
    state = tmp_path / "state.json"
    sim = Simulator(1, design=SMALL, sink=lambda t, p: out.append(p), speed=0, encoding="json", state_file=state)
    sim.run(ticks=5)
    sim.stop()
    assert codec.decode(out[-1], "PT-P000001").seq == 4
    again = Simulator(1, design=SMALL, sink=lambda t, p: out.append(p), speed=0, state_file=state)
    again.run(ticks=1)
    assert codec.decode(out[-1], "PT-P000001").seq == 5


def test_low_packs_charge_cc_cv_then_drive_again():
    sim = Simulator(2, design=SMALL, sink=lambda t, p: None, speed=0, soc0=(0.10, 0.12), seed=3)
    sim._charge_limit_c[1] = 0.2  # a charge-power limit on the second pack
    sim.run(ticks=50)
    assert (sim._mode == 1).all()  # both packs went to charging
    assert sim._charge_c[0] == pytest.approx(-0.7) and sim._charge_c[1] == pytest.approx(-0.2)
    soc = sim.model.soc.mean(axis=1).copy()
    sim.run(ticks=600)
    assert (sim.model.soc.mean(axis=1) > soc).all()
    # Charge until the top cell hits the CV limit and the current tapers, then back to driving.
    sim.model.soc[:] = 0.97
    sim.run(ticks=5)
    assert (sim._mode == 0).all()


def test_small_packs_get_one_temperature_sensor_per_element():
    assert PackDesign(n_series=6).n_temp_sensors == 6
    with pytest.raises(ValueError):
        PackDesign(n_series=6, n_temp_sensors=0)


def test_parking_before_and_after_each_charge():
    sim = Simulator(1, design=SMALL, sink=lambda t, p: None, speed=0, soc0=(0.10, 0.10), seed=3, dt=10.0,
                    park_s=600.0)
    modes = []
    for _ in range(2000):  # bounded: 20,000 s of simulated time
        sim.tick()
        modes.append(int(sim._mode[0]))
        if len(modes) > 2 and modes[-1] == 0 and 1 in modes:
            break
    # low -> parked -> charging -> parked -> driving; parked spells last park_s
    runs = [m for k, m in enumerate(modes) if k == 0 or modes[k - 1] != m]
    assert runs == [2, 1, 2, 0]
    assert modes.count(2) == 2 * 60  # two spells of 600 s at 10 s per tick
    assert sim.model.soc.mean() > 0.9
