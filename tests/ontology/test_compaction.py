"""Compaction: a fresh pyoxigraph store without the removed quads, the writes made during the copy kept."""

from __future__ import annotations

import random
import threading

import pyoxigraph as ox
from rdflib import Literal, URIRef

from packtwin.aas.repository import Repository
from packtwin.ontology.compaction import CompactionPolicy, Compactor
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync, convert_all
from packtwin.submodels.access import AccessGroup
from tests.ontology.fleet_fixture import build_test_fleet
from tests.ontology.test_sync import random_writes

PT = "https://w3id.org/packtwin/ns#"


def _cells(n: int) -> list[tuple]:
    return [(URIRef(f"urn:cell:{i}"), URIRef(PT + name), Literal(float(i)), AccessGroup.PUBLIC)
            for i in range(n) for name in ("stateOfCharge", "stateOfHealth", "serialNumber")]


def _set_soc(store: GraphStore, truth: set, cell: int, value: float) -> None:
    s, p = URIRef(f"urn:cell:{cell}"), URIRef(PT + "stateOfCharge")
    old = [q for q in truth if q[0] == s and q[1] == p]
    store.remove(old)
    truth.difference_update(old)
    new = (s, p, Literal(value), AccessGroup.PUBLIC)
    store.add([new])
    truth.add(new)


def test_removals_are_counted_per_subject_and_make_a_compaction_due():
    store = GraphStore()
    truth = set(_cells(10))
    store.add(truth)
    compactor = Compactor(store, threading.RLock(), CompactionPolicy(min_removed=5, removed_per_node=8,
                                                                     removed_share=10.0, max_duty=1.0))
    for k in range(7):
        _set_soc(store, truth, 3, 100.0 + k)
    _set_soc(store, truth, 4, 50.0)
    assert store.removed == 8 and store.removed_by_subject["urn:cell:3"] == 7
    assert store.most_removed_on_a_subject == 7
    assert not compactor.due()  # 7 removals on the hottest node, 8 needed
    _set_soc(store, truth, 3, 200.0)
    assert compactor.due()
    assert compactor.run()
    assert store.removed == 0 and not store.removed_by_subject and store.most_removed_on_a_subject == 0
    assert store.added == len(truth)
    assert store.all_quads() == truth
    assert not compactor.due()


def test_writes_made_while_the_copy_runs_are_replayed_on_the_copy():
    store = GraphStore()
    truth = set(_cells(50))
    store.add(truth)
    rng = random.Random(4)
    for _ in range(200):
        _set_soc(store, truth, rng.randrange(50), round(rng.uniform(0, 100), 1))
    version = store.version
    snapshot = store.begin_copy()
    copied = [next(snapshot) for _ in range(40)]
    # Writes between chunks: the snapshot does not see them, the log does.
    for _ in range(30):
        _set_soc(store, truth, rng.randrange(50), round(rng.uniform(0, 100), 1))
    extra = (URIRef("urn:cell:new"), URIRef(PT + "stateOfCharge"), Literal(1.0), AccessGroup.LEGITIMATE_INTEREST)
    store.add([extra])
    truth.add(extra)
    copied += list(snapshot)
    assert len(copied) == 150  # the snapshot: 50 cells x 3 quads, as at begin_copy
    copy = ox.Store()
    copy.bulk_extend(copied)
    assert store.finish_copy(copy, len(copied)) == 61  # 30 x (remove, add) + 1 add
    assert store.ox is copy and store.version > version
    assert store.all_quads() == truth
    # The rdflib view follows the new store too.
    assert (extra[0], extra[1], extra[2]) in store.graph_of([AccessGroup.LEGITIMATE_INTEREST])


def test_sync_compacts_in_the_background_and_stays_equal_to_a_fresh_conversion():
    repo = Repository()
    repo.add_many(build_test_fleet(packs=2, modules=2, cells=2, seed=3, with_concept_descriptions=False))
    store = GraphStore()
    policy = CompactionPolicy(removed_share=0.05, removed_per_node=20, min_removed=50, chunk=300, max_duty=1.0)
    sync = RdfSync(repo, store, policy).start()
    try:
        kinds = random_writes(repo, 300, random.Random(12))
        assert sync.compactor is not None
        sync.compactor.join()
    finally:
        sync.stop()
    assert sum(kinds.values()) > 250
    assert sync.compactor.runs >= 2
    fresh = GraphStore()
    convert_all(list(repo), fresh)
    assert store.all_quads() == fresh.all_quads()


def test_a_failed_compaction_leaves_the_store_and_waits_before_the_next(monkeypatch):
    store = GraphStore()
    truth = set(_cells(5))
    store.add(truth)
    for k in range(10):
        _set_soc(store, truth, 1, float(k))
    compactor = Compactor(store, threading.RLock(), CompactionPolicy(min_removed=5, removed_per_node=5, max_duty=1.0))
    assert compactor.due()
    original = store.ox

    def no_memory() -> None:
        raise MemoryError("no room for the copy")

    monkeypatch.setattr("packtwin.ontology.compaction.ox.Store", no_memory)
    compactor._run_logged()
    assert compactor.failures == 1 and compactor.runs == 0
    assert store.ox is original and store._log is None  # no copy in progress, writes no longer logged
    assert store.all_quads() == truth
    assert not compactor.due()  # retried after retry_after_failure_s, not on the next write


def test_the_memory_backend_needs_no_compaction():
    repo = Repository()
    assert RdfSync(repo, GraphStore("memory")).compactor is None
