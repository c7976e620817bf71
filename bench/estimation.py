"""Estimation benchmark: every "must show" check of the analytics, with baselines measured in the same run.

    python bench/estimation.py [--quick]

Prints a table and writes bench/results/estimation.json. ``--quick`` shortens the healthy-pack run (fewer
cell-days) and the throughput loops, for development; the reported figures come from a full run.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params  # noqa: E402
from packtwin.analytics.scenario import drive_profile, pack_record  # noqa: E402
from packtwin.analytics.soc import SocEKF  # noqa: E402
from packtwin.analytics.worker import AnalyticsWorker, WorkerConfig  # noqa: E402
from packtwin.connectors.frame import Frame  # noqa: E402

DATA = ROOT / "tests" / "data"
TELEMETRY = DATA / "telemetry"
UDDS = DATA / "drive_cycles" / "UDDS.csv"
SOC_FILES = [("nissan_hppc_25C", "nissan_cell", 1.0), ("dfn_udds_id", "dfn_cell", 0.5)]
# Records made by tools/dfn_records.py (other drive cycles and temperatures than the reference; no issue target).
GENERATED = ROOT / "bench" / "data" / "dfn"


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "packtwin", *args], check=True, cwd=ROOT, capture_output=True)


def soc_checks(tmp: Path) -> list[dict]:
    rows = []
    files = [(TELEMETRY, name, cell, target) for name, cell, target in SOC_FILES]
    files += [(GENERATED, p.name.removesuffix(".csv"), "dfn_cell", None) for p in sorted(GENERATED.glob("*.csv"))
              if not p.name.endswith(".truth.csv")]
    for folder, name, cell, target in files:
        truth = np.loadtxt(folder / f"{name}.truth.csv", delimiter=",", skiprows=1)[:, 1]
        tm = np.loadtxt(folder / f"{name}.csv", delimiter=",", skiprows=1)
        out, summ = tmp / f"{name}.soc.csv", tmp / f"{name}.summary.json"
        t0 = time.perf_counter()
        cli("estimate", "soc", "--input", str(folder / f"{name}.csv"), "--cell", str(TELEMETRY / f"{cell}.json"),
            "--output", str(out), "--summary", str(summ))
        elapsed = time.perf_counter() - t0
        soc = np.loadtxt(out, delimiter=",", skiprows=1)[:, 1]
        mae = float(np.mean(np.abs(soc - truth))) * 100
        # Baseline: coulomb counting from the SoC of the first voltage (what the data README quotes).
        spec = CellSpec.from_json(TELEMETRY / f"{cell}.json")
        ocv = OCVCurve.from_spec(spec)
        dt = np.diff(tm[:, 0], prepend=tm[0, 0])
        cc = float(ocv.soc_from_ocv(tm[0, 2])) - np.cumsum(tm[:, 1] * dt) / 3600.0 / spec.capacity_ah
        cc_mae = float(np.mean(np.abs(cc - truth))) * 100
        rows.append({"check": f"SoC MAE {name}", "value": round(mae, 3), "unit": "%",
                     "target": f"<= {target}" if target is not None else "(generated record, no target)",
                     "pass": mae <= target if target is not None else None, "baseline_cc_from_first_voltage_pct": round(cc_mae, 3),
                     "rows": int(len(soc)), "runtime_s": round(elapsed, 1)})
    return rows


def capacity_checks(tmp: Path) -> list[dict]:
    rows = []
    for name, cell, _ in SOC_FILES:
        data = json.loads((TELEMETRY / f"{cell}.json").read_text())
        true_cap = data["capacity_ah"]
        data["capacity_ah"] = true_cap * 1.10
        cj = tmp / f"{cell}_aged.json"
        cj.write_text(json.dumps(data))
        summ = tmp / f"{name}.aged.summary.json"
        cli("estimate", "soc", "--input", str(TELEMETRY / f"{name}.csv"), "--cell", str(cj),
            "--output", str(tmp / f"{name}.aged.csv"), "--summary", str(summ))
        est = json.loads(summ.read_text())["capacity_ah"]
        err = 100 * (est / true_cap - 1)
        truth = np.loadtxt(TELEMETRY / f"{name}.truth.csv", delimiter=",", skiprows=1)[:, 1]
        soc = np.loadtxt(tmp / f"{name}.aged.csv", delimiter=",", skiprows=1)[:, 1]
        source = json.loads(summ.read_text()).get("capacity_source", {}).get("method")
        rows.append({"check": f"capacity, nameplate +10 %, {name}", "value": round(err, 2), "unit": "% error",
                     "capacity_source": source,
                     "target": "|err| <= 1", "pass": abs(err) <= 1.0, "estimated_ah": round(est, 4),
                     "true_ah": true_cap, "baseline_nameplate_error_pct": 10.0,
                     "soc_mae_pct_with_wrong_nameplate": round(float(np.mean(np.abs(soc - truth))) * 100, 3)})
    return rows


def rul_checks(tmp: Path) -> list[dict]:
    src = DATA / "capacity" / "nasa_B0045.csv"
    lines = src.read_text().splitlines()
    first20 = tmp / "B0045_first20.csv"
    first20.write_text("\n".join(lines[:21]) + "\n")
    out = tmp / "rul.json"
    cli("estimate", "rul", "--input", str(first20), "--eol-capacity-ah", "0.70", "--output", str(out))
    r = json.loads(out.read_text())
    truth = 39
    err = 100 * (r["eol_cycle"] / truth - 1)
    inside = r["eol_cycle_lower_90"] <= truth <= r["eol_cycle_upper_90"]
    # Baseline: a straight line through the clean first 20 cycles.
    data = np.loadtxt(first20, delimiter=",", skiprows=1)
    k, c = data[:, 0], data[:, 1]
    keep = c > 0.5 * np.median(c)
    slope, icpt = np.polyfit(k[keep], c[keep], 1)
    lin = (0.70 - icpt) / slope if slope < 0 else math.inf
    return [{"check": "RUL nasa_B0045, first 20 cycles, EOL 0.70 Ah", "value": r["eol_cycle"], "unit": "cycle",
             "target": "within 10 % of 39, 90 % interval contains 39", "pass": abs(err) <= 10 and inside,
             "interval_90": [r["eol_cycle_lower_90"], r["eol_cycle_upper_90"]], "error_pct": round(err, 1),
             "baseline_linear_fit_eol": round(float(lin), 1)}, *rul_sweep()]


def rul_sweep() -> list[dict]:
    """Beyond the issue's one case: prefixes of both NASA records against every threshold the rest of the record
    crosses (truth: the cycle after the last reading at or above it, zero readings left out)."""
    from packtwin.analytics.rul import CapacityHistory, fit_and_predict, read_capacity

    rows = []
    for name, firsts, thresholds in (("nasa_B0045", (20, 25, 30), (0.70, 0.68, 0.66, 0.65, 0.64)),
                                     ("nasa_B0025", (10, 14, 18), (1.83, 1.81, 1.80, 1.79))):
        h = read_capacity(DATA / "capacity" / f"{name}.csv")
        k, c = h.cycle, h.capacity_ah
        ok = c > 0
        cases = []
        for first in firsts:
            for thr in thresholds:
                truth = float(k[ok][np.nonzero(c[ok] >= thr)[0][-1] + 1])
                if truth <= first:
                    continue
                r = fit_and_predict(CapacityHistory(k[:first], c[:first]), thr)
                cases.append({"first_cycles": first, "eol_ah": thr, "truth": truth, "eol_cycle": r.eol_cycle,
                              "interval_90": [r.eol_cycle_lower_90, r.eol_cycle_upper_90],
                              "error_pct": round(100 * (r.eol_cycle / truth - 1), 1),
                              "inside": r.eol_cycle_lower_90 <= truth <= r.eol_cycle_upper_90})
        within = sum(abs(x["error_pct"]) <= 10 for x in cases)
        inside = sum(x["inside"] for x in cases)
        rows.append({"check": f"RUL {name} sweep: first {'/'.join(map(str, firsts))} cycles", "value": inside,
                     "unit": f"of {len(cases)} intervals hold the truth", "target": "(no issue target; a wider check)",
                     "pass": None, "within_10_pct": within,
                     "median_abs_error_pct": float(np.median([abs(x["error_pct"]) for x in cases])), "cases": cases})
    return rows


def run_pack(spec: CellSpec, n: int, days: float, dt: float, seed: int, short: dict[int, float] | None,
             short_from_s: float) -> tuple[list, float, int]:
    current = drive_profile(UDDS, spec.capacity_ah, dt, days)
    rec = pack_record(spec, n, current, dt, seed=seed, short_ohm=short, short_from_s=short_from_s)
    alerts: list = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=600.0), on_alert=lambda p, a: alerts.append(a))
    t0 = time.perf_counter()
    for f in rec.frames("PT-P000001"):
        w.update(f)
    return alerts, time.perf_counter() - t0, len(current)


def short_checks(quick: bool) -> list[dict]:
    spec = CellSpec.from_json(TELEMETRY / "dfn_cell.json")
    rows = []
    onset = 3600.0
    for ohm, limit_h, hours in ((100.0, 2.0, 4.0), (300.0, 6.0, 9.0)):
        alerts, _, _ = run_pack(spec, 16, hours / 24, 10.0, 7, {5: ohm}, onset)
        shorts = [a for a in alerts if a.kind == "internal_short"]
        hit = [a for a in shorts if a.cells == [5]]
        delay = (hit[0].t - 1.7e9 - onset) / 3600.0 if hit else math.inf
        wrong = [a.cells for a in shorts if a.cells != [5]]
        rows.append({"check": f"internal short {ohm:.0f} ohm detected", "value": round(delay, 2), "unit": "h",
                     "target": f"<= {limit_h}", "pass": delay <= limit_h and not wrong, "false_cells": wrong})
    cells, days = (50, 4.0) if quick else (100, 10.0)
    alerts, elapsed, _ = run_pack(spec, cells, days, 10.0, 11, None, 0.0)
    false = [a.to_dict() for a in alerts if a.kind == "internal_short"]
    rows.append({"check": "no false short alarm (healthy pack)", "value": len(false), "unit": "alarms",
                 "target": f"0 in {cells * days:.0f} cell-days", "pass": not false and cells * days >= 1000,
                 "cell_days": cells * days, "other_alerts": sorted({a.kind for a in alerts}),
                 "runtime_s": round(elapsed, 1)})
    return rows


def simulator_alert_checks(quick: bool) -> list[dict]:
    """Alerts on the simulator's healthy packs (its own one-RC cells: a model mismatch, as the demo runs them),
    parked 40 min before and after each charge. Any alert here is a false one."""
    import collections
    import importlib.resources

    from packtwin.connectors import codec
    from packtwin.sim.simulator import Simulator

    spec = CellSpec.from_json(importlib.resources.files("packtwin.sim").joinpath("resources/cell_lgm50.json"))
    packs, hours, seeds = (2, 2.0, (3,)) if quick else (5, 4.0, (3, 8))
    rows = []
    for seed in seeds:
        alerts: list = []
        w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=3600.0),
                            on_alert=lambda p, a, out=alerts: out.append(a))
        sim = Simulator(packs, sink=lambda topic, payload, w=w: w.update(codec.decode(payload, topic.split("/")[2])),
                        speed=0, seed=seed, park_s=2400.0)
        t0 = time.perf_counter()
        sim.run(ticks=int(hours * 3600 / sim.dt))
        kinds = dict(collections.Counter(a.kind for a in alerts))
        cell_days = packs * sim.design.n_series * hours / 24
        rows.append({"check": f"alerts on healthy simulated packs (seed {seed})", "value": len(alerts),
                     "unit": "alerts", "target": f"0 in {cell_days:.0f} cell-days", "pass": not alerts,
                     "kinds": kinds, "runtime_s": round(time.perf_counter() - t0, 1)})
    return rows


def throughput_checks(quick: bool) -> list[dict]:
    spec = CellSpec.from_json(TELEMETRY / "dfn_cell.json")
    ocv = OCVCurve.from_spec(spec)
    n = 10_000
    steps = 100 if quick else 400
    rng = np.random.default_rng(0)
    volts = 3.7 + 0.002 * rng.standard_normal(n)
    ekf = SocEKF(prior_params(spec.capacity_ah, n), ocv, np.full(n, 0.6))
    for _ in range(10):
        ekf.step(2.0, volts, 1.0)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            ekf.step(2.0, volts, 1.0)
        best = min(best, (time.perf_counter() - t0) / steps)
    rate = n / best / 1e6
    # Baseline in the same run: the bare numpy structure-of-arrays prototype (coulomb count + OCV lookup +
    # one scalar-gain correction), i.e. the least work any SoC update over arrays does.
    s = np.full(n, 0.6)
    base = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            s -= 2.0 / 3600.0 / spec.capacity_ah
            u, g = ocv.ocv_and_slope(s)
            s += 1e-4 * g * (volts - u)
        base = min(base, (time.perf_counter() - t0) / steps)
    rows = [{"check": "SoC update, 10,000 cells, one core", "value": round(rate, 1), "unit": "M cell-steps/s",
             "target": ">= 20", "pass": rate >= 20, "baseline_bare_numpy_soa": round(n / base / 1e6, 1)}]
    # Worker fed decoded frames: 192-cell packs at 10 Hz (an 800 V pack), four packs interleaved.
    n_cells, packs, seconds = 192, 4, (60 if quick else 300)
    cfg = WorkerConfig()
    frames = []
    t_base = 1.7e9
    v0 = float(ocv.ocv(0.6))
    for k in range(seconds * 10):
        i = 5.0 + 5.0 * math.sin(k / 50.0)
        for p in range(packs):
            frames.append(Frame(f"PT-P{p:06d}", k, t_base + k * 0.1, i, v0 - 0.02 * i
                                + 0.002 * rng.standard_normal(n_cells), np.array([25.0, 26.0])))
    el = math.inf
    for _ in range(3):  # best of three fresh workers: the machine is shared
        w = AnalyticsWorker(spec, cfg)
        t0 = time.perf_counter()
        for f in frames:
            w.update(f)
        el = min(el, time.perf_counter() - t0)
    wrate = len(frames) * n_cells / el / 1e6
    rows.append({"check": "worker, decoded frames (192 cells, 10 Hz)", "value": round(wrate, 2),
                 "unit": "M cell-samples/s", "target": ">= 1", "pass": wrate >= 1.0,
                 "frames": len(frames), "seconds": round(el, 2)})
    return rows


def bad_input_checks() -> list[dict]:
    spec = CellSpec.from_json(TELEMETRY / "dfn_cell.json")
    current = drive_profile(UDDS, spec.capacity_ah, 1.0, 1.0 / 24)
    rec = pack_record(spec, 12, current, 1.0, seed=2)
    rng = np.random.default_rng(5)
    estimates: list = []
    w = AnalyticsWorker(spec, WorkerConfig(estimate_period_s=5.0), on_estimate=lambda p, r: estimates.append(r))
    injected = {"nan_voltage": 0, "voltage_out_of_range": 0, "time_backwards": 0, "gap": 0, "nan_current": 0}
    t_shift = 0.0
    for f in rec.frames("PT-P000002"):
        u = rng.random()
        if u < 0.01:
            f.cell_voltage_v = f.cell_voltage_v.copy()
            f.cell_voltage_v[rng.integers(12)] = np.nan
            injected["nan_voltage"] += 1
        elif u < 0.02:
            f.cell_voltage_v = f.cell_voltage_v.copy()
            f.cell_voltage_v[rng.integers(12)] = 65.535
            injected["voltage_out_of_range"] += 1
        elif u < 0.025:
            f.t -= 30.0
            injected["time_backwards"] += 1
        elif u < 0.03:
            f.current_a = math.nan
            injected["nan_current"] += 1
        elif u < 0.031:
            t_shift += 300.0
            injected["gap"] += 1
        f.t += t_shift
        w.update(f)
    counters = w.counters("PT-P000002")
    finite = all(np.all(np.isfinite(e["soc_cells"])) and all(
        math.isfinite(float(v["value"])) for v in e["passport"] if v["value_type"] == "xs:float")
        for e in estimates)
    counted = all(counters[k] == v for k, v in injected.items())
    return [{"check": "bad input handled and counted", "value": counters, "unit": "", "injected": injected,
             "target": "counted exactly, no non-finite value in any estimate", "pass": finite and counted,
             "estimates": len(estimates)}]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for fn in (lambda: soc_checks(tmp), lambda: capacity_checks(tmp), lambda: rul_checks(tmp),
                   lambda: short_checks(args.quick), lambda: simulator_alert_checks(args.quick),
                   lambda: throughput_checks(args.quick), bad_input_checks):
            for row in fn():
                results.append(row)
                value = row["value"] if not isinstance(row["value"], dict) else "see json"
                print(f"{row['check']:<48} {value!s:>12} {row['unit']:<16} {row['target']:<40} "
                      f"{'-' if row['pass'] is None else 'PASS' if row['pass'] else 'FAIL'}", flush=True)
    out = ROOT / "bench" / "results" / "estimation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"quick": args.quick, "results": results}, indent=2, default=str) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
