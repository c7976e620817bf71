"""One module per IDTA submodel template: build, read and validate; semantic ids live here and nowhere else.

:data:`PARTS` lists them in passport order; :func:`part_for` finds a part by a submodel's semanticId.
"""

from __future__ import annotations

from packtwin.submodels import (
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

PARTS: tuple[Part, ...] = (
    nameplate.PART,
    handover.PART,
    carbon_footprint.PART,
    technical_data.PART,
    product_condition.PART,
    material_composition.PART,
    circularity.PART,
    bom.PART,
    time_series.PART,
)

def part_for(semantic_id: str | None) -> Part | None:
    for part in PARTS:
        if part.semantic_id == semantic_id:
            return part
    return None
