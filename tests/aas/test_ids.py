import pytest

from packtwin.aas.ids import Level, TwinIds, cell_serial, module_serial, pack_serial, parse_aas_id

BASE = "https://batteries.example.com/twins"


def test_identifier_scheme_is_stable_and_invertible():
    ids = TwinIds(BASE, Level.CELL, cell_serial(module_serial(pack_serial(7), 2), 11))
    assert ids.serial == "PT-P000007-M02-C011"
    assert ids.global_asset_id == f"{BASE}/asset/cell/PT-P000007-M02-C011"
    assert ids.aas_id == f"{BASE}/aas/cell/PT-P000007-M02-C011"
    assert ids.submodel_id("ProductCondition") == f"{BASE}/sm/cell/PT-P000007-M02-C011/ProductCondition"
    assert parse_aas_id(ids.aas_id, BASE) == ids
    assert parse_aas_id("urn:other:thing", BASE) is None


@pytest.mark.parametrize("serial", ["", "has space", "a/b", "x" * 129])
def test_bad_serials_are_refused(serial):
    with pytest.raises(ValueError, match="serial number"):
        TwinIds(BASE, Level.PACK, serial)
