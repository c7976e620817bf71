"""The embedded time-series store: one SQLite file in WAL mode, one row per frame, cell arrays as float32 blobs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from packtwin.timeseries.base import DeadLetter, Gap, Row, TimeSeriesStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (
  pack_key INTEGER PRIMARY KEY,
  pack_id TEXT NOT NULL UNIQUE
);
-- A rowid table (frames are ~0.5 kB, too wide for WITHOUT ROWID) keyed by a small integer per pack: both indexes
-- stay narrow, which is what bounds the append rate.
CREATE TABLE IF NOT EXISTS frames (
  pack_key INTEGER NOT NULL REFERENCES packs (pack_key),
  seq INTEGER NOT NULL,
  t REAL NOT NULL,
  current_a REAL NOT NULL,
  cell_voltage_v BLOB NOT NULL,
  temperature_c BLOB,
  extra TEXT,
  UNIQUE (pack_key, seq)
);
CREATE INDEX IF NOT EXISTS frames_pack_t ON frames (pack_key, t);
CREATE TABLE IF NOT EXISTS deadletters (
  id INTEGER PRIMARY KEY,
  received_at REAL NOT NULL,
  topic TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS gaps (
  pack_id TEXT NOT NULL,
  after_seq INTEGER NOT NULL,
  before_seq INTEGER NOT NULL,
  detected_at REAL NOT NULL,
  PRIMARY KEY (pack_id, after_seq)
);
"""


