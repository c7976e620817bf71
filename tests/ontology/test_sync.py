"""Incremental sync: after random writes through the repository the graph equals a fresh full conversion
(the 1,000 writes through the live API are in test_sync_api.py)."""

from __future__ import annotations

import copy
import random

from basyx.aas import model
from rdflib import Graph
from rdflib.compare import isomorphic

from packtwin.aas.events import Operation
from packtwin.aas.repository import Repository
from packtwin.ontology.aas_rdf import VALUE_PREFIX, element_iri
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync, convert_all
from packtwin.submodels.access import AccessGroup, set_access_group
from tests.ontology.fleet_fixture import build_test_fleet


def _properties(sm: model.Submodel) -> list[tuple[str, model.Property]]:
    from packtwin.ontology.battery import walk

    return [(path, el) for path, el, _ in walk(sm) if isinstance(el, model.Property)]


def _random_value(prop: model.Property, rng: random.Random) -> object:
    vt = prop.value_type
    if vt in (model.datatypes.Float, float, model.datatypes.Double if hasattr(model.datatypes, "Double") else float):
        return round(rng.uniform(0, 100), 3)
    if vt is model.datatypes.Decimal:
        return model.datatypes.Decimal(str(round(rng.uniform(0, 100), 2)))
    if vt is bool:
        return rng.random() < 0.5
    if vt in (int, model.datatypes.Integer if hasattr(model.datatypes, "Integer") else int, model.datatypes.UnsignedInt,
              model.datatypes.Int, model.datatypes.Long, model.datatypes.UnsignedLong, model.datatypes.Short):
        return vt(rng.randrange(0, 1000))
    if vt is str:
        return rng.choice(["Original", "Repurposed", "internal short circuit alert", "x" * rng.randrange(1, 8)])
    return None  # dates and other types: set to no value


def random_writes(repo: Repository, n: int, rng: random.Random) -> dict[str, int]:
    """``n`` writes of the kinds the API and the workers do; returns how many of each kind ran."""
    kinds = dict.fromkeys(("value", "values", "add-event", "remove-event", "access-group", "replace-submodel",
                           "delete-recreate-shell", "delete-recreate-submodel"), 0)
    for _ in range(n):
        kind = rng.choices(list(kinds), weights=[60, 10, 8, 6, 4, 6, 3, 3])[0]
        sms = repo.submodels()
        sm = rng.choice(sms)
        if kind == "value":
            props = _properties(sm)
            if not props:
                continue
            path, prop = rng.choice(props)
            prop.value = _random_value(prop, rng)
            repo.commit(sm, path, element=prop)
        elif kind == "values":  # an estimator's record: several values set, one commit naming them
            props = _properties(sm)
            if not props:
                continue
            chosen = rng.sample(props, min(len(props), rng.randrange(1, 6)))
            for _path, prop in chosen:
                prop.value = _random_value(prop, rng)
            repo.commit(sm, changed_paths=[path for path, _ in chosen])
        elif kind in ("add-event", "remove-event"):
            pcs = [s for s in sms if s.id_short == "ProductCondition"]
            sm = rng.choice(pcs)
            events = sm.get_referable("NegativeEvents")
            if kind == "add-event":
                item = model.SubmodelElementCollection(None, [
                    model.Property("NegativeEventValue", str, rng.choice(["deep discharge", "internal short alert"])),
                    model.Property("LastUpdate", model.datatypes.DateTime, None)])
                events.value.add(item)
                repo.commit(sm, f"NegativeEvents[{len(events.value) - 1}]", Operation.CREATED, element=item)
            elif len(events.value):
                i = rng.randrange(len(events.value))
                events.value.remove(list(events.value)[i])
                repo.commit(sm, f"NegativeEvents[{i}]", Operation.DELETED)
        elif kind == "access-group":
            top = rng.choice(list(sm.submodel_element))
            set_access_group(top, rng.choice(list(AccessGroup)))
            repo.commit(sm, str(top.id_short), element=top)
        elif kind == "replace-submodel":
            clone = copy.deepcopy(sm)
            for _path, prop in _properties(clone)[:5]:
                prop.value = _random_value(prop, rng)
            repo.replace(clone)
        elif kind == "delete-recreate-shell":
            shell = rng.choice(repo.shells())
            repo.delete(shell.id)
            repo.add(shell)
        else:
            repo.delete(sm.id)
            repo.add(sm)
        kinds[kind] += 1
    return kinds


def test_synced_graph_equals_a_fresh_conversion_after_random_repository_writes():
    repo = Repository()
    repo.add_many(build_test_fleet(packs=2, modules=2, cells=2, seed=3, with_concept_descriptions=False))
    store = GraphStore()
    sync = RdfSync(repo, store).start()
    try:
        before = store.all_quads()
        kinds = random_writes(repo, 300, random.Random(11))
    finally:
        sync.stop()
    assert all(kinds.values()), kinds  # every kind of write happened
    assert sync.events >= 300
    fresh = GraphStore()
    convert_all(list(repo), fresh)
    synced_quads, fresh_quads = store.all_quads(), fresh.all_quads()
    assert synced_quads != before  # the writes changed the graph
    assert synced_quads == fresh_quads, (len(synced_quads - fresh_quads), len(fresh_quads - synced_quads))
    for group in AccessGroup:  # and the same as graphs, the way a client sees them
        a, b = Graph(), Graph()
        for s, p, o, _ in store.quads(group=group):
            a.add((s, p, o))
        for s, p, o, _ in fresh.quads(group=group):
            b.add((s, p, o))
        assert isomorphic(a, b)


