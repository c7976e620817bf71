"""RDF without a long start: the graph fills in the background while everything else runs (demo, serve).

:class:`packtwin.ontology.sync.RdfSync` converts the whole repository at start, which for a fleet of thousands of
identifiables takes minutes. Here the repository's change events are queued (coalesced per identifiable, latest
wins) and applied by a background thread; after each batch of them the thread converts a chunk of the not-yet-loaded
identifiables, packs before modules before cells, so SPARQL answers about packs early and about every cell
eventually. The load goes on while events keep coming, and both share the thread's duty: the demo's estimators
write 25-40 submodels a second, and when the load waited for a quiet queue it stopped at 20 of 10,810
identifiables for minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from packtwin.aas.events import ChangeEvent, Operation, Target
from packtwin.aas.repository import Repository, target_of
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync

logger = logging.getLogger(__name__)


def _order(identifier: str) -> int:
    for rank, level in enumerate(("/pack/", "/module/", "/cell/")):
        if level in identifier:
            return rank
    return 3


class BackgroundRdf:
    def __init__(self, repo: Repository, store: GraphStore | None = None, chunk: int = 20,
                 duty: float = 0.5) -> None:
        self.repo = repo
        self.store = store or GraphStore()
        self.sync = RdfSync(repo, self.store)
        self.chunk = chunk
        # Share of the time this thread may take (events and load alike): it holds the GIL, and the HTTP server
        # must stay responsive. Events that arrive meanwhile coalesce, so a slower pace costs staleness, not memory.
        # Counted in the thread's CPU time: time spent waiting for the GIL behind the other threads is not its own
        # (paced on wall time, the demo's fleet had 6,960 of 10,810 identifiables loaded after 300 s; now 9,380).
        self.duty = duty
        self.total = 0
        self.loaded = 0
        self._pending: OrderedDict[str, ChangeEvent] = OrderedDict()
        self._todo: list[str] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = None
        self._idle = False

    @property
    def lock(self) -> threading.RLock:
        return self.sync.lock

    def start(self) -> BackgroundRdf:
        self._unsubscribe = self.repo.bus.subscribe(self._on_event)
        with self.repo.lock:
            self._todo = sorted(self.repo.ids(), key=_order, reverse=True)
        self.total = len(self._todo)
        self._thread = threading.Thread(target=self._run, name="packtwin-rdf-load", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sync.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything is loaded and every event applied; False if that takes longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._idle and not self._pending and not self._todo):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def _on_event(self, event: ChangeEvent) -> None:
        # Element events are applied as an update of their submodel: coalescing keeps the queue bounded. The changed
        # paths of value updates add up; once any change of the submodel is not one, the whole submodel is redone.
        paths = event.changed_paths
        if event.target is Target.SUBMODEL_ELEMENT:
            paths = (event.id_short_path or "",)
            event = ChangeEvent(Operation.UPDATED, Target.SUBMODEL, event.identifiable_id)
        with self._cond:
            before = self._pending.pop(event.identifiable_id, None)
            if before is not None and paths is not None:
                paths = before.changed_paths + paths if before.changed_paths is not None else None
            if event.operation is not Operation.UPDATED:
                paths = None
            self._pending[event.identifiable_id] = ChangeEvent(event.operation, event.target, event.identifiable_id,
                                                               changed_paths=paths)
            self._idle = False
            self._cond.notify_all()

    def _run(self) -> None:
        done: set[str] = set()
        while not self._stop.is_set():
            with self._cond:
                if not self._pending and not self._todo:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait(0.5)
                    continue
                self._idle = False
                batch = [self._pending.popitem(last=False)[1] for _ in range(min(self.chunk, len(self._pending)))]
            started = time.thread_time()
            for event in batch:
                if event.changed_paths is not None and event.identifiable_id not in done:
                    # Not loaded yet: the first conversion must be whole (the load skips it from now on).
                    event = ChangeEvent(event.operation, event.target, event.identifiable_id)
                self._apply(event)
                done.add(event.identifiable_id)
            for _ in range(self.chunk):
                with self._cond:
                    if not self._todo:
                        break
                    ident = self._todo.pop()
                if ident in done:  # an event brought it in already
                    self.loaded += 1
                    continue
                try:
                    obj = self.repo.peek(ident)
                except KeyError:
                    continue
                self._apply(ChangeEvent(Operation.CREATED, target_of(obj), ident, obj=obj))
                done.add(ident)
                self.loaded += 1
            busy = time.thread_time() - started
            if busy > 0.0:
                self._stop.wait(busy * (1.0 - self.duty) / self.duty)

    def _apply(self, event: ChangeEvent) -> None:
        try:
            self.sync.on_event(event)
        except Exception:
            logger.exception("RDF sync failed on %s", event.identifiable_id)
