"""The series order of a pack's cells, read from the BoMs (IDTA 02011) on an AAS server.

A pack's frames carry its cell voltages in series order; the twins carry the same order in their BoMs: the modules
as the pack's ``OneDown`` BoM lists its nodes, the cells as each module's lists them (``packtwin fleet create``
builds them so). A writer that sets per-cell values needs that map from a cell's index in the frame to its twin; it
is read once per pack and kept, since a pack's structure changes only when it is rebuilt. The BoM submodels are
found by the packtwin identifier scheme (docs/identifiers.md), on ``packtwin serve`` or any AAS server holding
such twins (BaSyx).
"""

from __future__ import annotations

import json
import threading

from basyx.aas.adapter.json import AASFromJsonDecoder

from packtwin.aas.ids import Level, TwinIds, parse_global_asset_id
from packtwin.connectors.remote.client import SUBMODELS, AasClient
from packtwin.submodels.bom import PART, links


class SeriesOrderError(LookupError):
    pass


class SeriesOrder:
    def __init__(self, client: AasClient, base_iri: str) -> None:
        self.aas = client
        self.base_iri = base_iri
        self._cells: dict[str, list[TwinIds]] = {}
        self._lock = threading.Lock()

    def cells(self, pack_id: str) -> list[TwinIds]:
        """The cell twins of ``pack_id`` in series order, or SeriesOrderError saying what is missing."""
        with self._lock:
            known = self._cells.get(pack_id)
        if known is not None:
            return known
        pack = TwinIds(self.base_iri, Level.PACK, pack_id)
        cells = [c for module in self._parts(pack, Level.MODULE) for c in self._parts(module, Level.CELL)]
        if not cells:
            raise SeriesOrderError(f"the BoM of pack {pack_id} lists no cells")
        with self._lock:
            self._cells[pack_id] = cells
        return cells

    def forget(self, pack_id: str) -> None:
        """Read the pack's BoMs again next time (e.g. after a cell was replaced)."""
        with self._lock:
            self._cells.pop(pack_id, None)

    def _parts(self, parent: TwinIds, level: Level) -> list[TwinIds]:
        sid = parent.submodel_id(PART.id_short)
        doc = self.aas.get(SUBMODELS, sid)
        if doc is None:
            raise SeriesOrderError(f"no BoM submodel {sid}")
        try:
            # The failsafe decoder: another server's extra or unusual fields must not cost the cell writes.
            arche, _, parts = links(json.loads(json.dumps(doc), cls=AASFromJsonDecoder))
        except Exception as exc:  # a server's document we cannot read: say which
            raise SeriesOrderError(f"BoM {sid} is not a readable submodel: {exc}") from None
        if arche != "OneDown":
            raise SeriesOrderError(f"BoM {sid} is {arche!r}, not OneDown")
        out = []
        for asset_id in parts:
            ids = parse_global_asset_id(asset_id, self.base_iri)
            if ids is None or ids.level is not level:
                raise SeriesOrderError(f"BoM {sid}: part {asset_id} is not a {level.value} of {self.base_iri}")
            out.append(ids)
        return out
