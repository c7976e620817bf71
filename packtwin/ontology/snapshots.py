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
import gc
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
# The pool's keeper thread: how often it looks, and how long after the last query it keeps doing so.
KEEPER_TICK_S = 0.1
KEEP_WARM_S = 60.0
PREFORK_BACKOFF_MAX_S = 10.0


def _serve(store: GraphStore, conn: Any, handle: Callable[..., tuple[str, Any]], parent: int) -> None:
    """The child's entry point: signals, then the loop on a thread of its own (see ``_loop``)."""
    # The fork copied the server's signal handlers (a graceful stop on SIGTERM); here SIGTERM must end the process,
    # or the parent's exit, which terminates its daemonic children and joins them, would wait forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole process group: the parent decides
    # Every object inherited from the server is left out of this process's garbage collections: a full collection
    # would walk (and so copy, page by page) the server's millions of model objects, seconds on a large fleet.
    gc.freeze()
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
        self.preforked = False

    def kill(self) -> None:
        """Stop the child at once; it is not waited for (see ``SnapshotPool._retire``)."""
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()

    def close(self) -> None:
        self.kill()
        self.proc.join(timeout=5)


class SnapshotPool:
    """``run(request, timeout_s)`` sends ``request`` to a warm child of the current store version and returns
    ``handle(store, *request)`` as computed there; raises TimeoutError (child killed) or EOFError (child died).

    A keeper thread, running while queries come (``keep_warm_s`` after the last one), waits for killed children to
    exit -- a forked child of a large store takes 50 ms (up to seconds on a busy machine) to tear down its copied
    pages, which a query used to wait for -- and, with ``prefork``, forks the next child as soon as the idle ones
    stop being current, so that a query after a write does not wait for the fork (~40 ms at 2k cells) either.
    With read-your-writes (no staleness bound) it forks only once the store has been quiet for one tick: a child
    forked amid a burst of writes would be stale before any query could use it.
    """

    def __init__(self, store: GraphStore, handle: Callable[..., tuple[str, Any]], lock: threading.RLock | None = None,
                 max_idle: int = 2, max_staleness_s: float = 0.0, prefork: bool = False,
                 keep_warm_s: float = KEEP_WARM_S) -> None:
        self.store = store
        self.handle = handle
        self.lock = lock
        self.max_idle = max_idle
        self.max_staleness_s = max_staleness_s
        self.prefork = prefork and max_idle > 0
        self.keep_warm_s = keep_warm_s
        self._idle: list[_Child] = []
        self._retired: list[_Child] = []
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._keeper: threading.Thread | None = None
        self._last_used = 0.0
        self._last_prefork = 0.0
        self._prefork_backoff_s = 0.0
        self.forks = 0
        self.preforks = 0

    def _take(self) -> _Child:
        child = None
        with self._mutex:
            while self._idle:
                c = self._idle.pop()
                if self._current(c) and c.proc.is_alive():
                    child = c
                    break
                self._retire(c)
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
            self._retire(child)

    def _retire(self, child: _Child) -> None:
        """Kill ``child`` now and leave the wait for its exit to the keeper (caller holds ``_mutex``)."""
        child.kill()
        self._retired.append(child)
        if child.preforked:
            # Unused, it was forked for nothing (writes kept coming): back off, up to PREFORK_BACKOFF_MAX_S.
            self._prefork_backoff_s = (0.0 if child.queries else
                                       min(PREFORK_BACKOFF_MAX_S, max(KEEPER_TICK_S, 2 * self._prefork_backoff_s)))

    def _current(self, child: _Child) -> bool:
        """Whether ``child``'s snapshot may answer: the store unchanged since, or the snapshot young enough."""
        return child.version == self.store.version or time.monotonic() - child.forked_at <= self.max_staleness_s

    def run(self, request: tuple, timeout_s: float) -> tuple[str, Any]:
        self._used()
        child = self._take()
        try:
            child.conn.send(request)
            answered = child.conn.poll(timeout_s)
            reply = child.conn.recv() if answered else None
        except (EOFError, OSError):
            with self._mutex:
                self._retire(child)
            raise EOFError from None
        if not answered:
            with self._mutex:
                self._retire(child)
            raise TimeoutError
        child.queries += 1
        self._give_back(child)
        self._used()
        return reply

    def _used(self) -> None:
        with self._mutex:
            self._last_used = time.monotonic()
            if self._closed or (self._keeper is not None and self._keeper.is_alive()):
                return
            self._keeper = threading.Thread(target=self._keep, name="sparql-snapshots", daemon=True)
            self._keeper.start()

    def _keep(self) -> None:
        """The keeper's loop: ends ``keep_warm_s`` after the last query, or at ``close``."""
        seen = self.store.version
        while not self._closed:
            self._wake.wait(KEEPER_TICK_S)
            self._wake.clear()
            with self._mutex:
                retired, self._retired = self._retired, []
                idle_for = time.monotonic() - self._last_used
            for c in retired:
                c.proc.join(timeout=5)
            version = self.store.version
            quiet, seen = version == seen, version
            if idle_for > self.keep_warm_s:
                with self._mutex:  # a query may have come meanwhile
                    if not self._retired and time.monotonic() - self._last_used > self.keep_warm_s:
                        self._keeper = None
                        return
                continue
            if self.prefork and (quiet or self.max_staleness_s > 0):
                self._prefork()
        with self._mutex:  # closed: what was retired meanwhile
            retired, self._retired = self._retired, []
        for c in retired:
            c.proc.join(timeout=5)

    def _prefork(self) -> None:
        now = time.monotonic()
        with self._mutex:
            for c in [c for c in self._idle if not self._current(c) or not c.proc.is_alive()]:
                self._idle.remove(c)
                self._retire(c)
            # An idle child left is current; and after preforked children went unused, wait longer before the next.
            if self._closed or self._idle or now - self._last_prefork < self._prefork_backoff_s:
                return
        child = _Child(self.store, self.handle, self.lock)
        child.preforked = True
        with self._mutex:
            self._last_prefork = now
            if self._closed:
                self._retire(child)
                return
            self._idle.append(child)
            self.forks += 1
            self.preforks += 1

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            children, self._idle, self._retired = self._idle + self._retired, [], []
            keeper = self._keeper
        self._wake.set()
        for c in children:
            c.close()
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(timeout=5)
