"""Injectable faults of the simulated packs, parsed from ``PACK/CELL:KIND:VALUE`` (e.g. ``PT-P000001/17:short:5``).

PACK is a pack id or a 1-based pack number; CELL is a 1-based cell number or ``*`` (pack-wide kinds ignore it).
"""

from __future__ import annotations

from dataclasses import dataclass

# kind -> meaning of VALUE
FAULT_KINDS: dict[str, str] = {
    "short": "internal short circuit through VALUE ohm",
    "offset": "voltage sensor offset of VALUE volt",
    "stuck": "voltage sensor stuck at its reading when the fault starts (VALUE ignored; 0 to clear)",
    "noise": "voltage sensor noise, standard deviation VALUE volt",
    "selfdischarge": "abnormal self-discharge current of VALUE ampere",
    "cooling": "cooling failure: heat transfer to the coolant scaled by VALUE (0 = no cooling)",
    "temp_offset": "temperature sensor offset of VALUE degC (CELL picks the sensor)",
}
PACK_WIDE = {"cooling"}


@dataclass(frozen=True)
class Fault:
    pack: str  # pack id or 1-based number as text
    cell: int | None  # 0-based; None for pack-wide faults or "*"
    kind: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Fault:
        try:
            where, kind, value = text.rsplit(":", 2)
            pack, _, cell = where.partition("/")
            number = float(value)
        except ValueError:
            raise ValueError(f"fault {text!r} is not PACK/CELL:KIND:VALUE") from None
        kind = kind.lower()
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not pack:
            raise ValueError(f"fault {text!r} names no pack")
        if kind in PACK_WIDE or cell in ("", "*"):
            if kind not in PACK_WIDE:
                raise ValueError(f"fault kind {kind!r} needs a cell number")
            return cls(pack, None, kind, number)
        if not cell.isdigit() or int(cell) < 1:
            raise ValueError(f"cell in {text!r} must be a number from 1")
        return cls(pack, int(cell) - 1, kind, number)

    def pack_index(self, pack_ids: list[str]) -> int:
        if self.pack in pack_ids:
            return pack_ids.index(self.pack)
        if self.pack.isdigit() and 1 <= int(self.pack) <= len(pack_ids):
            return int(self.pack) - 1
        raise ValueError(f"fault names unknown pack {self.pack!r}")
