"""The series order of a pack's cells, read from the BoMs of a separate ``packtwin serve`` over HTTP."""

from __future__ import annotations

import pytest

from packtwin.aas.ids import Level, pack_serial
from packtwin.connectors.remote.bom import SeriesOrder, SeriesOrderError
from packtwin.connectors.remote.client import AasClient
from packtwin.settings import Settings
from tests.connectors.remote.test_sync_http import KEY, served_fleet


@pytest.fixture
def server(tmp_path):
    with served_fleet(tmp_path, 2, 2, 3) as srv:
        yield srv


def test_cells_come_in_series_order_and_a_missing_pack_says_what_is_missing(server):
    order = SeriesOrder(AasClient(server.url, api_key=KEY), Settings().base_iri)
    cells = order.cells(pack_serial(2))
    assert [c.serial for c in cells] == [f"PT-P000002-M{m:02d}-C{c:03d}" for m in (1, 2) for c in (1, 2, 3)]
    assert all(c.level is Level.CELL for c in cells)
    assert order.cells(pack_serial(2)) is cells  # read once, then kept
    with pytest.raises(SeriesOrderError, match="no BoM submodel"):
        order.cells(pack_serial(9))
