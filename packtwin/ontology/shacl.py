"""SHACL validation (pyshacl): the official IDTA AAS 3.1 shapes plus the packtwin passport and value-range shapes.

The IDTA shapes run unchanged except for one published defect, fixed in :func:`aas_shapes` and documented in
docs/rdf.md: in ``shacl-schema.ttl`` v3.1.2 the LangString subclasses (``LangStringTextType`` ...) each repeat the
``text`` constraint on a predicate of their own (``aas:LangStringTextType/text``) that the ontology does not define and
that the mapping never emits (the official examples use ``aas:AbstractLangString/text``); every LangString would
violate it. The fix moves those property shapes (with their length limits) onto ``aas:AbstractLangString/text``.

The shapes use ``sh:class`` on enumeration individuals and on subclasses (``aas:Property`` is an ``aas:DataElement``):
the ontology is mixed into the data graph so that pyshacl sees those ``rdf:type`` / ``rdfs:subClassOf`` triples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path

from basyx.aas import model
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

from packtwin.ontology import battery
from packtwin.ontology.aas_rdf import AAS, convert_identifiable

SH = Namespace("http://www.w3.org/ns/shacl#")
RESOURCES = files("packtwin.ontology") / "resources"


@cache
def _parse(name: str) -> Graph:
    return Graph().parse(data=(RESOURCES / name).read_text(encoding="utf-8"), format="turtle")


def aas_ontology() -> Graph:
    return _parse("aas/rdf-ontology.ttl")


def vocabulary() -> Graph:
    return _parse("packtwin.ttl")


@cache
def aas_shapes() -> Graph:
    shapes = Graph()
    shapes += _parse("aas/shacl-schema.ttl")
    for prop_shape, path in list(shapes.subject_objects(SH.path)):
        text = str(path)
        # Defect of shacl-schema.ttl v3.1.2: aas:LangString*/text is undefined; the attribute is AbstractLangString/text.
        if text.startswith(f"{AAS}LangString") and text.endswith("/text"):
            shapes.set((prop_shape, SH.path, URIRef(f"{AAS}AbstractLangString/text")))
    return shapes


def packtwin_shapes() -> Graph:
    return _parse("packtwin-shapes.ttl")


@contextlib.contextmanager
def _prepared_query_cache() -> Iterator[None]:
    """Parse each SHACL-SPARQL constraint once instead of once per focus node (pyshacl re-parses; 10-100x slower)."""
    import rdflib.plugins.sparql.processor as processor

    original = processor.SPARQLProcessor.query
    cache_: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], object] = {}

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):  # noqa: N803, ANN001
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((k, str(v)) for k, v in (initNs or {}).items())))
            if key not in cache_:
                cache_[key] = processor.translateQuery(processor.parseQuery(strOrQuery), base, initNs)
            strOrQuery = cache_[key]
        return processor.evalQuery(self.graph, strOrQuery, initBindings, base)

    processor.SPARQLProcessor.query = query
    try:
        yield
    finally:
        processor.SPARQLProcessor.query = original


def validate_graph(data: Graph, *, aas: bool = True, passport: bool = True) -> tuple[bool, Graph, list[str]]:
    """Validate ``data``; returns (conforms, report graph, one line per violation)."""
    from pyshacl import validate

    shapes = Graph()
    mixed = Graph()
    mixed += data
    if aas:
        shapes += aas_shapes()
        mixed += aas_ontology()
    if passport:
        shapes += packtwin_shapes()
        mixed += vocabulary()
    with _prepared_query_cache():
        conforms, report, _ = validate(mixed, shacl_graph=shapes, inference="none", advanced=False,
                                       allow_warnings=True)
    return bool(conforms), report, violation_lines(report)


def violation_lines(report: Graph) -> list[str]:
    lines = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        value = report.value(result, SH.value)
        lines.append(f"{focus} {path or ''}: {message}" + (f" (value {value})" if value is not None else ""))
    return sorted(lines)


def to_graph(objects: Iterable[model.Identifiable]) -> Graph:
    """The AAS graph plus lifecycle triples of ``objects`` (all access groups, one graph)."""
    g = Graph()
    for obj in objects:
        for s, p, o, _ in convert_identifiable(obj):
            g.add((s, p, o))
        about, owned = battery.derive(obj)
        for s, p, o, _ in about + owned:
            g.add((s, p, o))
    return g


def load_graph(path: str | Path) -> Graph:
    """An AAS file (JSON, XML, AASX) converted, or an RDF file (Turtle, N-Triples, JSON-LD, RDF/XML) as is."""
    from packtwin.ontology.files import RDF_SUFFIXES, read_identifiables

    path = Path(path)
    if path.suffix.lower() in RDF_SUFFIXES:
        return Graph().parse(path, format=RDF_SUFFIXES[path.suffix.lower()])
    return to_graph(read_identifiables(path))


def validate_shacl(path: str | Path) -> list[str]:
    """Violation lines of the file at ``path`` against the IDTA AAS shapes and the packtwin shapes (empty: conforms)."""
    _, _, lines = validate_graph(load_graph(path))
    return lines
