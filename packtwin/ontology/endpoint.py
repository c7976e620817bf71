"""A read-only SPARQL 1.1 Protocol endpoint as Starlette routes (mounted at ``/sparql`` by the HTTP server).

* ``GET ?query=``, ``POST`` form-urlencoded ``query=`` or ``POST`` ``application/sparql-query``;
  ``default-graph-uri`` / ``named-graph-uri`` may only name graphs the caller's role may read.
* SELECT / ASK answer as SPARQL JSON (default), XML, CSV or TSV; CONSTRUCT / DESCRIBE as Turtle (default), JSON-LD
  or N-Triples, chosen by ``Accept``; 406 when none fits.
* Updates are refused (403); syntax errors are 400 with the parser's message; a query running past the timeout is
  stopped and answered 400 (504 would invite retries of the same query); at most ``max_rows`` rows or triples are
  returned, the header ``X-SPARQL-Truncated`` tells when more were available.
* The caller sees only the named graphs of its role (``role_of(request)``), see :mod:`packtwin.ontology.store`.

Each query runs in a forked child process holding a copy-on-write snapshot of the store: a runaway query is killed
at its deadline instead of keeping a thread busy (pyoxigraph cannot cancel a query), and the server's event loop is
never blocked. Forks are taken under ``lock`` (the sync's lock) so that no write is half-applied in the snapshot.
Children stay warm while the store is unchanged (:mod:`packtwin.ontology.snapshots`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import io
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from packtwin.ontology.snapshots import SnapshotPool
from packtwin.ontology.store import GraphStore, groups_for
from packtwin.submodels.access import Role

if TYPE_CHECKING:
    from packtwin.settings import Settings

logger = logging.getLogger(__name__)

RoleResolver = Callable[[Request], Role]

SELECT_TYPES = {
    "application/sparql-results+json": "json",
    "application/json": "json",
    "application/sparql-results+xml": "xml",
    "application/xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
}
_UPDATE = re.compile(r"^\s*(?:(?:PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*"
                     r"(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I)


@dataclass(frozen=True)
class EndpointSettings:
    timeout_s: float = 10.0
    max_rows: int = 10_000
    max_query_bytes: int = 100_000
    # Concurrent queries; more wait up to the timeout, then get 503.
    max_parallel: int = 2
    # How old the snapshot a query sees may be while writes go on (snapshots.py). 0: every write made before a
    # query is in its answer (read-your-writes), at the price of a fresh query process after every write.
    max_staleness_s: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> EndpointSettings:
        """The ``sparql_*`` fields of the server settings; ``overrides`` win (e.g. the demo's staleness)."""
        values: dict[str, Any] = {f.name: getattr(settings, f"sparql_{f.name}") for f in dataclasses.fields(cls)}
        values.update(overrides)
        return cls(**values)


class QueryError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _negotiate(accept: str, offered: dict[str, object], default: str) -> str | None:
    """The offered media type the Accept header prefers (q-values honoured), None if none is acceptable."""
    if not accept.strip():
        return default
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media, q = fields[0].lower(), 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                with contextlib.suppress(ValueError):
                    q = float(f[2:])
        if q <= 0:
            continue
        if media in ("*/*", "application/*", "text/*"):
            candidate = default if media == "*/*" or default.startswith(media[:-1]) else next(
                (m for m in offered if m.startswith(media[:-1])), None)
        else:
            candidate = media if media in offered else None
        if candidate is not None and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, candidate)
    return best[2] if best else None


# -- result serialisers (rows are already bounded, so they are written in full) ---------------------------------------
def _term_json(t: object) -> dict[str, str]:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        d = {"type": "literal", "value": t.value}
        if t.language:
            d["xml:lang"] = t.language
        elif t.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            d["datatype"] = t.datatype.value
        return d
    return {"type": "literal", "value": str(t)}


def _term_xml(t: object) -> str:
    if isinstance(t, ox.NamedNode):
        return f"<uri>{escape(t.value)}</uri>"
    if isinstance(t, ox.BlankNode):
        return f"<bnode>{escape(t.value)}</bnode>"
    if isinstance(t, ox.Literal):
        if t.language:
            return f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
        if t.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            return f"<literal datatype={quoteattr(t.datatype.value)}>{escape(t.value)}</literal>"
        return f"<literal>{escape(t.value)}</literal>"
    return f"<literal>{escape(str(t))}</literal>"


def _term_tsv(t: object) -> str:
    return str(t)


