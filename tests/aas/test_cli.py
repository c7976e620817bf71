"""``packtwin fleet create`` and ``packtwin validate`` as a user runs them (separate processes)."""

import json
import subprocess
import sys
import zipfile

import pytest

from packtwin.aas.interchange import write_environment
from packtwin.submodels import bom


def packtwin(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packtwin", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_issue_fleet_is_written_and_valid(tmp_path):
    out = tmp_path / "fleet.aasx"
    made = packtwin("fleet", "create", "--packs", "10", "--modules", "8", "--cells", "12", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "1050 AAS (10 packs)" in made.stdout  # 10 packs + 80 modules + 960 cells
    with zipfile.ZipFile(out) as zf:
        assert any(n.endswith("packtwin-thumbnail.png") for n in zf.namelist())
    checked = packtwin("validate", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == ""


def test_json_export_streams_a_valid_environment(tmp_path):
    out = tmp_path / "fleet.json"
    assert packtwin("fleet", "create", "--packs", "1", "--modules", "2", "--cells", "2", "--out", str(out)).returncode == 0
    env = json.loads(out.read_text())
    assert len(env["assetAdministrationShells"]) == 7
    checked = packtwin("validate", str(out))
    assert checked.returncode == 0, checked.stdout


def test_bad_spec_writes_nothing(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[battery]\ncells_per_module = "twelve"\n')
    out = tmp_path / "fleet.aasx"
    run = packtwin("fleet", "create", "--packs", "1", "--spec", str(spec), "--out", str(out))
    assert run.returncode == 1
    assert "spec.toml" in run.stderr and "battery" in run.stderr
    assert not out.exists()


def test_corrupt_aasx_is_one_clear_line(small_fleet, tmp_path):
    path = tmp_path / "fleet.aasx"
    write_environment(path, small_fleet.objects, small_fleet.files)
    path.write_bytes(path.read_bytes()[:5000])
    run = packtwin("validate", str(path))
    assert run.returncode == 1
    assert run.stdout.strip().startswith(f"{path}: not a readable AASX package")


def _env(small_fleet, tmp_path):
    path = tmp_path / "fleet.json"
    write_environment(path, small_fleet.objects)
    return path, json.loads(path.read_text())


def test_wrong_value_type_names_file_and_element(small_fleet, tmp_path):
    path, env = _env(small_fleet, tmp_path)
    sm = next(s for s in env["submodels"] if s["idShort"] == "ProductCondition")
    soc = next(e for e in sm["submodelElements"] if e["idShort"] == "StateOfCharge")
    soc["value"][0]["value"] = "full"
    path.write_text(json.dumps(env))
    run = packtwin("validate", str(path))
    assert run.returncode == 1
    assert str(path) in run.stdout and "StateOfCharge.StateOfChargeValue" in run.stdout


def test_unknown_semantic_id_is_a_violation(small_fleet, tmp_path):
    path, env = _env(small_fleet, tmp_path)
    sm = next(s for s in env["submodels"] if s["idShort"] == "CarbonFootprint")
    sm["semanticId"]["keys"][0]["value"] = "urn:example:not-a-template"
    path.write_text(json.dumps(env))
    run = packtwin("validate", "--no-metamodel", str(path))
    assert run.returncode == 1
    assert f"{path}: {sm['id']}: unknown semanticId 'urn:example:not-a-template'" in run.stdout


def test_bom_cycle_is_a_violation(small_fleet, tmp_path):
    path, env = _env(small_fleet, tmp_path)
    # Make a cell's module list the pack as one of its parts: pack -> module -> pack.
    pack_bom = next(s for s in env["submodels"] if s["id"].endswith("/sm/pack/PT-P000001/HierarchicalStructures"))
    module_bom = next(s for s in env["submodels"] if s["id"].endswith("/sm/module/PT-P000001-M01/HierarchicalStructures"))
    pack_asset = pack_bom["submodelElements"][0]["globalAssetId"]
    module_bom["submodelElements"][0]["statements"].append({
        "idShort": "N_loop", "semanticId": {"type": "ExternalReference", "keys": [
            {"type": "GlobalReference", "value": bom.NODE}]},
        "entityType": "SelfManagedEntity", "globalAssetId": pack_asset, "modelType": "Entity"})
    path.write_text(json.dumps(env))
    run = packtwin("validate", "--no-metamodel", str(path))
    assert run.returncode == 1
    assert "cycle in the pack hierarchy" in run.stdout and pack_asset in run.stdout


def test_validate_with_shacl_shapes(tmp_path):
    out = tmp_path / "fleet.json"
    assert packtwin("fleet", "create", "--packs", "1", "--modules", "1", "--cells", "1", "--out", str(out)).returncode == 0
    # The generated fleet conforms to the IDTA AAS shapes and the passport shapes (violations: tests/ontology).
    clean = packtwin("validate", "--shacl", str(out))
    assert clean.returncode == 0, clean.stdout
