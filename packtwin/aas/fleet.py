"""The fleet builder: from a pack specification to an AAS environment with one AAS per pack, module and cell.

Which submodels each level carries (docs/passport-levels.md): the battery placed on the market — the pack — carries
the whole Digital Battery Passport (IDTA 02035 parts 1–7), its BoM and its operational data (IDTA 02008); modules and
cells carry the nameplate, technical data and product condition (parts 1, 4, 5) and their BoM, so that a repairer
or second-life operator can assess each part on its own.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from basyx.aas import model
from basyx.aas.adapter.aasx import DictSupplementaryFileContainer

from packtwin.aas.documents import minimal_pdf, thumbnail_png
from packtwin.aas.hierarchy import Battery, build_hierarchy
from packtwin.aas.ids import BATCH_ID, MANUFACTURER_PART_ID, SERIAL_NUMBER, Level
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


def build_shell(battery: Battery, spec: PackSpec, submodel_ids: list[str]) -> model.AssetAdministrationShell:
    specific = [
        model.SpecificAssetId(SERIAL_NUMBER, battery.serial),
        model.SpecificAssetId(BATCH_ID, battery.batch),
        model.SpecificAssetId(MANUFACTURER_PART_ID, _part_number(battery, spec)),
    ]
    info = model.AssetInformation(
        asset_kind=model.AssetKind.INSTANCE,
        global_asset_id=battery.ids.global_asset_id,
        specific_asset_id=specific,
        asset_type=_part_number(battery, spec),
        default_thumbnail=model.Resource(THUMBNAIL_PATH, "image/png") if battery.level is Level.PACK else None,
    )
    return model.AssetAdministrationShell(
        info, battery.ids.aas_id, id_short=_id_short(battery),
        display_name=model.MultiLanguageNameType({"en": f"{battery.level.value} {battery.serial}"}),
        submodel={model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, sid),), model.Submodel)
                  for sid in submodel_ids},
    )


def _part_number(battery: Battery, spec: PackSpec) -> str:
    suffix = {Level.PACK: "", Level.MODULE: "-MOD", Level.CELL: "-CELL"}[battery.level]
    return spec.battery.part_number + suffix


def build_submodels(battery: Battery, spec: PackSpec, now: dt.datetime, timeseries_endpoint: str) -> list[model.Submodel]:
    ids = battery.ids
    out = [
        nameplate.PART.build(ids.submodel_id(nameplate.PART.id_short),
                             nameplate.values(battery, spec, ids.global_asset_id)),
        technical_data.PART.build(ids.submodel_id(technical_data.PART.id_short),
                                  technical_data.values(battery, spec)),
        product_condition.PART.build(ids.submodel_id(product_condition.PART.id_short),
                                     product_condition.values(battery, spec, now)),
        bom.build(battery, ids.submodel_id(bom.PART.id_short)),
    ]
    if battery.level is Level.PACK:
        out += [
            handover.PART.build(ids.submodel_id(handover.PART.id_short), handover.values(battery, spec)),
            carbon_footprint.PART.build(ids.submodel_id(carbon_footprint.PART.id_short),
                                        carbon_footprint.values(battery, spec)),
            material_composition.PART.build(ids.submodel_id(material_composition.PART.id_short),
                                            material_composition.values(battery, spec)),
            circularity.PART.build(ids.submodel_id(circularity.PART.id_short), circularity.values(battery, spec)),
            time_series.build(battery, ids.submodel_id(time_series.PART.id_short), timeseries_endpoint,
                              f"pack_id={battery.serial}"),
        ]
    return out


def concept_descriptions() -> list[model.ConceptDescription]:
    """The (fixed) ConceptDescriptions of every template, once each: they carry the units."""
    seen: dict[str, model.ConceptDescription] = {}
    for part in PARTS:
        for cd in part.template.concept_descriptions():
            seen.setdefault(cd.id, cd)
    return list(seen.values())


def build_fleet(packs: int, modules: int | None = None, cells: int | None = None, spec: PackSpec | None = None,
                base: str = "https://example.org/packtwin", now: dt.datetime | None = None,
                timeseries_endpoint: str = "sqlite:packtwin-data/timeseries.sqlite",
                first_pack: int = 1) -> Fleet:
    """``packs`` packs of ``modules`` × ``cells`` (defaults from the spec), every twin fully populated."""
    spec = (spec or load_spec()).with_topology(modules, cells)
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    hierarchy = build_hierarchy(base, packs, spec.battery.modules_per_pack, spec.battery.cells_per_module,
                                first_pack=first_pack)
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for pack in hierarchy:
        for battery in pack.walk():
            submodels = build_submodels(battery, spec, now, timeseries_endpoint)
            store.add(build_shell(battery, spec, [sm.id for sm in submodels]))
            for sm in submodels:
                store.add(sm)
    for cd in concept_descriptions():
        store.add(cd)
    return Fleet(store, supplementary_files(spec), hierarchy)


def supplementary_files(spec: PackSpec) -> DictSupplementaryFileContainer:
    """The documents the handover documentation refers to and the thumbnail, as files for the AASX package."""
    files = DictSupplementaryFileContainer()
    for doc in handover.documents(spec):
        files.add_file(doc.file_path, io.BytesIO(minimal_pdf(doc.title, doc.identifier)), doc.content_type)
    files.add_file(THUMBNAIL_PATH, io.BytesIO(thumbnail_png()), "image/png")
    return files
