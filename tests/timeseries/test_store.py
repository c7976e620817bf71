import uuid

import numpy as np
import pytest

from packtwin.connectors.frame import Frame
from packtwin.timeseries import DeadLetter, Gap, downsample, open_store
from packtwin.timeseries.sqlite import SQLiteTimeSeries


def _pg_available() -> bool:
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(tmp_path / "ts.sqlite")
        yield s
        s.close()
        return
    if not _pg_available():
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432 (user postgres)")
    from packtwin.timeseries.postgres import PostgresTimeSeries

    s = PostgresTimeSeries("postgresql://postgres@127.0.0.1:5432/postgres", schema=f"t_{uuid.uuid4().hex[:12]}")
    yield s
    s.drop()
    s.close()


def _frames(pack_id: str, n: int, n_cells: int = 8, t0: float = 1000.0) -> list[Frame]:
    rng = np.random.default_rng(1)
    return [Frame(pack_id, i, t0 + 0.1 * i, float(i), (3.6 + 0.01 * rng.standard_normal(n_cells)).astype(np.float32),
                  np.full(4, 25.0 + i, np.float32) if i % 10 == 0 else np.empty(0, np.float32),
                  {"gas_ppm": 1.5} if i == 3 else {})
            for i in range(n)]


def test_append_is_idempotent_and_round_trips(store):
    frames = _frames("P1", 50)
    assert store.append(frames) == 50
    assert store.append(frames[10:20] + _frames("P1", 55)[50:]) == 5
    assert store.count() == 55
    assert store.count("P1") == 55 and store.count("P2") == 0
    assert store.last_seq_by_pack() == {"P1": 54}
    assert np.array_equal(store.seqs("P1"), np.arange(55))
    series = store.frames("P1", 1000.0, 1002.0)
    assert len(series) == 20
    assert np.array_equal(series.cell_voltage_v[7], frames[7].cell_voltage_v)
    assert series.current_a[7] == 7.0
    assert series.temperature_c.shape == (2, 4) and series.temperature_t.tolist() == [1000.0, 1001.0]
    assert series.temperature_c[1, 0] == 35.0
    count, t_first, t_last = store.extent("P1")
    assert count == 55 and t_first == 1000.0 and t_last == pytest.approx(1005.4)


def test_cell_series_downsampled(store):
    store.append(_frames("P1", 100))
    t, v = store.cell_series("P1", 2)
    assert t.shape == v.shape == (100,)
    tb, vb = store.cell_series("P1", 2, bucket_s=1.0)
    assert tb.tolist() == [1000.0 + k for k in range(10)]
    assert vb[0] == pytest.approx(float(np.mean(v[:10])), rel=1e-6)
    with pytest.raises(IndexError):
        store.cell_series("P1", 8)


def test_retention_deadletters_gaps(store):
    store.append(_frames("P1", 100))
    assert store.delete_before(1005.0) == 50
    assert store.count("P1") == 50
    store.add_deadletters([DeadLetter(1.0, "packtwin/v1/P1/telemetry", "not_finite", "NaN", b"\x00\x01")])
    assert store.deadletters()[0].payload == b"\x00\x01"
    store.add_gaps([Gap("P1", 4, 9, 2.0), Gap("P1", 4, 9, 3.0)])
    assert [g.missing for g in store.gaps("P1")] == [4]


def test_downsample_aggregations():
    t = np.arange(10, dtype=float)
    v = np.arange(10, dtype=float)
    assert downsample(t, v, 5.0, "min")[1].tolist() == [0, 5]
    assert downsample(t, v, 5.0, "max")[1].tolist() == [4, 9]
    assert downsample(t, v, 5.0, "last")[1].tolist() == [4, 9]
    assert downsample(t, v, 5.0)[1].tolist() == [2, 7]
    with pytest.raises(ValueError):
        downsample(t, v, 5.0, "median")


def test_sqlite_batch_survives_reopen(tmp_path):
    path = tmp_path / "ts.sqlite"
    s = SQLiteTimeSeries(path)
    s.append(_frames("P9", 30))
    s.close()
    s = SQLiteTimeSeries(path)
    assert s.count("P9") == 30
    s.close()
