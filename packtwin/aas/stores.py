"""Object stores for AAS identifiables: in memory (tests) and SQLite (the crash-safe embedded default).

Both implement basyx's ``AbstractObjectStore`` so that anything written for basyx stores works on them. The SQLite
store keeps every identifiable as one row of AAS JSON and a decoded copy in memory; each ``add``/``commit``/``discard``
is one transaction with ``synchronous=FULL`` in WAL mode, so a write that returned survives ``kill -9`` and power loss.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

from basyx.aas import model

from packtwin.aas.serialization import from_json, to_json

DictStore = model.DictIdentifiableStore


class SQLiteStore(model.AbstractObjectStore[model.Identifier, model.Identifiable]):
    """Identifiables persisted in one SQLite file; reads are served from memory.

    Rows are decoded into basyx objects on first access, so opening a store of a large fleet is quick and only the
    twins actually used cost objects. ``max_decoded`` bounds how many stay decoded (least recently used go first;
    None: all). A twin is some 500 garbage-collected objects, and every full collection of the process walks them
    all: a server whose analytics write every cell of a 10k-cell fleet would otherwise keep millions and stop for
    seconds at each (``bench/repository_memory.py``). With a bound, an object another caller still holds may be
    dropped and the next ``get_item`` return a fresh copy: change objects only under the repository's lock and
    ``commit`` before releasing it (what the repository's writers do), and the store stays consistent.
    """

    def __init__(self, path: str | Path, max_decoded: int | None = None) -> None:
        super().__init__()
        if max_decoded is not None and max_decoded < 1:
            raise ValueError(f"max_decoded must be at least 1 (or None for no bound), not {max_decoded}")
        self.max_decoded = max_decoded
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS identifiable (id TEXT PRIMARY KEY, type TEXT NOT NULL, json TEXT NOT NULL)"
        )
        # Decoded objects, least recently used first.
        self._objects: OrderedDict[str, model.Identifiable] = OrderedDict()
        # Rows not decoded: id -> (type name, AAS JSON, or None once decoded and dropped: read it from the file).
        self._raw: dict[str, tuple[str, str | None]] = {
            ident: (kind, text) for ident, kind, text in self._db.execute("SELECT id, type, json FROM identifiable")}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_item(self, identifier: model.Identifier) -> model.Identifiable:
        obj = self._objects.get(identifier)
        if obj is not None:
            if self.max_decoded is not None:
                with self._lock, contextlib.suppress(KeyError):
                    self._objects.move_to_end(identifier)
            return obj
        with self._lock:
            if identifier not in self._raw:
                return self._objects[identifier]  # decoded meanwhile, or KeyError
            obj = from_json(self._json(identifier))
            self._keep(obj)
            del self._raw[identifier]
        return obj

    def _json(self, identifier: str) -> str:
        """The stored JSON of a row that is not decoded (caller holds the lock)."""
        text = self._raw[identifier][1]
        if text is None:
            row = self._db.execute("SELECT json FROM identifiable WHERE id = ?", (identifier,)).fetchone()
            text = row[0]
        return text

    def _keep(self, obj: model.Identifiable) -> None:
        """Keep ``obj`` decoded; past ``max_decoded``, drop the least recently used (caller holds the lock)."""
        self._objects[obj.id] = obj
        self._objects.move_to_end(obj.id)
        while self.max_decoded is not None and len(self._objects) > self.max_decoded:
            ident, old = next(iter(self._objects.items()))
            self._raw[ident] = (type(old).__name__, None)  # first: the id is never in neither map
            del self._objects[ident]

    def peek(self, identifier: model.Identifier) -> model.Identifiable:
        """The identifiable for reading once: the kept object if it was decoded, else a decoded copy that is not
        kept (KeyError if unknown). For passes over a whole fleet (the RDF load): kept, every twin's objects would
        stay in memory, millions of them, and each full garbage collection of the process would walk them all
        (seconds on the 10k-identifiable demo fleet, the whole server stalled meanwhile). Do not change or commit
        what this returns."""
        obj = self._objects.get(identifier)
        if obj is not None:
            return obj
        with self._lock:
            if identifier not in self._raw:
                return self._objects[identifier]
            text = self._json(identifier)
        return from_json(text)

    def type_of(self, identifier: str) -> str:
        """The class name (``AssetAdministrationShell``, ``Submodel``, ``ConceptDescription``) without decoding."""
        with self._lock:
            obj = self._objects.get(identifier)
            return type(obj).__name__ if obj is not None else self._raw[identifier][0]

    def ids(self) -> list[str]:
        with self._lock:
            return [*self._objects, *self._raw]

    def add_json_many(self, docs: Iterable[dict]) -> list[str]:
        """Add AAS JSON identifiables in one transaction without decoding them (bulk import of fleets)."""
        rows = [(d["id"], d["modelType"], json.dumps(d, separators=(",", ":"))) for d in docs]
        with self._lock:
            seen: set[str] = set()
            for ident, _, _ in rows:
                if ident in self or ident in seen:
                    raise KeyError(f"Identifiable with id {ident} already exists in the store")
                seen.add(ident)
            with self._transaction():
                self._db.executemany("INSERT INTO identifiable (id, type, json) VALUES (?, ?, ?)", rows)
            for ident, kind, text in rows:
                self._raw[ident] = (kind, text)
        return [r[0] for r in rows]

    def add(self, x: model.Identifiable) -> None:
        self.add_many([x])

    def add_many(self, objects: Iterable[model.Identifiable]) -> None:
        """Add many identifiables in one transaction: all of them or none."""
        objects = list(objects)
        with self._lock:
            seen: set[str] = set()
            for x in objects:
                if x.id in self or x.id in seen:
                    raise KeyError(f"Identifiable with id {x.id} already exists in the store")
                seen.add(x.id)
            rows = [(x.id, type(x).__name__, to_json(x)) for x in objects]
            with self._transaction():
                self._db.executemany("INSERT INTO identifiable (id, type, json) VALUES (?, ?, ?)", rows)
            for x in objects:
                self._keep(x)

    def commit(self, x: model.Identifiable) -> None:
        """Write ``x`` (the stored object changed in place, or a replacement with the same id)."""
        with self._lock:
            if x.id not in self:
                raise KeyError(f"No identifiable with id {x.id} in the store")
            with self._transaction():
                self._db.execute("UPDATE identifiable SET json = ?, type = ? WHERE id = ?",
                                 (to_json(x), type(x).__name__, x.id))
            self._raw.pop(x.id, None)
            self._keep(x)

    def discard(self, x: model.Identifiable) -> None:
        with self._lock:
            if x.id not in self:
                raise KeyError(f"No identifiable with id {x.id} in the store")
            with self._transaction():
                self._db.execute("DELETE FROM identifiable WHERE id = ?", (x.id,))
            self._objects.pop(x.id, None)
            self._raw.pop(x.id, None)

    def __contains__(self, x: object) -> bool:
        ident = x.id if isinstance(x, model.Identifiable) else x
        return isinstance(ident, str) and (ident in self._objects or ident in self._raw)

    def __len__(self) -> int:
        return len(self._objects) + len(self._raw)

    def __iter__(self) -> Iterator[model.Identifiable]:
        return (self.get_item(i) for i in self.ids())

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
