"""The SPARQL endpoint on a live server, queried with SPARQLWrapper: catalogue answers, access groups, bad queries."""

from __future__ import annotations

import json
import time

import pytest
import requests
from SPARQLWrapper import CSV, JSON, JSONLD, POST, TURTLE, XML, SPARQLWrapper

from packtwin.ontology import catalog
from packtwin.ontology.aas_rdf import element_iri
from packtwin.ontology.battery import walk
from packtwin.ontology.endpoint import EndpointSettings, create_sparql_app
from packtwin.submodels.access import AccessGroup
from tests.ontology import reference
from tests.ontology.conftest import ROLE_HEADER, LiveServer, header_role

NUMERIC = ("double", "decimal", "integer", "float", "int", "long")


def _py(binding: dict | None) -> object:
    if binding is None:
        return None
    dt = binding.get("datatype", "")
    if any(dt.endswith("#" + n) for n in NUMERIC):
        return round(float(binding["value"]), 6)
    return binding["value"]


def _norm(row: tuple) -> tuple:
    return tuple(round(float(x), 6) if isinstance(x, int | float) and not isinstance(x, bool) else
                 (None if x is None else str(x)) for x in row)


def client(url: str, role: str = "operator") -> SPARQLWrapper:
    sw = SPARQLWrapper(url + "/sparql")
    sw.addCustomHttpHeader(ROLE_HEADER, role)
    sw.setTimeout(30)
    return sw


@pytest.mark.parametrize("name", [q.name for q in catalog.QUERIES])
def test_catalogue_query_matches_the_aas_side(name, live, fleet):
    sw = client(live.url)
    sw.setQuery(catalog.get(name).sparql)
    sw.setReturnFormat(JSON)
    result = sw.query().convert()
    variables = result["head"]["vars"]
    got = sorted(_norm(tuple(_py(b.get(v)) for v in variables)) for b in result["results"]["bindings"])
    expected = sorted(_norm(row) for row in reference.answers(fleet)[name])
    assert expected, f"the test fleet gives no answer to {name}; the comparison would prove nothing"
    assert got == expected


def _restricted(fleet) -> tuple[set[str], set[str], set[str]]:
    """(IRIs of restricted elements, their value strings, value strings of public elements)."""
    iris: set[str] = set()
    restricted: set[str] = set()
    public: set[str] = set()
    from basyx.aas import model

    for o in fleet:
        if not isinstance(o, model.Submodel):
            continue
        for path, el, group in walk(o):
            values = []
            value = getattr(el, "value", None)
            if isinstance(el, model.MultiLanguageProperty):
                values = list((value or {}).values())
            elif isinstance(el, model.Property) and value is not None:
                values = [model.datatypes.xsd_repr(value), str(value)]
            if group > AccessGroup.PUBLIC:
                iris.add(str(element_iri(o.id, path)))
                restricted.update(values)
            else:
                public.update(values)
    return iris, restricted, public


def _canon(value: str) -> str:
    """Numbers compare by value (15, 15.0 and 1.5E1 are one value), everything else by text."""
    try:
        return repr(float(value))
    except ValueError:
        return value


def _all_strings(result: dict) -> set[str]:
    return {_canon(b["value"]) for row in result["results"]["bindings"] for b in row.values()}


