"""The identifier scheme of packtwin twins (documented in docs/identifiers.md).

Every battery (pack, module, cell) has a serial number; all identifiers derive from it under a configurable base IRI::

    globalAssetId  {base}/asset/{level}/{serial}
    AAS id         {base}/aas/{level}/{serial}
    submodel id    {base}/sm/{level}/{serial}/{SubmodelIdShort}

``level`` is ``pack``, ``module`` or ``cell``. Serial numbers are URL-safe by construction (``[A-Za-z0-9._-]``), so the
IRIs need no escaping. Each AAS also carries specificAssetIds ``serialNumber``, ``batchId`` and ``manufacturerPartId``
so that a battery can be found from the label printed on it (AAS discovery, ``/lookup/shells``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

SERIAL_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

# specificAssetId names, as used by the AAS discovery service and Catena-X.
SERIAL_NUMBER = "serialNumber"
BATCH_ID = "batchId"
MANUFACTURER_PART_ID = "manufacturerPartId"


class Level(StrEnum):
    PACK = "pack"
    MODULE = "module"
    CELL = "cell"


@dataclass(frozen=True)
class TwinIds:
    """All identifiers of one battery twin."""

    base: str
    level: Level
    serial: str

    def __post_init__(self) -> None:
        if not SERIAL_PATTERN.match(self.serial):
            raise ValueError(f"serial number {self.serial!r} must match {SERIAL_PATTERN.pattern}")

    @property
    def global_asset_id(self) -> str:
        return f"{self.base.rstrip('/')}/asset/{self.level.value}/{self.serial}"

    @property
    def aas_id(self) -> str:
        return f"{self.base.rstrip('/')}/aas/{self.level.value}/{self.serial}"

    def submodel_id(self, id_short: str) -> str:
        return f"{self.base.rstrip('/')}/sm/{self.level.value}/{self.serial}/{id_short}"


def pack_serial(index: int, prefix: str = "PT") -> str:
    return f"{prefix}-P{index:06d}"


def module_serial(pack: str, index: int) -> str:
    return f"{pack}-M{index:02d}"


def cell_serial(module: str, index: int) -> str:
    return f"{module}-C{index:03d}"


def _parse(identifier: str, base: str, kind: str) -> TwinIds | None:
    prefix = f"{base.rstrip('/')}/{kind}/"
    if not identifier.startswith(prefix):
        return None
    level, _, serial = identifier[len(prefix):].partition("/")
    try:
        return TwinIds(base, Level(level), serial)
    except ValueError:
        return None


def parse_aas_id(aas_id: str, base: str) -> TwinIds | None:
    """Inverse of :attr:`TwinIds.aas_id`; None for ids outside the scheme."""
    return _parse(aas_id, base, "aas")


def parse_global_asset_id(asset_id: str, base: str) -> TwinIds | None:
    """Inverse of :attr:`TwinIds.global_asset_id`; None for ids outside the scheme."""
    return _parse(asset_id, base, "asset")
