"""Commands of the ontology package: ``export`` (AAS -> RDF), ``sparql`` (query a file) and ``shacl`` (validate).

``packtwin validate --shacl FILE`` is wired by the ``validate`` command to :func:`packtwin.ontology.shacl.validate_shacl`;
``packtwin shacl FILE`` is the same check on its own.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

FORMATS = {"turtle": "turtle", "ttl": "turtle", "jsonld": "json-ld", "json-ld": "json-ld", "nt": "nt",
           "ntriples": "nt"}
ROLES = ("anonymous", "legitimate_interest", "authority", "operator")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="convert an AAS environment to RDF (IDTA AAS ontology + lifecycle)")
    p.add_argument("--data", required=True, help="AAS environment file (.json, .xml, .aasx)")
    p.add_argument("--format", default="turtle", choices=sorted(FORMATS), help="RDF serialisation (default turtle)")
    p.add_argument("--out", required=True, help="output file ('-' for stdout)")
    p.add_argument("--role", default="operator", choices=ROLES,
                   help="export only what this role may read (default operator: everything)")
    p.set_defaults(func=_export)

    q = subparsers.add_parser("sparql", help="run a SPARQL query (or a catalogue query) on an AAS environment file")
    q.add_argument("--data", required=True, help="AAS environment file (.json, .xml, .aasx) or RDF file")
    q.add_argument("query", nargs="?", help="SPARQL query text, or @FILE to read it from a file")
    q.add_argument("--catalog", metavar="NAME", help="run the catalogue query NAME (see docs/queries.md)")
    q.add_argument("--list", action="store_true", help="list the catalogue queries and exit")
    q.add_argument("--format", default="table", choices=("table", "csv", "json", "xml", "tsv"),
                   help="result format of SELECT/ASK (default table); CONSTRUCT/DESCRIBE print Turtle")
    q.add_argument("--role", default="operator", choices=ROLES, help="query as this role (default operator)")
    q.set_defaults(func=_sparql)

    s = subparsers.add_parser("shacl", help="validate an AAS environment with the IDTA AAS shapes and the packtwin "
                                            "passport shapes (same as 'validate --shacl')")
    s.add_argument("file", help="AAS environment file (.json, .xml, .aasx) or RDF file")
    s.set_defaults(func=_shacl)


def _store_for(path: str) -> Any:
    from pathlib import Path

    from packtwin.ontology.files import RDF_SUFFIXES, read_identifiables
    from packtwin.ontology.store import GraphStore
    from packtwin.ontology.sync import convert_all
    from packtwin.submodels.access import AccessGroup

    store = GraphStore()
    if Path(path).suffix.lower() in RDF_SUFFIXES:
        from rdflib import Graph

        g = Graph().parse(path, format=RDF_SUFFIXES[Path(path).suffix.lower()])
        store.add((s, p, o, AccessGroup.AUTHORITIES) for s, p, o in g)
    else:
        convert_all(read_identifiables(path), store)
    return store


def _export(args: argparse.Namespace) -> int:
    import pyoxigraph as ox

    from packtwin.ontology.store import PREFIXES, groups_for
    from packtwin.submodels.access import Role

    try:
        store = _store_for(args.data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The union of the role's graphs as one graph (a triple in two access-group graphs is written once).
    result = store.query_native("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", groups_for(Role(args.role)))
    triples = set(result)
    fmt = {"turtle": ox.RdfFormat.TURTLE, "json-ld": ox.RdfFormat.JSON_LD, "nt": ox.RdfFormat.N_TRIPLES}[
        FORMATS[args.format]]
    data = ox.serialize(sorted(triples, key=str), format=fmt,
                        prefixes=PREFIXES if fmt is not ox.RdfFormat.N_TRIPLES else None) or b""
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.out, "wb") as fh:
            fh.write(data)
        print(f"wrote {len(triples)} triples to {args.out}", file=sys.stderr)
    return 0


def _sparql(args: argparse.Namespace) -> int:
    from packtwin.ontology import catalog
    from packtwin.ontology.endpoint import QueryError, execute
    from packtwin.submodels.access import Role

    if args.list:
        for cq in catalog.QUERIES:
            print(f"{cq.name:42s} {cq.question}")
        return 0
    if args.catalog:
        try:
            text = catalog.get(args.catalog).sparql
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    elif args.query:
        if args.query.startswith("@"):
            from pathlib import Path

            text = Path(args.query[1:]).read_text(encoding="utf-8")
        else:
            text = args.query
    else:
        print("error: give a QUERY or --catalog NAME", file=sys.stderr)
        return 2
    try:
        store = _store_for(args.data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    accept = {"table": "text/csv", "csv": "text/csv", "json": "application/sparql-results+json",
              "xml": "application/sparql-results+xml", "tsv": "text/tab-separated-values"}[args.format]
    try:
        answer = execute(store, text, Role(args.role), accept + ", text/turtle;q=0.5", max_rows=1_000_000)
    except QueryError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 2
    if args.format == "table" and answer.media_type == "text/csv":
        _print_table(answer.body.decode())
    else:
        sys.stdout.write(answer.body.decode())
    return 0


def _print_table(csv_text: str) -> None:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(csv_text)))
    if not rows:
        return
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"({len(rows) - 1} rows)")


def _shacl(args: argparse.Namespace) -> int:
    from packtwin.ontology.shacl import validate_shacl

    try:
        lines = validate_shacl(args.file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    print(f"{args.file}: {'conforms' if not lines else f'{len(lines)} violation(s)'} "
          "(IDTA AAS 3.1 shapes, packtwin passport shapes)", file=sys.stderr)
    return 0 if not lines else 1
