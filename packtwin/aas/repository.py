"""The AAS repository: shells, submodels and concept descriptions in one object store, with change events.

Everything that writes twins (the HTTP API, the analytics workers, the telemetry pipeline, importers) goes through
this class so that every write is persisted and announced on the :class:`~packtwin.aas.events.EventBus`.
Objects handed out are the stored objects themselves; after changing one in place call :meth:`commit`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from basyx.aas import model

from packtwin.aas.events import ChangeEvent, EventBus, Operation, Target
from packtwin.aas.serialization import from_json
from packtwin.aas.stores import DictStore, SQLiteStore

_TARGETS: dict[type, Target] = {
    model.AssetAdministrationShell: Target.SHELL,
    model.Submodel: Target.SUBMODEL,
    model.ConceptDescription: Target.CONCEPT_DESCRIPTION,
}


def target_of(obj: model.Identifiable) -> Target:
    for cls, target in _TARGETS.items():
        if isinstance(obj, cls):
            return target
    raise TypeError(f"unsupported identifiable {type(obj).__name__}")


class Repository:
    def __init__(self, store: model.AbstractObjectStore | None = None, bus: EventBus | None = None) -> None:
        self.store = store if store is not None else DictStore()
        self.bus = bus or EventBus()
        # One writer at a time: the HTTP API, workers and importers may share the repository across threads.
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path | None = None, bus: EventBus | None = None,
             max_decoded: int | None = None) -> Repository:
        """An in-memory repository for ``None``, else the SQLite store at ``path`` keeping at most ``max_decoded``
        identifiables decoded (``SQLiteStore``)."""
        return cls(SQLiteStore(path, max_decoded) if path is not None else DictStore(), bus)

    # -- reads ---------------------------------------------------------------------------------------------------------
    def get(self, identifier: str) -> model.Identifiable:
        return self.store.get_item(identifier)

    def peek(self, identifier: str) -> model.Identifiable:
        """``get`` for a one-off read (converting, exporting): a store that decodes on use need not keep the result
        (``SQLiteStore.peek``). Read-only: change and commit what ``get`` returns."""
        peek = getattr(self.store, "peek", None)
        return peek(identifier) if peek is not None else self.store.get_item(identifier)

    def ids(self) -> list[str]:
        """Every identifier, without decoding anything."""
        ids = getattr(self.store, "ids", None)
        return list(ids()) if ids is not None else [o.id for o in self.store]

    def __contains__(self, identifier: object) -> bool:
        return identifier in self.store

    def __len__(self) -> int:
        return len(self.store)

    def __iter__(self) -> Iterator[model.Identifiable]:
        return iter(self.store)

    def _of_type(self, cls: type) -> list:
        if isinstance(self.store, SQLiteStore):  # decode only what is asked for
            return [self.store.get_item(i) for i in self.store.ids() if self.store.type_of(i) == cls.__name__]
        return [x for x in self.store if isinstance(x, cls)]

    def shells(self) -> list[model.AssetAdministrationShell]:
        return self._of_type(model.AssetAdministrationShell)

    def submodels(self) -> list[model.Submodel]:
        return self._of_type(model.Submodel)

    def concept_descriptions(self) -> list[model.ConceptDescription]:
        return self._of_type(model.ConceptDescription)

    def get_shell(self, identifier: str) -> model.AssetAdministrationShell:
        obj = self.get(identifier)
        if not isinstance(obj, model.AssetAdministrationShell):
            raise KeyError(identifier)
        return obj

    def get_submodel(self, identifier: str) -> model.Submodel:
        obj = self.get(identifier)
        if not isinstance(obj, model.Submodel):
            raise KeyError(identifier)
        return obj

    # -- writes (each persisted before its event is published) -------------------------------------------------------
    def add(self, obj: model.Identifiable) -> None:
        self.add_many([obj])

    def add_many(self, objects: Iterable[model.Identifiable]) -> None:
        objects = list(objects)
        with self.lock:
            if isinstance(self.store, SQLiteStore):
                self.store.add_many(objects)
            else:
                for obj in objects:
                    if obj.id in self.store:
                        raise KeyError(f"Identifiable with id {obj.id} already exists")
                for obj in objects:
                    self.store.add(obj)
        for obj in objects:
            self.bus.publish(ChangeEvent(Operation.CREATED, target_of(obj), obj.id, obj=obj))

    def import_json(self, docs: Iterable[dict]) -> int:
        """Bulk-add AAS JSON identifiables (a fleet being loaded); decoded on first use. Subscribers get CREATED
        events with the decoded object."""
        docs = list(docs)
        with self.lock:
            if isinstance(self.store, SQLiteStore):
                self.store.add_json_many(docs)
            else:
                self.add_many([from_json(json.dumps(d)) for d in docs])
                return len(docs)
        if self.bus.has_subscribers:
            for d in docs:
                obj = self.store.get_item(d["id"])
                self.bus.publish(ChangeEvent(Operation.CREATED, target_of(obj), obj.id, obj=obj))
        return len(docs)

    def replace(self, obj: model.Identifiable) -> None:
        """Put ``obj`` in place of the stored identifiable with the same id."""
        with self.lock:
            old = self.store.get_item(obj.id)
            if type(old) is not type(obj):
                raise TypeError(f"{obj.id} is a {type(old).__name__}, not a {type(obj).__name__}")
            if isinstance(self.store, SQLiteStore):
                self.store.commit(obj)
            else:
                self.store.discard(old)
                self.store.add(obj)
        self.bus.publish(ChangeEvent(Operation.UPDATED, target_of(obj), obj.id, obj=obj))

    def commit(self, obj: model.Identifiable, id_short_path: str | None = None,
               operation: Operation = Operation.UPDATED, element: object | None = None,
               changed_paths: Iterable[str] | None = None) -> None:
        """Persist an in-place change of ``obj``; ``id_short_path`` names the changed element, if one.
        ``changed_paths``: the change only set the values of these elements (see :class:`ChangeEvent`)."""
        with self.lock:
            self.store.commit(obj)
        if id_short_path is None:
            paths = tuple(changed_paths) if changed_paths is not None else None
            self.bus.publish(ChangeEvent(operation, target_of(obj), obj.id, obj=obj, changed_paths=paths))
        else:
            self.bus.publish(ChangeEvent(operation, Target.SUBMODEL_ELEMENT, obj.id, id_short_path, obj=element))

    def delete(self, identifier: str) -> model.Identifiable:
        with self.lock:
            obj = self.store.get_item(identifier)
            self.store.discard(obj)
        # The deleted object travels with the event: BaSyx-style events carry it as their payload.
        self.bus.publish(ChangeEvent(Operation.DELETED, target_of(obj), identifier, obj=obj))
        return obj

    # -- lookups -------------------------------------------------------------------------------------------------------
    def find_shells(self, name: str, value: str) -> list[model.AssetAdministrationShell]:
        """Shells whose specificAssetId ``name`` equals ``value`` (``globalAssetId`` matches the global one)."""
        found = []
        for shell in self.shells():
            info = shell.asset_information
            if name == "globalAssetId":
                if info.global_asset_id == value:
                    found.append(shell)
            elif any(s.name == name and s.value == value for s in info.specific_asset_id):
                found.append(shell)
        return found