def serialize_select(variables: list[str], rows: list[list[object | None]], fmt: str) -> bytes:
    if fmt == "json":
        bindings = [{v: _term_json(t) for v, t in zip(variables, row, strict=True) if t is not None} for row in rows]
        return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}}).encode()
    if fmt == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        out.append("</head><results>")
        for row in rows:
            out.append("<result>")
            out += [f"<binding name={quoteattr(v)}>{_term_xml(t)}</binding>"
                    for v, t in zip(variables, row, strict=True) if t is not None]
            out.append("</result>")
        out.append("</results></sparql>")
        return "".join(out).encode()
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(variables)
        for row in rows:
            w.writerow(["" if t is None else (t.value if hasattr(t, "value") else str(t)) for t in row])
        return buf.getvalue().encode()
    buf = io.StringIO()
    buf.write("\t".join("?" + v for v in variables) + "\n")
    for row in rows:
        buf.write("\t".join("" if t is None else _term_tsv(t) for t in row) + "\n")
    return buf.getvalue().encode()


def serialize_ask(answer: bool, fmt: str) -> bytes:
    if fmt == "xml":
        return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{'true' if answer else 'false'}</boolean></sparql>").encode()
    if fmt in ("csv", "tsv"):
        return ("true" if answer else "false").encode() + b"\n"
    return json.dumps({"head": {}, "boolean": answer}).encode()


# -- execution ------------------------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    body: bytes
    media_type: str
    truncated: int = 0


def execute(store: GraphStore, sparql: str, role: Role, accept: str, max_rows: int,
            default_graphs: list[str] | None = None, named_graphs: list[str] | None = None) -> Answer:
    """Parse, run and serialise ``sparql`` for ``role`` (in the calling process)."""
    try:
        result = store.query_native(sparql, groups_for(role), default_graphs or None, named_graphs or None)
    except SyntaxError as exc:
        if _UPDATE.match(sparql):
            raise QueryError(403, "this endpoint is read-only: SPARQL Update is refused") from None
        raise QueryError(400, f"SPARQL syntax error: {exc}") from None
    except (ValueError, OSError) as exc:
        raise QueryError(400, f"query failed: {exc}") from None
    if isinstance(result, ox.QueryBoolean):
        media = _negotiate(accept, SELECT_TYPES, "application/sparql-results+json")
        if media is None:
            raise QueryError(406, f"ASK results are available as {', '.join(SELECT_TYPES)}")
        return Answer(200, serialize_ask(bool(result), SELECT_TYPES[media]), media)
    if isinstance(result, ox.QuerySolutions):
        media = _negotiate(accept, SELECT_TYPES, "application/sparql-results+json")
        if media is None:
            raise QueryError(406, f"SELECT results are available as {', '.join(SELECT_TYPES)}")
        variables = [v.value for v in result.variables]
        rows: list[list[object | None]] = []
        truncated = 0
        for solution in result:
            if len(rows) >= max_rows:
                truncated = max_rows
                break
            rows.append([solution[i] for i in range(len(variables))])
        return Answer(200, serialize_select(variables, rows, SELECT_TYPES[media]), media, truncated)
    media = _negotiate(accept, GRAPH_TYPES, "text/turtle")
    if media is None:
        raise QueryError(406, f"CONSTRUCT and DESCRIBE results are available as {', '.join(GRAPH_TYPES)}")
    triples = []
    truncated = 0
    for t in result:
        if len(triples) >= max_rows:
            truncated = max_rows
            break
        triples.append(t)
    body = ox.serialize(triples, format=GRAPH_TYPES[media]) or b""
    return Answer(200, body, media, truncated)


def _handle(store: GraphStore, sparql: str, role: Role, accept: str, max_rows: int,
            graphs: tuple[list[str], list[str]]) -> tuple[str, Any]:
    """What a query process answers: ("ok", Answer) or ("error", (status, reason))."""
    try:
        return "ok", execute(store, sparql, role, accept, max_rows, *graphs)
    except QueryError as exc:
        return "error", (exc.status, exc.reason)
    except Exception as exc:  # noqa: BLE001 - reported to the client
        return "error", (500, f"query failed: {exc}")


