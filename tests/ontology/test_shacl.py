"""SHACL: the official IDTA AAS 3.1 shapes and the packtwin passport shapes over converted twins."""

from __future__ import annotations

from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from packtwin.ontology.aas_rdf import AAS
from packtwin.ontology.battery import PT
from packtwin.ontology.shacl import SH, _parse, aas_shapes, to_graph, validate_graph
from tests.ontology.fleet_fixture import build_test_fleet


def test_generated_fleet_conforms_to_the_official_aas_shapes_and_the_passport_shapes():
    from packtwin.aas.fleet import build_fleet

    fleet = list(build_fleet(1, 1, 2).objects)  # a pack, a module, two cells, all concept descriptions
    assert sum(isinstance(o, model.ConceptDescription) for o in fleet) > 100
    conforms, _, lines = validate_graph(to_graph(fleet))
    assert lines == []
    assert conforms


def _all(elements):
    for e in elements:
        yield e
        for attr in ("value", "statement", "annotation"):
            children = getattr(e, attr, None)
            if isinstance(children, model.NamespaceSet | model.OrderedNamespaceSet):
                yield from _all(children)
        if isinstance(e, model.Operation):
            yield from _all(list(e.input_variable) + list(e.output_variable) + list(e.in_output_variable))


def test_every_element_kind_of_the_basyx_full_example_conforms():
    objects = list(create_full_example())
    kinds = {type(e).__name__ for o in objects if isinstance(o, model.Submodel) for e in _all(o.submodel_element)}
    assert {"Property", "MultiLanguageProperty", "Range", "Blob", "File", "ReferenceElement", "RelationshipElement",
            "AnnotatedRelationshipElement", "SubmodelElementCollection", "SubmodelElementList", "Entity",
            "BasicEventElement", "Operation", "Capability"} <= kinds
    g = to_graph(objects)
    conforms, _, lines = validate_graph(g, passport=False)
    assert lines == [] and conforms
    for cls in ("AssetAdministrationShell", "Submodel", "ConceptDescription", "Operation", "BasicEventElement",
                "DataSpecificationIec61360", "Qualifier", "Extension", "SpecificAssetId"):
        assert (None, None, AAS[cls]) in g, cls


def test_official_shapes_catch_a_broken_graph():
    g = to_graph(list(create_full_example()))
    prop = next(g.subjects(None, AAS["Property"]))
    g.remove((prop, AAS["Property/valueType"], None))  # mandatory
    g.add((prop, AAS["Referable/idShort"], Literal("second", datatype=XSD.string)))  # at most one
    _, _, lines = validate_graph(g, passport=False)
    assert any("Property/valueType" in line for line in lines)
    assert any("Referable/idShort" in line for line in lines)


def test_the_langstring_defect_fix_is_the_only_change_to_the_official_shapes():
    original, fixed = _parse("aas/shacl-schema.ttl"), aas_shapes()
    assert len(original) == len(fixed)
    moved = {str(o) for o in original.objects(None, SH.path)} - {str(o) for o in fixed.objects(None, SH.path)}
    assert moved and all(m.startswith(str(AAS) + "LangString") and m.endswith("/text") for m in moved)


def test_passport_shapes_report_missing_and_out_of_range_values():
    fleet = build_test_fleet(packs=1, modules=1, cells=1, seed=5, with_concept_descriptions=False)
    g = to_graph(fleet)
    pack = URIRef("https://example.org/packtwin/asset/pack/PT-P000001")
    g.remove((pack, PT.manufacturer, None))
    g.set((pack, PT.stateOfHealth, Literal(130.0)))
    rc = next(g.objects(pack, PT.hasRecycledContent))
    g.set((rc, PT.postConsumerShare, Literal(-1.0)))
    _, _, lines = validate_graph(g, aas=False)
    assert any("manufacturer missing" in line for line in lines)
    assert any("state of health must be" in line for line in lines)
    assert any("post-consumer recycled share" in line for line in lines)
    assert len(lines) == 3
