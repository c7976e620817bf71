"""Generate DFN telemetry records in the estimator input format, for checks beyond the reference data.

Needs PyBaMM (not a packtwin dependency: ``pip install pybamm`` in a separate environment). The records mirror how
the reference record ``dfn_udds_id`` is described in ``tests/data/README.md``: LG M50 (Chen2020), DFN with a lumped
thermal model, a drive-cycle current, the record starting mid-operation, a constant current-sensor offset of about
1 % of 1C plus noise, 2 mV voltage noise at 1 mV resolution; the truth is coulomb counting of the true current
against the cell JSON's capacity. Other drive cycles, ambient temperatures and start states than the reference one,
so the estimators can be checked on data they were not tuned on.

    python tools/dfn_records.py OUT_DIR [NAME ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pybamm

ROOT = Path(__file__).resolve().parent.parent
CYCLES = ROOT / "tests" / "data" / "drive_cycles"
CAPACITY_AH = 5.1493  # dfn_cell.json
# Solved at 10 Hz like the reference record, written at 2 Hz to keep the files small (the estimators take any rate).
SOLVE_DT_S = 0.1
WRITE_EVERY = 5

# name, drive cycle, current scale, repeats, ambient C, initial SoC, seconds cut from the start, offset A, seed
RECORDS = [
    ("dfn_us06_25C", "US06", 2.0, 5, 25.0, 0.80, 300.0, -0.05, 1),
    ("dfn_udds_10C", "UDDS", 2.0, 3, 10.0, 0.70, 500.0, 0.05, 2),
    ("dfn_udds_35C", "UDDS", 1.5, 3, 35.0, 0.50, 200.0, 0.04, 3),
    ("dfn_us06_udds_0C", "US06+UDDS", 1.5, 2, 0.0, 0.70, 400.0, -0.04, 4),
]


def profile(name: str, scale: float, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    parts = []
    for cyc in name.split("+"):
        d = np.genfromtxt(CYCLES / f"{cyc}.csv", delimiter=",", comments="#")
        parts.append(d[:, 1] * scale)
    one = np.concatenate(parts)
    cur = np.tile(one, repeats)
    return np.arange(len(cur), dtype=float), cur


def simulate(cycle: str, scale: float, repeats: int, ambient_c: float, soc0: float, dt: float = SOLVE_DT_S):
    model = pybamm.lithium_ion.DFN(options={"thermal": "lumped"})
    params = pybamm.ParameterValues("Chen2020")
    t, cur = profile(cycle, scale, repeats)
    tk = ambient_c + 273.15
    params.update({"Ambient temperature [K]": tk, "Initial temperature [K]": tk,
                   "Current function [A]": pybamm.Interpolant(t, cur, pybamm.t, interpolator="linear")})
    sim = pybamm.Simulation(model, parameter_values=params, solver=pybamm.IDAKLUSolver())
    t_eval = np.arange(0.0, t[-1], dt)
    sol = sim.solve(t_eval=t_eval, t_interp=t_eval, initial_soc=soc0)
    time = sol["Time [s]"].entries
    return (time, sol["Current [A]"].entries, sol["Terminal voltage [V]"].entries,
            sol["Volume-averaged cell temperature [K]"].entries - 273.15)


def main(out_dir: str, only: list[str]) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, cycle, scale, repeats, ambient, soc0, cut, offset, seed in RECORDS:
        if only and name not in only:
            continue
        rng = np.random.default_rng(seed)
        time, cur, volt, temp = simulate(cycle, scale, repeats, ambient, soc0)
        dt = np.diff(time, prepend=time[0])
        soc = soc0 - np.cumsum(cur * dt) / 3600.0 / CAPACITY_AH
        keep = time >= cut
        # Start at a load step, as the reference record does.
        steps = np.nonzero(keep[1:] & (np.abs(np.diff(cur)) > 1.0))[0]
        first = int(steps[0] + 1) if steps.size else int(np.argmax(keep))
        sl = slice(first, None)
        rows = slice(None, None, WRITE_EVERY)
        t0 = time[first]
        meas_i = cur[sl] + offset + 0.02 * rng.standard_normal(len(time[sl]))
        meas_v = np.round(volt[sl] + 0.002 * rng.standard_normal(len(time[sl])), 3)
        with (out / f"{name}.csv").open("w") as fh:
            fh.write("time_s,current_a,voltage_v,temperature_c\n")
            for row in zip((time[sl] - t0)[rows], meas_i[rows], meas_v[rows], temp[sl][rows], strict=True):
                fh.write("{:.1f},{:.4f},{:.3f},{:.2f}\n".format(*row))
        with (out / f"{name}.truth.csv").open("w") as fh:
            fh.write("time_s,soc\n")
            for row in zip((time[sl] - t0)[rows], soc[sl][rows], strict=True):
                fh.write("{:.1f},{:.6f}\n".format(*row))
        print(f"{name}: {len(time[sl])} rows, SoC {soc[first]:.3f} -> {soc[-1]:.3f}, "
              f"T {temp[sl].min():.1f}-{temp[sl].max():.1f} C, V {volt[sl].min():.3f}-{volt[sl].max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bench/data/dfn", sys.argv[2:]))