def run_isolated(pool: SnapshotPool, sparql: str, role: Role, accept: str, settings: EndpointSettings,
                 graphs: tuple[list[str], list[str]] = ([], [])) -> Answer:
    """Run ``execute`` in a query process of ``pool`` with a hard deadline (blocking; call from a worker thread)."""
    try:
        kind, payload = pool.run((sparql, role, accept, settings.max_rows, graphs), settings.timeout_s)
    except TimeoutError:
        raise QueryError(400, f"query cancelled: it ran longer than the {settings.timeout_s:g} s limit") from None
    except EOFError:
        raise QueryError(500, "query process ended without an answer") from None
    if kind == "error":
        raise QueryError(*payload)
    return payload


# -- HTTP -----------------------------------------------------------------------------------------------------------
async def _read_query(request: Request, settings: EndpointSettings) -> tuple[str, list[str], list[str]]:
    params = request.query_params
    if "update" in params:
        raise QueryError(403, "this endpoint is read-only: SPARQL Update is refused")
    default_graphs = params.getlist("default-graph-uri")
    named_graphs = params.getlist("named-graph-uri")
    if request.method == "GET":
        if "query" not in params:
            raise QueryError(400, "missing 'query' parameter")
        query = params["query"]
    else:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > settings.max_query_bytes:
            raise QueryError(413, f"query longer than {settings.max_query_bytes} bytes")
        if ctype == "application/sparql-update":
            raise QueryError(403, "this endpoint is read-only: SPARQL Update is refused")
        if ctype == "application/sparql-query":
            try:
                query = body.decode("utf-8")
            except UnicodeDecodeError:
                raise QueryError(400, "query is not UTF-8") from None
        elif ctype == "application/x-www-form-urlencoded":
            # Parsed here: Starlette's form parser needs python-multipart, an extra dependency for one field.
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise QueryError(400, "form is not UTF-8") from None
            if "update" in form:
                raise QueryError(403, "this endpoint is read-only: SPARQL Update is refused")
            if "query" not in form:
                raise QueryError(400, "missing 'query' form field")
            query = form["query"][0]
            default_graphs += form.get("default-graph-uri", [])
            named_graphs += form.get("named-graph-uri", [])
        else:
            raise QueryError(415, "POST the query as application/sparql-query or application/x-www-form-urlencoded")
    if len(query.encode()) > settings.max_query_bytes:
        raise QueryError(413, f"query longer than {settings.max_query_bytes} bytes")
    return query, default_graphs, named_graphs


def sparql_routes(store: GraphStore, role_of: RoleResolver, settings: EndpointSettings | None = None,
                  lock: threading.RLock | None = None, path: str = "/sparql") -> list[Route]:
    """The endpoint as routes for the packtwin server (``create_app(..., extra_routes=sparql_routes(...))``)."""
    settings = settings or EndpointSettings()
    slots = threading.BoundedSemaphore(settings.max_parallel)
    pool = SnapshotPool(store, _handle, lock, max_idle=settings.max_parallel, max_staleness_s=settings.max_staleness_s,
                        prefork=True)

    def run(query: str, role: Role, accept: str, graphs: tuple[list[str], list[str]]) -> Answer:
        if not slots.acquire(timeout=settings.timeout_s):
            raise QueryError(503, "all query slots are busy; retry later")
        try:
            return run_isolated(pool, query, role, accept, settings, graphs)
        finally:
            slots.release()

    async def endpoint(request: Request) -> Response:
        try:
            role = role_of(request)
            query, default_graphs, named_graphs = await _read_query(request, settings)
            allowed = {str(store.graphs[g]) for g in groups_for(role)}
            refused = [g for g in default_graphs + named_graphs if g not in allowed]
            if refused:
                raise QueryError(403, f"graph(s) not readable with role {role.value}: {', '.join(refused)}")
            answer = await asyncio.to_thread(run, query, role, request.headers.get("accept", ""),
                                             (default_graphs, named_graphs))
        except QueryError as exc:
            return PlainTextResponse(exc.reason + "\n", status_code=exc.status)
        headers = {"Vary": "Accept"}
        if answer.truncated:
            headers["X-SPARQL-Truncated"] = str(answer.truncated)
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers)

    return [Route(path, endpoint, methods=["GET", "POST"])]


def create_sparql_app(store: GraphStore, role_of: RoleResolver, settings: EndpointSettings | None = None,
                      lock: threading.RLock | None = None) -> Starlette:
    """A stand-alone app serving the endpoint at ``/sparql`` (the packtwin server adds :func:`sparql_routes`)."""
    return Starlette(routes=sparql_routes(store, role_of, settings, lock, path="/sparql"))
