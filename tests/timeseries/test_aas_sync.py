import datetime as dt

import numpy as np
import pytest
from basyx.aas import model

from packtwin.aas.events import Target
from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.connectors.frame import Frame
from packtwin.submodels import time_series
from packtwin.submodels.template import element_values
from packtwin.timeseries.aas_sync import TimeSeriesSync, discover
from packtwin.timeseries.sqlite import SQLiteTimeSeries

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def repo():
    fleet = build_fleet(2, 1, 2, base="https://batteries.example.com/twins", now=NOW)
    return Repository(fleet.objects)


def _frames(pack_id: str, n: int, t0: float = 1.8e9) -> list[Frame]:
    return [Frame(pack_id, i, t0 + 0.1 * i, 10.0 + i, np.array([3.6, 3.7, 3.65, 3.71], np.float32) + 0.001 * i,
                  np.array([25.0, 31.5], np.float32) if i % 10 == 0 else np.empty(0, np.float32))
            for i in range(n)]


def _segments(repo: Repository, submodel_id: str) -> dict:
    return element_values(repo.get_submodel(submodel_id))["Segments"]


def test_latest_values_and_linked_segment(repo, tmp_path):
    mapping = discover(repo)
    assert sorted(mapping) == ["PT-P000001", "PT-P000002"]
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    frames = _frames("PT-P000001", 25)
    store.append(frames)
    events = []
    repo.bus.subscribe(events.append)
    sync = TimeSeriesSync(repo, store, mapping, period_s=1.0)
    sync.on_batch(frames)
    sync.on_batch(_frames("PT-UNKNOWN", 3))
    assert sync.flush() == 1
    assert sync.flush() == 0  # nothing new: nothing written
    assert [(e.target, e.identifiable_id, e.id_short_path) for e in events] == [
        (Target.SUBMODEL_ELEMENT, mapping["PT-P000001"], "Segments")]
    seg = _segments(repo, mapping["PT-P000001"])
    linked = seg["LinkedSegment"]
    assert linked["RecordCount"] == 25 and linked["State"] == "in progress" and linked["SamplingRate"] == 10
    assert linked["StartTime"] == "2027-01-15T08:00:00.000Z"
    assert linked["EndTime"] == "2027-01-15T08:00:02.400Z"
    assert linked["Endpoint"] and linked["Query"] == "pack_id=PT-P000001"
    internal = next(v for k, v in seg.items() if k.startswith("InternalSegment"))
    record = next(iter(next(v for k, v in internal.items() if k.startswith("Records")).values()))
    last = frames[-1]
    assert record["PackCurrent"] == pytest.approx(last.current_a)
    assert record["PackVoltage"] == pytest.approx(float(last.cell_voltage_v.sum()), abs=1e-4)
    assert record["MinCellVoltage"] == pytest.approx(float(last.cell_voltage_v.min()), abs=1e-6)
    assert record["MaxCellVoltage"] == pytest.approx(float(last.cell_voltage_v.max()), abs=1e-6)
    assert record["MaxTemperature"] == 31.5  # from the last frame that carried temperatures
    # The updated submodel still conforms to the IDTA 02008 template.
    submodel = repo.get_submodel(mapping["PT-P000001"])
    assert time_series.PART.validate(submodel) == []
    # More frames later: counts accumulate, the InternalSegment is reused, not duplicated.
    sync.on_batch(_frames("PT-P000001", 30)[25:])
    assert sync.flush() == 1
    seg = _segments(repo, mapping["PT-P000001"])
    assert seg["LinkedSegment"]["RecordCount"] == 30
    assert sum(1 for k in seg if k.startswith("InternalSegment")) == 1
    segments = next(e for e in submodel.submodel_element if e.id_short == "Segments")
    assert isinstance(segments, model.SubmodelElementCollection)
    store.close()


def test_bounded_rate(repo, tmp_path):
    mapping = discover(repo)
    store = SQLiteTimeSeries(tmp_path / "ts.sqlite")
    sync = TimeSeriesSync(repo, store, mapping, period_s=0.2).start()
    events = []
    repo.bus.subscribe(events.append)
    for k in range(40):  # 4,000 frames per pack within ~0.4 s
        sync.on_batch(_frames("PT-P000001", 100, t0=1.8e9 + 10 * k) + _frames("PT-P000002", 100, t0=1.8e9 + 10 * k))
    sync.stop()
    writes = len(events)
    assert 2 <= writes <= 2 * 6, writes  # per pack: at most one write per period (plus the final flush)
    store.close()