def test_public_role_sees_no_restricted_value(live, fleet):
    iris, restricted, public = _restricted(fleet)
    restricted, public = {_canon(v) for v in restricted}, {_canon(v) for v in public}
    # Booleans are not telling: every public SubmodelElementList states orderRelevant true.
    secret = {v for v in restricted if v not in public and v not in ("true", "false")}
    assert len(iris) > 50 and len(secret) > 20  # the fleet really has restricted data
    seen: set[str] = set()
    sw = client(live.url, "anonymous")
    sw.setReturnFormat(JSON)
    for q in catalog.QUERIES:
        sw.setQuery(q.sparql)
        seen |= _all_strings(sw.query().convert())
    # The whole public view; FROM clauses cannot widen the dataset beyond the role's graphs.
    sw.setQuery(f"SELECT ?s ?o FROM <{live_graph('authorities')}> FROM NAMED <{live_graph('legitimateInterest')}> "
                "WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    result = sw.query().convert()
    assert len(result["results"]["bindings"]) > 10_000
    seen |= _all_strings(result)
    assert not (seen & iris), "a restricted element's node is visible to the public"
    assert not (seen & secret), f"restricted values visible to the public: {sorted(seen & secret)[:5]}"
    # The operator does see them: the test looks in the right place.
    op = client(live.url)
    op.setReturnFormat(JSON)
    op.setQuery("SELECT * WHERE { ?s ?p ?o }")
    all_seen = _all_strings(op.query().convert())
    assert all_seen & iris and all_seen & secret
    # CONSTRUCT / DESCRIBE answers too.
    r = requests.get(live.url + "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                     headers={"Accept": "application/n-triples", ROLE_HEADER: "anonymous"}, timeout=30)
    assert r.status_code == 200 and not any(iri in r.text for iri in iris)


def live_graph(token: str) -> str:
    return f"https://example.org/packtwin/graph/{token}"


def test_legitimate_interest_sees_its_graph_but_not_the_authorities(live):
    r = requests.get(live.url + "/sparql", headers={ROLE_HEADER: "legitimate_interest"}, timeout=30, params={
        "query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"})
    graphs = [b["g"]["value"] for b in r.json()["results"]["bindings"]]
    assert graphs == [live_graph("legitimateInterest"), live_graph("public")]


def test_result_formats(live):
    sw = client(live.url)
    sw.setQuery(catalog.get("cells-below-80-soh").sparql)
    sw.setReturnFormat(XML)
    xml = sw.query().convert()
    assert xml.getElementsByTagName("result")
    sw.setReturnFormat(CSV)
    text = sw.query().convert().decode()
    assert text.splitlines()[0] == "pack,cell,soh"
    r = requests.post(live.url + "/sparql", data={"query": "SELECT ?s WHERE { ?s a ?t } LIMIT 2"},
                      headers={"Accept": "text/tab-separated-values"}, timeout=30)
    assert r.status_code == 200 and r.text.startswith("?s\n")
    for fmt, check in ((TURTLE, lambda b: b"@prefix" in b or b"<" in b), (JSONLD, lambda b: json.loads(b))):
        sw.setReturnFormat(fmt)
        sw.setMethod(POST)
        sw.setQuery("PREFIX pt: <https://w3id.org/packtwin/ns#> CONSTRUCT { ?b pt:stateOfHealth ?s } "
                    "WHERE { ?b pt:stateOfHealth ?s }")
        body = sw.query().response.read()
        assert check(body)
    sw.setQuery("DESCRIBE <https://example.org/packtwin/asset/pack/PT-P000001>")
    sw.setReturnFormat(TURTLE)
    assert b"stateOfHealth" in sw.query().response.read()
    r = requests.get(live.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=30)
    assert r.json() == {"head": {}, "boolean": True}
    r = requests.get(live.url + "/sparql", params={"query": "SELECT * { ?s ?p ?o } LIMIT 1"},
                     headers={"Accept": "image/png"}, timeout=30)
    assert r.status_code == 406


def test_sparql_query_body_and_result_limit(synced):
    _, store, sync = synced
    app = create_sparql_app(store, header_role, EndpointSettings(timeout_s=5.0, max_rows=100), lock=sync.lock)
    with LiveServer(app) as small:
        r = requests.post(small.url + "/sparql", data="SELECT * WHERE { ?s ?p ?o }",
                          headers={"Content-Type": "application/sparql-query", ROLE_HEADER: "operator"}, timeout=30)
        assert r.status_code == 200
        assert r.headers["X-SPARQL-Truncated"] == "100"
        assert len(r.json()["results"]["bindings"]) == 100
        r = requests.post(small.url + "/sparql", data="ASK { ?s ?p ?o }",
                          headers={"Content-Type": "application/sparql-query"}, timeout=30)
        assert r.status_code == 200 and "X-SPARQL-Truncated" not in r.headers


@pytest.mark.parametrize(("method", "kwargs", "status", "reason"), [
    ("get", {"params": {"query": "SELEC ?x WHERE { ?x ?y ?z }"}}, 400, "syntax error"),
    ("get", {"params": {"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}}, 403, "read-only"),
    ("post", {"data": {"update": "DELETE WHERE { ?s ?p ?o }"}}, 403, "read-only"),
    ("post", {"data": "CLEAR ALL", "headers": {"Content-Type": "application/sparql-update"}}, 403, "read-only"),
    ("get", {"params": {}}, 400, "missing 'query'"),
    ("post", {"data": "x", "headers": {"Content-Type": "text/plain"}}, 415, "application/sparql-query"),
    ("get", {"params": {"query": "SELECT * { ?s ?p ?o }", "default-graph-uri": live_graph("authorities")}}, 403,
     "not readable"),
])
def test_bad_requests_get_a_clear_4xx(live, method, kwargs, status, reason):
    r = getattr(requests, method)(live.url + "/sparql", timeout=30, **kwargs)
    assert r.status_code == status
    assert reason in r.text


def test_runaway_query_is_cancelled_and_the_server_stays_responsive(live):
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    t0 = time.monotonic()
    r = requests.get(live.url + "/sparql", params={"query": runaway}, headers={ROLE_HEADER: "operator"}, timeout=30)
    elapsed = time.monotonic() - t0
    assert r.status_code == 400 and "cancelled" in r.text
    assert elapsed < 6.0 + 3.0  # the endpoint's timeout is 6 s
    t0 = time.monotonic()
    r = requests.get(live.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=30)
    assert r.status_code == 200 and time.monotonic() - t0 < 2.0
