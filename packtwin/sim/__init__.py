"""The physical-twin simulator: packs of cells with ageing and injected faults, publishing like a gateway."""
