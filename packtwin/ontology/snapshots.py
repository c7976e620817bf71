"""Warm query processes over copy-on-write snapshots of the RDF store.

Every SPARQL query runs in a forked child so that a runaway query can be killed at its deadline (pyoxigraph cannot
cancel one). A child made for one query pays for the pages its reads touch -- pyoxigraph's reads write into the
store's memory, so each touched page is copied -- which made a query 3-7x slower in a fresh child than in-process.
So a child stays: it answers queries as long as the store has not changed since it was forked
(``GraphStore.version``), then it is replaced by one forked from the current store; a child that overruns a deadline
is killed. Idle children are kept up to the number of query slots. With ``max_staleness_s`` a child also answers
from its snapshot while it is at most that old, whatever was written since: on a store written many times a second
(estimates of a live fleet) every query would otherwise pay a fresh child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from packtwin.ontology.store import GraphStore

# A child answers at most this many queries before it is replaced: bounds the memory its copied pages take.
MAX_QUERIES_PER_CHILD = 500
# How often an idle child checks that the server that forked it is still there.
PARENT_CHECK_S = 1.0


def _serve(store: GraphStore, conn: Any, handle: Callable[..., tuple[str, Any]], parent: int) -> None:
    """The child's entry point: signals, then the loop on a thread of its own (see ``_loop``)."""
    # The fork copied the server's signal handlers (a graceful stop on SIGTERM); here SIGTERM must end the process,
    # or the parent's exit, which terminates its daemonic children and joins them, would wait forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole process group: the parent decides
    # Queries run on a new thread, which malloc serves from an arena of its own. On the forking thread's arena, the
    # free chunks a query allocates from lie scattered over the heap the store was built in, and every page of them
    # is shared copy-on-write with the server: each query then took ~200 page faults and ran 1.5-2.5x slower than
    # the same query before a fork (measured on the 10k-cell store, docs/rdf.md).
    worker = threading.Thread(target=_loop, args=(store, conn, handle, parent), name="sparql-query")
    worker.start()
    worker.join()


def _loop(store: GraphStore, conn: Any, handle: Callable[..., tuple[str, Any]], parent: int) -> None:
    """One request, one reply, until the parent closes the pipe or is gone."""
    while True:
        try:
            if not conn.poll(PARENT_CHECK_S):
                # A parent that died without closing us (SIGKILL, or a terminate that skipped the pool's close)
                # leaves its end of this pipe open in the sibling children forked after us: no EOF ever comes.
                if os.getppid() != parent:
                    return
                continue
            request = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handle(store, *request))


class _Child:
    def __init__(self, store: GraphStore, handle: Callable[..., tuple[str, Any]],
                 lock: threading.RLock | None) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child_end = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_serve, args=(store, child_end, handle, os.getpid()), daemon=True)
        # Forked under the writers' lock: no write is half-applied in the snapshot, and the version read is its.
        with lock if lock is not None else contextlib.nullcontext():
            self.version = store.version
            self.forked_at = time.monotonic()
            self.proc.start()
        child_end.close()
        self.queries = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)


class SnapshotPool:
    """``run(request, timeout_s)`` sends ``request`` to a warm child of the current store version and returns
    ``handle(store, *request)`` as computed there; raises TimeoutError (child killed) or EOFError (child died)."""

    def __init__(self, store: GraphStore, handle: Callable[..., tuple[str, Any]], lock: threading.RLock | None = None,
                 max_idle: int = 2, max_staleness_s: float = 0.0) -> None:
        self.store = store
        self.handle = handle
        self.lock = lock
        self.max_idle = max_idle
        self.max_staleness_s = max_staleness_s
        self._idle: list[_Child] = []
        self._mutex = threading.Lock()
        self.forks = 0

    def _take(self) -> _Child:
        stale: list[_Child] = []
        child = None
        with self._mutex:
            while self._idle:
                c = self._idle.pop()
                if self._current(c) and c.proc.is_alive():
                    child = c
                    break
                stale.append(c)
        for c in stale:
            c.close()
        if child is None:
            child = _Child(self.store, self.handle, self.lock)
            self.forks += 1
        return child

    def _give_back(self, child: _Child) -> None:
        keep = child.queries < MAX_QUERIES_PER_CHILD and self._current(child)
        with self._mutex:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(child)
                return
        child.close()

    def _current(self, child: _Child) -> bool:
        """Whether ``child``'s snapshot may answer: the store unchanged since, or the snapshot young enough."""
        return child.version == self.store.version or time.monotonic() - child.forked_at <= self.max_staleness_s

    def run(self, request: tuple, timeout_s: float) -> tuple[str, Any]:
        child = self._take()
        try:
            child.conn.send(request)
            answered = child.conn.poll(timeout_s)
            reply = child.conn.recv() if answered else None
        except (EOFError, OSError):
            child.close()
            raise EOFError from None
        if not answered:
            child.close()
            raise TimeoutError
        child.queries += 1
        self._give_back(child)
        return reply

    def close(self) -> None:
        with self._mutex:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()
