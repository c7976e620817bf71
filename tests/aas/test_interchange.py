"""JSON, XML and AASX: lossless round trips, aas-core3.1-clean output, clear errors on bad files."""

import json
import zipfile
from pathlib import Path

import aas_core3_1.jsonization as core_json
import aas_core3_1.verification as core_verification
import aas_core3_1.xmlization as core_xml
import pytest

from packtwin.aas.documents import thumbnail_png
from packtwin.aas.interchange import InterchangeError, file_bytes, read_environment, write_environment
from packtwin.aas.serialization import environment_json

DATA = Path(__file__).parent.parent / "data" / "idta"


# Lists the metamodel defines as sets (basyx keeps them in Python sets, so their order is not kept).
UNORDERED = {"submodels", "valueReferencePairs", "specificAssetIds"}


def _canonical(objects) -> dict:
    def norm(x, key=None):
        if isinstance(x, dict):
            return {k: norm(v, k) for k, v in x.items()}
        if isinstance(x, list):
            items = [norm(v) for v in x]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True)) if key in UNORDERED else items
        return x

    env = json.loads(environment_json(objects))
    return {key: sorted((norm(o) for o in env[key]), key=lambda o: o["id"]) for key in env}


def test_json_xml_aasx_json_round_trip_is_lossless(small_fleet, tmp_path):
    write_environment(tmp_path / "a.json", small_fleet.objects)
    objects, _ = read_environment(tmp_path / "a.json")
    write_environment(tmp_path / "b.xml", objects)
    objects, _ = read_environment(tmp_path / "b.xml")
    write_environment(tmp_path / "c.aasx", objects, small_fleet.files, thumbnail=(thumbnail_png(), "image/png"))
    objects, files = read_environment(tmp_path / "c.aasx")
    write_environment(tmp_path / "d.json", objects)
    final, _ = read_environment(tmp_path / "d.json")
    assert _canonical(final) == _canonical(small_fleet.objects)
    assert set(files) == set(small_fleet.files)
    for name in small_fleet.files:
        assert file_bytes(files, name) == file_bytes(small_fleet.files, name)


def test_aasx_has_thumbnail_and_documents(small_fleet, tmp_path):
    write_environment(tmp_path / "f.aasx", small_fleet.objects, small_fleet.files, thumbnail=(thumbnail_png(), "image/png"))
    with zipfile.ZipFile(tmp_path / "f.aasx") as zf:
        names = zf.namelist()
        rels = zf.read("_rels/.rels").decode()
    assert "packtwin-thumbnail.png" in names
    assert "thumbnail" in rels
    assert any(n.endswith(".pdf") for n in names)
    pdf = file_bytes(small_fleet.files, next(n for n in small_fleet.files if n.endswith(".pdf")))
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")


def test_every_written_format_passes_aas_core_verification(small_fleet, tmp_path):
    write_environment(tmp_path / "f.json", small_fleet.objects)
    env = core_json.environment_from_jsonable(json.loads((tmp_path / "f.json").read_text()))
    assert [f"{e.path}: {e.cause}" for e in core_verification.verify(env)] == []

    write_environment(tmp_path / "f.xml", small_fleet.objects)
    env = core_xml.environment_from_str((tmp_path / "f.xml").read_text())
    assert [f"{e.path}: {e.cause}" for e in core_verification.verify(env)] == []

    write_environment(tmp_path / "f.aasx", small_fleet.objects, small_fleet.files)
    with zipfile.ZipFile(tmp_path / "f.aasx") as zf:
        part = next(n for n in zf.namelist() if n.endswith(".xml") and "aasx/" in n and "data" in n)
        env = core_xml.environment_from_str(zf.read(part).decode())
    assert [f"{e.path}: {e.cause}" for e in core_verification.verify(env)] == []


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.name[:14])
def test_idta_example_value_files_import(path):
    objects, _ = read_environment(path)
    assert any(type(o).__name__ == "Submodel" for o in objects)


def test_corrupt_aasx_names_the_file(small_fleet, tmp_path):
    good = tmp_path / "good.aasx"
    write_environment(good, small_fleet.objects, small_fleet.files)
    data = good.read_bytes()
    bad = tmp_path / "bad.aasx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InterchangeError, match="bad.aasx: not a readable AASX package"):
        read_environment(bad)


def test_wrong_value_type_names_the_element(small_fleet, tmp_path):
    write_environment(tmp_path / "f.json", small_fleet.objects)
    env = json.loads((tmp_path / "f.json").read_text())
    sm = next(s for s in env["submodels"] if s["idShort"] == "TechnicalData")
    general = next(e for e in sm["submodelElements"] if e["idShort"] == "GeneralInformation")
    next(e for e in general["value"] if e["idShort"] == "BatteryMass")["value"] = "heavy"
    (tmp_path / "bad.json").write_text(json.dumps(env))
    with pytest.raises(InterchangeError) as info:
        read_environment(tmp_path / "bad.json")
    msg = str(info.value)
    assert "bad.json" in msg and "GeneralInformation.BatteryMass" in msg and "xs:float" in msg and sm["id"] in msg


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(AttributeError):
        write_environment(target, [object()])  # not an identifiable
    assert list(tmp_path.iterdir()) == []
