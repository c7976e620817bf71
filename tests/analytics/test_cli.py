"""The offline CLI contract (``packtwin estimate soc|rul``) on the reference data, with the issue's thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from packtwin.cli import main

pytestmark = pytest.mark.slow


def _soc_run(data_dir: Path, tmp: Path, name: str, cell_json: Path,
             folder: Path | None = None) -> tuple[np.ndarray, dict, np.ndarray]:
    folder = folder or data_dir / "telemetry"
    out, summ = tmp / f"{name}.csv", tmp / f"{name}.json"
    status = main(["estimate", "soc", "--input", str(folder / f"{name}.csv"), "--cell",
                   str(cell_json), "--output", str(out), "--summary", str(summ)])
    assert status == 0
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert out.read_text().splitlines()[0] == "time_s,soc"
    truth = np.loadtxt(folder / f"{name}.truth.csv", delimiter=",", skiprows=1)
    return rows, json.loads(summ.read_text()), truth


@pytest.fixture(scope="module")
def nissan(data_dir, tmp_path_factory):
    return _soc_run(data_dir, tmp_path_factory.mktemp("nissan"), "nissan_hppc_25C",
                    data_dir / "telemetry" / "nissan_cell.json")


@pytest.fixture(scope="module")
def dfn(data_dir, tmp_path_factory):
    return _soc_run(data_dir, tmp_path_factory.mktemp("dfn"), "dfn_udds_id", data_dir / "telemetry" / "dfn_cell.json")


def _mae(run) -> float:
    rows, _, truth = run
    assert rows.shape[0] == truth.shape[0]
    assert np.array_equal(rows[:, 0], truth[:, 0])
    assert np.all((rows[:, 1] >= 0) & (rows[:, 1] <= 1))
    return float(np.mean(np.abs(rows[:, 1] - truth[:, 1]))) * 100


def test_soc_contract_and_summary(nissan):
    _, summary, _ = nissan
    for key in ("capacity_ah", "r0_ohm", "soh_capacity_pct"):
        assert isinstance(summary[key], float) and np.isfinite(summary[key])
    assert 0.0005 < summary["r0_ohm"] < 0.005  # a 33 Ah pouch cell: ~1.5 mOhm


def test_soc_nissan_real_cell_within_1_percent(nissan):
    assert _mae(nissan) <= 1.0


def test_soc_dfn_issue_target(dfn):
    # Electrochemical (DFN) data against an equivalent circuit: 0.31 % with the charge-transfer term, 0.59 % without.
    assert _mae(dfn) <= 0.5


@pytest.mark.parametrize(("name", "limit"), [("dfn_udds_10C", 0.5), ("dfn_us06_udds_0C", 0.75)])
def test_soc_dfn_in_the_cold(data_dir, tmp_path, name, limit):
    # Generated DFN records at 10 degC and 0 degC ambient (bench/data/dfn, not tuned on): 0.20 % and 0.51 % with
    # the exchange current following the resistances' Arrhenius law, 0.52 % and 1.45 % with it held fixed.
    generated = Path(__file__).resolve().parents[2] / "bench" / "data" / "dfn"
    run = _soc_run(data_dir, tmp_path, name, data_dir / "telemetry" / "dfn_cell.json", folder=generated)
    assert _mae(run) <= limit


def _aged_run(data_dir, tmp_path, name, cell_name):
    cell = json.loads((data_dir / "telemetry" / f"{cell_name}.json").read_text())
    true_cap = cell["capacity_ah"]
    cell["capacity_ah"] = true_cap * 1.1  # an aged cell with its original nameplate
    cj = tmp_path / "aged.json"
    cj.write_text(json.dumps(cell))
    return _soc_run(data_dir, tmp_path, name, cj), true_cap


def test_capacity_from_a_wrong_nameplate_nissan(data_dir, tmp_path):
    run, true_cap = _aged_run(data_dir, tmp_path, "nissan_hppc_25C", "nissan_cell")
    summary = run[1]
    assert abs(summary["capacity_ah"] / true_cap - 1) <= 0.01
    assert summary["soh_capacity_pct"] == pytest.approx(100 * summary["capacity_ah"] / (true_cap * 1.1), rel=1e-3)
    assert summary["capacity_source"]["method"] == "anchors"
    assert _mae(run) <= 1.0  # the SoC counts against the capacity found, not the wrong nameplate


def test_capacity_not_observable_is_said(data_dir, tmp_path):
    # One hour of driving, 21 % of SoC, no long rest and no voltage limit: the record does not show the capacity.
    run, _ = _aged_run(data_dir, tmp_path, "dfn_udds_id", "dfn_cell")
    assert run[1]["capacity_source"]["method"] == "nameplate"


@pytest.mark.xfail(strict=True, reason="the DFN record holds no SoC anchors and an unknown current offset; the nameplate (+10 %) is reported")
def test_capacity_from_a_wrong_nameplate_dfn(data_dir, tmp_path):
    run, true_cap = _aged_run(data_dir, tmp_path, "dfn_udds_id", "dfn_cell")
    assert abs(run[1]["capacity_ah"] / true_cap - 1) <= 0.01


def test_soc_bad_rows_are_handled_and_kept(data_dir, tmp_path):
    lines = (data_dir / "telemetry" / "dfn_udds_id.csv").read_text().splitlines()[:3001]
    lines[100] = lines[100].split(",")[0] + ",nan,4.0,28.7"  # NaN current
    lines[200] = lines[200].rsplit(",", 2)[0] + ",,28.7"   # missing voltage
    lines[300] = "5.0,1.0,3.9,28.7"           # time going backwards
    lines[400] = lines[400].split(",")[0] + ",1.0,9.99,28.7"  # out-of-range voltage
    src = tmp_path / "dirty.csv"
    src.write_text("\n".join(lines) + "\n")
    out, summ = tmp_path / "o.csv", tmp_path / "s.json"
    assert main(["estimate", "soc", "--input", str(src), "--cell", str(data_dir / "telemetry" / "dfn_cell.json"),
                 "--output", str(out), "--summary", str(summ)]) == 0
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert rows.shape[0] == 3000
    assert np.all(np.isfinite(rows[:, 1]))
    bad = json.loads(summ.read_text())["bad_samples"]
    assert bad["nan"] == 2 and bad["time_backwards"] == 1 and bad["voltage_out_of_range"] == 1


def test_soc_errors_are_clear(data_dir, tmp_path, capsys):
    src = tmp_path / "wrong.csv"
    src.write_text("t,i,v\n0,1,3.7\n")
    status = main(["estimate", "soc", "--input", str(src), "--cell", str(data_dir / "telemetry" / "dfn_cell.json"),
                   "--output", str(tmp_path / "o.csv")])
    assert status == 2
    assert "missing column" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


@pytest.fixture(scope="module")
def rul_b0045_first20(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rul")
    lines = (data_dir / "capacity" / "nasa_B0045.csv").read_text().splitlines()
    src = tmp / "first20.csv"
    src.write_text("\n".join(lines[:21]) + "\n")  # includes the zero reading of cycle 20
    out = tmp / "rul.json"
    assert main(["estimate", "rul", "--input", str(src), "--eol-capacity-ah", "0.70", "--output", str(out)]) == 0
    return json.loads(out.read_text())


B0045_EOL = 39  # from cycle 39 on, the full record stays below 0.70 Ah


def test_rul_contract_and_interval_contains_truth(rul_b0045_first20):
    r = rul_b0045_first20
    assert r["eol_cycle_lower_90"] <= B0045_EOL <= r["eol_cycle_upper_90"]
    assert r["eol_cycle_lower_90"] <= r["eol_cycle"] <= r["eol_cycle_upper_90"]
    assert r["removed_readings"]["invalid"] == 1  # the zero reading of cycle 20


def test_rul_point_within_10_percent(rul_b0045_first20):
    assert abs(rul_b0045_first20["eol_cycle"] - B0045_EOL) <= 0.1 * B0045_EOL


def test_rul_errors_are_clear(tmp_path, capsys):
    src = tmp_path / "c.csv"
    src.write_text("cycle,capacity_ah\n1,0\n2,0\n")
    assert main(["estimate", "rul", "--input", str(src), "--eol-capacity-ah", "0.7",
                 "--output", str(tmp_path / "r.json")]) == 2
    assert "valid capacity" in capsys.readouterr().err
