"""The store's dataset for a query: a role's graphs only, whichever way pyoxigraph is asked to match them."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import Literal, URIRef

from packtwin.ontology.store import GraphStore
from packtwin.submodels.access import AccessGroup

EX = "https://example.org/t/"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
NAMED = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"


def _store() -> GraphStore:
    store = GraphStore()
    store.add([(URIRef(f"{EX}s{g.value}"), URIRef(f"{EX}p"), Literal(g.token), g) for g in AccessGroup])
    return store


def _count(store: GraphStore, groups: list[AccessGroup]) -> int:
    return int(next(iter(store.query_native(COUNT, groups)))["n"].value)


def test_every_group_is_read_as_one_union_and_a_subset_as_a_list():
    store = _store()
    assert _count(store, list(AccessGroup)) == 3  # the union path
    assert _count(store, [AccessGroup.PUBLIC, AccessGroup.LEGITIMATE_INTEREST]) == 2  # the list path
    assert _count(store, [AccessGroup.PUBLIC]) == 1
    assert {s["g"].value for s in store.query_native(NAMED, [AccessGroup.PUBLIC])} == {
        str(store.graphs[AccessGroup.PUBLIC])}


def test_data_outside_the_access_group_graphs_is_never_read():
    store = _store()
    assert store.ox is not None
    other = ox.NamedNode(f"{EX}graph/other")
    store.ox.add(ox.Quad(ox.NamedNode(f"{EX}x"), ox.NamedNode(f"{EX}p"), ox.Literal("other"), other))
    assert _count(store, list(AccessGroup)) == 3
    assert str(other.value) not in {s["g"].value for s in store.query_native(NAMED, list(AccessGroup))}
    store.ox.remove_graph(other)
    store.ox.add(ox.Quad(ox.NamedNode(f"{EX}x"), ox.NamedNode(f"{EX}p"), ox.Literal("default")))
    assert _count(store, list(AccessGroup)) == 3


def test_a_lookup_over_every_group_returns_each_groups_quads_and_nothing_else():
    store = _store()
    assert store.ox is not None
    s, p = URIRef(f"{EX}node"), URIRef(f"{EX}p")
    store.add([(s, p, Literal(g.token), g) for g in AccessGroup])
    # The same subject in the default graph and in a foreign graph: not any access group's data.
    for graph in (ox.DefaultGraph(), ox.NamedNode(f"{EX}graph/other")):
        store.ox.add(ox.Quad(ox.NamedNode(str(s)), ox.NamedNode(str(p)), ox.Literal("outside"), graph))
    assert sorted((g, str(o)) for _, _, o, g in store.quads(s)) == [(g, g.token) for g in AccessGroup]
    assert [(g, str(o)) for _, _, o, g in store.quads(s, group=AccessGroup.PUBLIC)] == [
        (AccessGroup.PUBLIC, AccessGroup.PUBLIC.token)]


def test_quad_keys_are_strings_that_give_back_the_same_quads_on_either_backend():
    from rdflib import BNode
    from rdflib.namespace import XSD

    quads = [
        (URIRef(f"{EX}cell"), URIRef(f"{EX}soh"), Literal("0.5", datatype=XSD.double), AccessGroup.LEGITIMATE_INTEREST),
        (URIRef(f"{EX}cell"), URIRef(f"{EX}note"), Literal('a "quoted"\nline', lang="en"), AccessGroup.PUBLIC),
        (URIRef(f"{EX}cell"), URIRef(f"{EX}serial"), Literal("PT-1", datatype=XSD.string), AccessGroup.PUBLIC),
        (BNode("b1"), URIRef(f"{EX}partOf"), URIRef(f"{EX}module"), AccessGroup.AUTHORITIES),
    ]
    for backend in ("oxigraph", "memory"):
        store = GraphStore(backend)
        keys = store.keys(quads)
        assert all(type(k) is str for k in keys) and len(set(keys)) == len(quads)
        assert store.from_keys(keys) == quads
        assert store.keys(store.from_keys(keys)) == keys
        assert store.from_keys([]) == []
        # A literal without a datatype is an xsd:string (RDF 1.1): same key, and it comes back typed.
        plain = (URIRef(f"{EX}cell"), URIRef(f"{EX}serial"), Literal("PT-1"), AccessGroup.PUBLIC)
        assert store.keys([plain]) == [keys[2]] and store.from_keys(store.keys([plain])) == [quads[2]]
