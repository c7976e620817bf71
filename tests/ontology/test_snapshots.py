"""Warm query processes: reused while the store is unchanged, replaced after a write, killed at a deadline."""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from packtwin.ontology.endpoint import _handle
from packtwin.ontology.snapshots import SnapshotPool
from packtwin.ontology.store import GraphStore
from packtwin.submodels.access import AccessGroup, Role

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
ACCEPT = "text/csv"


def _quads(n: int, start: int = 0) -> list:
    return [(URIRef(f"urn:s{i}"), URIRef("urn:p"), Literal(i), AccessGroup.PUBLIC) for i in range(start, start + n)]


def _count(pool: SnapshotPool, timeout_s: float = 30.0) -> int:
    kind, answer = pool.run((COUNT, Role.OPERATOR, ACCEPT, 100, ([], [])), timeout_s)
    assert kind == "ok", answer
    return int(answer.body.decode().splitlines()[1])


def test_a_child_serves_until_the_store_changes():
    store = GraphStore("oxigraph")
    store.add(_quads(10))
    pool = SnapshotPool(store, _handle, max_idle=1)
    try:
        assert [_count(pool) for _ in range(3)] == [10, 10, 10]
        assert pool.forks == 1
        store.add(_quads(5, start=10))
        assert _count(pool) == 15  # a fresh snapshot: the write is seen
        assert pool.forks == 2
        store.remove(_quads(1))
        assert _count(pool) == 14 and pool.forks == 3
    finally:
        pool.close()


def test_a_runaway_query_kills_its_child_and_the_next_query_gets_a_new_one():
    store = GraphStore("oxigraph")
    store.add(_quads(200))
    pool = SnapshotPool(store, _handle, max_idle=1)
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    try:
        _count(pool)
        with pytest.raises(TimeoutError):
            pool.run((runaway, Role.OPERATOR, ACCEPT, 100, ([], [])), 0.5)
        assert _count(pool) == 200
        assert pool.forks == 2
    finally:
        pool.close()


def test_a_child_ends_on_sigterm_whatever_handler_the_server_installed():
    """A server that stops gracefully on SIGTERM must not hand that handler to its query processes: at exit the
    parent terminates its daemonic children and waits for them."""
    import signal

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
    store = GraphStore("oxigraph")
    store.add(_quads(10))
    pool = SnapshotPool(store, _handle, max_idle=1, max_staleness_s=60.0)
    try:
        assert _count(pool) == 10
        store.add(_quads(5, start=10))
        assert _count(pool) == 10  # the snapshot is under a minute old: no new child, the write not seen yet
        assert pool.forks == 1
        pool._idle[0].forked_at -= 61.0  # the snapshot turns older than the bound
        assert _count(pool) == 15
        assert pool.forks == 2
    finally:
        pool.close()
