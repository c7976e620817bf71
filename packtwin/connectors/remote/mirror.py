"""Keep a remote AAS server in step with the repository as it changes (estimates flowing out as they are written).

Change events are turned into AAS Part 2 writes on a background thread, so the writer never waits for the network:
an element change becomes ``PUT /submodels/{id}/submodel-elements/{path}``, a submodel or shell change a ``PUT`` of
the whole identifiable (``POST`` when the server does not have it yet), a deletion a ``DELETE``. Changes to the same
thing that pile up while the server is slow are coalesced: only the latest state is sent. A server that does not
answer (or answers 5xx) is retried with backoff and nothing is lost; a 4xx is logged, counted and dropped.
Only what ``clearance`` may see leaves (public by default), as on every way out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.connectors import access_json
from packtwin.connectors.remote.client import SHELLS, SUBMODELS, AasClient, RemoteError
from packtwin.submodels.access import AccessGroup

logger = logging.getLogger(__name__)


@dataclass
class MirrorStats:
    sent: int = 0
    retried: int = 0
    dropped: int = 0


class RemoteMirror:
    def __init__(self, repo: Any, client: AasClient, *, clearance: AccessGroup = AccessGroup.PUBLIC,
                 max_backoff_s: float = 30.0) -> None:
        self.repo = repo
        self.client = client
        self.clearance = clearance
        self.max_backoff_s = max_backoff_s
        self.stats = MirrorStats()
        self.access = access_json.AccessIndex(access_json.repository_loader(repo))
        # (kind, id, path) -> (operation, payload); insertion order is send order, a newer change replaces an older
        self._pending: OrderedDict[tuple[str, str, str], tuple[Operation, dict[str, Any] | None]] = OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None

    def start(self) -> RemoteMirror:
        self._unsubscribe = self.repo.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="packtwin-remote-mirror", daemon=True)
        self._thread.start()
        return self

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued so far was sent (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.flush(timeout_s)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- events (writer's thread: snapshot the payload, queue it) ------------------------------------------------------
    def _on_event(self, event: ChangeEvent) -> None:
        item = self._item(event)
        if item is None:
            return
        key, op, payload = item
        with self._cond:
            self._pending.pop(key, None)
            self._pending[key] = (op, payload)
            self._cond.notify_all()

    def _item(self, event: ChangeEvent):
        if event.target is Target.CONCEPT_DESCRIPTION:
            return None
        if event.target is Target.SUBMODEL_ELEMENT:
            sm_id, path = event.identifiable_id, event.id_short_path or ""
            inherited = self.access.group_at(sm_id, access_json.parent_path(path))
            if event.operation is Operation.DELETED:
                own = self.access.own_mark(sm_id, path)
                self.access.forget(sm_id, path)
                if (own if own is not None else inherited) > self.clearance:
                    return None
                return (SUBMODELS, sm_id, path), Operation.DELETED, None
            if event.obj is None:
                return None
            body = access_json.to_dict(event.obj)  # type: ignore[arg-type]
            self.access.index(sm_id, path, body)
            view = access_json.filtered(body, self.clearance, inherited)
            if view is None:
                return None
            return (SUBMODELS, sm_id, path), event.operation, view
        kind = SHELLS if event.target is Target.SHELL else SUBMODELS
        if event.operation is Operation.DELETED:
            group = self.access.group_at(event.identifiable_id, None)
            self.access.forget(event.identifiable_id)
            return ((kind, event.identifiable_id, ""), Operation.DELETED, None) if group <= self.clearance else None
        body = access_json.to_dict(event.obj)  # type: ignore[arg-type]
        if kind == SUBMODELS:
            self.access.index(event.identifiable_id, "", body)
        view = access_json.filtered(body, self.clearance)
        return ((kind, event.identifiable_id, ""), event.operation, view) if view is not None else None

    # -- sending (background thread) -----------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait(0.5)
                if self._stopping and not self._pending:
                    return
                key, (op, payload) = next(iter(self._pending.items()))
                del self._pending[key]
                self._busy = True
            try:
                self._send(key, op, payload)
                self.stats.sent += 1
                backoff = 0.0
            except RemoteError as exc:
                if exc.status == 0 or exc.status >= 500:
                    self.stats.retried += 1
                    with self._cond:  # put it back unless a newer change arrived meanwhile
                        if key not in self._pending:
                            self._pending[key] = (op, payload)
                            self._pending.move_to_end(key, last=False)
                    backoff = min(self.max_backoff_s, max(0.2, backoff * 2))
                    logger.warning("remote mirror: %s; retrying in %.1f s", exc, backoff)
                    time.sleep(backoff)
                else:
                    self.stats.dropped += 1
                    logger.error("remote mirror: dropped %s %s %s: %s", op.value, key[0], key[1], exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, key: tuple[str, str, str], op: Operation, payload: dict[str, Any] | None) -> None:
        kind, ident, path = key
        if path:
            if op is Operation.DELETED:
                self._delete(lambda: self.client.delete_element(ident, path))
            else:
                try:
                    self.client.put_element(ident, path, payload)  # type: ignore[arg-type]
                except RemoteError as exc:
                    if exc.status != 404:
                        raise
                    self._upsert_whole(SUBMODELS, ident)  # the element (or its parent) is new there
            return
        if op is Operation.DELETED:
            self._delete(lambda: self.client.delete(kind, ident))
        else:
            self._upsert(kind, payload)  # type: ignore[arg-type]

    def _upsert(self, kind: str, doc: dict[str, Any]) -> None:
        try:
            self.client.update(kind, doc)
        except RemoteError as exc:
            if exc.status != 404:
                raise
            self.client.create(kind, doc)

    def _upsert_whole(self, kind: str, ident: str) -> None:
        try:
            obj = self.repo.get(ident)
        except KeyError:
            return  # deleted meanwhile: its deletion is queued
        view = access_json.filtered(access_json.to_dict(obj), self.clearance)
        if view is not None:
            self._upsert(kind, view)

    @staticmethod
    def _delete(call: Any) -> None:
        try:
            call()
        except RemoteError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise
