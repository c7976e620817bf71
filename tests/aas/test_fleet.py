"""The fleet builder: one AAS per pack, module and cell, findable by label, valid against AAS 3.1 and the templates."""

from collections import Counter

from basyx.aas import model

from packtwin.aas.ids import Level
from packtwin.aas.repository import Repository
from packtwin.aas.validation import validate_environment
from packtwin.submodels import bom
from tests.conftest import BASE


def test_every_battery_has_a_shell_with_its_level_parts(small_fleet):
    shells = [o for o in small_fleet.objects if isinstance(o, model.AssetAdministrationShell)]
    levels = Counter(s.id.split("/aas/")[1].split("/")[0] for s in shells)
    assert levels == {"pack": 2, "module": 4, "cell": 12}
    for shell in shells:
        names = {small_fleet.objects.get_item(r.key[0].value).id_short for r in shell.submodel}
        if "/aas/pack/" in shell.id:
            assert names == {"BatteryNameplate", "HandoverDocumentation", "CarbonFootprint", "TechnicalData",
                             "ProductCondition", "MaterialComposition", "Circularity", "HierarchicalStructures",
                             "TimeSeries"}
        else:
            assert names == {"BatteryNameplate", "TechnicalData", "ProductCondition", "HierarchicalStructures"}


def test_a_pack_is_found_by_the_serial_number_on_its_label(small_fleet):
    repo = Repository()
    repo.add_many(list(small_fleet.objects))
    (shell,) = repo.find_shells("serialNumber", "PT-P000002")
    assert shell.id == f"{BASE}/aas/pack/PT-P000002"
    assert len(repo.find_shells("batchId", "LOT-2026-001")) == 18
    assert repo.find_shells("serialNumber", "nope") == []


def test_bom_links_pack_to_modules_to_cells(small_fleet):
    pack = small_fleet.packs[0]
    sm = small_fleet.objects.get_item(pack.ids.submodel_id("HierarchicalStructures"))
    arche, entry, parts = bom.links(sm)
    assert (arche, entry) == ("OneDown", pack.ids.global_asset_id)
    assert parts == [m.ids.global_asset_id for m in pack.children]
    cell = pack.children[1].children[2]
    arche, entry, parts = bom.links(small_fleet.objects.get_item(cell.ids.submodel_id("HierarchicalStructures")))
    assert (arche, entry, parts) == ("OneUp", cell.ids.global_asset_id, [pack.children[1].ids.global_asset_id])
    assert cell.level is Level.CELL


def test_the_fleet_is_valid(small_fleet):
    assert [str(v) for v in validate_environment(small_fleet.objects)] == []


def test_bom_cycles_and_dangling_links_are_found():
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert bom.find_cycles(edges) == [["a", "b", "c", "a"]]
    assert bom.find_cycles({"p": ["m1", "m2"], "m1": ["c1"]}) == []
