"""Each IDTA part: semanticId as published, mandatory elements present, defects fixed, bad values refused."""

import copy
import json
from importlib import resources

import pytest
from basyx.aas import model

from packtwin.submodels import PARTS, bom, part_for, product_condition, technical_data
from packtwin.submodels.access import AccessGroup, Role, filter_copy, own_access_group, set_access_group
from packtwin.submodels.template import TemplateError


def _published(part):
    """The template file as shipped, read without packtwin's loader."""
    text = resources.files("packtwin.submodels").joinpath("resources", part.resource).read_text("utf-8")
    return json.loads(text)["submodels"][0]


def _mandatory_paths(elements, path=""):
    for e in elements:
        card = next((q["value"] for q in e.get("qualifiers", []) if q["type"] in ("SMT/Cardinality", "Cardinality")),
                    "One")
        if card not in ("One", "OneToMany"):
            continue
        p = f"{path}.{e['idShort']}" if path else e["idShort"]
        yield p
        if e["modelType"] == "SubmodelElementCollection":
            yield from _mandatory_paths(e.get("value") or [], p)


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_each_part_has_the_published_semantic_id_and_every_mandatory_element(small_fleet, part):
    published = _published(part)
    instances = [sm for sm in small_fleet.objects if isinstance(sm, model.Submodel)
                 and sm.semantic_id.key[0].value == published["semanticId"]["keys"][0]["value"]]
    assert instances, f"the fleet has no {part.name} submodel"
    if part is bom.PART:
        mandatory = ["EntryNode", "ArcheType"]
    else:
        mandatory = list(_mandatory_paths(published["submodelElements"]))
    assert mandatory
    for sm in instances:
        for path in mandatory:
            node = sm
            for id_short in path.split("."):
                node = node.get_referable(id_short)
            assert node is not None
        validate = bom.validate if part is bom.PART else part.validate
        assert validate(sm) == []


def test_known_template_defects_are_fixed():
    tech = technical_data.PART.template
    assert any(p == "TechnicalPropertyAreas.Lifetime.CycleLifeReferenceTest" and n.mandatory
               for p, n in tech.nodes())
    cond = product_condition.PART.template
    value = dict(cond.nodes())["RemainingCapacity.RemainingCapacityValue"]
    assert cond.unit_of(value.semantic_id) == "ampereHour"
    power = dict(cond.nodes())["RemainingPowerCapability.RemainingPowerCapabilityDynamicAt.PowerCapabilityAt"]
    assert cond.unit_of(power.semantic_id) == "watt"
    assert "urn:iridi:" not in json.dumps(cond.environment)


def test_unknown_and_missing_elements_are_refused():
    part = product_condition.PART
    with pytest.raises(TemplateError, match="no element Bogus"):
        part.instantiate("urn:x", {"Bogus": 1})
    with pytest.raises(TemplateError, match="StateOfCharge: mandatory element has no value"):
        part.instantiate("urn:x", {"NumberOfFullCycles": {"NumberOfFullCyclesValue": 1, "LastUpdate": "2026-01-01"},
                                   "InformationOnAccidents": [], "TemperatureInformation": {"LastUpdate": "x"}})


def test_validation_finds_out_of_range_wrong_type_and_lost_access_marks(small_fleet):
    sm = copy.deepcopy(next(x for x in small_fleet.objects if isinstance(x, model.Submodel)
                            and x.id_short == "ProductCondition"))
    soc = sm.get_referable("StateOfCharge")
    soc.get_referable("StateOfChargeValue").value = 140.0
    soc.extension.clear()
    problems = [str(v) for v in product_condition.PART.validate(sm)]
    assert any("StateOfCharge.StateOfChargeValue: value 140.0 outside [0.0, 100.0]" in p for p in problems)
    assert any("StateOfCharge: access group legitimateInterest is not marked" in p for p in problems)


def test_every_passport_top_level_element_carries_its_access_group(small_fleet):
    for sm in small_fleet.objects:
        if isinstance(sm, model.Submodel) and (part := part_for(sm.semantic_id.key[0].value)) and part.is_passport:
            for e in sm.submodel_element:
                assert own_access_group(e) is not None, f"{sm.id} {e.id_short}"


def test_public_view_hides_state_of_health_and_materials(small_fleet):
    cond = next(x for x in small_fleet.objects if isinstance(x, model.Submodel) and x.id_short == "ProductCondition")
    public = filter_copy(cond, Role.ANONYMOUS)
    assert public.submodel_element.get("id_short", "StateOfCharge") is None
    recycler = filter_copy(cond, Role.LEGITIMATE_INTEREST)
    assert recycler.submodel_element.get("id_short", "StateOfCharge") is not None
    mats = next(x for x in small_fleet.objects if isinstance(x, model.Submodel) and x.id_short == "MaterialComposition")
    item = next(iter(filter_copy(mats, Role.ANONYMOUS).get_referable("BatteryMaterials").value))
    assert {e.id_short for e in item.value} == {"BatteryMaterialIdentifier", "BatteryMaterialName",
                                                "IsCriticalRawMaterial"}
    nameplate = next(x for x in small_fleet.objects if isinstance(x, model.Submodel) and x.id_short == "BatteryNameplate")
    assert filter_copy(nameplate, Role.LEGITIMATE_INTEREST).submodel_element.get(
        "id_short", "ResultsOfTestReportsProvingCompliance") is None
    assert filter_copy(nameplate, Role.AUTHORITY).submodel_element.get(
        "id_short", "ResultsOfTestReportsProvingCompliance") is not None


def test_access_group_marks_round_trip():
    p = model.Property("P", model.datatypes.String, "v")
    set_access_group(p, AccessGroup.AUTHORITIES)
    set_access_group(p, AccessGroup.LEGITIMATE_INTEREST)
    assert own_access_group(p) is AccessGroup.LEGITIMATE_INTEREST
    assert len(p.extension) == 1
