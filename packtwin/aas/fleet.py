"""The fleet builder: from a pack specification to an AAS environment with one AAS per pack, module and cell.

Which submodels each level carries (docs/passport-levels.md): the battery placed on the market — the pack — carries
the whole Digital Battery Passport (IDTA 02035 parts 1–7), its BoM and its operational data (IDTA 02008); modules and
cells carry the nameplate, technical data and product condition (parts 1, 4, 5) and their BoM, so that a repairer
or second-life operator can assess each part on its own.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from basyx.aas import model
from basyx.aas.adapter.aasx import DictSupplementaryFileContainer

from packtwin.aas.documents import minimal_pdf, thumbnail_png
from packtwin.aas.hierarchy import Battery, build_hierarchy
from packtwin.aas.ids import BATCH_ID, MANUFACTURER_PART_ID, SERIAL_NUMBER, Level
from packtwin.aas.serialization import from_json
from packtwin.aas.spec import PackSpec, load_spec
from packtwin.submodels import (
    PARTS,
    bom,
    carbon_footprint,
    circularity,
    handover,
    material_composition,
    nameplate,
    product_condition,
    technical_data,
    time_series,
)
from packtwin.submodels.part import Part

THUMBNAIL_PATH = "/aasx/files/packtwin-thumbnail.png"
# Where the LinkedSegment of each pack's TimeSeries points by default (the embedded SQLite store).
DEFAULT_TIMESERIES_ENDPOINT = "sqlite:packtwin-data/timeseries.sqlite"


@dataclass
class Fleet:
    """A built fleet: the identifiables, the supplementary files they refer to, and the hierarchy."""

    objects: model.DictIdentifiableStore
    files: DictSupplementaryFileContainer
    packs: list[Battery] = field(default_factory=list)

    def batteries(self) -> Iterator[Battery]:
        for pack in self.packs:
            yield from pack.walk()


def parts_for(level: Level) -> list[Part]:
    return [p for p in PARTS if level in p.levels]


def _id_short(battery: Battery) -> str:
    return f"{battery.level.value.capitalize()}_{battery.serial.replace('-', '_').replace('.', '_')}"


def _part_number(battery: Battery, spec: PackSpec) -> str:
    suffix = {Level.PACK: "", Level.MODULE: "-MOD", Level.CELL: "-CELL"}[battery.level]
    return spec.battery.part_number + suffix


def shell_json(battery: Battery, spec: PackSpec, submodel_ids: list[str]) -> dict[str, Any]:
    """AAS JSON of the battery's shell, with the specificAssetIds printed on its label."""
    specific = [(SERIAL_NUMBER, battery.serial), (BATCH_ID, battery.batch),
                (MANUFACTURER_PART_ID, _part_number(battery, spec))]
    info: dict[str, Any] = {
        "assetKind": "Instance",
        "globalAssetId": battery.ids.global_asset_id,
        "specificAssetIds": [{"name": n, "value": v} for n, v in specific],
        "assetType": _part_number(battery, spec),
    }
    if battery.level is Level.PACK:
        info["defaultThumbnail"] = {"path": THUMBNAIL_PATH, "contentType": "image/png"}
    return {
        "idShort": _id_short(battery),
        "displayName": [{"language": "en", "text": f"{battery.level.value} {battery.serial}"}],
        "id": battery.ids.aas_id,
        "assetInformation": info,
        "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": sid}]}
                      for sid in submodel_ids],
        "modelType": "AssetAdministrationShell",
    }


def submodels_json(battery: Battery, spec: PackSpec, now: dt.datetime,
                   timeseries_endpoint: str) -> list[dict[str, Any]]:
    """AAS JSON of every submodel the battery's level carries."""
    ids = battery.ids
    out = [
        nameplate.PART.instantiate(ids.submodel_id(nameplate.PART.id_short),
                                   nameplate.values(battery, spec, ids.global_asset_id)),
        technical_data.PART.instantiate(ids.submodel_id(technical_data.PART.id_short),
                                        technical_data.values(battery, spec)),
        product_condition.PART.instantiate(ids.submodel_id(product_condition.PART.id_short),
                                           product_condition.values(battery, spec, now)),
        bom.build_json(battery, ids.submodel_id(bom.PART.id_short)),
    ]
    if battery.level is Level.PACK:
        out += [
            handover.PART.instantiate(ids.submodel_id(handover.PART.id_short), handover.values(battery, spec)),
            carbon_footprint.PART.instantiate(ids.submodel_id(carbon_footprint.PART.id_short),
                                              carbon_footprint.values(battery, spec)),
            material_composition.PART.instantiate(ids.submodel_id(material_composition.PART.id_short),
                                                  material_composition.values(battery, spec)),
            circularity.PART.instantiate(ids.submodel_id(circularity.PART.id_short),
                                         circularity.values(battery, spec)),
            time_series.build_json(battery, ids.submodel_id(time_series.PART.id_short), timeseries_endpoint,
                                   f"pack_id={battery.serial}"),
        ]
    return out


