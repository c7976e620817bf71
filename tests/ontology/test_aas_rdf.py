"""AAS -> RDF: names from the official ontology, deterministic node naming, access groups on every triple."""

from __future__ import annotations

from basyx.aas.examples.data.example_aas import create_full_example
from rdflib import RDF, URIRef

from packtwin.ontology.aas_rdf import AAS, convert, element_iri, identifiable_iri
from packtwin.ontology.battery import PT, derive
from packtwin.ontology.shacl import aas_ontology, to_graph, vocabulary
from packtwin.submodels.access import AccessGroup
from tests.ontology.fleet_fixture import build_test_fleet


def test_every_aas_term_used_is_defined_by_the_official_ontology():
    g = to_graph(list(create_full_example()) + build_test_fleet(1, 1, 1, with_concept_descriptions=True))
    ontology = aas_ontology()
    defined = set(ontology.subjects())
    used = {t for s, p, o in g for t in (p, o) if isinstance(t, URIRef) and str(t).startswith(str(AAS))}
    assert used and used <= defined, sorted(used - defined)[:5]


def test_every_lifecycle_term_used_is_documented_in_the_vocabulary():
    fleet = build_test_fleet(1, 1, 2)
    vocab = vocabulary()
    used = {t for o in fleet for quads in derive(o) for q in quads for t in q[:3]
            if isinstance(t, URIRef) and str(t).startswith(str(PT))}
    assert PT.stateOfHealth in used and PT.partOf in used
    undocumented = {t for t in used if (t, None, None) not in vocab}
    assert not undocumented
    for prop in vocab.subjects(RDF.type, None):
        if str(prop).startswith(str(PT)) and (prop, RDF.type, URIRef("http://www.w3.org/2002/07/owl#DatatypeProperty")) in vocab:
            assert (prop, URIRef("https://w3id.org/packtwin/ns#sourceElement"), None) in vocab, prop


def test_conversion_is_deterministic_and_blank_node_free():
    a = list(convert(build_test_fleet(1, 1, 1, seed=2)))
    b = list(convert(build_test_fleet(1, 1, 1, seed=2)))
    assert set(a) == set(b)
    assert not any(type(t).__name__ == "BNode" for q in a for t in q[:3])


def test_identifiables_and_elements_are_named_stably():
    assert identifiable_iri("https://example.org/sm/1") == URIRef("https://example.org/sm/1")
    assert identifiable_iri("0173-1#02-ABG855#003") == URIRef("urn:packtwin:id:0173-1%2302-ABG855%23003")
    assert element_iri("https://example.org/sm/1", "Docs[2].Title") == URIRef(
        "https://example.org/sm/1#Docs%5B2%5D.Title")
    assert element_iri("urn:x:sm#part", "A.B") == URIRef("urn:x:sm#part/A.B")


def test_restricted_elements_go_to_their_access_group():
    fleet = build_test_fleet(1, 1, 1)
    quads = list(convert(fleet))
    soc = next(q for q in quads if str(q[0]).endswith("ProductCondition#StateOfCharge.StateOfChargeValue")
               and q[1] == AAS["Property/value"])
    assert soc[3] is AccessGroup.LEGITIMATE_INTEREST
    serial = next(q for q in quads if str(q[0]).endswith("BatteryNameplate#SerialNumber") and q[1] == AAS["Property/value"])
    assert serial[3] is AccessGroup.PUBLIC
    reports = [q for q in quads if "ResultsOfTestReportsProvingCompliance" in str(q[0])]
    assert reports and all(q[3] is AccessGroup.AUTHORITIES for q in reports)
