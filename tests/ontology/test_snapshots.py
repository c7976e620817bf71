"""Warm query processes: reused while the store is unchanged, replaced after a write, killed at a deadline."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rdflib import Literal, URIRef

from packtwin.ontology.endpoint import _handle
from packtwin.ontology.snapshots import KEEPER_TICK_S, PREFORK_BACKOFF_MAX_S, SnapshotPool
from packtwin.ontology.store import GraphStore
from packtwin.submodels.access import AccessGroup, Role
from tests.fixtures.waiting import wait_until

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
ACCEPT = "text/csv"


def _quads(n: int, start: int = 0) -> list:
    return [(URIRef(f"urn:s{i}"), URIRef("urn:p"), Literal(i), AccessGroup.PUBLIC) for i in range(start, start + n)]


@contextlib.contextmanager
def _pool(n: int, **options: Any) -> Iterator[tuple[GraphStore, SnapshotPool]]:
    """A store of ``n`` quads and a pool of query processes over it, closed at the end."""
    store = GraphStore("oxigraph")
    store.add(_quads(n))
    pool = SnapshotPool(store, _handle, **options)
    try:
        yield store, pool
    finally:
        pool.close()


def _count(pool: SnapshotPool, timeout_s: float = 30.0) -> int:
    kind, answer = pool.run((COUNT, Role.OPERATOR, ACCEPT, 100, ([], [])), timeout_s)
    assert kind == "ok", answer
    return int(answer.body.decode().splitlines()[1])


def test_a_child_serves_until_the_store_changes():
    with _pool(10, max_idle=1) as (store, pool):
        assert [_count(pool) for _ in range(3)] == [10, 10, 10]
        assert pool.forks == 1
        store.add(_quads(5, start=10))
        assert _count(pool) == 15  # a fresh snapshot: the write is seen
        assert pool.forks == 2
        store.remove(_quads(1))
        assert _count(pool) == 14 and pool.forks == 3


def test_a_runaway_query_kills_its_child_and_the_next_query_gets_a_new_one():
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    with _pool(200, max_idle=1) as (store, pool):
        _count(pool)
        with pytest.raises(TimeoutError):
            pool.run((runaway, Role.OPERATOR, ACCEPT, 100, ([], [])), 0.5)
        assert _count(pool) == 200
        assert pool.forks == 2


def test_a_child_ends_on_sigterm_whatever_handler_the_server_installed():
    """A server that stops gracefully on SIGTERM must not hand that handler to its query processes: at exit the
    parent terminates its daemonic children and waits for them."""
    store = GraphStore("oxigraph")
    store.add(_quads(3))
    pool = SnapshotPool(store, _handle, max_idle=1)
    old = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        assert _count(pool) == 3
        child = pool._idle[0]
        child.proc.terminate()
        child.proc.join(5)
        assert not child.proc.is_alive()
    finally:
        signal.signal(signal.SIGTERM, old)
        pool.close()


def test_with_a_staleness_bound_a_child_answers_from_its_snapshot_while_writes_go_on():
    with _pool(10, max_idle=1, max_staleness_s=60.0) as (store, pool):
        assert _count(pool) == 10
        store.add(_quads(5, start=10))
        assert _count(pool) == 10  # the snapshot is under a minute old: no new child, the write not seen yet
        assert pool.forks == 1
        pool._idle[0].forked_at -= 61.0  # the snapshot turns older than the bound
        assert _count(pool) == 15
        assert pool.forks == 2


def test_a_replaced_child_is_killed_and_waited_for_off_the_query_path():
    with _pool(10, max_idle=1) as (store, pool):
        assert _count(pool) == 10
        old = pool._idle[0]
        joined_on = []
        join = old.proc.join
        old.proc.join = lambda timeout=None: (joined_on.append(threading.current_thread().name), join(timeout))
        store.add(_quads(1, start=10))
        assert _count(pool) == 11
        assert old not in pool._idle
        # The keeper thread, not the query, waits for the killed child's exit.
        assert wait_until(lambda: not pool._retired and old.proc.exitcode == -signal.SIGKILL)
        assert joined_on == ["sparql-snapshots"]


def test_after_a_write_the_next_child_is_forked_before_the_next_query():
    with _pool(10, max_idle=1, prefork=True) as (store, pool):
        assert _count(pool) == 10 and pool.forks == 1
        store.add(_quads(2, start=10))
        assert wait_until(lambda: pool.preforks == 1)
        assert _count(pool) == 12  # read-your-writes still: the preforked child holds the write
        assert pool.forks == 2  # and the query did not fork


def test_no_child_is_forked_ahead_once_queries_stopped_coming():
    with _pool(10, max_idle=1, prefork=True, keep_warm_s=0.2) as (store, pool):
        _count(pool)
        assert wait_until(lambda: pool._keeper is None)  # the keeper ends keep_warm_s after the last query
        store.add(_quads(2, start=10))
        time.sleep(0.5)
        assert pool.forks == 1 and pool.preforks == 0


def test_children_forked_ahead_for_nothing_make_the_next_wait_longer():
    """Writes that keep coming make every child forked ahead stale before a query uses it: back off, up to
    PREFORK_BACKOFF_MAX_S; a child that served a query resets the wait. (Driven by hand: no query, no keeper.)"""
    with _pool(10, max_idle=1, prefork=True) as (store, pool):
        pool._prefork()
        assert pool.preforks == 1
        waits = []
        for i in range(9):
            store.add(_quads(1, start=100 + i))
            pool._last_prefork -= 100.0  # as if long ago: only the backoff is under test
            pool._prefork()  # retires the unused child, forks the next
            waits.append(pool._prefork_backoff_s)
        assert waits == [KEEPER_TICK_S * 2**k for k in range(7)] + [ PREFORK_BACKOFF_MAX_S, PREFORK_BACKOFF_MAX_S]
        assert pool.preforks == 10
        store.add(_quads(1, start=200))
        pool._prefork()  # the last fork was just now: within the backoff, nothing new
        assert pool.preforks == 10 and not pool._idle
        pool._last_prefork -= 100.0
        pool._prefork()
        pool._idle[0].queries = 1  # as if it had answered a query
        store.add(_quads(1, start=201))
        pool._prefork()
        assert pool._prefork_backoff_s == 0.0 and pool.preforks == 12