def concept_descriptions_json() -> list[dict[str, Any]]:
    """The (fixed) ConceptDescriptions of every template, once each: they carry the units."""
    seen: dict[str, dict[str, Any]] = {}
    for part in PARTS:
        for cd in part.template.concept_descriptions_raw:
            seen.setdefault(cd["id"], cd)
    return list(seen.values())


def iter_fleet_json(hierarchy: list[Battery], spec: PackSpec, now: dt.datetime,
                    timeseries_endpoint: str) -> Iterator[dict[str, Any]]:
    """Every identifiable of the fleet as AAS JSON: per battery its shell and submodels, then the
    ConceptDescriptions. Building at the JSON level and decoding once keeps large fleets fast."""
    for pack in hierarchy:
        for battery in pack.walk():
            submodels = submodels_json(battery, spec, now, timeseries_endpoint)
            yield shell_json(battery, spec, [sm["id"] for sm in submodels])
            yield from submodels
    yield from concept_descriptions_json()


def plan_fleet(packs: int, modules: int | None = None, cells: int | None = None, spec: PackSpec | None = None,
               base: str = "https://example.org/packtwin", first_pack: int = 1) -> tuple[PackSpec, list[Battery]]:
    spec = (spec or load_spec()).with_topology(modules, cells)
    return spec, build_hierarchy(base, packs, spec.battery.modules_per_pack, spec.battery.cells_per_module,
                                 first_pack=first_pack)


def build_fleet(packs: int, modules: int | None = None, cells: int | None = None, spec: PackSpec | None = None,
                base: str = "https://example.org/packtwin", now: dt.datetime | None = None,
                timeseries_endpoint: str = DEFAULT_TIMESERIES_ENDPOINT,
                first_pack: int = 1) -> Fleet:
    """``packs`` packs of ``modules`` × ``cells`` (defaults from the spec), every twin fully populated."""
    spec, hierarchy = plan_fleet(packs, modules, cells, spec, base, first_pack)
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for raw in iter_fleet_json(hierarchy, spec, now, timeseries_endpoint):
        store.add(from_json(json.dumps(raw)))
    return Fleet(store, supplementary_files(spec), hierarchy)


def supplementary_files(spec: PackSpec) -> DictSupplementaryFileContainer:
    """The documents the handover documentation refers to and the thumbnail, as files for the AASX package."""
    files = DictSupplementaryFileContainer()
    for doc in handover.documents(spec):
        files.add_file(doc.file_path, io.BytesIO(minimal_pdf(doc.title, doc.identifier)), doc.content_type)
    files.add_file(THUMBNAIL_PATH, io.BytesIO(thumbnail_png()), "image/png")
    return files


def write_fleet_json(fh: IO[str], hierarchy: list[Battery], spec: PackSpec, now: dt.datetime,
                     timeseries_endpoint: str) -> int:
    """Stream the fleet as one AAS JSON environment without building basyx objects; returns the identifiables
    written. Two passes over the hierarchy (shells, then submodels) keep memory flat for any fleet size."""
    count = 0
    fh.write('{"assetAdministrationShells":[')
    for i, raw in enumerate(r for r in iter_fleet_json(hierarchy, spec, now, timeseries_endpoint)
                            if r["modelType"] == "AssetAdministrationShell"):
        fh.write(("," if i else "") + json.dumps(raw, separators=(",", ":")))
        count += 1
    fh.write('],"submodels":[')
    for i, raw in enumerate(r for r in iter_fleet_json(hierarchy, spec, now, timeseries_endpoint)
                            if r["modelType"] == "Submodel"):
        fh.write(("," if i else "") + json.dumps(raw, separators=(",", ":")))
        count += 1
    fh.write('],"conceptDescriptions":[')
    cds = concept_descriptions_json()
    fh.write(",".join(json.dumps(cd, separators=(",", ":")) for cd in cds))
    fh.write("]}")
    return count + len(cds)
