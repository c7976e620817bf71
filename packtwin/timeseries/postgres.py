"""The time-series store on PostgreSQL (for scale): same rows and semantics as the SQLite store.

Batches go in by COPY into a temporary table and one ``INSERT ... ON CONFLICT DO NOTHING``, which keeps appends
idempotent on (pack_id, seq) and tells how many rows were new.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

from packtwin.timeseries.base import DeadLetter, Gap, Row, TimeSeriesStore

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.frames (
  pack_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  t DOUBLE PRECISION NOT NULL,
  current_a DOUBLE PRECISION NOT NULL,
  cell_voltage_v BYTEA NOT NULL,
  temperature_c BYTEA,
  extra TEXT,
  PRIMARY KEY (pack_id, seq)
);
CREATE INDEX IF NOT EXISTS frames_pack_t ON {s}.frames (pack_id, t);
CREATE TABLE IF NOT EXISTS {s}.deadletters (
  id BIGSERIAL PRIMARY KEY,
  received_at DOUBLE PRECISION NOT NULL,
  topic TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  payload BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.gaps (
  pack_id TEXT NOT NULL,
  after_seq BIGINT NOT NULL,
  before_seq BIGINT NOT NULL,
  detected_at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (pack_id, after_seq)
);
"""


class PostgresTimeSeries(TimeSeriesStore):
    def __init__(self, url: str, schema: str = "packtwin_ts") -> None:
        import psycopg

        if not _IDENT.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.url = url
        self.schema = schema
        self._db = psycopg.connect(url, autocommit=True)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(SCHEMA.format(s=schema))

    def append_rows(self, rows: Sequence[Row]) -> int:
        return self.write_batch(rows)

    def write_batch(self, rows: Sequence[Row], deadletters: Sequence[DeadLetter] = (),
                    gaps: Sequence[Gap] = ()) -> int:
        """One transaction for the whole ingest batch: it is durable, or none of it is."""
        if not (rows or deadletters or gaps):
            return 0
        s = self.schema
        inserted = 0
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            if rows:
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS frames_in (LIKE {s}.frames) ON COMMIT DELETE ROWS")
                with cur.copy("COPY frames_in FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(f"INSERT INTO {s}.frames SELECT DISTINCT ON (pack_id, seq) * FROM frames_in "
                            "ON CONFLICT DO NOTHING")
                inserted = cur.rowcount
            if deadletters:
                cur.executemany(
                    f"INSERT INTO {s}.deadletters (received_at, topic, reason, detail, payload) "
                    "VALUES (%s,%s,%s,%s,%s)",
                    [(d.received_at, d.topic, d.reason, d.detail, d.payload) for d in deadletters])
            if gaps:
                cur.executemany(f"INSERT INTO {s}.gaps VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                                [(g.pack_id, g.after_seq, g.before_seq, g.detected_at) for g in gaps])
        return inserted

    def add_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            with self._lock, self._db.transaction(), self._db.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {self.schema}.deadletters (received_at, topic, reason, detail, payload) "
                    "VALUES (%s,%s,%s,%s,%s)",
                    [(d.received_at, d.topic, d.reason, d.detail, d.payload) for d in letters])

    def add_gaps(self, gaps: Sequence[Gap]) -> None:
        if gaps:
            with self._lock, self._db.transaction(), self._db.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.schema}.gaps VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                                [(g.pack_id, g.after_seq, g.before_seq, g.detected_at) for g in gaps])

    def delete_before(self, t: float, pack_id: str | None = None) -> int:
        with self._lock:
            if pack_id is None:
                cur = self._db.execute(f"DELETE FROM {self.schema}.frames WHERE t < %s", (t,))
            else:
                cur = self._db.execute(f"DELETE FROM {self.schema}.frames WHERE pack_id = %s AND t < %s",
                                       (pack_id, t))
            return cur.rowcount

    def _query(self, sql: str, params: Sequence = ()) -> list:
        with self._lock:
            return self._db.execute(sql.replace("{s}", self.schema), params).fetchall()

    def count(self, pack_id: str | None = None) -> int:
        if pack_id is None:
            return self._query("SELECT COUNT(*) FROM {s}.frames")[0][0]
        return self._query("SELECT COUNT(*) FROM {s}.frames WHERE pack_id = %s", (pack_id,))[0][0]

    def pack_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT pack_id FROM {s}.frames ORDER BY pack_id")]

    def last_seq_by_pack(self) -> dict[str, int]:
        return dict(self._query("SELECT pack_id, MAX(seq) FROM {s}.frames GROUP BY pack_id"))

    def seqs(self, pack_id: str) -> np.ndarray:
        rows = self._query("SELECT seq FROM {s}.frames WHERE pack_id = %s ORDER BY seq", (pack_id,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def count_between(self, pack_id: str, after_seq: int, before_seq: int) -> int:
        return self._query("SELECT COUNT(*) FROM {s}.frames WHERE pack_id = %s AND seq > %s AND seq < %s",
                           (pack_id, after_seq, before_seq))[0][0]

    def extent(self, pack_id: str) -> tuple[int, float, float] | None:
        n, t0, t1 = self._query("SELECT COUNT(*), MIN(t), MAX(t) FROM {s}.frames WHERE pack_id = %s", (pack_id,))[0]
        return (n, t0, t1) if n else None

    def _range_rows(self, pack_id: str, t0: float, t1: float, limit: int | None) -> list[Sequence]:
        sql = ("SELECT seq, t, current_a, cell_voltage_v, temperature_c FROM {s}.frames "
               "WHERE pack_id = %s AND t >= %s AND t < %s ORDER BY t")
        params: list = [pack_id, t0, min(t1, 1e300)]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        return self._query(sql, params)

    def deadletters(self, limit: int | None = None) -> list[DeadLetter]:
        sql = "SELECT received_at, topic, reason, detail, payload FROM {s}.deadletters ORDER BY id"
        rows = self._query(sql + " LIMIT %s", (limit,)) if limit is not None else self._query(sql)
        return [DeadLetter(a, b, c, d, bytes(e)) for a, b, c, d, e in rows]

    def gaps(self, pack_id: str | None = None) -> list[Gap]:
        if pack_id is None:
            rows = self._query("SELECT * FROM {s}.gaps ORDER BY pack_id, after_seq")
        else:
            rows = self._query("SELECT * FROM {s}.gaps WHERE pack_id = %s ORDER BY after_seq", (pack_id,))
        return [Gap(*r) for r in rows]

    def drop(self) -> None:
        """Remove the schema with all its data (tests, teardown of a scratch deployment)."""
        with self._lock:
            self._db.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def close(self) -> None:
        with self._lock:
            self._db.close()
