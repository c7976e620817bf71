"""A small fleet built from the IDTA 02035 example-value templates (until the fleet builder is used here)."""

from __future__ import annotations

import json
from pathlib import Path

from basyx.aas import model
from basyx.aas.adapter.json import StrictAASFromJsonDecoder, json_serialization, read_aas_json_file

from packtwin.aas.ids import Level, TwinIds, pack_serial
from packtwin.submodels.access import AccessGroup, set_access_group

DATA = Path(__file__).resolve().parents[1] / "data" / "idta"
BASE = "https://example.org/packtwin"


def template_submodels() -> list[model.Submodel]:
    out = []
    # the example-value files of parts 1-7 (the folder holds other templates and variants too)
    for path in sorted(p for p in DATA.glob("IDTA 02035-*_DBP-Part-*.json") if "without_examplevalues" not in p.name):
        with path.open(encoding="utf-8-sig") as fh:
            store = read_aas_json_file(fh, failsafe=False)
        out += [x for x in store if isinstance(x, model.Submodel)]
    return out


def _clone(sm: model.Submodel, new_id: str) -> model.Submodel:
    text = json.dumps(sm, cls=json_serialization.AASToJsonEncoder).replace(json.dumps(sm.id), json.dumps(new_id), 1)
    clone = json.loads(text, cls=StrictAASFromJsonDecoder)
    assert clone.id == new_id
    return clone


def build(n_packs: int = 3) -> model.DictIdentifiableStore:
    """``n_packs`` pack shells, each with the seven passport submodels; ProductCondition's first element is marked
    legitimateInterest and MaterialComposition as a whole authorities, to exercise the access groups."""
    templates = template_submodels()
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for i in range(1, n_packs + 1):
        ids = TwinIds(BASE, Level.PACK, pack_serial(i))
        refs = []
        for tpl in templates:
            sm = _clone(tpl, ids.submodel_id(tpl.id_short))
            if sm.id_short == "ProductCondition":
                set_access_group(next(iter(sm.submodel_element)), AccessGroup.LEGITIMATE_INTEREST)
            if sm.id_short == "MaterialComposition":
                set_access_group(sm, AccessGroup.AUTHORITIES)
            store.add(sm)
            refs.append(model.ModelReference.from_referable(sm))
        shell = model.AssetAdministrationShell(
            model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=ids.global_asset_id,
                                   specific_asset_id=[model.SpecificAssetId("serialNumber", ids.serial)]),
            ids.aas_id, id_short=ids.serial.replace("-", "_"), submodel=set(refs))
        store.add(shell)
    return store


def write_json(store: model.DictIdentifiableStore, path: Path) -> Path:
    from basyx.aas.adapter.json import write_aas_json_file

    with path.open("w", encoding="utf-8") as fh:
        write_aas_json_file(fh, store)
    return path