def _synced_cell() -> tuple[Repository, GraphStore, model.Submodel]:
    """A one-cell fleet followed by the sync, and the cell's Product Condition."""
    repo = Repository()
    repo.add_many(build_test_fleet(packs=1, modules=1, cells=1, seed=1, with_concept_descriptions=False))
    store = GraphStore()
    RdfSync(repo, store).start()
    sm = next(s for s in repo.submodels() if s.id_short == "ProductCondition" and "/cell/" in s.id)
    return repo, store, sm


def test_element_write_updates_lifecycle_triple_and_its_graph():
    repo, store, sm = _synced_cell()
    prop = sm.get_referable("StateOfCharge").get_referable("StateOfChargeValue")
    prop.value = 42.5
    repo.commit(sm, "StateOfCharge.StateOfChargeValue", element=prop)
    q = "SELECT ?soc WHERE { ?c a pt:Battery ; pt:level 'cell' ; pt:stateOfCharge ?soc }"
    assert [float(r[0]) for r in store.query(q)] == [42.5]
    assert list(store.query(q, [AccessGroup.PUBLIC])) == []  # StateOfCharge is for legitimate interest only
    set_access_group(sm.get_referable("StateOfCharge"), AccessGroup.PUBLIC)
    repo.commit(sm, "StateOfCharge", element=sm.get_referable("StateOfCharge"))
    assert [float(r[0]) for r in store.query(q, [AccessGroup.PUBLIC])] == [42.5]


def test_a_value_update_of_a_submodel_redoes_only_the_elements_it_names():
    repo, store, sm = _synced_cell()
    sm.get_referable("StateOfCharge").get_referable("StateOfChargeValue").value = 37.5
    sm.get_referable("RemainingCapacity").get_referable("RemainingCapacityValue").value = 4.25
    removed_before = store.removed
    repo.commit(sm, changed_paths=["StateOfCharge.StateOfChargeValue", "RemainingCapacity.RemainingCapacityValue"])
    q = "SELECT ?soc ?cap WHERE { ?c pt:level 'cell' ; pt:stateOfCharge ?soc ; pt:remainingCapacity ?cap }"
    assert [(float(a), float(b)) for a, b in store.query(q)] == [(37.5, 4.25)]
    # Only quads of the two named elements, of value nodes and of the cell's own lifecycle triples were removed.
    named = tuple(str(element_iri(sm.id, top)) for top in ("StateOfCharge", "RemainingCapacity"))
    cell = next(iter(store.query("SELECT ?c WHERE { ?c pt:level 'cell' }")))[0]
    touched = set(store.removed_by_subject) - {str(cell)}
    assert 0 < store.removed - removed_before < 20
    assert touched and all(s.startswith(named) or s.startswith(VALUE_PREFIX) for s in touched), touched
    fresh = GraphStore()
    convert_all(list(repo), fresh)
    assert store.all_quads() == fresh.all_quads()


def _in_pack(store: GraphStore, groups: list[AccessGroup]) -> set[tuple[str, str]]:
    rows = store.query("SELECT ?c ?p WHERE { ?c pt:inPack ?p }", groups)
    return {(str(c), str(p)) for c, p in rows}


def _two_steps(store: GraphStore, groups: list[AccessGroup]) -> set[tuple[str, str]]:
    rows = store.query("SELECT ?c ?p WHERE { ?c a battery:battery_68ed592a_7924_45d0_a108_94d6275d57f0 ;"
                       " pt:partOf ?m . ?m pt:partOf ?p }", groups)
    return {(str(c), str(p)) for c, p in rows}


def test_in_pack_shortcut_follows_bom_changes_and_access_groups():
    repo = Repository()
    repo.add_many(build_test_fleet(packs=2, modules=2, cells=2, seed=5, with_concept_descriptions=False))
    store = GraphStore()
    RdfSync(repo, store).start()
    everyone, public = list(AccessGroup), [AccessGroup.PUBLIC]
    assert len(_in_pack(store, everyone)) == 8
    assert _in_pack(store, everyone) == _two_steps(store, everyone)

    # The pack BoM states module -> pack: without it the cells of that pack have no pack.
    bom = next(s for s in repo.submodels() if s.id_short == "HierarchicalStructures" and "/pack/" in s.id)
    repo.delete(bom.id)
    assert len(_in_pack(store, everyone)) == 4
    assert _in_pack(store, everyone) == _two_steps(store, everyone)

    # Back, with the BoM restricted: the shortcut moves to the restricted graph with the link it stands for.
    set_access_group(bom, AccessGroup.LEGITIMATE_INTEREST)
    repo.add(bom)
    assert len(_in_pack(store, everyone)) == 8
    assert len(_in_pack(store, public)) == 4
    assert _in_pack(store, public) == _two_steps(store, public)
    fresh = GraphStore()
    convert_all(list(repo), fresh)
    assert store.all_quads() == fresh.all_quads()
