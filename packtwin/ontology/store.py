"""The RDF store behind the rdflib API: one named graph per access group, queries limited to a role's graphs.

Two backends behind the same :class:`rdflib.Dataset`: ``oxigraph`` (pyoxigraph through oxrdflib; the default, kept
because it answers the query catalogue one to three orders of magnitude faster, see ``bench/sparql.py`` and
docs/rdf.md) and ``memory`` (plain rdflib, the baseline). Data of each access group lives in the named graph
``{base}/graph/{public|legitimateInterest|authorities}``; a query sees the union of the graphs the caller may read as
its default graph and only those graphs in ``GRAPH`` clauses, whatever ``FROM`` clauses it carries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Literal as TLiteral

import pyoxigraph as ox
from oxrdflib import OxigraphStore
from oxrdflib._converter import from_ox, to_ox
from rdflib import Dataset, Graph, URIRef
from rdflib import Literal as RdfLiteral
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.query import Result
from rdflib.term import Node

from packtwin.ontology.aas_rdf import Quad
from packtwin.submodels.access import AccessGroup, Role

Backend = TLiteral["oxigraph", "memory"]
DEFAULT_BASE = "https://example.org/packtwin"

PREFIXES = {
    "aas": "https://admin-shell.io/aas/3/1/",
    "pt": "https://w3id.org/packtwin/ns#",
    "battery": "https://w3id.org/emmo/domain/battery#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


@lru_cache(maxsize=4096)
def to_ox_term(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """rdflib term -> pyoxigraph term, memoised: predicates, classes, value nodes and units repeat across a fleet.

    Small: a memo of every term (it held up to a million) kept three garbage-collected objects per entry alive,
    which every full collection of the server walked. The last 4k terms hit 94 % of the time (an element's quads
    come together) and convert as fast as the million did: 1.3 against 1.9 us per quad without a memo (890k
    quads of 1k cells; 1k entries: 93.6 %, 64k: 94.4 %).
    """
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, RdfLiteral):
        dt = term.datatype
        return ox.Literal(str(term), language=term.language, datatype=ox.NamedNode(str(dt)) if dt else None)
    return to_ox(term)


def _ox_subject_key(quad: ox.Quad) -> str:
    return quad.subject.value


OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal
# A quad in the backend's own terms: a pyoxigraph Quad (oxigraph) or the rdflib quad itself (memory).
NativeQuad = ox.Quad | Quad


def _object(q: NativeQuad) -> Node | OxTerm:
    return q.object if isinstance(q, ox.Quad) else q[2]


def _graph(q: NativeQuad) -> object:
    return q.graph_name if isinstance(q, ox.Quad) else q[3]


def _named(term: object, prefix: str) -> bool:
    """Whether ``term`` is an IRI (rdflib or pyoxigraph) starting with ``prefix``."""
    if isinstance(term, ox.NamedNode):
        return term.value.startswith(prefix)
    return isinstance(term, URIRef) and term.startswith(prefix)


def graph_iri(base: str, group: AccessGroup) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/graph/{group.token}")


def groups_for(role: Role) -> list[AccessGroup]:
    return [g for g in AccessGroup if g <= role.clearance]


class GraphStore:
    def __init__(self, backend: Backend = "oxigraph", base_iri: str = DEFAULT_BASE) -> None:
        self.backend = backend
        self.base_iri = base_iri
        # Bumped by every write: query processes forked from an older version are out of date.
        self.version = 0
        self.graphs = {g: graph_iri(base_iri, g) for g in AccessGroup}
        self._ox_graphs = {g: ox.NamedNode(str(iri)) for g, iri in self.graphs.items()}
        self._ox_graph_set = set(self._ox_graphs.values())
        if backend not in ("oxigraph", "memory"):
            raise ValueError(f"unknown store backend {backend!r}; expected oxigraph or memory")
        self.ox: ox.Store | None = None
        self._attach(ox.Store() if backend == "oxigraph" else None)
        # pyoxigraph's in-memory store never frees a removed quad: it stays in the lists that lookups walk (see
        # compaction.py). Counted here since the store was last built: quads added and removed, removals per subject.
        self.added = 0
        self.removed = 0
        self.removed_by_subject: Counter[str] = Counter()
        self.most_removed_on_a_subject = 0
        # While a compaction copies the store, the writes made meanwhile, to be replayed on the copy.
        self._log: list[tuple[bool, list[ox.Quad]]] | None = None

    def _attach(self, store: ox.Store | None) -> None:
        self.ox = store
        self.dataset = Dataset(store=OxigraphStore(store=store)) if store is not None else Dataset()
        for prefix, ns in PREFIXES.items():
            self.dataset.bind(prefix, ns)
        self._contexts = {g: self.dataset.graph(iri) for g, iri in self.graphs.items()}

    # -- writes --------------------------------------------------------------------------------------------------
    def add(self, quads: Iterable[Quad]) -> None:
        self.add_native(self.native(quads))

    def remove(self, quads: Iterable[Quad]) -> None:
        self.remove_native(self.native(quads))

    def native(self, quads: Iterable[Quad]) -> list[NativeQuad]:
        """``quads`` in the backend's own terms (memoised term conversion for pyoxigraph)."""
        if self.ox is None:
            return list(quads)
        graphs = self._ox_graphs
        t = to_ox_term
        return [ox.Quad(t(s), t(p), t(o), graphs[g]) for s, p, o, g in quads]

    def keys(self, quads: Iterable[Quad]) -> list[str]:
        """``quads`` as N-Quads lines (without the final dot): keys for a caller that keeps many quads. A string is one
        object that the garbage collector does not track; an rdflib quad is three or four it walks on every full
        collection of the process (the sync keeps ~30 per battery)."""
        graphs, t = self._ox_graphs, to_ox_term
        # str() of a pyoxigraph term is its N-Triples form: the same line as str(ox.Quad(...)), 1.4 against 2.1 us.
        return [f"{t(s)} {t(p)} {t(o)} {graphs[g]}" for s, p, o, g in quads]

    def from_keys(self, keys: Sequence[str]) -> list[Quad]:
        """The quads of ``keys`` (the inverse of :meth:`keys`; a literal without a datatype comes back as the
        xsd:string it is in RDF 1.1, which rdflib tells apart: give typed literals to keep quads rdflib-equal)."""
        if not keys:
            return []
        groups = {iri: g for g, iri in self._ox_graphs.items()}
        parsed = ox.parse(input=" .\n".join(keys) + " .\n", format=ox.RdfFormat.N_QUADS)
        return [(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object), groups[q.graph_name])  # type: ignore[misc]
                for q in parsed]

    def add_native(self, quads: Sequence[NativeQuad]) -> None:
        self.version += 1
        if self.ox is not None:
            # pyoxigraph's in-memory store chains each node's quads in a list that a lookup by subject walks; adding a
            # batch in subject order puts those quads next to each other in memory, and such walks (every join on a
            # battery node) run 1.5-2x faster (measured with bench/sparql_dev.py on 10k cells).
            batch = sorted(quads, key=_ox_subject_key)
            self.ox.extend(batch)
            self.added += len(batch)
            if self._log is not None:
                self._log.append((True, batch))
        else:
            ctx = self._contexts
            self.dataset.addN((s, p, o, ctx[g]) for s, p, o, g in quads)  # type: ignore[misc]

    def remove_native(self, quads: Sequence[NativeQuad]) -> None:
        self.version += 1
        if self.ox is not None:
            ox_quads = list(quads)
            self.removed += len(ox_quads)
            by_subject = self.removed_by_subject
            for q in ox_quads:
                self.ox.remove(q)  # type: ignore[arg-type]
                key = q.subject.value  # type: ignore[union-attr]
                n = by_subject[key] + 1
                by_subject[key] = n
                if n > self.most_removed_on_a_subject:
                    self.most_removed_on_a_subject = n
            if self._log is not None:
                self._log.append((False, ox_quads))  # type: ignore[arg-type]
        else:
            for s, p, o, g in quads:  # type: ignore[misc]
                self.dataset.remove((s, p, o, self._contexts[g]))

    def replace(self, old: Iterable[NativeQuad], new: Iterable[NativeQuad], collect_prefix: str) -> None:
        """Remove the quads only in ``old``, add those of ``new`` not stored yet, then remove the nodes named
        ``collect_prefix``... that lost their last referrer in their graph (their quads, recursively).

        Quads in both stay untouched: pyoxigraph keeps every removed quad until the store is compacted, so an
        unchanged quad removed and added again would cost as much as a changed one. The diff runs on native quads:
        pyoxigraph's hash and compare in Rust; rdflib's compare in Python (most of a sync write's time before)."""
        old_set = set(old)
        new_set = set(new)
        gone = [q for q in old_set if q not in new_set]
        self.remove_native(gone)
        # Shared nodes (content-addressed values, semantic references) come with every conversion and are mostly
        # stored already: counting them as added would overstate the live quads the compaction policy weighs.
        self.add_native([q for q in new_set if q not in old_set and not self._contains(q)])
        self._collect([(_object(q), _graph(q)) for q in gone], collect_prefix)

    def _contains(self, q: NativeQuad) -> bool:
        if self.ox is not None:
            return q in self.ox
        s, p, o, g = q  # type: ignore[misc]
        return (s, p, o) in self._contexts[g]

    def _collect(self, nodes: list[tuple[Node | OxTerm, object]], prefix: str) -> None:
        while nodes:
            node, g = nodes.pop()
            if not _named(node, prefix) or next(self._match(None, node, g), None) is not None:
                continue
            quads = list(self._match(node, None, g))
            self.remove_native(quads)
            nodes += [(_object(q), g) for q in quads]

    def _match(self, s: object, o: object, g: object) -> Iterator[NativeQuad]:
        """Native quads with subject ``s`` / object ``o`` (``None``: any) in graph ``g`` (native, as in a quad)."""
        if self.ox is not None:
            return self.ox.quads_for_pattern(s, None, o, g)  # type: ignore[arg-type]
        return ((s2, p2, o2, g) for s2, p2, o2 in self._contexts[g].triples((s, None, o)))  # type: ignore[index]

    def subtree(self, root: URIRef, owned_prefix: str) -> list[NativeQuad]:
        """The native quads (all access groups) of ``root`` and of the nodes below it whose IRIs start with
        ``owned_prefix``, following objects."""
        start: object = to_ox_term(root) if self.ox is not None else root
        todo, seen, out = [start], set(), []
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            quads = self.native_quads(node)  # type: ignore[arg-type]
            out += quads
            todo += [o for q in quads if (o := _object(q)) != node and _named(o, owned_prefix)]
        return out

    def native_quads(self, s: Node | OxTerm | None = None, p: Node | OxTerm | None = None,
                     o: Node | OxTerm | None = None) -> list[NativeQuad]:
        """Native quads matching the pattern (terms native or rdflib) in every access-group graph."""
        if self.ox is not None:
            graphs = self._ox_graph_set
            conv = [x if x is None or isinstance(x, OxTerm) else to_ox_term(x)
                    for x in (s, p, o)]
            return [q for q in self.ox.quads_for_pattern(*conv, None) if q.graph_name in graphs]  # type: ignore[misc]
        return list(self.quads(s, p, o))  # type: ignore[arg-type]

    # -- compaction (see compaction.py) --------------------------------------------------------------------------
    def begin_copy(self) -> Iterator[ox.Quad]:
        """Every quad of the store as of now (a snapshot, unaffected by later writes), and from now on a log of the
        writes, for :meth:`finish_copy` to replay. Call under the writers' lock."""
        if self.ox is None:
            raise RuntimeError("only the oxigraph backend keeps removed quads")
        self._log = []
        return self.ox.quads_for_pattern(None, None, None, None)

    def finish_copy(self, copy: ox.Store, live: int) -> int:
        """Replay the writes logged since :meth:`begin_copy` on ``copy`` (``live`` quads) and put it in place of the
        store; returns how many writes were replayed. Call under the writers' lock."""
        log, self._log = self._log or [], None
        for is_add, ox_quads in log:
            if is_add:
                copy.extend(ox_quads)
            else:
                for q in ox_quads:
                    copy.remove(q)
        self._attach(copy)
        self.added, self.removed = live + sum(len(q) for a, q in log if a), sum(len(q) for a, q in log if not a)
        self.removed_by_subject = Counter(q.subject.value for a, qs in log if not a for q in qs)
        self.most_removed_on_a_subject = max(self.removed_by_subject.values(), default=0)
        # Same content, but query processes forked from the old store walk its removed quads: replace them.
        self.version += 1
        return len(log)

    def abandon_copy(self) -> None:
        self._log = None

    def quads(self, s: Node | None = None, p: Node | None = None, o: Node | None = None,
              group: AccessGroup | None = None) -> Iterator[Quad]:
        """Quads matching the pattern in the access-group graphs (one or all)."""
        if self.ox is not None:
            by_iri = {v: k for k, v in self._ox_graphs.items()}
            # All groups: one walk over every graph (a node's list holds its quads of all graphs), not one per graph.
            graph = self._ox_graphs[group] if group is not None else None
            for q in self.ox.quads_for_pattern(to_ox(s) if s is not None else None, to_ox(p) if p is not None else None,
                                               to_ox(o) if o is not None else None, graph):
                g = by_iri.get(q.graph_name)
                if g is not None:  # the default graph and foreign graphs hold no access group's data
                    yield from_ox(q.subject), from_ox(q.predicate), from_ox(q.object), g
        else:
            for g in [group] if group is not None else list(AccessGroup):
                for s2, p2, o2 in self._contexts[g].triples((s, p, o)):
                    yield s2, p2, o2, g

    def __len__(self) -> int:
        return sum(len(self._contexts[g]) for g in AccessGroup)

    def all_quads(self) -> set[Quad]:
        return set(self.quads())

    def graph_of(self, groups: Sequence[AccessGroup]) -> Graph:
        """A read-only rdflib view of the union of ``groups``."""
        return ReadOnlyGraphAggregate([self._contexts[g] for g in groups])

    # -- queries -------------------------------------------------------------------------------------------------
    def query_native(self, sparql: str, groups: Sequence[AccessGroup], default_graphs: Sequence[str] | None = None,
                     named_graphs: Sequence[str] | None = None) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Run ``sparql`` on pyoxigraph over the union of ``groups``.

        The dataset is always set here, which overrides ``FROM`` / ``FROM NAMED`` in the query; the protocol's
        ``default-graph-uri`` / ``named-graph-uri`` can only narrow it to graphs among ``groups``.
        """
        if self.ox is None:
            raise RuntimeError("query_native needs the oxigraph backend")
        allowed = [self._ox_graphs[g] for g in groups]
        names = {n.value: n for n in allowed}
        default = [names[g] for g in default_graphs if g in names] if default_graphs else allowed
        named = [names[g] for g in named_graphs if g in names] if named_graphs else allowed
        if len(default) > 1 and self._union_is(default):
            # Same dataset, but pyoxigraph matches each pattern once against the whole store instead of once per
            # graph of the list: about twice as fast.
            return self.ox.query(sparql, use_default_graph_as_union=True, named_graphs=named, prefixes=PREFIXES)
        return self.ox.query(sparql, default_graph=default, named_graphs=named, prefixes=PREFIXES)

    def _union_is(self, graphs: Sequence[ox.NamedNode]) -> bool:
        """Whether the union of all graphs of the store (its default graph included) is exactly ``graphs``: true when
        they are every graph holding data and the default graph is empty, checked on each query."""
        assert self.ox is not None
        if set(self.ox.named_graphs()) - set(graphs):
            return False
        return next(self.ox.quads_for_pattern(None, None, None, ox.DefaultGraph()), None) is None

    def query(self, sparql: str, groups: Sequence[AccessGroup] = tuple(AccessGroup)) -> Result:
        """Run ``sparql`` through the rdflib API over the union of ``groups``."""
        if self.ox is not None:
            result = self.query_native(sparql, groups)
            return _to_rdflib(result)
        if set(groups) == set(AccessGroup):
            self.dataset.default_union = True
            return self.dataset.query(sparql, initNs=PREFIXES)
        # rdflib evaluates property paths once per member graph of an aggregate (duplicate rows): the memory
        # backend is the benchmark baseline, the endpoint always runs on oxigraph.
        return self.graph_of(groups).query(sparql, initNs=PREFIXES)


def _to_rdflib(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples) -> Result:
    if isinstance(result, ox.QueryBoolean):
        out = Result("ASK")
        out.askAnswer = bool(result)
    elif isinstance(result, ox.QuerySolutions):
        from rdflib.term import Variable

        out = Result("SELECT")
        out.vars = [Variable(v.value) for v in result.variables]
        out.bindings = [{v: from_ox(val) for v, val in zip(out.vars, solution, strict=True) if val is not None}
                        for solution in result]
    else:
        out = Result("CONSTRUCT")
        g = Graph()
        for t in result:
            g.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))
        out.graph = g
    return out
