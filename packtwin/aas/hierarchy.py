"""The asset hierarchy of a fleet: packs made of modules made of cells, with their identifiers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from packtwin.aas.ids import Level, TwinIds, cell_serial, module_serial, pack_serial


@dataclass
class Battery:
    """One pack, module or cell of a fleet."""

    ids: TwinIds
    batch: str
    parent: Battery | None = None
    children: list[Battery] = field(default_factory=list)

    @property
    def level(self) -> Level:
        return self.ids.level

    @property
    def serial(self) -> str:
        return self.ids.serial

    def walk(self) -> Iterator[Battery]:
        yield self
        for child in self.children:
            yield from child.walk()


def build_hierarchy(base: str, packs: int, modules: int, cells: int, first_pack: int = 1,
                    prefix: str = "PT", batch: str = "LOT-2026-001") -> list[Battery]:
    """``packs`` packs of ``modules`` modules of ``cells`` cells each."""
    fleet = []
    for p in range(first_pack, first_pack + packs):
        pack = Battery(TwinIds(base, Level.PACK, pack_serial(p, prefix)), batch)
        for m in range(1, modules + 1):
            module = Battery(TwinIds(base, Level.MODULE, module_serial(pack.serial, m)), batch, parent=pack)
            pack.children.append(module)
            for c in range(1, cells + 1):
                module.children.append(
                    Battery(TwinIds(base, Level.CELL, cell_serial(module.serial, c)), batch, parent=module))
        fleet.append(pack)
    return fleet