class SQLiteTimeSeries(TimeSeriesStore):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.url = str(self.path)
        # One connection shared by the ingest worker and readers, serialised by a lock; other processes read
        # concurrently through WAL.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed batch survives a killed process (it is in the WAL file); only an OS
            # crash or power cut can lose the last transactions. FULL would fsync every batch.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.executescript(SCHEMA)
            self._keys: dict[str, int] = dict(self._db.execute("SELECT pack_id, pack_key FROM packs"))

    def set_synchronous(self, level: str) -> None:
        """``FULL`` when batches must also survive power loss (at the cost of one fsync per batch)."""
        if level.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(level)
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={level.upper()}")

    # -- writes ------------------------------------------------------------------------------------------------------
    def append_rows(self, rows: Sequence[Row]) -> int:
        return self.write_batch(rows)

    def write_batch(self, rows: Sequence[Row], deadletters: Sequence[DeadLetter] = (),
                    gaps: Sequence[Gap] = ()) -> int:
        """One transaction for the whole ingest batch: it is durable, or none of it is."""
        if not (rows or deadletters or gaps):
            return 0
        db = self._db
        with self._lock:
            db.execute("BEGIN")
            try:
                keys = self._keys
                missing = {r[0] for r in rows if r[0] not in keys}
                for pack_id in sorted(missing):
                    # OR IGNORE: another writer process may have registered the pack meanwhile.
                    db.execute("INSERT OR IGNORE INTO packs (pack_id) VALUES (?)", (pack_id,))
                    keys[pack_id] = db.execute("SELECT pack_key FROM packs WHERE pack_id = ?",
                                               (pack_id,)).fetchone()[0]
                # Sorted by (pack, seq): neighbouring inserts hit the same index pages.
                keyed = sorted((keys[r[0]], *r[1:]) for r in rows)
                before = db.total_changes
                db.executemany("INSERT OR IGNORE INTO frames VALUES (?,?,?,?,?,?,?)", keyed)
                inserted = db.total_changes - before
                if deadletters:
                    db.executemany(
                        "INSERT INTO deadletters (received_at, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
                        [(d.received_at, d.topic, d.reason, d.detail, d.payload) for d in deadletters])
                if gaps:
                    db.executemany("INSERT OR IGNORE INTO gaps VALUES (?,?,?,?)",
                                   [(g.pack_id, g.after_seq, g.before_seq, g.detected_at) for g in gaps])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._keys = dict(db.execute("SELECT pack_id, pack_key FROM packs"))
                raise
            return inserted

    def add_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT INTO deadletters (received_at, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
                    [(d.received_at, d.topic, d.reason, d.detail, d.payload) for d in letters])

    def add_gaps(self, gaps: Sequence[Gap]) -> None:
        if gaps:
            with self._lock, self._db:
                self._db.executemany("INSERT OR IGNORE INTO gaps VALUES (?,?,?,?)",
                                     [(g.pack_id, g.after_seq, g.before_seq, g.detected_at) for g in gaps])

    def delete_before(self, t: float, pack_id: str | None = None) -> int:
        with self._lock, self._db:
            if pack_id is None:
                cur = self._db.execute("DELETE FROM frames WHERE t < ?", (t,))
            else:
                cur = self._db.execute("DELETE FROM frames WHERE pack_key = ? AND t < ?", (self._key(pack_id), t))
            return cur.rowcount

    # -- reads -------------------------------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence = ()) -> list:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _key(self, pack_id: str) -> int:
        key = self._keys.get(pack_id)
        if key is None:
            # Another process (the ingest) may have added the pack since this handle was opened.
            found = self._query("SELECT pack_key FROM packs WHERE pack_id = ?", (pack_id,))
            if not found:
                return -1  # matches no row: an unknown pack simply has no frames
            key = self._keys[pack_id] = found[0][0]
        return key

    def count(self, pack_id: str | None = None) -> int:
        if pack_id is None:
            return self._query("SELECT COUNT(*) FROM frames")[0][0]
        return self._query("SELECT COUNT(*) FROM frames WHERE pack_key = ?", (self._key(pack_id),))[0][0]

    def pack_ids(self) -> list[str]:
        return [r[0] for r in self._query(
            "SELECT pack_id FROM packs WHERE EXISTS (SELECT 1 FROM frames f WHERE f.pack_key = packs.pack_key) "
            "ORDER BY pack_id")]

    def last_seq_by_pack(self) -> dict[str, int]:
        return dict(self._query("SELECT p.pack_id, MAX(f.seq) FROM frames f JOIN packs p USING (pack_key) "
                                "GROUP BY f.pack_key"))

    def seqs(self, pack_id: str) -> np.ndarray:
        rows = self._query("SELECT seq FROM frames WHERE pack_key = ? ORDER BY seq", (self._key(pack_id),))
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def count_between(self, pack_id: str, after_seq: int, before_seq: int) -> int:
        return self._query("SELECT COUNT(*) FROM frames WHERE pack_key = ? AND seq > ? AND seq < ?",
                           (self._key(pack_id), after_seq, before_seq))[0][0]

    def extent(self, pack_id: str) -> tuple[int, float, float] | None:
        n, t0, t1 = self._query("SELECT COUNT(*), MIN(t), MAX(t) FROM frames WHERE pack_key = ?",
                                (self._key(pack_id),))[0]
        return (n, t0, t1) if n else None

    def _range_rows(self, pack_id: str, t0: float, t1: float, limit: int | None) -> list[Sequence]:
        sql = ("SELECT seq, t, current_a, cell_voltage_v, temperature_c FROM frames "
               "WHERE pack_key = ? AND t >= ? AND t < ? ORDER BY t")
        params: list = [self._key(pack_id), t0, min(t1, 1e300)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._query(sql, params)

    def deadletters(self, limit: int | None = None) -> list[DeadLetter]:
        sql = "SELECT received_at, topic, reason, detail, payload FROM deadletters ORDER BY id"
        rows = self._query(sql + " LIMIT ?", (limit,)) if limit is not None else self._query(sql)
        return [DeadLetter(*r) for r in rows]

    def deadletter_reasons(self) -> dict[str, int]:
        return dict(self._query("SELECT reason, COUNT(*) FROM deadletters GROUP BY reason"))

    def gaps(self, pack_id: str | None = None) -> list[Gap]:
        if pack_id is None:
            rows = self._query("SELECT * FROM gaps ORDER BY pack_id, after_seq")
        else:
            rows = self._query("SELECT * FROM gaps WHERE pack_id = ? ORDER BY after_seq", (pack_id,))
        return [Gap(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
